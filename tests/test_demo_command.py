"""`selfiebot demo`: the offline walk-through writes selfies that follow the scripted conversation."""

from __future__ import annotations

import json

from PIL import Image

from bot.demo import run_demo
from bot.settings import Settings
from personas.store import PersonaStore


async def test_demo_writes_selfies_that_follow_the_conversation(tmp_path, capsys):
    settings = Settings(data_dir=tmp_path / "data", model="demo", device="cpu")
    selfies = await run_demo(settings, tmp_path / "out", steps=2, size=64)

    assert len(selfies) == 4
    assert all(Image.open(selfie.path).size == (64, 64) for selfie in selfies)
    sheet = Image.open(tmp_path / "out" / "contact-sheet.png")
    assert sheet.size[0] >= 4 * 64
    beach, flat, couch, library = (selfie.prompt for selfie in selfies)
    assert "beach" in beach and "sundress" in beach
    assert "pajamas" in flat and "beach" not in flat and "sundress" not in flat
    assert "full body" in couch and "couch" in couch
    assert "library" in library
    assert all("auburn hair" in prompt for prompt in (beach, flat, couch, library))  # identity always leads
    summary = json.loads((tmp_path / "out" / "demo.json").read_text())
    assert [entry["seed"] for entry in summary] == [1234567] * 4

    async with await PersonaStore.open(tmp_path / "out" / "demo.sqlite3") as store:
        (mira,) = await store.list_personas(1)
        turns = await store.recent_turns(1, 10, mira.id, limit=50)
    memory = [turn.content for turn in turns if turn.role == "selfie"]
    assert len(memory) == 4 and memory[0].startswith("sent a selfie:") and "beach" in memory[0]
    printed = capsys.readouterr().out
    assert "Wrote 4 selfies" in printed
