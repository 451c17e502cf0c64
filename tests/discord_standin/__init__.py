"""A local Discord stand-in that unmodified discord.py talks to over real HTTP and WebSocket.

See docs/testing.md. Typical use (or the ``discord_standin`` fixture in tests/conftest.py)::

    async with DiscordStandin() as standin, point_discord_at(standin):
        world = standin.default_world()
        ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import discord.gateway
import discord.http
import yarl

from .driver import DefaultWorld
from .records import CallbackRecord, InteractionHandle, StoredFile, StoredMessage, StoredWebhook
from .server import DiscordStandin
from .world import ADMINISTRATOR, BOT_PERMISSIONS, MANAGE_GUILD, MANAGE_WEBHOOKS, Channel, Guild, Member, User

__all__ = [
    "ADMINISTRATOR",
    "BOT_PERMISSIONS",
    "MANAGE_GUILD",
    "MANAGE_WEBHOOKS",
    "CallbackRecord",
    "Channel",
    "DefaultWorld",
    "DiscordStandin",
    "Guild",
    "InteractionHandle",
    "Member",
    "StoredFile",
    "StoredMessage",
    "StoredWebhook",
    "User",
    "point_discord_at",
    "running_standin",
]


@contextmanager
def point_discord_at(standin: DiscordStandin) -> Iterator[None]:
    """Point discord.py's REST (incl. webhooks and interaction callbacks) and gateway at ``standin``; restore after.

    These two class attributes are the only knobs: ``Route.BASE`` is read when each Route is built, and
    ``DEFAULT_GATEWAY`` when a plain Client connects (AutoShardedClient asks ``/gateway/bot`` instead)."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = standin.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(standin.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


@asynccontextmanager
async def running_standin(*, default_world: bool = True) -> AsyncIterator[DiscordStandin]:
    """Start a stand-in (optionally with ``default_world()``; read it back as ``standin.default``), pointed at."""
    async with DiscordStandin() as standin:
        if default_world:
            standin.default = standin.default_world()
        with point_discord_at(standin):
            yield standin
