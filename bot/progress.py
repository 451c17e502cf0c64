"""Queue and progress feedback while a picture is made, with edits throttled per message.

`StatusMessage` is where the feedback goes: a webhook message from the persona (chat, buttons) or the deferred
interaction response (`/selfie`). `Throttle` keeps edits at least `interval` seconds apart and always ends on the
latest text, so a fast run shows fewer steps but never a stale one.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from collections.abc import Awaitable, Callable

import discord

from bot.webhooks import Speakable, WebhookManager
from generation.service import ProgressEvent
from personas.models import Persona

log = logging.getLogger(__name__)


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def progress_text(name: str, event: ProgressEvent) -> str:
    if event.stage == "queued":
        return f"{name} is getting ready… ({ordinal(max(event.position, 1))} in line)"
    if event.stage == "step" and event.total:
        return f"{name} is getting ready… {round(100 * event.step / event.total)}%"
    return f"{name} is getting ready… 0%"


class Throttle:
    """Edits at least `interval` apart, ending on the latest text. A preview picture (PNG bytes) rides along with the
    next edit; `write(text)` is called without one, `write(text, preview=png)` with a preview not yet shown."""

    def __init__(self, write: Callable[..., Awaitable[None]], interval: float) -> None:
        self._write = write
        self._interval = interval
        self._latest: str | None = None
        self._written: str | None = None
        self._preview: bytes | None = None  # newest preview not yet written
        self._last_at = 0.0
        self._task: asyncio.Task | None = None
        self.previews_written = 0

    def mark_written(self, text: str) -> None:
        self._latest = self._written = text
        self._last_at = time.monotonic()

    def show(self, text: str, preview: bytes | None = None) -> None:
        self._latest = text
        if preview is not None:
            self._preview = preview
        if (text != self._written or self._preview is not None) and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        while self._latest != self._written or self._preview is not None:
            wait = self._last_at + self._interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            text, preview = self._latest, self._preview
            self._written, self._preview = text, None
            self._last_at = time.monotonic()
            try:
                if preview is None:
                    await self._write(text or "")
                else:
                    await self._write(text or "", preview=preview)
                    self.previews_written += 1
            except discord.HTTPException as error:
                log.warning("progress edit failed: %s", error)

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class StatusMessage:
    """Base: where a waiting requester sees progress. Subclasses implement `_open`, `_edit` and `finish`."""

    def __init__(self, interval: float) -> None:
        self.throttle = Throttle(self._edit, interval)
        # Previews are pictures nobody has checked: off unless the selfie flow allows them (the picture need not
        # stay clothed).
        self.previews = False

    async def open(self, text: str) -> None:
        await self._open(text)
        self.throttle.mark_written(text)

    def show(self, text: str, preview: bytes | None = None) -> None:
        """Progress `text`, and optionally a small preview PNG of the picture so far (shown until the end)."""
        self.throttle.show(text, preview if self.previews else None)

    async def finish(self, text: str | None, message: discord.Message | None) -> None:
        """The work is over: `message` is the picture (or None), `text` a final word (an error, a confirmation)."""
        await self.throttle.close()

    async def _open(self, text: str) -> None:
        raise NotImplementedError

    async def _edit(self, text: str, preview: bytes | None = None) -> None:
        raise NotImplementedError


def preview_attachments(preview: bytes | None) -> list[discord.File]:
    """The attachment list of a progress edit: the preview alone (replacing the last), or none (removing it)."""
    return [discord.File(io.BytesIO(preview), filename="preview.png")] if preview is not None else []


class WebhookStatus(StatusMessage):
    """A message from the persona that is removed once the picture is posted (or turned into the error).
    `on_open(message_id)` is told the message's id as soon as it is posted (the job records it for a restart)."""

    def __init__(
        self,
        webhooks: WebhookManager,
        channel: Speakable,
        persona: Persona,
        interval: float,
        *,
        on_open: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(interval)
        self._webhooks = webhooks
        self._channel = channel
        self._persona = persona
        self._on_open = on_open
        self._message_id: int | None = None

    async def _open(self, text: str) -> None:
        message = await self._webhooks.send(self._channel, self._persona, content=text)
        self._message_id = message.id
        if self._on_open is not None:
            try:
                await self._on_open(message.id)
            except Exception:  # the selfie goes on; only a restart's tidy-up would miss this note
                log.warning("could not record progress message %s", message.id, exc_info=True)

    async def _edit(self, text: str, preview: bytes | None = None) -> None:
        if self._message_id is not None:
            extra = {"attachments": preview_attachments(preview)} if preview is not None else {}
            await self._webhooks.edit(self._channel, self._message_id, content=text, **extra)

    async def finish(self, text: str | None, message: discord.Message | None) -> None:
        await super().finish(text, message)
        if self._message_id is None:
            return
        if message is not None or not text:
            await self._webhooks.delete(self._channel, self._message_id)
        else:  # the error replaces the progress line and its preview
            await self._webhooks.edit(self._channel, self._message_id, content=text, attachments=[])


class InteractionStatus(StatusMessage):
    """The deferred response of a slash command, edited with progress and finally a short confirmation."""

    def __init__(self, interaction: discord.Interaction, interval: float) -> None:
        super().__init__(interval)
        self._interaction = interaction

    async def _open(self, text: str) -> None:
        await self._edit(text)

    async def _edit(self, text: str, preview: bytes | None = None, *, clear_preview: bool = False) -> None:
        extra = {"attachments": preview_attachments(preview)} if preview is not None or clear_preview else {}
        await self._interaction.edit_original_response(content=text, **extra)

    async def finish(self, text: str | None, message: discord.Message | None) -> None:
        await super().finish(text, message)
        if message is not None:
            text = text or f"Sent: {message.jump_url}"
        if text:
            try:
                await self._edit(text, clear_preview=True)  # the picture (or the error) replaces the preview
            except discord.HTTPException as error:
                log.warning("could not finish the /selfie response: %s", error)


class SilentStatus(StatusMessage):
    """No feedback (previews and validation runs)."""

    async def _open(self, text: str) -> None:
        return None

    async def _edit(self, text: str, preview: bytes | None = None) -> None:
        return None
