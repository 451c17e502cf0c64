"""One webhook per channel, through which every persona speaks with its own name and avatar.

The id and token are stored (not a URL: `Webhook.from_url` only takes discord.com links). A webhook deleted in
Discord's UI (404) is forgotten and recreated once. Threads post through their parent's webhook with `thread=`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import discord
from discord.utils import MISSING

from bot.errors import WebhookUnavailable
from bot.storage import BotStore
from personas.models import Persona

log = logging.getLogger(__name__)

WEBHOOK_NAME = "Selfiebot personas"
_RESERVED = re.compile(r"discord|clyde", re.IGNORECASE)

Speakable = discord.TextChannel | discord.Thread


def display_name(persona: Persona) -> str:
    """Discord refuses webhook names containing "discord" or "clyde"; a zero-width joiner keeps them readable."""
    return _RESERVED.sub(lambda m: m.group(0)[0] + "\u200d" + m.group(0)[1:], persona.name)[:80]


class WebhookManager:
    def __init__(self, client: discord.Client, store: BotStore) -> None:
        self._client = client
        self._store = store
        self._locks: dict[int, asyncio.Lock] = {}

    @staticmethod
    def _parent(channel: Speakable) -> tuple[discord.TextChannel, discord.Thread | Any]:
        if isinstance(channel, discord.Thread):
            parent = channel.parent
            if not isinstance(parent, discord.TextChannel):
                raise WebhookUnavailable("Personas can only speak in text channels and their threads.")
            return parent, channel
        return channel, MISSING

    async def _webhook(self, parent: discord.TextChannel, *, fresh: bool = False) -> discord.Webhook:
        lock = self._locks.setdefault(parent.id, asyncio.Lock())
        async with lock:
            if fresh:
                await self._store.delete_webhook(parent.guild.id, parent.id)
            stored = await self._store.get_webhook(parent.guild.id, parent.id)
            if stored is not None:
                return discord.Webhook.partial(stored[0], stored[1], client=self._client)
            try:
                hook = await parent.create_webhook(name=WEBHOOK_NAME, reason="selfiebot persona voice")
            except discord.Forbidden:
                raise WebhookUnavailable(
                    f"I need the Manage Webhooks permission in #{parent.name} to speak as a persona."
                ) from None
            except discord.HTTPException as error:
                if error.code == 30007:
                    raise WebhookUnavailable(
                        f"#{parent.name} already has the maximum of 15 webhooks; delete one so a persona can speak."
                    ) from None
                raise
            await self._store.save_webhook(parent.guild.id, parent.id, hook.id, hook.token or "")
            log.info("created webhook %s in #%s (guild %s)", hook.id, parent.name, parent.guild.id)
            return discord.Webhook.partial(hook.id, hook.token or "", client=self._client)

    async def send(self, channel: Speakable, persona: Persona, **kwargs: Any) -> discord.WebhookMessage:
        """Post as `persona`; recreates the channel's webhook once if it was deleted."""
        parent, thread = self._parent(channel)
        files = kwargs.pop("files", None)
        for attempt in range(2):
            hook = await self._webhook(parent, fresh=attempt > 0)
            for f in files or []:
                f.reset()
            try:
                return await hook.send(
                    username=display_name(persona),
                    avatar_url=persona.avatar_url or MISSING,
                    thread=thread,
                    wait=True,
                    **({"files": files} if files else {}),
                    **kwargs,
                )
            except discord.NotFound:
                if attempt:
                    raise
                log.info("webhook for #%s is gone; recreating it", parent.name)
        raise AssertionError("unreachable")

    async def edit(self, channel: Speakable, message_id: int, **kwargs: Any) -> None:
        parent, thread = self._parent(channel)
        hook = await self._webhook(parent)
        try:
            await hook.edit_message(message_id, thread=thread, **kwargs)
        except discord.NotFound:
            log.info("message %s vanished before it could be edited", message_id)

    async def delete(self, channel: Speakable, message_id: int) -> bool:
        parent, thread = self._parent(channel)
        hook = await self._webhook(parent)
        try:
            await hook.delete_message(message_id, thread=thread)
            return True
        except discord.NotFound:
            pass
        try:  # posted through a webhook that was since recreated: Manage Messages still removes it
            await channel.get_partial_message(message_id).delete()
            return True
        except (discord.NotFound, discord.Forbidden):
            return False
