"""Security, end to end: secrets never logged, uploads stored by content hash only from Discord's own URL with a cap
and a timeout, admin checks at run time on every admin action, and one guild never reaching another's persona."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from pathlib import Path
from types import SimpleNamespace

import discord
import httpx
import pytest
from aiohttp import web

from bot import uploads
from bot.assets import prepare_assets
from bot.errors import UploadError
from bot.redaction import MASK, install_redaction
from tests.bot.conftest import activate, create_persona, custom_ids, eventually, is_picture, png_bytes
from tests.discord_standin import StoredFile

BOT_TOKEN = "MTAxNzQ2.selfiebot-distinctive-bot-token.Zx9Qw8"
LLM_KEY = "sk-distinctive-llm-key-5b1f0c7e"


# -- secrets ------------------------------------------------------------------------------------------------------


async def test_no_secret_or_webhook_or_interaction_token_is_ever_logged(discord_standin, llm_standin, bots, caplog):
    install_redaction(SimpleNamespace(discord_token=BOT_TOKEN, llm_api_key=LLM_KEY))
    caplog.set_level(logging.DEBUG)  # discord.py logs routes, webhook URLs and gateway payloads at DEBUG
    await bots(discord_token=BOT_TOKEN, llm_base_url=llm_standin.base_url, llm_api_key=LLM_KEY)
    w = discord_standin.default
    await create_persona(discord_standin)
    await activate(discord_standin, w.general)

    await discord_standin.user_says(w.general, w.member, "Mira send me a selfie from the beach")
    await discord_standin.wait_for_message(is_picture, timeout=20)
    selfie = await discord_standin.invoke_slash(w.guild, w.general, w.member, "selfie", options={"persona": "Mira"})
    await selfie.wait_for_edit(timeout=20)
    # Errors: the LLM fails (its URL and exception are logged) and a webhook call is rate limited.
    llm_standin.fail_with(503, count=1)
    discord_standin.fail_next("POST", r"/webhooks/\d+/", status=429, retry_after=0.05)
    await discord_standin.user_says(w.general, w.member, "Mira how are you?")
    await discord_standin.wait_for_message(lambda m: m.source == "webhook" and not m.files and "?" not in m.content)

    assert llm_standin.headers and any(LLM_KEY in str(h) for h in llm_standin.headers)  # the key was really used
    logged = "\n".join(f"{r.getMessage()}\n{r.exc_text or ''}" for r in caplog.records) + caplog.text
    assert "/webhooks/" in logged and "INTERACTION_CREATE" in logged and MASK in logged  # the test saw DEBUG logs
    secrets = {BOT_TOKEN, LLM_KEY}
    secrets |= {hook.token for hook in discord_standin.webhooks.values()}
    secrets |= {handle.token for handle in discord_standin.interactions.values()}
    leaked = [s for s in secrets if s in logged]
    assert not leaked


def test_redactor_masks_tokens_in_urls_payloads_headers_and_tracebacks():
    redactor = install_redaction(SimpleNamespace(discord_token="tok-" + "a" * 20, llm_api_key=""))
    url = "POST http://x/api/v10/webhooks/123/" + "A" * 68 + "/messages/@original"
    assert "A" * 68 not in redactor.redact(url) and "/webhooks/123/" in redactor.redact(url)
    assert "s3cr3t-token-value" not in redactor.redact("{'token': 's3cr3t-token-value', 'id': '1'}")
    assert "abcdefghijklmnop" not in redactor.redact("Authorization: Bearer abcdefghijklmnop")
    try:
        raise RuntimeError("failed with tok-" + "a" * 20)
    except RuntimeError as error:
        exc_info = (type(error), error, error.__traceback__)
    record = logging.getLogRecordFactory()("x", logging.ERROR, __file__, 1, "t=%s", ("tok-" + "a" * 20,), exc_info)
    assert record.getMessage() == f"t={MASK}"
    assert "RuntimeError: failed with" in record.exc_text and "tok-" + "a" * 20 not in record.exc_text


# -- uploads ------------------------------------------------------------------------------------------------------


async def test_uploaded_files_are_stored_by_content_hash_whatever_their_name(discord_standin, bots, kit, tmp_path):
    running = await bots()
    w = discord_standin.default
    reference, lora = png_bytes(), kit.loras[0].read_bytes()
    await create_persona(
        discord_standin,
        attachments={
            "reference": ("..\\..\\etc\\passwd.png", reference, "image/png"),
            "lora": ("con.safetensors", lora, "application/octet-stream"),
        },
    )
    persona = await running.bot.services.store.get_persona(w.guild.id, "Mira")
    data_dir = running.bot.services.settings.data_dir
    assert Path(persona.reference_path) == data_dir / "references" / f"{hashlib.sha256(reference).hexdigest()}.png"
    assert Path(persona.lora_path) == data_dir / "loras" / f"{hashlib.sha256(lora).hexdigest()}.safetensors"
    written = sorted(p.relative_to(data_dir).as_posix() for p in data_dir.rglob("*") if p.is_file())
    assert [p for p in written if p.startswith(("references", "loras"))] == sorted(
        [Path(persona.reference_path).relative_to(data_dir).as_posix(), f"loras/{persona.lora_hash}.safetensors"]
    )

    # A name with forward slashes (Discord itself would rewrite it) goes through the same hash naming.
    fid = discord_standin.ids.next()
    other = png_bytes(100, (1, 2, 3))
    stored = StoredFile(fid, "x.png", "image/png", other, f"{discord_standin.base_url}/attachments/{fid}/x.png")
    discord_standin.files[fid] = stored
    attachment = discord.Attachment(
        data=stored.payload() | {"filename": "../../etc/passwd.png"}, state=running.bot._connection
    )
    assets = await prepare_assets(running.bot.services, attachment, None, 0.8)
    assert Path(str(assets.fields["reference_path"])).name == f"{hashlib.sha256(other).hexdigest()}.png"
    assert not (data_dir.parent / "etc").exists() and not (tmp_path / "etc").exists()


def fake_attachment(url: str, size: int) -> discord.Attachment:
    payload = {"id": "1", "filename": "f.png", "size": size, "url": url, "proxy_url": url}
    return discord.Attachment(data=payload, state=SimpleNamespace(http=None))  # type: ignore[arg-type]


@pytest.fixture
async def file_server():
    """A localhost server: /big (more bytes than the attachment claims, chunked), /slow (never finishes)."""
    finished = asyncio.Event()

    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(64):
            await response.write(b"x" * 4096)
        return response

    async def slow(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b"x")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(finished.wait(), 10)
        return response

    app = web.Application()
    app.router.add_get("/big", big)
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    finished.set()
    await runner.cleanup()


async def test_downloads_stop_at_the_cap_the_timeout_and_foreign_hosts(file_server):
    hosts = uploads.download_origins(f"{file_server}/api/v10")
    async with httpx.AsyncClient() as http:
        with pytest.raises(UploadError, match="larger than 64 KiB"):  # Discord said 10 bytes; the stream decides
            await uploads.fetch_attachment(http, fake_attachment(f"{file_server}/big", 10), 65536, 5, "file", hosts)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(UploadError, match="took too long"):
            await uploads.fetch_attachment(http, fake_attachment(f"{file_server}/slow", 10), 65536, 0.3, "file", hosts)
        assert loop.time() - started < 2
        for url in ("https://evil.example/x.png", "file:///etc/passwd", "http://169.254.169.254/latest"):
            with pytest.raises(UploadError, match="does not come from Discord"):
                await uploads.fetch_attachment(http, fake_attachment(url, 10), 65536, 5, "file", hosts)
    expected = uploads.DISCORD_CDN_ORIGINS | {("https", "discord.com", 443)}
    assert uploads.download_origins("https://discord.com/api/v10") == expected


# -- admin checks at run time -------------------------------------------------------------------------------------

ADMIN_CALLS = {
    "create": ({"name": "Noor", "appearance": "a woman"}, None),
    "edit": ({"name": "Mira", "appearance": "a tall woman"}, None),
    "show": ({"name": "Mira"}, None),
    "list": ({}, None),
    "delete": ({"name": "Mira"}, None),
    "activate": ({"name": "Mira"}, None),
    "deactivate": ({"name": "Mira"}, None),
    "preview": ({"name": "Mira"}, None),
    "import": ({}, {"file": ("noor.toml", b'name = "Noor"\nappearance = "a woman"\n', "application/toml")}),
    "export": ({"name": "Mira"}, None),
}


def set_manage_server(standin, guild, user, allowed: bool) -> None:
    """Give or take Manage Server through the user's role, as a server admin would."""
    role = guild.roles[guild.members[user.id].role_ids[0]]
    role.permissions = role.permissions | 0x20 if allowed else role.permissions & ~0x20
    standin.gateway.dispatch("GUILD_ROLE_UPDATE", {"guild_id": str(guild.id), "role": role.payload()})


