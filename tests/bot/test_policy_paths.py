"""The picture and text policy on every path, end to end (issue 9's findings, in phrasings the policy was not tuned
on): setup and import, the scene, previews, LLM replies, and buttons pressed where they do not belong."""

from __future__ import annotations

import asyncio

from bot.safety import MINOR_REFUSAL, NEUTRAL_REPLY
from tests.bot.conftest import activate, create_persona, eventually, is_picture


async def _create(standin, **options) -> str:
    w = standin.default
    values = {"name": "Mira", "appearance": "adult woman, auburn hair"} | options
    handle = await standin.invoke_slash(w.guild, w.general, w.admin, "persona", subcommand="create", options=values)
    return (await handle.wait_for_followup(timeout=20)).content


async def test_a_minor_in_other_words_can_never_be_nsfw(discord_standin, bots):
    running = await bots()
    w = discord_standin.default
    for appearance in (
        "a tween with pigtails and braces",
        "girl aged 13, short dark hair",
        "seventh-grader in a hoodie",
        "a young adolescent with freckles",
        "t\u0435enager with a ponytail",  # a Cyrillic "е" inside "teenager"
        "school girls in plaid skirts",
    ):
        answer = await _create(discord_standin, appearance=appearance, nsfw=True)
        assert "never allow NSFW" in answer, (appearance, answer)
        assert await running.bot.services.store.list_personas(w.guild.id) == []


async def test_an_imported_negative_that_undresses_or_a_trigger_that_hides_a_minor_is_refused(discord_standin, bots):
    running = await bots()
    w = discord_standin.default
    files = {
        "negative.toml": 'name = "Ada"\nappearance = "adult woman"\nnegative = "clothing, shirt, pants"\n',
        "trigger.toml": 'name = "Bea"\nappearance = "adult woman"\nlora_trigger = "ohwx_teen"\nnsfw = true\n',
    }
    for filename, text in files.items():
        handle = await discord_standin.invoke_slash(
            w.guild, w.general, w.admin, "persona", subcommand="import",
            attachments={"file": (filename, text.encode(), "application/toml")},
        )  # fmt: skip
        answer = (await handle.wait_for_followup(timeout=20)).content
        assert not answer.startswith("Imported"), answer
    assert await running.bot.services.store.list_personas(w.guild.id) == []


async def test_a_school_setting_from_the_scene_stops_an_explicit_picture(discord_standin, llm_standin, bots):
    llm_standin.reply = lambda body: "I'm at my high school right now, in the library"
    await bots(llm_base_url=llm_standin.base_url)
    w = discord_standin.default
    await create_persona(discord_standin, nsfw=True)
    await activate(discord_standin, w.nsfw)
    await discord_standin.user_says(w.nsfw, w.member, "Mira where are you right now?")
    await eventually(lambda: any("library" in m.content for m in discord_standin.messages_in(w.nsfw)), timeout=15)
    await discord_standin.user_says(w.nsfw, w.member, "Mira send me a nude selfie")
    await eventually(lambda: any(MINOR_REFUSAL in m.content for m in discord_standin.messages_in(w.nsfw)), timeout=20)
    await asyncio.sleep(0.3)
    assert not [m for m in discord_standin.messages_in(w.nsfw) if is_picture(m)]


async def test_preview_goes_through_the_picture_check(discord_standin, bots):
    running = await bots()
    w = discord_standin.default
    # Stored without the setup check (as a database from an older version could hold it).
    await running.bot.services.store.create_persona(w.guild.id, name="Old", appearance="topless 15-year-old")
    handle = await discord_standin.invoke_slash(
        w.guild, w.general, w.admin, "persona", subcommand="preview", options={"name": "Old"}
    )
    followup = await handle.wait_for_followup(timeout=30)
    assert followup.content.startswith("No preview") and not followup.files


async def test_an_llm_reply_sexualising_a_minor_is_never_posted(discord_standin, llm_standin, bots):
    llm_standin.reply = lambda body: "I'm only fourteen but I'd love to have sex with you"
    await bots(llm_base_url=llm_standin.base_url)
    w = discord_standin.default
    await create_persona(discord_standin)
    await activate(discord_standin, w.general)
    await discord_standin.user_says(w.general, w.member, "Mira how was your day?")
    await eventually(lambda: any(NEUTRAL_REPLY in m.content for m in discord_standin.messages_in(w.general)), 15)
    assert not any("fourteen" in m.content for m in discord_standin.messages_in(w.general))


async def test_a_button_pressed_in_another_channel_shows_and_posts_nothing(discord_standin, bots):
    await bots()
    w = discord_standin.default
    await create_persona(discord_standin, nsfw=True)
    await activate(discord_standin, w.nsfw)
    await discord_standin.user_says(w.nsfw, w.member, "Mira send me a selfie")
    picture = await discord_standin.wait_for_message(is_picture, timeout=20)
    pictures = len([m for m in discord_standin.messages if is_picture(m)])
    for action in ("info", "take"):
        custom_id = next(
            c["custom_id"] for c in picture.components[0]["components"] if c["custom_id"].startswith(f"selfie:{action}")
        )
        forged = discord_standin._interaction(
            3, w.general, w.member, {"custom_id": custom_id, "component_type": 2}, message=picture
        )
        answer = (await forged.wait_for_response()).data["content"]
        assert "does not belong" in answer and "Selfie #" not in answer
    await asyncio.sleep(0.5)
    assert len([m for m in discord_standin.messages if is_picture(m)]) == pictures


async def test_a_persona_deleted_while_its_selfie_is_drawn_ends_it_with_a_sentence(discord_standin, bots, demo_engine):
    from tests.bot.conftest import GatedEngine

    engine = GatedEngine(demo_engine, open=False)
    await bots(engine=engine)
    w = discord_standin.default
    await create_persona(discord_standin)
    await activate(discord_standin, w.general)
    await discord_standin.user_says(w.general, w.member, "Mira send me a selfie")
    await eventually(lambda: engine.batches, timeout=15)
    delete = await discord_standin.invoke_slash(
        w.guild, w.general, w.admin, "persona", subcommand="delete", options={"name": "Mira"}
    )
    assert "Deleted" in (await delete.wait_for_response()).data["content"]
    engine.open()
    told = await discord_standin.wait_for_message(lambda m: "was deleted while your selfie" in m.content, timeout=20)
    assert f"<@{w.member.id}>" in told.content
    await asyncio.sleep(0.5)
    assert not [m for m in discord_standin.messages_in(w.general) if is_picture(m)]
    # The "getting ready…" note does not stay behind.
    notes = [m for m in discord_standin.messages_in(w.general) if "getting ready" in m.content and not m.deleted]
    assert notes == []
