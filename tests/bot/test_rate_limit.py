"""Per-member chat rate limit: a burst of lines gets a few answers, not one LLM call and one post per line."""

from __future__ import annotations

import asyncio

from bot.rate_limit import ChatRateLimit
from tests.bot.conftest import activate, create_persona, eventually


async def test_a_members_burst_of_forty_lines_gets_at_most_the_limit(discord_standin, bots):
    await bots(chat_rate_limit=5, chat_rate_window_s=60)
    await create_persona(discord_standin)
    w = discord_standin.default
    await activate(discord_standin, w.general)
    before = len([m for m in discord_standin.messages if m.source == "webhook"])
    for n in range(40):
        await discord_standin.user_says(w.general, w.member, f"Mira how are you? ({n})")
    await eventually(lambda: len([m for m in discord_standin.messages if m.source == "webhook"]) - before >= 5, 30)
    await asyncio.sleep(2.0)  # anything more would have arrived by now
    burst_answers = len([m for m in discord_standin.messages if m.source == "webhook"]) - before
    assert burst_answers == 5, burst_answers
    await discord_standin.user_says(w.general, w.stranger, "Mira hello!")  # others are still answered
    await eventually(lambda: len([m for m in discord_standin.messages if m.source == "webhook"]) - before == 6, 30)


def test_the_window_slides():
    now = [0.0]
    limit = ChatRateLimit(2, 10.0, clock=lambda: now[0])
    assert limit.allow("ann") and limit.allow("ann") and not limit.allow("ann")
    assert limit.allow("bob")
    now[0] = 10.5
    assert limit.allow("ann")
    assert ChatRateLimit(0, 10.0).allow("anyone")
