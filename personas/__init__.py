"""Everything the bot knows about a persona and its conversations, and the step that turns chat into a prompt.

No Discord and no torch in here: `selfiebot prompt` imports this package on machines without a GPU stack.
"""

from __future__ import annotations

from pathlib import Path


def examples_dir() -> Path:
    """The folder with the example persona files shipped in the package."""
    return Path(__file__).with_name("examples")


def list_example_personas() -> list[Path]:
    """The shipped example persona files, sorted by name (`load_persona_file` reads each)."""
    return sorted(examples_dir().glob("*.toml"))
