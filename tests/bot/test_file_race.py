"""A reference file shared by two guilds (same bytes, same content-hash name) survives one guild deleting its persona
while the other guild is still saving one with it: the file's lock is held from "stored" to "persona saved"."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.bot.conftest import GatedEngine, create_persona, eventually, png_bytes


async def test_deleting_a_persona_keeps_a_file_another_guild_is_saving(discord_standin, bots, demo_engine):
    engine = GatedEngine(demo_engine)
    running = await bots(engine=engine)
    services = running.bot.services
    w = discord_standin.default
    face = png_bytes(96, (10, 200, 30))
    await create_persona(discord_standin, attachments={"reference": ("face.png", face, "image/png")})
    first = await services.store.get_persona(w.guild.id, "Mira")
    shared = Path(first.reference_path)
    assert shared.is_file()

    # The second guild uploads the same picture; its try-on through the model is held at the gate, so the file is
    # stored but no persona names it yet.
    engine.gate.clear()
    tried = len(engine.batches)
    saving = await discord_standin.invoke_slash(
        w.other_guild,
        w.other_general,
        w.admin,
        "persona",
        subcommand="create",
        options={"name": "Nova", "appearance": "a woman with short black hair"},
        attachments={"reference": ("same.png", face, "image/png")},
    )
    await eventually(lambda: len(engine.batches) > tried, timeout=10)
    digest = hashlib.sha256(face).hexdigest()
    assert services.file_locks.busy(digest)

    # Meanwhile the first guild deletes its persona: answered at once, the file is left for the saver to decide.
    deleting = await discord_standin.invoke_slash(
        w.guild, w.general, w.admin, "persona", subcommand="delete", options={"name": "Mira"}
    )
    assert "Deleted" in (await deleting.wait_for_response()).data["content"]
    assert await services.store.get_persona(w.guild.id, "Mira") is None
    assert shared.is_file(), "the file went while another guild was saving a persona with it"

    engine.open()
    created = await saving.wait_for_followup(timeout=20)
    assert created.content.startswith("Created"), created.content
    await eventually(lambda: not services.file_locks.busy(digest), timeout=10)  # the delete's check ran after it
    second = await services.store.get_persona(w.other_guild.id, "Nova")
    assert second.reference_path == str(shared) and shared.is_file()

    # Once the last persona that names it goes, so does the file.
    gone = await discord_standin.invoke_slash(
        w.other_guild, w.other_general, w.admin, "persona", subcommand="delete", options={"name": "Nova"}
    )
    await gone.wait_for_response()
    await eventually(lambda: not shared.exists(), timeout=10)
