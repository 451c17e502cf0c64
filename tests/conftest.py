"""Shared pytest fixtures. Keep this file thin: fixture logic lives in the packages it imports.

Sections are owned by different parts of the test suite; append new sections at the end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.discord_standin import DiscordStandin, running_standin
from tests.llm_standin import LLMStandin, running_llm_standin

# --- Discord and LLM stand-ins (tests/discord_standin, tests/llm_standin.py; see docs/testing.md) -------------------


@pytest.fixture
async def discord_standin() -> AsyncIterator[DiscordStandin]:
    """A started Discord stand-in with ``default_world()`` (as ``.default``) and discord.py pointed at it."""
    async with running_standin(default_world=True) as standin:
        yield standin


@pytest.fixture
async def llm_standin() -> AsyncIterator[LLMStandin]:
    """A started OpenAI-compatible chat server; ``llm_standin.base_url`` ends in ``/v1``."""
    async with running_llm_standin() as llm:
        yield llm
