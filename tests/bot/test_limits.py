"""Busy-server limits: a per-user cap, a bounded queue, fair sharing between users (no per-server cap)."""

from __future__ import annotations

from tests.bot.conftest import GatedEngine, activate, create_persona, eventually, is_picture, pictures_for, said_to


async def _setup(discord_standin, bots, demo_engine, **settings) -> tuple[GatedEngine, object]:
    engine = GatedEngine(demo_engine, open=False)
    running = await bots(engine=engine, **settings)
    await create_persona(discord_standin)
    await activate(discord_standin, discord_standin.default.general)
    return engine, running


async def test_a_third_selfie_while_two_are_on_the_way_is_refused(discord_standin, bots, demo_engine):
    engine, _ = await _setup(discord_standin, bots, demo_engine)
    w = discord_standin.default
    for n in range(3):
        await discord_standin.user_says(w.general, w.member, f"Mira send me a selfie #{n}")
    refusal = await discord_standin.wait_for_message(lambda m: "on the way" in m.content, timeout=10)
    assert refusal.content == (
        f"<@{w.member.id}> you already have 2 selfies on the way — I'll get to the next one after those."
    )
    engine.open()
    await eventually(lambda: len(pictures_for(discord_standin, w.member)) == 2, timeout=20)
    await discord_standin.user_says(w.general, w.member, "Mira one more selfie please")  # the slots came back
    await eventually(lambda: len(pictures_for(discord_standin, w.member)) == 3, timeout=20)
    assert len(said_to(discord_standin, w.member.id, "on the way")) == 1


async def test_a_burst_of_twenty_users_in_one_server_is_served_not_refused(discord_standin, bots, demo_engine):
    engine, _ = await _setup(discord_standin, bots, demo_engine)
    w = discord_standin.default
    users = []
    for n in range(20):
        user = discord_standin.add_user(f"burst{n:02d}")
        discord_standin.add_member(w.guild, user)
        users.append(user)
    for n in range(5):
        for user in users:
            await discord_standin.user_says(w.general, user, f"Mira send me a selfie #{n}")
    engine.open()
    await eventually(lambda: all(len(pictures_for(discord_standin, user)) == 2 for user in users), timeout=300)
    for user in users:  # everyone's first two are drawn; only their own limit refuses the other three
        assert len(said_to(discord_standin, user.id, "on the way")) == 3
    assert not [m for m in discord_standin.messages if "swamped" in m.content or "queue is full" in m.content]


async def test_a_full_queue_refuses_clearly(discord_standin, bots, demo_engine):
    engine, running = await _setup(discord_standin, bots, demo_engine, max_queue=1)
    w = discord_standin.default
    await discord_standin.user_says(w.general, w.member, "Mira send me a selfie")
    await eventually(lambda: engine.batches, timeout=10)  # the first one is on the GPU, the queue is empty
    await discord_standin.user_says(w.general, w.stranger, "Mira send me a selfie")
    await eventually(lambda: running.bot.services.service.queued == 1, timeout=10)
    await discord_standin.user_says(w.general, w.admin, "Mira send me a selfie")
    refusal = await discord_standin.wait_for_message(lambda m: "queue is full" in m.content, timeout=10)
    assert refusal.content == f"<@{w.admin.id}> The picture queue is full right now; try again in a minute."
    engine.open()
    await eventually(lambda: len(pictures_for(discord_standin, w.stranger)) == 1, timeout=20)
    assert len(pictures_for(discord_standin, w.member)) == 1 and not pictures_for(discord_standin, w.admin)
    progress = [m for m in discord_standin.messages if m.source == "webhook" and "getting ready" in m.content]
    await eventually(lambda: all(m.deleted for m in progress))  # no progress message is left hanging


async def test_one_users_burst_does_not_hold_up_another_user(discord_standin, bots, demo_engine):
    engine, running = await _setup(discord_standin, bots, demo_engine, max_pending_per_user=5)
    w = discord_standin.default
    await discord_standin.user_says(w.general, w.member, "Mira send me a selfie 1")
    await eventually(lambda: engine.batches, timeout=10)
    for n in (2, 3, 4):
        await discord_standin.user_says(w.general, w.member, f"Mira send me a selfie {n}")
    await eventually(lambda: running.bot.services.service.queued == 3, timeout=10)  # the burst is queued
    await discord_standin.user_says(w.general, w.stranger, "Mira send me a selfie too")
    await eventually(lambda: running.bot.services.service.queued == 4, timeout=10)
    engine.open()
    await eventually(lambda: sum(is_picture(m) for m in discord_standin.messages) == 5, timeout=30)
    order = [m.content.split()[0] for m in discord_standin.messages if is_picture(m)]
    assert order[1] == f"<@{w.stranger.id}>", order  # served right after the picture already being drawn


async def test_declined_requests_do_not_use_up_the_users_slots(discord_standin, bots, demo_engine):
    engine, _ = await _setup(discord_standin, bots, demo_engine)
    w = discord_standin.default
    for n in range(3):  # explicit requests in a normal channel, sent quickly
        await discord_standin.user_says(w.general, w.member, f"Mira send me a nude selfie {n}")
    await eventually(lambda: len(said_to(discord_standin, w.member.id, "")) >= 3, timeout=10)
    assert not said_to(discord_standin, w.member.id, "on the way")  # each got its decline, not a limit refusal
    assert not engine.batches
    engine.open()
    await discord_standin.user_says(w.general, w.member, "Mira send me a selfie")
    await eventually(lambda: len(pictures_for(discord_standin, w.member)) == 1, timeout=20)
