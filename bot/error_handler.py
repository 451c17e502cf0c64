"""The one app-command error handler: an expected error becomes its sentence, anything else is logged with its
context and answered with a neutral sentence (no paths, class names or library text ever reach a user)."""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from bot.messages import GENERIC, user_message

log = logging.getLogger(__name__)


async def reply_ephemeral(interaction: discord.Interaction, text: str) -> None:
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell the user about an error: %s", text)


async def on_tree_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
    text = user_message(error)
    if text is None:
        command = interaction.command.qualified_name if interaction.command else "?"
        original = getattr(error, "original", error)
        log.error(
            "/%s failed (guild %s, user %s)", command, interaction.guild_id, interaction.user.id, exc_info=original
        )
        text = GENERIC
    await reply_ephemeral(interaction, text)
