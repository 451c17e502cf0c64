"""Chat end to end: personas answer through the channel webhook, send selfies when asked, decline what they must."""

from __future__ import annotations

from tests.bot.conftest import activate, assert_png, create_persona, custom_ids, eventually, is_picture


async def test_chat_selfie_arrives_through_the_webhook_as_the_persona(discord_standin, bots):
    running = await bots()
    w = discord_standin.default
    await create_persona(discord_standin)
    await activate(discord_standin, w.general)

    await discord_standin.user_says(w.general, w.member, "Mira send me a selfie from the beach 🥺")
    picture = await discord_standin.wait_for_message(is_picture, timeout=20)
    assert picture.author_name == "Mira" and picture.channel_id == w.general.id
    assert f"<@{w.member.id}>" in picture.content
    assert_png(picture.files[0].data)
    ids = custom_ids(picture)
    assert [i.split(":")[1] for i in ids] == ["take", "info", "del"]

    # The progress message came from the persona too, showed the queue, and is gone now.
    progress = [m for m in discord_standin.messages if m.webhook_id and "getting ready" in m.payload["content"]]
    assert progress
    await eventually(lambda: all(m.deleted for m in progress))
    assert all(m.author_name == "Mira" for m in discord_standin.bot_messages() if m.source == "webhook")

    selfie_id = int(ids[0].split(":")[2])
    record = await running.bot.services.store.get_selfie(w.guild.id, selfie_id)
    assert record.message_id == picture.id and "beach" in record.prompt
    assert record.parameters["steps"] == 2 and record.parameters["width"] == 64 and record.parameters["model"] == "demo"
    turns = await running.bot.services.store.recent_turns(w.guild.id, w.general.id, record.persona_id)
    assert turns[-1].role == "selfie" and turns[-1].content.startswith("sent a selfie:")
    assert len(discord_standin.webhooks) == 1  # one webhook per channel, reused


async def test_chat_answer_comes_from_the_llm_with_personality_and_memory(discord_standin, llm_standin, bots):
    await bots(llm_base_url=llm_standin.base_url, llm_model="standin-model")
    w = discord_standin.default
    await create_persona(discord_standin, personality="Loves the sea and cold brew.")
    await activate(discord_standin, w.general)

    await discord_standin.user_says(w.general, w.member, "hey Mira, how was your day?")
    first = await discord_standin.wait_for_message(lambda m: m.webhook_id and m.author_name == "Mira", timeout=10)
    assert first.content and not first.files
    assert "You are Mira" in llm_standin.last_system_prompt and "cold brew" in llm_standin.last_system_prompt

    await discord_standin.user_says(w.general, w.member, "what did I just ask you?", reply_to=first)
    await discord_standin.wait_for_message(lambda m: m.webhook_id and m.id != first.id, timeout=10)
    contents = [m["content"] for m in llm_standin.requests[-1]["messages"]]
    assert any("how was your day" in c for c in contents)  # the memory went along as context


async def test_llm_failure_falls_back_to_a_template(discord_standin, llm_standin, bots):
    await bots(llm_base_url=llm_standin.base_url, llm_timeout_s=0.5)
    w = discord_standin.default
    await create_persona(discord_standin)
    await activate(discord_standin, w.general)
    llm_standin.delay = 3.0
    await discord_standin.user_says(w.general, w.member, "Mira are you there?")
    reply = await discord_standin.wait_for_message(lambda m: m.webhook_id and m.author_name == "Mira", timeout=10)
    assert reply.content


async def test_explicit_request_in_a_normal_channel_is_declined_in_character(discord_standin, bots):
    await bots()
    w = discord_standin.default
    await create_persona(discord_standin, nsfw=True)
    await activate(discord_standin, w.general)
    await discord_standin.user_says(w.general, w.member, "Mira send me a nude selfie")
    reply = await discord_standin.wait_for_message(lambda m: m.webhook_id and m.author_name == "Mira", timeout=10)
    assert "age-restricted" in reply.content and f"<@{w.member.id}>" in reply.content
    assert not any(m.files for m in discord_standin.bot_messages())


async def test_minors_are_refused_even_in_an_age_restricted_channel(discord_standin, bots):
    await bots()
    w = discord_standin.default
    await create_persona(discord_standin, nsfw=True)
    await activate(discord_standin, w.nsfw)
    await discord_standin.user_says(w.nsfw, w.member, "Mira send a naked selfie dressed as a schoolgirl")
    reply = await discord_standin.wait_for_message(lambda m: m.webhook_id and m.author_name == "Mira", timeout=10)
    assert "anything like that, ever" in reply.content
    assert not any(m.files for m in discord_standin.bot_messages())


async def test_without_message_content_mentions_still_work(discord_standin, bots):
    await bots(message_content=False)
    w = discord_standin.default
    assert not discord_standin.identify_intents & (1 << 15)
    await create_persona(discord_standin)
    await activate(discord_standin, w.general)
    await discord_standin.user_says(w.general, w.member, "Mira send a selfie")  # arrives blank: ignored
    await discord_standin.user_says(w.general, w.member, "send me a selfie", mentions_bot=True)
    picture = await discord_standin.wait_for_message(is_picture, timeout=20)
    assert picture.author_name == "Mira"
    assert len([m for m in discord_standin.bot_messages() if is_picture(m)]) == 1


async def test_thread_posts_through_the_parent_webhook(discord_standin, bots):
    await bots()
    w = discord_standin.default
    await create_persona(discord_standin)
    await activate(discord_standin, w.general)
    await discord_standin.user_says(w.thread, w.member, "Mira selfie please")
    picture = await discord_standin.wait_for_message(is_picture, timeout=20)
    assert picture.channel_id == w.thread.id and picture.author_name == "Mira"
    hook = discord_standin.webhooks[picture.webhook_id]
    assert hook.channel_id == w.general.id


async def test_deleted_webhook_is_recreated(discord_standin, bots):
    await bots()
    w = discord_standin.default
    await create_persona(discord_standin)
    await activate(discord_standin, w.general)
    await discord_standin.user_says(w.general, w.member, "hi Mira")
    first = await discord_standin.wait_for_message(lambda m: m.webhook_id and m.author_name == "Mira", timeout=10)
    discord_standin.delete_webhook_out_of_band(first.webhook_id)
    await discord_standin.user_says(w.general, w.member, "hello again Mira")
    second = await discord_standin.wait_for_message(
        lambda m: m.source == "webhook" and m.webhook_id != first.webhook_id, timeout=10
    )
    assert second.author_name == "Mira"


async def test_explicit_request_is_allowed_in_an_age_restricted_channel_for_an_nsfw_persona(discord_standin, bots):
    running = await bots()
    w = discord_standin.default
    await create_persona(discord_standin, nsfw=True)
    await activate(discord_standin, w.nsfw)
    await discord_standin.user_says(w.nsfw, w.member, "Mira send me a lingerie selfie")
    picture = await discord_standin.wait_for_message(is_picture, timeout=20)
    selfie_id = int(picture.components[0]["components"][0]["custom_id"].split(":")[2])
    record = await running.bot.services.store.get_selfie(w.guild.id, selfie_id)
    assert "nsfw" not in record.negative.split(",")[0]  # no SFW terms forced into the negative prompt
