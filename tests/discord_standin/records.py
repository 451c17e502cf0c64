"""Records the stand-in keeps so tests can inspect what the bot did: messages, files, webhooks, interactions."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StoredFile:
    """Bytes uploaded as an attachment; served back by the CDN stand-in at ``url``."""

    id: int
    filename: str
    content_type: str
    data: bytes
    url: str
    description: str | None = None

    def payload(self) -> dict[str, Any]:
        data = {
            "id": str(self.id),
            "filename": self.filename,
            "size": len(self.data),
            "url": self.url,
            "proxy_url": self.url,
            "content_type": self.content_type,
        }
        if self.description:
            data["description"] = self.description
        return data


@dataclass
class StoredMessage:
    """A message as Discord would return it (``payload``) plus what only the stand-in knows."""

    payload: dict[str, Any]
    source: str  # "user" | "channel" | "webhook" | "interaction" | "followup"
    files: list[StoredFile] = field(default_factory=list)
    avatar_url: str | None = None  # webhook ``avatar_url`` as sent (Discord would rehost it)
    edits: list[tuple[float, dict[str, Any]]] = field(default_factory=list)  # (monotonic time, request body)
    deleted: bool = False
    ephemeral: bool = False

    @property
    def id(self) -> int:
        return int(self.payload["id"])

    @property
    def channel_id(self) -> int:
        return int(self.payload["channel_id"])

    @property
    def content(self) -> str:
        return self.payload.get("content") or ""

    @property
    def author_name(self) -> str:
        return self.payload["author"]["username"]

    @property
    def webhook_id(self) -> int | None:
        wid = self.payload.get("webhook_id")
        return int(wid) if wid else None

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return self.payload.get("embeds", [])

    @property
    def components(self) -> list[dict[str, Any]]:
        return self.payload.get("components", [])


@dataclass
class StoredWebhook:
    id: int
    token: str
    channel_id: int
    guild_id: int
    name: str
    avatar: str | None
    creator: dict[str, Any]
    application_id: int

    def payload(self, *, with_token: bool = True) -> dict[str, Any]:
        data = {
            "id": str(self.id),
            "type": 1,
            "guild_id": str(self.guild_id),
            "channel_id": str(self.channel_id),
            "name": self.name,
            "avatar": self.avatar,
            "application_id": str(self.application_id),
            "user": self.creator,
        }
        if with_token:
            data["token"] = self.token
        return data


@dataclass
class CallbackRecord:
    type: int
    data: dict[str, Any]
    at: float
    files: list[StoredFile] = field(default_factory=list)


class InteractionHandle:
    """What the bot answered to one interaction: callback, @original (with every edit), follow-ups."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload
        self.id = int(payload["id"])
        self.token: str = payload["token"]
        self.channel_id = int(payload["channel_id"]) if payload.get("channel_id") else None
        self.created = time.monotonic()
        self.callbacks: list[CallbackRecord] = []
        self.original: StoredMessage | None = None
        self.followups: list[StoredMessage] = []
        self.original_deleted = False
        self._changed = asyncio.Condition()

    # Recorded by the REST side ----------------------------------------------------------------------------------
    async def notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # Read by tests ------------------------------------------------------------------------------------------------
    @property
    def response(self) -> CallbackRecord | None:
        return self.callbacks[0] if self.callbacks else None

    @property
    def edits(self) -> list[tuple[float, dict[str, Any]]]:
        """Every PATCH of @original as (monotonic time, body), for progress-throttling checks."""
        return self.original.edits if self.original is not None else []

    @property
    def deferred(self) -> bool:
        return bool(self.callbacks) and self.callbacks[0].type in (5, 6)

    @property
    def ephemeral(self) -> bool:
        return bool(self.callbacks) and bool(self.callbacks[0].data.get("flags", 0) & 64)

    async def _wait(self, predicate: Any, timeout: float, what: str) -> Any:
        async def waiter() -> Any:
            async with self._changed:
                await self._changed.wait_for(predicate)

        try:
            await asyncio.wait_for(waiter(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"interaction {self.id}: no {what} within {timeout}s (callbacks={self.callbacks})"
            ) from None

    async def wait_for_response(self, timeout: float = 5.0) -> CallbackRecord:
        await self._wait(lambda: bool(self.callbacks), timeout, "initial response")
        return self.callbacks[0]

    async def wait_for_followup(self, count: int = 1, timeout: float = 5.0) -> StoredMessage:
        """Wait until ``count`` follow-ups exist; returns the ``count``-th."""
        await self._wait(lambda: len(self.followups) >= count, timeout, f"follow-up #{count}")
        return self.followups[count - 1]

    async def wait_for_edit(self, count: int = 1, timeout: float = 5.0) -> dict[str, Any]:
        """Wait until @original was PATCHed ``count`` times; returns the ``count``-th edit body."""
        await self._wait(lambda: len(self.edits) >= count, timeout, f"edit #{count} of @original")
        return self.edits[count - 1][1]

    async def wait_until(self, predicate: Any, timeout: float = 5.0) -> None:
        """Wait for any condition over this handle, e.g. ``lambda: 'done' in h.original.content``."""
        await self._wait(predicate, timeout, "matching state")