async def answer_of(handle) -> str:
    await handle.wait_until(lambda: handle.callbacks, timeout=20)
    if handle.followups or handle.deferred:
        return (await handle.wait_for_followup(timeout=20)).content
    return handle.response.data.get("content", "")


@pytest.mark.parametrize("subcommand", sorted(ADMIN_CALLS))
async def test_every_admin_subcommand_refuses_a_non_admin(discord_standin, bots, subcommand):
    running = await bots()
    w = discord_standin.default
    await create_persona(discord_standin)
    before = await running.bot.services.store.get_persona(w.guild.id, "Mira")
    options, attachments = ADMIN_CALLS[subcommand]
    handle = await discord_standin.invoke_slash(
        w.guild, w.general, w.member, "persona", subcommand=subcommand, options=options, attachments=attachments
    )
    response = await handle.wait_for_response()
    assert response.data["flags"] & 64 and "Manage Server" in response.data["content"]
    assert [p.name for p in await running.bot.services.store.list_personas(w.guild.id)] == ["Mira"]
    assert await running.bot.services.store.get_persona(w.guild.id, "Mira") == before
    assert await running.bot.services.store.active_personas(w.guild.id, w.general.id) == []


async def test_permissions_taken_away_are_honoured_on_the_next_call_and_button(discord_standin, bots):
    await bots()
    w = discord_standin.default
    await create_persona(discord_standin)
    await activate(discord_standin, w.general)
    listed = await discord_standin.invoke_slash(w.guild, w.general, w.admin, "persona", subcommand="list")
    assert "Mira" in (await listed.wait_for_response()).data["content"]

    await discord_standin.user_says(w.general, w.member, "Mira send me a selfie")
    picture = await discord_standin.wait_for_message(is_picture, timeout=20)
    delete_id = next(c for c in custom_ids(picture) if c.startswith("selfie:del"))
    stranger = await discord_standin.click_button(picture, delete_id, w.stranger)
    assert "Only the person who asked" in (await stranger.wait_for_response()).data["content"]

    set_manage_server(discord_standin, w.guild, w.admin, False)
    listed = await discord_standin.invoke_slash(w.guild, w.general, w.admin, "persona", subcommand="list")
    assert "Manage Server" in (await listed.wait_for_response()).data["content"]
    pressed = await discord_standin.click_button(picture, delete_id, w.admin)
    assert "Only the person who asked" in (await pressed.wait_for_response()).data["content"]
    assert not picture.deleted

    set_manage_server(discord_standin, w.guild, w.admin, True)
    pressed = await discord_standin.click_button(picture, delete_id, w.admin)
    assert (await pressed.wait_for_followup()).content == "Deleted."
    await eventually(lambda: picture.deleted)


