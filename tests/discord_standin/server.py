"""The stand-in server object: state, lifecycle and the message operations REST and driver share."""

from __future__ import annotations

import asyncio
import mimetypes
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web

from .driver import DefaultWorld, DriverMixin
from .gateway import INTENT_GUILD_MESSAGES, INTENT_MESSAGE_CONTENT, Gateway, GatewaySession
from .records import InteractionHandle, StoredFile, StoredMessage, StoredWebhook
from .rest import API_PREFIX, LOADING, Rest
from .snowflakes import SnowflakeFactory, iso_now
from .world import Channel, World

MENTION = re.compile(r"<@!?(\d+)>")
DEFAULT_ATTACHMENT_LIMIT = 10 * 1024 * 1024


@dataclass
class Upload:
    """One ``files[n]`` part of a multipart request."""

    index: int
    filename: str
    content_type: str | None
    data: bytes


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    retry_after: float
    count: int
    message: str | None = None
    code: int = 0


class DiscordStandin(DriverMixin):
    """A local Discord: REST on ``http://127.0.0.1:PORT/api/v10``, gateway on ``ws://127.0.0.1:PORT/gateway``."""

    def __init__(self, bot_name: str = "selfiebot", token: str = "standin-token") -> None:
        self.ids = SnowflakeFactory()
        self.world = World(self.ids, bot_name)
        self.token = token
        self.gateway = Gateway(self.world, lambda: self.gateway_url)
        self.gateway.message_filter = self._filter_for_intents
        self.rest = Rest(self)
        self.port = 0
        self._runner: web.AppRunner | None = None
        # Recorded state tests can read.
        self.messages: list[StoredMessage] = []
        self.files: dict[int, StoredFile] = {}
        self.webhooks: dict[int, StoredWebhook] = {}
        self.deleted_webhooks: dict[int, StoredWebhook] = {}
        self.interactions: dict[int, InteractionHandle] = {}
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        self.command_puts: list[tuple[int | None, list[dict[str, Any]]]] = []  # every bulk PUT, in order
        self.requests: list[tuple[str, str]] = []  # (method, path without /api/v10)
        self.unknown_routes: list[tuple[str, str]] = []
        self.typing: list[int] = []
        self.reactions: list[tuple[str, int, str]] = []
        self.faults: list[Fault] = []
        self.default: DefaultWorld | None = None  # set by running_standin(default_world=True)
        self._message_waiters: list[tuple[Any, asyncio.Future[StoredMessage]]] = []

    # -- lifecycle ------------------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """What ``discord.http.Route.BASE`` must be."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def start(self) -> DiscordStandin:
        app = web.Application(middlewares=[self.rest.faults], client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        self.rest.install(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        await self.gateway.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DiscordStandin:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- helpers shared by REST and the driver ---------------------------------------------------------------------
    def _token(self) -> str:
        return secrets.token_urlsafe(48)

    def _message(self, message_id: int) -> StoredMessage | None:
        return next((m for m in reversed(self.messages) if m.id == message_id), None)

    def _interaction_by_token(self, webhook_id: int, token: str) -> InteractionHandle | None:
        if webhook_id != self.world.application_id:
            return None
        return next((h for h in self.interactions.values() if h.token == token), None)

    def _component_message(self, handle: InteractionHandle) -> StoredMessage | None:
        raw = handle.payload.get("message")
        return self._message(int(raw["id"])) if raw else None

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.method in ("*", method) and fault.path.search(path):
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _store_commands(self, scope: int | None, body: list[dict[str, Any]], *, replace: bool) -> list[dict[str, Any]]:
        current = {(c["name"], c.get("type", 1)): c for c in self.commands.get(scope, [])}
        stored: list[dict[str, Any]] = [] if replace else list(current.values())
        for cmd in body:
            key = (cmd["name"], cmd.get("type", 1))
            old = current.get(key)
            full = {
                "description": "",
                "options": [],
                "default_member_permissions": None,
                "nsfw": False,
                "contexts": None,
                "integration_types": [0],
                **cmd,
                "id": old["id"] if old else str(self.ids.next()),
                "application_id": str(self.world.application_id),
                "version": str(self.ids.next()),
                "type": cmd.get("type", 1),
            }
            if scope is not None:
                full["guild_id"] = str(scope)
            stored = [c for c in stored if (c["name"], c.get("type", 1)) != key] + [full]
        self.commands[scope] = stored
        if replace:
            self.command_puts.append((scope, body))
        return stored

    def _store_uploads(self, uploads: list[Upload], body: dict[str, Any]) -> list[StoredFile]:
        described = {str(a.get("id")): a for a in body.get("attachments") or []}
        stored = []
        for up in uploads:
            meta = described.get(str(up.index), {})
            filename = meta.get("filename") or up.filename
            ctype = up.content_type
            if not ctype or ctype == "application/octet-stream":
                # discord.py labels every upload application/octet-stream; Discord sniffs the real type.
                ctype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
            fid = self.ids.next()
            f = StoredFile(
                fid, filename, ctype, up.data, f"{self.base_url}/attachments/{fid}/{quote(filename, safe='')}"
            )
            f.description = meta.get("description")
            self.files[fid] = f
            stored.append(f)
        return stored

    def _mentions(self, content: str, extra: list[int] = ()) -> list[dict[str, Any]]:  # type: ignore[assignment]
        ids = [int(x) for x in MENTION.findall(content or "")] + list(extra)
        seen: dict[int, dict[str, Any]] = {}
        for uid in ids:
            if uid in self.world.users and uid not in seen:
                seen[uid] = self.world.users[uid].payload()
        return list(seen.values())

    def _create_message(
        self,
        channel: Channel,
        author: dict[str, Any],
        body: dict[str, Any],
        uploads: list[Upload],
        *,
        source: str,
        member: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        ephemeral: bool = False,
        mention_ids: list[int] | None = None,
    ) -> StoredMessage:
        files = self._store_uploads(uploads, body)
        payload: dict[str, Any] = {
            "id": str(self.ids.next()),
            "type": 0,
            "channel_id": str(channel.id),
            "guild_id": str(channel.guild.id),
            "author": author,
            "content": body.get("content") or "",
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": False,
            "mention_roles": [],
            "attachments": [f.payload() for f in files],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "flags": int(body.get("flags") or 0),
        }
        reply_to: list[int] = list(mention_ids or [])
        ref = body.get("message_reference")
        if ref and ref.get("message_id"):
            referenced = self._message(int(ref["message_id"]))
            payload["type"] = 19
            payload["message_reference"] = {
                "type": 0,
                "message_id": str(ref["message_id"]),
                "channel_id": str(ref.get("channel_id") or channel.id),
                "guild_id": str(channel.guild.id),
            }
            payload["referenced_message"] = referenced.payload if referenced else None
            replied = (body.get("allowed_mentions") or {}).get("replied_user", True)
            if referenced is not None and replied:
                reply_to.append(int(referenced.payload["author"]["id"]))
        payload["mentions"] = self._mentions(payload["content"], reply_to)
        if member is not None:
            payload["member"] = member
        payload.update(extra or {})
        message = StoredMessage(payload, source, files=files, ephemeral=ephemeral)
        self.messages.append(message)
        if not ephemeral:  # Discord never dispatches ephemeral messages over the gateway.
            self.gateway.dispatch("MESSAGE_CREATE", payload)
        self._wake_message_waiters(message)
        return message

    def _wake_message_waiters(self, message: StoredMessage) -> None:
        for predicate, future in list(self._message_waiters):
            if not future.done() and predicate(message):
                future.set_result(message)

    def _create_interaction_message(
        self, handle: InteractionHandle, body: dict[str, Any], uploads: list[Upload], *, source: str
    ) -> StoredMessage:
        channel = self.world.find_channel(handle.channel_id or 0)
        assert channel is not None, "interactions are only modelled in guild channels"
        bot = self.world.bot
        flags = int(body.get("flags") or 0)
        extra = {
            "webhook_id": str(self.world.application_id),
            "application_id": str(self.world.application_id),
            "type": 20 if handle.payload["type"] == 2 else 0,
            "interaction_metadata": {
                "id": str(handle.id),
                "type": handle.payload["type"],
                "user": handle.payload["member"]["user"],
                "authorizing_integration_owners": {"0": str(channel.guild.id)},
            },
        }
        return self._create_message(
            channel, bot.payload(), body, uploads, source=source, extra=extra, ephemeral=bool(flags & 64)
        )

    def _edit_message(self, message: StoredMessage, body: dict[str, Any], uploads: list[Upload]) -> StoredMessage:
        message.edits.append((time.monotonic(), body))
        p = message.payload
        for key in ("content", "embeds", "components", "allowed_mentions"):
            if key in body and key != "allowed_mentions":
                p[key] = body[key] if body[key] is not None else ([] if key != "content" else "")
        if "flags" in body and body["flags"] is not None:
            p["flags"] = int(body["flags"])
        p["flags"] = int(p.get("flags", 0)) & ~LOADING  # the "thinking…" state ends with the first edit
        new_files = self._store_uploads(uploads, body)
        if "attachments" in body and body["attachments"] is not None:
            keep = {str(a.get("id")) for a in body["attachments"]}
            message.files = [f for f in message.files if str(f.id) in keep]
        message.files = message.files + new_files
        p["attachments"] = [f.payload() for f in message.files]
        p["edited_timestamp"] = iso_now()
        if "content" in body:
            p["mentions"] = self._mentions(p["content"])
        if not message.ephemeral:
            self.gateway.dispatch("MESSAGE_UPDATE", p)
        self._wake_message_waiters(message)
        return message

    def _delete_message(self, message: StoredMessage) -> None:
        message.deleted = True
        if not message.ephemeral:
            data = {"id": str(message.id), "channel_id": str(message.channel_id)}
            if message.payload.get("guild_id"):
                data["guild_id"] = message.payload["guild_id"]
            self.gateway.dispatch("MESSAGE_DELETE", data)

    def _filter_for_intents(self, session: GatewaySession, data: dict[str, Any]) -> dict[str, Any] | None:
        """Apply GUILD_MESSAGES / MESSAGE_CONTENT like Discord: no content unless mentioned, own message or DM."""
        if data.get("guild_id") and not session.intents & INTENT_GUILD_MESSAGES:
            return None
        if "content" not in data or session.intents & INTENT_MESSAGE_CONTENT:
            return data
        bot_id = str(self.world.bot.id)
        if data.get("author", {}).get("id") == bot_id or any(u["id"] == bot_id for u in data.get("mentions", [])):
            return data
        return {**data, "content": "", "embeds": [], "attachments": [], "components": []}
