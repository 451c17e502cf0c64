"""Unmodified discord.py against the stand-in, over real HTTP and WebSocket."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.discord_standin import DiscordStandin
from tests.llm_standin import LLMStandin

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class Recorder(discord.Client):
    def __init__(self, **kwargs: object) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(intents=intents, guild_ready_timeout=0.1, **kwargs)  # type: ignore[arg-type]
        self.tree = app_commands.CommandTree(self)
        self.ready = asyncio.Event()
        self.seen: list[discord.Message] = []

    async def on_ready(self) -> None:
        self.ready.set()

    async def on_message(self, message: discord.Message) -> None:
        self.seen.append(message)
        if message.content == "ping" and message.author != self.user:
            await message.channel.send("pong")


class NoteModal(discord.ui.Modal, title="Note"):
    text = discord.ui.TextInput(label="Text", custom_id="text")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            f"noted: {self.text.value}", file=discord.File(io.BytesIO(PNG), filename="n.png"), ephemeral=True
        )


@pytest.fixture
async def client(discord_standin: DiscordStandin) -> AsyncIterator[Recorder]:
    bot = Recorder()
    _register(bot, discord_standin.default.guild.id)
    await bot.login(discord_standin.token)
    await bot.tree.sync(guild=discord.Object(discord_standin.default.guild.id))
    task = asyncio.create_task(bot.connect(reconnect=True))
    await asyncio.wait_for(bot.ready.wait(), 5)
    yield bot
    await bot.close()
    await asyncio.wait_for(task, 5)
    assert not discord_standin.unknown_routes, "discord.py used a route the stand-in lacks"


def _register(bot: Recorder, guild_id: int) -> None:
    persona = app_commands.Group(name="persona", description="Manage personas")

    @persona.command(name="create", description="Create a persona")
    async def create(
        interaction: discord.Interaction, name: str, seed: int, reference: discord.Attachment | None = None
    ) -> None:
        await interaction.response.defer(thinking=True)
        data = await reference.read() if reference else b""
        await interaction.edit_original_response(content=f"working on {name}...")
        allowed = interaction.permissions.manage_guild
        await interaction.followup.send(
            f"created {name} seed={seed} bytes={len(data)} admin={allowed} nsfw={interaction.channel.nsfw}",
            file=discord.File(io.BytesIO(data or PNG), filename="preview.png"),
        )

    @persona.command(name="show", description="Show a persona")
    async def show(interaction: discord.Interaction, name: str) -> None:
        await interaction.response.send_message(f"showing {name}", view=Buttons())

    @show.autocomplete("name")
    async def names(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=n, value=n) for n in ("Mira", "Max") if n.lower().startswith(current.lower())]

    bot.tree.add_command(persona, guild=discord.Object(guild_id))

    @bot.tree.command(name="note", description="Open a modal", guild=discord.Object(guild_id))
    async def note(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(NoteModal())


class Buttons(discord.ui.View):
    clicked: list[int] = []

    @discord.ui.button(label="Again", custom_id="again")
    async def again(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        Buttons.clicked.append(interaction.user.id)
        await interaction.response.edit_message(content="again!", view=None)


async def test_ready_with_guilds_and_intents(client: Recorder, discord_standin: DiscordStandin) -> None:
    world = discord_standin.default
    assert {g.id for g in client.guilds} == {world.guild.id, world.other_guild.id}
    guild = client.get_guild(world.guild.id)
    assert guild.get_channel(world.nsfw.id).is_nsfw()
    assert not guild.get_channel(world.general.id).is_nsfw()
    assert guild.get_thread(world.thread.id).parent_id == world.general.id
    assert guild.me.guild_permissions.manage_webhooks
    assert discord_standin.identify_intents == client.intents.value
    assert discord.Intents._from_value(discord_standin.identify_intents).message_content


async def test_message_roundtrip(client: Recorder, discord_standin: DiscordStandin) -> None:
    world = discord_standin.default
    await discord_standin.user_says(world.general, world.member, "ping")
    reply = await discord_standin.wait_for_message(lambda m: m.content == "pong")
    assert reply.source == "channel" and reply.channel_id == world.general.id
    # The bot's own message comes back over the gateway like on Discord.
    for _ in range(50):
        if any(m.content == "pong" for m in client.seen):
            break
        await asyncio.sleep(0.02)
    assert [m.author.id for m in client.seen if m.content == "pong"] == [client.user.id]
    first = next(m for m in client.seen if m.content == "ping")
    assert isinstance(first.author, discord.Member) and first.author.id == world.member.id


async def test_reply_and_mention_shapes(client: Recorder, discord_standin: DiscordStandin) -> None:
    world = discord_standin.default
    msg = await discord_standin.user_says(world.general, world.member, "hello", mentions_bot=True)
    reply = await discord_standin.user_says(world.general, world.admin, "me too", reply_to=msg)
    for _ in range(50):
        if len(client.seen) >= 2:
            break
        await asyncio.sleep(0.02)
    got_mention, got_reply = client.seen[-2:]
    assert client.user in got_mention.mentions
    assert got_reply.reference.message_id == msg.id and reply.payload["type"] == 19


async def test_webhook_send_with_custom_identity_and_file(client: Recorder, discord_standin: DiscordStandin) -> None:
    world = discord_standin.default
    channel = client.get_channel(world.general.id)
    created = await channel.create_webhook(name="Mira")
    hook = discord.Webhook.partial(created.id, created.token, client=client)
    sent = await hook.send(
        "hi from Mira",
        username="Mira",
        avatar_url="https://example.invalid/mira.png",
        file=discord.File(io.BytesIO(PNG), filename="selfie.png"),
        wait=True,
    )
    stored = await discord_standin.wait_for_message(lambda m: m.id == sent.id)
    assert stored.webhook_id == created.id and stored.author_name == "Mira"
    assert stored.avatar_url == "https://example.invalid/mira.png"
    assert stored.files[0].data == PNG and stored.files[0].content_type == "image/png"
    # The CDN stand-in serves the bytes back.
    assert await sent.attachments[0].read() == PNG
    assert [w.id for w in await channel.webhooks()] == [created.id]


async def test_deleted_webhook_is_not_found(client: Recorder, discord_standin: DiscordStandin) -> None:
    channel = client.get_channel(discord_standin.default.general.id)
    created = await channel.create_webhook(name="Mira")
    discord_standin.delete_webhook_out_of_band(created.id)
    hook = discord.Webhook.partial(created.id, created.token, client=client)
    with pytest.raises(discord.NotFound) as info:
        await hook.send("anyone?", wait=True)
    assert info.value.code == 10015


async def test_rate_limit_429_is_retried_once(client: Recorder, discord_standin: DiscordStandin) -> None:
    world = discord_standin.default
    discord_standin.fail_next("POST", r"^/channels/\d+/messages$", status=429, retry_after=0.05)
    await client.get_channel(world.general.id).send("after a 429")
    assert [m.content for m in discord_standin.messages].count("after a 429") == 1
    assert discord_standin.requests.count(("POST", f"/channels/{world.general.id}/messages")) == 2


async def test_slash_defer_edit_followup_with_file(client: Recorder, discord_standin: DiscordStandin) -> None:
    world = discord_standin.default
    assert discord_standin.command_put_count == 1
    handle = await discord_standin.invoke_slash(
        world.guild,
        world.nsfw,
        world.admin,
        "persona",
        subcommand="create",
        options={"name": "Mira", "seed": 42},
        attachments={"reference": ("ref.png", PNG, "image/png")},
    )
    response = await handle.wait_for_response()
    assert response.type == 5 and handle.deferred
    followup = await handle.wait_for_followup()
    assert followup.content == f"created Mira seed=42 bytes={len(PNG)} admin=True nsfw=True"
    assert followup.files[0].filename == "preview.png" and followup.files[0].data == PNG
    assert handle.edits and handle.edits[0][1]["content"] == "working on Mira..."
    assert handle.original.content == "working on Mira..."


async def test_member_without_manage_guild(client: Recorder, discord_standin: DiscordStandin) -> None:
    world = discord_standin.default
    handle = await discord_standin.invoke_slash(
        world.guild, world.general, world.member, "persona", subcommand="create", options={"name": "X", "seed": 1}
    )
    followup = await handle.wait_for_followup()
    assert "admin=False nsfw=False" in followup.content


async def test_autocomplete_and_button(client: Recorder, discord_standin: DiscordStandin) -> None:
    world = discord_standin.default
    auto = await discord_standin.invoke_autocomplete(
        world.guild, world.general, world.member, "persona", subcommand="show", focused="name", value="mi"
    )
    result = await auto.wait_for_response()
    assert result.type == 8 and result.data["choices"] == [{"name": "Mira", "value": "Mira"}]

    handle = await discord_standin.invoke_slash(
        world.guild, world.general, world.member, "persona", subcommand="show", options={"name": "Mira"}
    )
    await handle.wait_for_response()
    assert handle.original.content == "showing Mira" and handle.original.components
    click = await discord_standin.click_button(handle.original, "again", world.admin)
    assert (await click.wait_for_response()).type == 7
    assert Buttons.clicked[-1] == world.admin.id
    assert handle.original.content == "again!" and handle.original.components == []


async def test_resume_after_gateway_drop(client: Recorder, discord_standin: DiscordStandin) -> None:
    world = discord_standin.default
    resumed = asyncio.Event()
    client.on_resumed = resumed.set  # type: ignore[method-assign]
    await discord_standin.drop_gateway()
    await asyncio.wait_for(resumed.wait(), 5)
    await discord_standin.user_says(world.general, world.member, "ping")
    await discord_standin.wait_for_message(lambda m: m.content == "pong")
    assert discord_standin.gateway.resumes and len(discord_standin.gateway.identifies) == 1


async def test_unknown_route_is_recorded(client: Recorder, discord_standin: DiscordStandin) -> None:
    with pytest.raises(discord.NotFound):
        await client.fetch_guild_preview(discord_standin.default.guild.id)
    assert discord_standin.unknown_routes
    discord_standin.unknown_routes.clear()


async def test_server_error_500_is_retried(client: Recorder, discord_standin: DiscordStandin) -> None:
    # discord.py sleeps 1 + 2*tries seconds between 5xx retries: one retry costs 1 s.
    world = discord_standin.default
    discord_standin.fail_next("POST", r"/messages$", status=500)
    await client.get_channel(world.general.id).send("after a 500")
    assert [m.content for m in discord_standin.messages].count("after a 500") == 1


async def test_modal_submit_and_ephemeral_file_response(client: Recorder, discord_standin: DiscordStandin) -> None:
    world = discord_standin.default
    opened = await discord_standin.invoke_slash(world.guild, world.general, world.member, "note")
    modal = await opened.wait_for_response()
    assert modal.type == 9 and modal.data["custom_id"]
    handle = await discord_standin.submit_modal(world.general, world.member, modal.data["custom_id"], {"text": "hi"})
    await handle.wait_for_response()
    assert handle.ephemeral and handle.original.content == "noted: hi"
    assert handle.original.files[0].data == PNG and handle.original.ephemeral


async def test_without_message_content_only_mentions_carry_text(discord_standin: DiscordStandin) -> None:
    world = discord_standin.default
    seen: list[discord.Message] = []
    bot = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.1)
    bot.event(_append_to(seen))
    await bot.login(discord_standin.token)
    task = asyncio.create_task(bot.connect())
    await discord_standin.wait_until_connected()
    await discord_standin.user_says(world.general, world.member, "secret")
    await discord_standin.user_says(world.general, world.member, "hey you", mentions_bot=True)
    for _ in range(100):
        if len(seen) == 2:
            break
        await asyncio.sleep(0.02)
    await bot.close()
    await asyncio.wait_for(task, 5)
    assert [m.content for m in seen] == ["", f"<@{discord_standin.world.bot.id}> hey you"]


def _append_to(seen: list[discord.Message]) -> Callable[[discord.Message], Awaitable[None]]:
    async def on_message(message: discord.Message) -> None:
        seen.append(message)

    return on_message


async def test_auto_sharded_client_uses_gateway_bot(discord_standin: DiscordStandin) -> None:
    bot = discord.AutoShardedClient(intents=discord.Intents.default(), guild_ready_timeout=0.1)
    ready = asyncio.Event()
    bot.event(_set_on_ready(ready))
    await bot.login(discord_standin.token)
    task = asyncio.create_task(bot.connect())
    await asyncio.wait_for(ready.wait(), 5)
    assert len(bot.guilds) == 2 and ("GET", "/gateway/bot") in discord_standin.requests
    await bot.close()
    await asyncio.wait_for(task, 5)


def _set_on_ready(ready: asyncio.Event) -> Callable[[], Awaitable[None]]:
    async def on_ready() -> None:
        ready.set()

    return on_ready


async def test_json_content_type_is_exact(discord_standin: DiscordStandin) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{discord_standin.api_base}/users/@me") as resp:
        assert resp.headers["Content-Type"] == "application/json"


async def test_llm_standin_records_and_fails(llm_standin: LLMStandin) -> None:
    body = {
        "model": "x",
        "messages": [{"role": "system", "content": "You are Mira, cheerful."}, {"role": "user", "content": "hi"}],
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{llm_standin.base_url}/chat/completions", json=body) as resp:
            data = await resp.json()
        assert data["choices"][0]["message"]["content"].startswith("*Mira smiles*")
        assert "Mira, cheerful" in llm_standin.last_system_prompt
        llm_standin.fail_with(503)
        async with session.post(f"{llm_standin.base_url}/chat/completions", json=body) as resp:
            assert resp.status == 503
        llm_standin.delay = 0.2
        started = time.monotonic()
        async with session.post(f"{llm_standin.base_url}/chat/completions", json=body) as resp:
            assert resp.status == 200
        assert time.monotonic() - started >= 0.2
        async with session.get(f"{llm_standin.base_url}/models") as resp:
            assert (await resp.json())["data"][0]["id"] == "standin-model"
