"""Gateway (WebSocket) side of the stand-in: HELLO, heartbeats, IDENTIFY -> READY + GUILD_CREATE, RESUME, dispatch.

Frames are plain-text JSON even though discord.py asks for ``compress=zlib-stream``: its receiver only decompresses
BINARY frames and parses TEXT frames as they are.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from .world import World

log = logging.getLogger(__name__)

# Gateway intents the stand-in honours when filtering events.
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15

HEARTBEAT_INTERVAL_MS = 41250


@dataclass
class GatewaySession:
    """One identified session; survives a dropped socket so RESUME can replay what was missed."""

    id: str
    intents: int
    seq: int = 0
    ws: web.WebSocketResponse | None = None
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    backlog: list[dict[str, Any]] = field(default_factory=list)


class Gateway:
    def __init__(self, world: World, url: Callable[[], str]) -> None:
        self.world = world
        self._url = url
        self.sessions: dict[str, GatewaySession] = {}
        self.identifies: list[dict[str, Any]] = []  # raw IDENTIFY payloads (``d``), newest last
        self.resumes: list[dict[str, Any]] = []
        self.connected = asyncio.Event()  # set once any session is READY
        self._sockets: set[web.WebSocketResponse] = set()
        self.message_filter: Callable[[GatewaySession, dict[str, Any]], dict[str, Any] | None] | None = None

    @property
    def last_intents(self) -> int | None:
        return self.identifies[-1].get("intents") if self.identifies else None

    # -- dispatch -----------------------------------------------------------------------------------------------
    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Queue an event for every session, in order. Synchronous so callers need not await anything."""
        for session in self.sessions.values():
            payload = data
            if event.startswith("MESSAGE_") and self.message_filter is not None:
                filtered = self.message_filter(session, data)
                if filtered is None:
                    continue
                payload = filtered
            self._send_dispatch(session, event, payload)

    def _send_dispatch(self, session: GatewaySession, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        frame = {"op": 0, "t": event, "s": session.seq, "d": data}
        if session.ws is None or session.ws.closed:
            session.backlog.append(frame)
        else:
            session.queue.put_nowait(frame)

    # -- connection handling -------------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.add(ws)
        session: GatewaySession | None = None
        writer: asyncio.Task[None] | None = None
        try:
            await ws.send_str(
                json.dumps({"op": 10, "s": None, "t": None, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}})
            )
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                op, d = frame.get("op"), frame.get("d")
                if op == 1:
                    await ws.send_str(json.dumps({"op": 11, "s": None, "t": None, "d": None}))
                elif op == 2:
                    session = self._identify(ws, d)
                    writer = asyncio.create_task(self._writer(session, ws))
                elif op == 6:
                    session = self._resume(ws, d)
                    if session is None:
                        await ws.send_str(json.dumps({"op": 9, "s": None, "t": None, "d": False}))
                    else:
                        writer = asyncio.create_task(self._writer(session, ws))
                elif op == 8:
                    self._members_chunk(session, d)
                else:
                    log.debug("gateway: ignoring op %s", op)
        finally:
            self._sockets.discard(ws)
            if writer is not None:
                writer.cancel()
            if session is not None and session.ws is ws:
                session.ws = None
                # Anything still queued for the dead socket is replayed on RESUME.
                while not session.queue.empty():
                    session.backlog.append(session.queue.get_nowait())
        return ws

    async def _writer(self, session: GatewaySession, ws: web.WebSocketResponse) -> None:
        while not ws.closed:
            frame = await session.queue.get()
            try:
                await ws.send_str(json.dumps(frame))
            except ConnectionResetError:
                session.backlog.append(frame)
                return

    def _identify(self, ws: web.WebSocketResponse, d: dict[str, Any]) -> GatewaySession:
        self.identifies.append(d)
        session = GatewaySession(id=secrets.token_hex(16), intents=int(d.get("intents", 0)), ws=ws)
        self.sessions[session.id] = session
        world = self.world
        ready = {
            "v": 10,
            "user": world.bot.payload() | {"verified": True, "mfa_enabled": False, "flags": 0},
            "session_id": session.id,
            "resume_gateway_url": self._url(),
            "session_type": "normal",
            "application": {"id": str(world.application_id), "flags": 0},
            "guilds": [{"id": str(g), "unavailable": True} for g in world.guilds],
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "_trace": ["standin"],
        }
        if "shard" in d:
            ready["shard"] = d["shard"]
        self._send_dispatch(session, "READY", ready)
        for guild in world.guilds.values():
            self._send_dispatch(session, "GUILD_CREATE", guild.payload())
        self.connected.set()
        return session

    def _resume(self, ws: web.WebSocketResponse, d: dict[str, Any]) -> GatewaySession | None:
        self.resumes.append(d)
        session = self.sessions.get(d.get("session_id", ""))
        if session is None:
            return None
        session.ws = ws
        session.queue = asyncio.Queue()
        for frame in session.backlog:
            session.queue.put_nowait(frame)
        session.backlog.clear()
        self._send_dispatch(session, "RESUMED", {"_trace": ["standin"]})
        return session

    def _members_chunk(self, session: GatewaySession | None, d: dict[str, Any]) -> None:
        # REQUEST_GUILD_MEMBERS (op 8): answer with every member in one chunk so chunking never hangs.
        if session is None:
            return
        guild = self.world.guilds.get(int(d["guild_id"]))
        if guild is None:
            return
        data = {
            "guild_id": str(guild.id),
            "members": [m.payload() for m in guild.members.values()],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if d.get("nonce"):
            data["nonce"] = d["nonce"]
        self._send_dispatch(session, "GUILD_MEMBERS_CHUNK", data)

    async def drop_connections(self, code: int = 4000) -> None:
        """Close every socket like a network blip; discord.py reconnects and RESUMEs (code 4000 is resumable)."""
        for ws in list(self._sockets):
            await ws.close(code=code, message=b"stand-in drop")

    async def close(self) -> None:
        await self.drop_connections(code=1001)
