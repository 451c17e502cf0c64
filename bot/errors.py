"""Errors the bot raises on purpose, and the one app-command error handler.

UserFacingError            -- anything a user can fix; `str(err)` is one sentence to show them.
  UploadError              -- an attachment that cannot be used (too big, not an image, bad LoRA, ...).
  WebhookUnavailable       -- the bot cannot speak as a persona in this channel (Manage Webhooks missing).
Expected errors from other packages (`PersonaError`, `GenerationError`, check failures) are answered the same way;
everything else is logged with its context and answered with a generic sentence.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from generation.errors import GenerationError
from personas.errors import PersonaError

log = logging.getLogger(__name__)

GENERIC = "Something went wrong on my side; the bot owner can find the details in the log."


class UserFacingError(Exception):
    pass


class UploadError(UserFacingError):
    pass


class WebhookUnavailable(UserFacingError):
    pass


def user_message(error: BaseException) -> str | None:
    """The sentence for an expected error, or None when it is unexpected."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, PersonaError):
        return error.message
    if isinstance(error, UserFacingError | GenerationError):
        return str(error)
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little; try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.BotMissingPermissions):
        return f"I am missing permissions here: {', '.join(error.missing_permissions)}."
    if isinstance(error, app_commands.CheckFailure):
        return str(error) or "You cannot use this command here."
    if isinstance(error, discord.Forbidden):
        return "Discord did not let me do that here; check my permissions in this channel."
    return None


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
