"""A restart of the bot process (close the client, start a new one on the same DATA_DIR) loses nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.jobs import RESTART_NOTE
from bot.storage import JobKind
from tests.bot.conftest import (
    GatedEngine,
    activate,
    create_persona,
    custom_ids,
    eventually,
    is_picture,
    pictures_for,
    said_to,
    selfie_of,
)


async def test_memory_scene_and_buttons_survive_a_restart(discord_standin, llm_standin, bots, tmp_path):
    data_dir = tmp_path / "shared"
    first = await bots(data_dir=data_dir, llm_base_url=llm_standin.base_url)
    w = discord_standin.default
    await create_persona(discord_standin)
    await activate(discord_standin, w.general)

    def scripted(body):
        system = body["messages"][0]["content"]
        if system.startswith("You track where"):  # the scene extractor: let the offline one read the chat
            return "not json"
        return "just got to the beach in my yellow raincoat!"

    llm_standin.reply = scripted
    await discord_standin.user_says(w.general, w.member, "hey Mira, where are you?")
    await discord_standin.wait_for_message(lambda m: m.source == "webhook" and "raincoat" in m.content, timeout=10)
    llm_standin.reply = lambda body: "not json" if "You track" in body["messages"][0]["content"] else "here you go 📸"
    await discord_standin.user_says(w.general, w.member, "Mira send me a selfie")
    picture = await discord_standin.wait_for_message(is_picture, timeout=20)
    record = await selfie_of(first.bot, picture)
    assert "beach" in record.prompt and "raincoat" in record.prompt
    await first.stop()

    second = await bots(data_dir=data_dir, llm_base_url=llm_standin.base_url)
    assert not second.bot.synced_commands  # same commands: no re-sync
    llm_standin.requests.clear()
    await discord_standin.user_says(w.general, w.member, "Mira send me another selfie")
    later = await discord_standin.wait_for_message(lambda m: is_picture(m) and m.id != picture.id, timeout=20)
    again = await selfie_of(second.bot, later)
    assert "beach" in again.prompt and "raincoat" in again.prompt  # outfit and place carried over
    chat = [r for r in llm_standin.requests if r["messages"][0]["content"].startswith("You are Mira")]
    assert any("where are you" in m["content"] for m in chat[-1]["messages"])  # memory went to the LLM

    details = await discord_standin.click_button(picture, custom_ids(picture)[1], w.member)  # a pre-restart button
    assert f"seed: `{record.seed}`" in (await details.wait_for_response()).data["content"]
    assert len(discord_standin.webhooks) == 1  # the stored webhook was reused


async def test_shutdown_finishes_a_selfie_in_flight(discord_standin, bots):
    running = await bots(selfie_steps=8)
    w = discord_standin.default
    await create_persona(discord_standin)
    await activate(discord_standin, w.general)
    await discord_standin.user_says(w.general, w.member, "Mira send me a selfie")
    await discord_standin.wait_for_message(lambda m: m.source == "webhook" and "getting ready" in m.content, timeout=10)
    await running.stop()
    assert any(is_picture(m) for m in discord_standin.messages)
    assert running.bot.is_closed()


async def test_a_restart_removes_the_progress_notes_of_the_killed_process(discord_standin, bots, demo_engine, tmp_path):
    data_dir = tmp_path / "shared"
    engine = GatedEngine(demo_engine, open=False)
    first = await bots(data_dir=data_dir, engine=engine)
    w = discord_standin.default
    await create_persona(discord_standin)
    await activate(discord_standin, w.general)
    await discord_standin.user_says(w.general, w.member, "Mira send me a selfie")  # served again after the restart
    await eventually(lambda: engine.batches, timeout=10)
    await discord_standin.user_says(w.general, w.stranger, "Mira send me a selfie")  # too old by then: a note instead

    def notes():
        return [m for m in discord_standin.messages if m.source == "webhook" and "getting ready" in m.content]

    await eventually(lambda: len(notes()) == 2, timeout=10)
    old_notes = notes()
    queue = first.bot.services.bot_store
    stranger_job = next(j for j in await queue.pending_jobs() if j.requester_id == w.stranger.id)
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    await queue.database.execute("UPDATE selfie_jobs SET created_at = ? WHERE id = ?", (an_hour_ago, stranger_job.id))
    assert stranger_job.source_kind == JobKind.CHAT

    await first.kill(before_cleanup=engine.open)
    assert not any(m.deleted for m in old_notes)  # the killed process left them up
    await bots(data_dir=data_dir)

    await eventually(lambda: pictures_for(discord_standin, w.member), timeout=30)
    await eventually(lambda: said_to(discord_standin, w.stranger.id, RESTART_NOTE), timeout=10)
    await eventually(lambda: all(m.deleted for m in old_notes), timeout=10)
    # The new process's own note of the resumed selfie goes when its picture is posted: none is left.
    await eventually(lambda: not [m for m in notes() if not m.deleted], timeout=10)