# -- guild isolation ----------------------------------------------------------------------------------------------


async def test_another_guild_can_neither_name_nor_press_a_persona(discord_standin, bots):
    running = await bots()
    w = discord_standin.default
    await create_persona(discord_standin)
    await activate(discord_standin, w.general)
    before = await running.bot.services.store.get_persona(w.guild.id, "Mira")
    for subcommand in ("show", "edit", "delete", "activate", "deactivate", "preview", "export"):
        options = {"name": "Mira"} | ({"appearance": "changed"} if subcommand == "edit" else {})
        handle = await discord_standin.invoke_slash(
            w.other_guild, w.other_general, w.admin, "persona", subcommand=subcommand, options=options
        )
        assert "no persona called “Mira”" in await answer_of(handle), subcommand
    selfie = await discord_standin.invoke_slash(
        w.other_guild, w.other_general, w.admin, "selfie", options={"persona": "Mira"}
    )
    assert "no persona called" in (await selfie.wait_for_followup()).content
    for command, sub, focused in (("persona", "show", "name"), ("selfie", None, "persona")):
        choices = await discord_standin.invoke_autocomplete(
            w.other_guild, w.other_general, w.admin, command, subcommand=sub, focused=focused, value=""
        )
        assert (await choices.wait_for_response()).data["choices"] == []
    assert await running.bot.services.store.get_persona(w.guild.id, "Mira") == before

    # Its selfie's buttons, pressed from the other guild (a forged custom_id), show and change nothing.
    await discord_standin.user_says(w.general, w.member, "Mira send me a selfie")
    picture = await discord_standin.wait_for_message(is_picture, timeout=20)
    pictures = len([m for m in discord_standin.messages if is_picture(m)])
    elsewhere = await discord_standin.user_says(w.other_general, w.admin, "hello")
    elsewhere.payload["components"] = picture.components  # a modified client can send any custom_id
    for custom_id in custom_ids(picture):
        pressed = await discord_standin.click_button(elsewhere, custom_id, w.admin)
        answer = await answer_of(pressed)
        assert "gone" in answer and "Mira" not in answer, (custom_id, answer)
    await asyncio.sleep(0.3)
    assert not picture.deleted and len([m for m in discord_standin.messages if is_picture(m)]) == pictures
