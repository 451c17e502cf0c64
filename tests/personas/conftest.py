from __future__ import annotations

import pytest

from personas.store import PersonaStore


@pytest.fixture
async def store(tmp_path):
    async with await PersonaStore.open(tmp_path / "selfiebot.db") as opened:
        yield opened
