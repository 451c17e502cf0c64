"""Run-time permission checks shared by the cogs."""

from __future__ import annotations

import discord
from discord import app_commands


class NotManager(app_commands.CheckFailure):
    """The user lacks Manage Server for a setup command."""


class NotInGuild(app_commands.CheckFailure):
    """A guild-only command was used in a DM."""


def is_manager(interaction: discord.Interaction) -> bool:
    """Manage Server, read from the permissions Discord resolved for this interaction (not a cached role list)."""
    return interaction.guild_id is not None and interaction.permissions.manage_guild


def manage_server() -> app_commands.check:
    async def predicate(interaction: discord.Interaction) -> bool:
        if interaction.guild_id is None:
            raise NotInGuild("Personas live on servers; use this command in a server channel.")
        if not is_manager(interaction):
            raise NotManager("Setting up personas needs the Manage Server permission; ask a server admin.")
        return True

    return app_commands.check(predicate)


def in_guild() -> app_commands.check:
    async def predicate(interaction: discord.Interaction) -> bool:
        if interaction.guild_id is None:
            raise NotInGuild("Personas live on servers; use this command in a server channel.")
        return True

    return app_commands.check(predicate)
