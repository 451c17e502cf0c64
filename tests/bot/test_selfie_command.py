"""`/selfie` and the buttons under a selfie, end to end."""

from __future__ import annotations

from tests.bot.conftest import activate, assert_png, create_persona, custom_ids, is_picture, selfie_of


async def _selfie(discord_standin, user, scene=None):
    w = discord_standin.default
    options = {"persona": "Mira"} | ({"scene": scene} if scene else {})
    handle = await discord_standin.invoke_slash(w.guild, w.general, user, "selfie", options=options)
    response = await handle.wait_for_response(timeout=3)
    assert response.type == 5 and handle.ephemeral  # deferred within 3 s, privately
    await handle.wait_until(lambda: handle.original is not None and "Sent" in handle.original.content, timeout=20)
    pictures = [m for m in discord_standin.messages if is_picture(m) and not m.deleted]
    return handle, pictures[-1]


async def test_selfie_command_defers_shows_progress_and_posts_as_the_persona(discord_standin, bots):
    running = await bots(selfie_steps=6, progress_interval_s=0.2)
    w = discord_standin.default
    await create_persona(discord_standin)
    await activate(discord_standin, w.general)
    handle, picture = await _selfie(discord_standin, w.member, scene="at the cafe")
    assert picture.author_name == "Mira" and f"<@{w.member.id}>" in picture.content
    assert_png(picture.files[0].data)
    assert str(picture.id) in handle.original.content  # the confirmation links to the picture

    texts = [body.get("content", "") for _, body in handle.edits]
    assert any("getting ready" in t for t in texts), texts
    times = [t for t, body in handle.edits if "getting ready" in body.get("content", "")]
    assert all(b - a >= 0.18 for a, b in zip(times, times[1:], strict=False)), times  # throttled per message

    record = await selfie_of(running.bot, picture)
    assert "cafe" in record.prompt and record.requester_id == w.member.id


async def test_buttons_details_another_take_and_delete(discord_standin, bots):
    running = await bots()
    w = discord_standin.default
    await create_persona(discord_standin, seed=4242)
    await activate(discord_standin, w.general)
    _, picture = await _selfie(discord_standin, w.member)
    take, info, delete = custom_ids(picture)

    details = await discord_standin.click_button(picture, info, w.stranger)
    shown = await details.wait_for_response()
    assert shown.data["flags"] & 64
    for expected in ("seed: `4242`", "steps: `2`", "64×64", "persona version 1", "prompt:", "model: `demo`"):
        assert expected in shown.data["content"], (expected, shown.data["content"])

    again = await discord_standin.click_button(picture, take, w.member)
    assert (await again.wait_for_response()).type == 6
    second = await discord_standin.wait_for_message(lambda m: is_picture(m) and m.id != picture.id, timeout=20)
    assert second.author_name == "Mira" and "another take" in second.content
    first_record = await selfie_of(running.bot, picture)
    second_record = await selfie_of(running.bot, second)
    assert second_record.prompt == first_record.prompt and second_record.seed != first_record.seed
    kinds = await running.bot.services.bot_store.database.fetchall("SELECT source_kind FROM selfie_jobs ORDER BY id")
    assert [kind for (kind,) in kinds] == ["slash", "retake"]  # "Another take" is a job kind of its own

    refused = await discord_standin.click_button(picture, delete, w.stranger)
    assert "Only the person who asked" in (await refused.wait_for_response()).data["content"]
    assert not picture.deleted
    allowed = await discord_standin.click_button(picture, delete, w.member)
    assert (await allowed.wait_for_followup()).content == "Deleted."
    assert picture.deleted
    by_admin = await discord_standin.click_button(second, custom_ids(second)[2], w.admin)
    await by_admin.wait_for_followup()
    assert second.deleted


async def test_selfie_for_a_persona_not_active_here_is_refused(discord_standin, bots):
    await bots()
    w = discord_standin.default
    await create_persona(discord_standin)
    handle = await discord_standin.invoke_slash(w.guild, w.general, w.member, "selfie", options={"persona": "Mira"})
    reply = await handle.wait_for_followup()
    assert "doesn't live in this channel" in reply.content
