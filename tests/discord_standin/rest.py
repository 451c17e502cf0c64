"""REST side of the stand-in: the routes discord.py 2.7 uses, on ``/api/v10``, plus a CDN for uploaded files.

Every JSON answer carries ``Content-Type: application/json`` exactly: discord.py's ``json_or_text`` compares the
header with ``==``, so ``application/json; charset=utf-8`` would hand the bot a str instead of a dict.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .records import CallbackRecord, StoredMessage, StoredWebhook
from .world import MANAGE_WEBHOOKS

if TYPE_CHECKING:
    from .server import DiscordStandin, Upload

log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
MAX_WEBHOOKS_PER_CHANNEL = 15
EPHEMERAL = 1 << 6
LOADING = 1 << 7


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # Set the header by hand: ``web.json_response``/``content_type=`` would add "; charset=utf-8".
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json", **(headers or {})}
    )


def error(status: int, message: str, code: int = 0) -> web.Response:
    return json_response({"message": message, "code": code}, status=status)


NO_CONTENT = 204


def no_content() -> web.Response:
    return web.Response(status=NO_CONTENT)


async def read_body(request: web.Request) -> tuple[Any, list[Upload]]:
    """JSON body, or multipart ``payload_json`` + ``files[n]`` (what discord.py sends with files)."""
    from .server import Upload

    if not request.body_exists:
        return {}, []
    if request.content_type.startswith("multipart/"):
        payload: Any = {}
        uploads: list[Upload] = []
        reader = await request.multipart()
        async for part in reader:
            name = part.name or ""
            if name == "payload_json":
                payload = json.loads(await part.text())
            elif name.startswith("files[") or name.startswith("file"):
                index = int(name[6:-1]) if name.startswith("files[") else len(uploads)
                data = bytes(await part.read())
                uploads.append(Upload(index, part.filename or f"file{index}", part.headers.get("Content-Type"), data))
        return payload, uploads
    text = await request.text()
    return (json.loads(text) if text else {}), []


class Rest:
    def __init__(self, standin: DiscordStandin) -> None:
        self.s = standin

    # -- wiring ---------------------------------------------------------------------------------------------------
    def install(self, app: web.Application) -> None:
        r = app.router
        p = API_PREFIX
        routes = [
            ("GET", "/users/@me", self.me),
            ("GET", "/applications/@me", self.application),
            ("GET", "/oauth2/applications/@me", self.application),
            ("GET", "/gateway", self.gateway),
            ("GET", "/gateway/bot", self.gateway_bot),
            ("GET", "/applications/{app}/commands", self.commands_get),
            ("PUT", "/applications/{app}/commands", self.commands_put),
            ("POST", "/applications/{app}/commands", self.command_post),
            ("GET", "/applications/{app}/guilds/{guild}/commands", self.commands_get),
            ("PUT", "/applications/{app}/guilds/{guild}/commands", self.commands_put),
            ("POST", "/applications/{app}/guilds/{guild}/commands", self.command_post),
            ("POST", "/interactions/{iid}/{token}/callback", self.interaction_callback),
            ("POST", "/webhooks/{wid}/{token}", self.webhook_execute),
            ("GET", "/webhooks/{wid}/{token}/messages/{mid}", self.webhook_message_get),
            ("PATCH", "/webhooks/{wid}/{token}/messages/{mid}", self.webhook_message_edit),
            ("DELETE", "/webhooks/{wid}/{token}/messages/{mid}", self.webhook_message_delete),
            ("GET", "/webhooks/{wid}/{token}", self.webhook_get),
            ("DELETE", "/webhooks/{wid}/{token}", self.webhook_delete),
            ("GET", "/webhooks/{wid}", self.webhook_get),
            ("DELETE", "/webhooks/{wid}", self.webhook_delete),
            ("GET", "/channels/{cid}/webhooks", self.channel_webhooks),
            ("POST", "/channels/{cid}/webhooks", self.channel_webhook_create),
            ("GET", "/guilds/{guild}/webhooks", self.guild_webhooks),
            ("GET", "/channels/{cid}", self.channel_get),
            ("POST", "/channels/{cid}/typing", self.typing),
            ("GET", "/channels/{cid}/messages", self.messages_list),
            ("POST", "/channels/{cid}/messages", self.message_create),
            ("GET", "/channels/{cid}/messages/{mid}", self.message_get),
            ("PATCH", "/channels/{cid}/messages/{mid}", self.message_edit),
            ("DELETE", "/channels/{cid}/messages/{mid}", self.message_delete),
            ("PUT", "/channels/{cid}/messages/{mid}/reactions/{emoji}/{who}", self.reaction),
            ("DELETE", "/channels/{cid}/messages/{mid}/reactions/{emoji}/{who}", self.reaction),
            ("GET", "/guilds/{guild}", self.guild_get),
            ("GET", "/guilds/{guild}/channels", self.guild_channels),
            ("GET", "/guilds/{guild}/members/{uid}", self.guild_member),
        ]
        for method, path, handler in routes:
            r.add_route(method, p + path, handler)
        r.add_get("/attachments/{fid}/{filename:.+}", self.cdn)
        r.add_route("*", "/{tail:.*}", self.unknown)

    @web.middleware
    async def faults(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Fault injection (``standin.fail_next``) and request logging, before any handler runs."""
        path = request.path.removeprefix(API_PREFIX)
        self.s.requests.append((request.method, path))
        fault = self.s._take_fault(request.method, path)
        if fault is None:
            return await handler(request)
        if fault.status == 429:
            reset_after = f"{fault.retry_after:.3f}"
            headers = {
                # discord.py only retries a 429 that has a Via header (no Via = "banned by Cloudflare").
                "Via": "1.1 google",
                "Retry-After": str(max(1, round(fault.retry_after))),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + fault.retry_after:.3f}",
                "X-RateLimit-Reset-After": reset_after,
                "X-RateLimit-Bucket": "standin-bucket",
                "X-RateLimit-Scope": "user",
            }
            body = {
                "message": "You are being rate limited.",
                "retry_after": fault.retry_after,
                "global": False,
                "code": 0,
            }
            return json_response(body, status=429, headers=headers)
        return error(fault.status, fault.message or f"Injected {fault.status}", fault.code)

    async def unknown(self, request: web.Request) -> web.Response:
        log.warning("discord stand-in: unknown route %s %s", request.method, request.path)
        self.s.unknown_routes.append((request.method, request.path))
        return error(404, "Unknown route", 0)

    # -- identity -----------------------------------------------------------------------------------------------
    async def me(self, request: web.Request) -> web.Response:
        return json_response(self.s.world.bot.payload() | {"verified": True, "mfa_enabled": False, "flags": 0})

    async def application(self, request: web.Request) -> web.Response:
        w = self.s.world
        return json_response(
            {
                "id": str(w.application_id),
                "name": w.bot.name,
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": w.owner.payload(),
                "verify_key": "0" * 64,
                "team": None,
                "flags": 0,
                "summary": "",
                "rpc_origins": [],
                "interactions_endpoint_url": None,
                "bot": w.bot.payload(),
            }
        )

    async def gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.s.gateway_url})

    async def gateway_bot(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        return json_response({"url": self.s.gateway_url, "shards": 1, "session_start_limit": limit})

    # -- application commands ------------------------------------------------------------------------------------
    @staticmethod
    def _scope(request: web.Request) -> int | None:
        guild = request.match_info.get("guild")
        return int(guild) if guild else None

    async def commands_get(self, request: web.Request) -> web.Response:
        return json_response(self.s.commands.get(self._scope(request), []))

    async def commands_put(self, request: web.Request) -> web.Response:
        body, _ = await read_body(request)
        scope = self._scope(request)
        stored = self.s._store_commands(scope, body, replace=True)
        return json_response(stored)

    async def command_post(self, request: web.Request) -> web.Response:
        body, _ = await read_body(request)
        stored = self.s._store_commands(self._scope(request), [body], replace=False)
        return json_response(next(c for c in stored if c["name"] == body["name"]), status=201)

    # -- interactions --------------------------------------------------------------------------------------------
    async def interaction_callback(self, request: web.Request) -> web.Response:
        handle = self.s.interactions.get(int(request.match_info["iid"]))
        if handle is None or handle.token != request.match_info["token"]:
            return error(404, "Unknown interaction", 10062)
        if handle.callbacks:
            return error(400, "Interaction has already been acknowledged.", 40060)
        body, uploads = await read_body(request)
        rtype = int(body["type"])
        data = body.get("data") or {}
        record = CallbackRecord(rtype, data, time.monotonic())
        message: StoredMessage | None = None
        if rtype in (4, 5):
            flags = int(data.get("flags") or 0) & EPHEMERAL
            content = data if rtype == 4 else {"content": "", "flags": flags | LOADING}
            message = self.s._create_interaction_message(handle, content, uploads, source="interaction")
            handle.original = message
            record.files = message.files
        elif rtype == 7:
            target = self.s._component_message(handle)
            if target is not None:
                message = self.s._edit_message(target, data, uploads)
        handle.callbacks.append(record)
        await handle.notify()
        interaction: dict[str, Any] = {"id": str(handle.id), "type": handle.payload["type"]}
        if message is not None:
            interaction["response_message_id"] = str(message.id)
            interaction["response_message_loading"] = rtype == 5
            interaction["response_message_ephemeral"] = message.ephemeral
        answer: dict[str, Any] = {"interaction": interaction}
        if rtype in (4, 5, 7) and message is not None:
            answer["resource"] = {"type": rtype, "message": message.payload}
        return json_response(answer)

    # -- webhooks ------------------------------------------------------------------------------------------------
    def _webhook(self, request: web.Request) -> StoredWebhook | None:
        hook = self.s.webhooks.get(int(request.match_info["wid"]))
        token = request.match_info.get("token")
        if hook is None or (token is not None and token != hook.token):
            return None
        return hook

    async def webhook_execute(self, request: web.Request) -> web.Response:
        body, uploads = await read_body(request)
        wait = request.query.get("wait", "false").lower() in ("true", "1")
        handle = self.s._interaction_by_token(int(request.match_info["wid"]), request.match_info["token"])
        if handle is not None:
            message = self.s._create_interaction_message(handle, body, uploads, source="followup")
            handle.followups.append(message)
            await handle.notify()
            return json_response(message.payload)
        hook = self._webhook(request)
        if hook is None:
            return error(404, "Unknown Webhook", 10015)
        channel_id = int(request.query["thread_id"]) if "thread_id" in request.query else hook.channel_id
        channel = self.s.world.find_channel(channel_id)
        if channel is None:
            return error(404, "Unknown Channel", 10003)
        author = {
            "id": str(hook.id),
            "username": body.get("username") or hook.name,
            "avatar": hook.avatar,
            "discriminator": "0000",
            "bot": True,
            "global_name": None,
            "public_flags": 0,
        }
        message = self.s._create_message(
            channel, author, body, uploads, source="webhook", extra={"webhook_id": str(hook.id)}
        )
        message.avatar_url = body.get("avatar_url")
        return json_response(message.payload) if wait else no_content()

    def _webhook_message(self, request: web.Request) -> StoredMessage | web.Response:
        wid, token, mid = int(request.match_info["wid"]), request.match_info["token"], request.match_info["mid"]
        handle = self.s._interaction_by_token(wid, token)
        if handle is not None:
            if mid == "@original":
                target = handle.original or self.s._component_message(handle)
                return target if target is not None and not target.deleted else error(404, "Unknown Message", 10008)
            found = next((m for m in handle.followups if m.id == int(mid) and not m.deleted), None)
            return found if found is not None else error(404, "Unknown Message", 10008)
        hook = self._webhook(request)
        if hook is None:
            return error(404, "Unknown Webhook", 10015)
        found = self.s._message(int(mid)) if mid.isdigit() else None
        if found is None or found.webhook_id != hook.id:
            return error(404, "Unknown Message", 10008)
        return found

    async def webhook_message_get(self, request: web.Request) -> web.Response:
        found = self._webhook_message(request)
        return found if isinstance(found, web.Response) else json_response(found.payload)

    async def webhook_message_edit(self, request: web.Request) -> web.Response:
        found = self._webhook_message(request)
        if isinstance(found, web.Response):
            return found
        body, uploads = await read_body(request)
        self.s._edit_message(found, body, uploads)
        handle = self.s._interaction_by_token(int(request.match_info["wid"]), request.match_info["token"])
        if handle is not None:
            await handle.notify()
        return json_response(found.payload)

    async def webhook_message_delete(self, request: web.Request) -> web.Response:
        found = self._webhook_message(request)
        if isinstance(found, web.Response):
            return found
        self.s._delete_message(found)
        handle = self.s._interaction_by_token(int(request.match_info["wid"]), request.match_info["token"])
        if handle is not None:
            handle.original_deleted = found is handle.original
            await handle.notify()
        return no_content()

    async def webhook_get(self, request: web.Request) -> web.Response:
        hook = self._webhook(request)
        if hook is None:
            return error(404, "Unknown Webhook", 10015)
        return json_response(hook.payload(with_token=True))

    async def webhook_delete(self, request: web.Request) -> web.Response:
        hook = self._webhook(request)
        if hook is None:
            return error(404, "Unknown Webhook", 10015)
        self.s.delete_webhook_out_of_band(hook.id)
        return no_content()

    async def channel_webhooks(self, request: web.Request) -> web.Response:
        cid = int(request.match_info["cid"])
        return json_response([h.payload() for h in self.s.webhooks.values() if h.channel_id == cid])

    async def guild_webhooks(self, request: web.Request) -> web.Response:
        gid = int(request.match_info["guild"])
        return json_response([h.payload() for h in self.s.webhooks.values() if h.guild_id == gid])

    async def channel_webhook_create(self, request: web.Request) -> web.Response:
        channel = self.s.world.find_channel(int(request.match_info["cid"]))
        if channel is None:
            return error(404, "Unknown Channel", 10003)
        if channel.is_thread:
            return error(400, "Webhooks can not be created on threads; use the parent channel", 50024)
        if not self.s.world.bot_permissions_in(channel) & MANAGE_WEBHOOKS:
            return error(403, "Missing Permissions", 50013)
        body, _ = await read_body(request)
        name = str(body.get("name") or "")
        if not name or "discord" in name.lower() or "clyde" in name.lower():
            return error(400, "Invalid Form Body", 50035)
        if sum(1 for h in self.s.webhooks.values() if h.channel_id == channel.id) >= MAX_WEBHOOKS_PER_CHANNEL:
            return error(400, "Maximum number of webhooks reached (15)", 30007)
        avatar = body.get("avatar")
        hook = StoredWebhook(
            id=self.s.ids.next(),
            token=self.s._token(),
            channel_id=channel.id,
            guild_id=channel.guild.id,
            name=name,
            avatar=hashlib.sha1(avatar.encode()).hexdigest() if avatar else None,
            creator=self.s.world.bot.payload(),
            application_id=self.s.world.application_id,
        )
        self.s.webhooks[hook.id] = hook
        self.s.gateway.dispatch("WEBHOOKS_UPDATE", {"guild_id": str(hook.guild_id), "channel_id": str(channel.id)})
        return json_response(hook.payload())

    # -- channels and messages -----------------------------------------------------------------------------------
    async def channel_get(self, request: web.Request) -> web.Response:
        channel = self.s.world.find_channel(int(request.match_info["cid"]))
        return json_response(channel.payload()) if channel else error(404, "Unknown Channel", 10003)

    async def typing(self, request: web.Request) -> web.Response:
        self.s.typing.append(int(request.match_info["cid"]))
        return no_content()

    async def messages_list(self, request: web.Request) -> web.Response:
        cid = int(request.match_info["cid"])
        limit = int(request.query.get("limit", 50))
        before = int(request.query.get("before", 0)) or None
        after = int(request.query.get("after", 0)) or None
        found = [
            m
            for m in self.s.messages
            if m.channel_id == cid
            and not m.deleted
            and not m.ephemeral
            and (before is None or m.id < before)
            and (after is None or m.id > after)
        ]
        found.sort(key=lambda m: m.id, reverse=True)
        return json_response([m.payload for m in found[:limit]])

    async def message_create(self, request: web.Request) -> web.Response:
        channel = self.s.world.find_channel(int(request.match_info["cid"]))
        if channel is None:
            return error(404, "Unknown Channel", 10003)
        body, uploads = await read_body(request)
        if not (body.get("content") or body.get("embeds") or uploads or body.get("components") or body.get("poll")):
            return error(400, "Cannot send an empty message", 50006)
        bot = self.s.world.bot
        member = channel.guild.members[bot.id].payload(with_user=False)
        message = self.s._create_message(channel, bot.payload(), body, uploads, source="channel", member=member)
        return json_response(message.payload)

    def _channel_message(self, request: web.Request) -> StoredMessage | None:
        found = self.s._message(int(request.match_info["mid"]))
        if found is None or found.deleted or found.channel_id != int(request.match_info["cid"]):
            return None
        return found

    async def message_get(self, request: web.Request) -> web.Response:
        found = self._channel_message(request)
        return json_response(found.payload) if found else error(404, "Unknown Message", 10008)

    async def message_edit(self, request: web.Request) -> web.Response:
        found = self._channel_message(request)
        if found is None:
            return error(404, "Unknown Message", 10008)
        if int(found.payload["author"]["id"]) != self.s.world.bot.id:
            return error(403, "Cannot edit a message authored by another user", 50005)
        body, uploads = await read_body(request)
        return json_response(self.s._edit_message(found, body, uploads).payload)

    async def message_delete(self, request: web.Request) -> web.Response:
        found = self._channel_message(request)
        if found is None:
            return error(404, "Unknown Message", 10008)
        self.s._delete_message(found)
        return no_content()

    async def reaction(self, request: web.Request) -> web.Response:
        self.s.reactions.append((request.method, int(request.match_info["mid"]), request.match_info["emoji"]))
        return no_content()

    # -- guilds --------------------------------------------------------------------------------------------------
    async def guild_get(self, request: web.Request) -> web.Response:
        guild = self.s.world.guilds.get(int(request.match_info["guild"]))
        return json_response(guild.payload()) if guild else error(404, "Unknown Guild", 10004)

    async def guild_channels(self, request: web.Request) -> web.Response:
        guild = self.s.world.guilds.get(int(request.match_info["guild"]))
        if guild is None:
            return error(404, "Unknown Guild", 10004)
        return json_response([c.payload() for c in guild.text_channels])

    async def guild_member(self, request: web.Request) -> web.Response:
        guild = self.s.world.guilds.get(int(request.match_info["guild"]))
        member = guild.members.get(int(request.match_info["uid"])) if guild else None
        return json_response(member.payload()) if member else error(404, "Unknown Member", 10007)

    # -- CDN -----------------------------------------------------------------------------------------------------
    async def cdn(self, request: web.Request) -> web.Response:
        stored = self.s.files.get(int(request.match_info["fid"]))
        if stored is None:
            return web.Response(status=404, text="asset not found")
        return web.Response(body=stored.data, headers={"Content-Type": stored.content_type})
