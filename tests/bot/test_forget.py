"""`/forget` erases what the user said everywhere it is kept: turns, the texts of their selfie requests, and the scene
of every conversation their words could have shaped; ended jobs are pruned after a day."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.storage import JobKind
from personas.models import SceneState
from tests.bot.conftest import activate, create_persona, eventually, pictures_for


async def _scene_settled(store, guild_id: int, channel_id: int, persona_id: int) -> SceneState:
    """The scene once the flow saved it (it is saved right after the picture is posted)."""
    for _ in range(100):
        scene = await store.get_scene(guild_id, channel_id, persona_id)
        if scene != SceneState():
            return scene
        await asyncio.sleep(0.05)
    raise AssertionError("no scene was saved")


async def _forget(standin, channel, user) -> str:
    handle = await standin.invoke_slash(channel.guild, channel, user, "forget")
    return (await handle.wait_for_response()).data["content"]


async def test_forget_erases_turns_request_texts_and_the_scenes_they_shaped(discord_standin, llm_standin, bots):
    running = await bots(llm_base_url=llm_standin.base_url)
    w = discord_standin.default
    services = running.bot.services
    await create_persona(discord_standin)
    await activate(discord_standin, w.general)

    def scripted(body):
        messages = body["messages"]
        if messages[0]["content"].startswith("You track where"):  # the scene extractor: the offline one reads the chat
            return "not json"
        said = messages[-1]["content"]
        if "beach" in said:
            return "just got to the beach in my red bikini!"
        if "park" in said:
            return "I'm at the park in my green hoodie"
        return "here you go 📸"

    llm_standin.reply = scripted
    # The member sets the scene in #general and asks for a selfie there.
    await discord_standin.user_says(w.general, w.member, "Mira let's go to the beach")
    await discord_standin.wait_for_message(lambda m: m.source == "webhook" and "bikini" in m.content, timeout=10)
    await discord_standin.user_says(w.general, w.member, "Mira send me a selfie")
    await eventually(lambda: pictures_for(discord_standin, w.member), timeout=30)
    # The stranger has a conversation of their own in the thread.
    await discord_standin.user_says(w.thread, w.stranger, "Mira where are you? the park?")
    await discord_standin.wait_for_message(lambda m: m.source == "webhook" and "hoodie" in m.content, timeout=10)
    await discord_standin.user_says(w.thread, w.stranger, "Mira send me a selfie")
    await eventually(lambda: pictures_for(discord_standin, w.stranger), timeout=30)

    persona = await services.store.get_persona(w.guild.id, "Mira")
    scene = await _scene_settled(services.store, w.guild.id, w.general.id, persona.id)
    assert "beach" in (scene.location or "") and "bikini" in (scene.outfit or ""), scene
    thread_scene = await _scene_settled(services.store, w.guild.id, w.thread.id, persona.id)
    jobs_before = await services.bot_store.database.fetchall("SELECT requester_id, request_text FROM selfie_jobs")
    assert any("selfie" in row["request_text"] for row in jobs_before if row["requester_id"] == w.member.id)

    answer = await _forget(discord_standin, w.general, w.member)
    assert answer == (
        "Done: the personas forgot 2 messages, 1 selfie request and the scene of 1 conversation of yours."
    ), answer

    turns = await services.store.recent_turns(w.guild.id, w.general.id, persona.id, limit=100)
    assert not [t for t in turns if t.author_id == w.member.id]
    assert not any("let's go to the beach" in t.content for t in turns)  # the persona's own replies stay
    jobs = await services.bot_store.database.fetchall("SELECT requester_id, request_text FROM selfie_jobs")
    assert [row["request_text"] for row in jobs if row["requester_id"] == w.member.id] == [""]
    assert await services.store.get_scene(w.guild.id, w.general.id, persona.id) == SceneState()
    # Another person's conversation keeps its scene and its request text.
    assert await services.store.get_scene(w.guild.id, w.thread.id, persona.id) == thread_scene
    assert [row["request_text"] for row in jobs if row["requester_id"] == w.stranger.id] == ["Mira send me a selfie"]

    assert await _forget(discord_standin, w.general, w.member) == (
        "Done: the personas forgot 0 messages, 0 selfie requests and the scene of 0 conversations of yours."
    )


async def test_ended_jobs_are_pruned_after_a_day_at_start(discord_standin, bots, tmp_path):
    data_dir = tmp_path / "shared"
    first = await bots(data_dir=data_dir)
    w = discord_standin.default
    await create_persona(discord_standin)
    persona = await first.bot.services.store.get_persona(w.guild.id, "Mira")
    queue = first.bot.services.bot_store
    job = dict(source_kind=JobKind.CHAT, guild_id=w.guild.id, channel_id=w.general.id, persona_id=persona.id)
    old_done = await queue.enqueue_job(**job, source_id=11, requester_id=1, request_text="my secret beach")
    old_failed = await queue.enqueue_job(**job, source_id=12, requester_id=1, request_text="my secret park")
    recent_done = await queue.enqueue_job(**job, source_id=13, requester_id=1, request_text="today")
    await queue.mark_job_done(old_done, None)
    await queue.mark_job_failed(old_failed, "refused")
    await queue.mark_job_done(recent_done, None)
    two_days_ago = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    await queue.database.execute(
        "UPDATE selfie_jobs SET updated_at = ? WHERE id IN (?, ?)", (two_days_ago, old_done, old_failed)
    )
    await first.stop()

    second = await bots(data_dir=data_dir)
    queue = second.bot.services.bot_store
    for _ in range(100):  # the resume (which prunes first) runs in the background right after connecting
        if await queue.get_job(old_done) is None:
            break
        await asyncio.sleep(0.05)
    assert await queue.get_job(old_done) is None and await queue.get_job(old_failed) is None
    assert (await queue.get_job(recent_done)).request_text == "today"


async def test_the_hourly_pruner_does_not_hold_up_shutdown(discord_standin, bots):
    running = await bots()
    pruner = next(t for t in running.bot.services.work.in_flight() if t.get_name() == "prune-jobs")
    await running.stop()
    assert pruner.done() and not pruner.cancelled()  # it ended when shutdown began, not cut off after the grace
