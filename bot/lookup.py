"""Finding personas for Discord places: who lives in a channel, a persona by the name an admin typed, and the
name autocomplete every persona option uses. Shared by the cogs and buttons (no cog imports another cog)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from personas.errors import PersonaNotFound
from personas.models import Persona
from personas.store import PersonaStore

if TYPE_CHECKING:
    from bot.client import SelfieBot


async def personas_for(store: PersonaStore, channel: discord.abc.GuildChannel | discord.Thread) -> list[Persona]:
    """The personas active in `channel`; a thread without its own follows its parent channel."""
    personas = await store.active_personas(channel.guild.id, channel.id)
    if not personas and isinstance(channel, discord.Thread) and channel.parent_id:
        personas = await store.active_personas(channel.guild.id, channel.parent_id)
    return personas


async def require_persona(store: PersonaStore, guild_id: int, name: str) -> Persona:
    persona = await store.get_persona(guild_id, name)
    if persona is None:
        raise PersonaNotFound(name=name)
    return persona


async def persona_names(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete: this server's personas whose name contains what was typed so far."""
    bot: SelfieBot = interaction.client  # type: ignore[assignment]
    if interaction.guild_id is None:
        return []
    personas = await bot.services.store.list_personas(interaction.guild_id)
    needle = current.casefold().strip()
    return [app_commands.Choice(name=p.name, value=p.name) for p in personas if needle in p.name.casefold()][:25]
