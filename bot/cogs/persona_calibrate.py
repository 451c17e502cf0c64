"""`/persona calibrate`: try a persona's reference (and LoRA) strengths across scenes, show the contact sheet, and let
the admin apply the proposed setting as a new look version (a mixin of the `/persona` group; the work is in
bot/calibration.py)."""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path

import discord
from discord import app_commands

from bot.calibration import SCENES, Calibration, CalibrationRefused, Setting, calibrate, contact_sheet, grid
from bot.checks import is_manager, manage_server
from bot.errors import UserFacingError
from bot.lookup import persona_names, require_persona
from bot.services import BotServices

log = logging.getLogger(__name__)

CHOICE_TIMEOUT_S = 14 * 60  # the interaction token that shows the sheet lives 15 minutes


class CalibrationChoice(discord.ui.View):
    """Apply or Dismiss under the contact sheet (ephemeral: only the admin who asked sees it)."""

    def __init__(self, services: BotServices, calibration: Calibration) -> None:
        super().__init__(timeout=CHOICE_TIMEOUT_S)
        self.services = services
        self.persona = calibration.persona
        self.proposal: Setting = calibration.proposal
        self.apply.label = f"Apply {self.proposal.label()}"[:80]

    @discord.ui.button(label="Apply", style=discord.ButtonStyle.success, emoji="✅")
    async def apply(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        if not is_manager(interaction):
            await interaction.response.send_message("Only a server admin can change a persona.", ephemeral=True)
            return
        store = self.services.store
        current = await store.get_persona_by_id(self.persona.guild_id, self.persona.id)
        if current is None or current.version != self.persona.version:
            self.stop()
            await interaction.response.edit_message(
                content=f"**{self.persona.name}** changed since this calibration; run `/persona calibrate` again.",
                view=None,
            )
            return
        updated = await store.update_persona(
            current.guild_id,
            current.name,
            changed_by=interaction.user.id,
            note=f"calibrated: {self.proposal.label()}",
            **self.proposal.changes(),
        )
        self.stop()
        await interaction.response.edit_message(
            content=f"Applied {self.proposal.label()} to **{updated.name}** (look version {updated.version}).",
            view=None,
        )

    @discord.ui.button(label="Dismiss", style=discord.ButtonStyle.secondary)
    async def dismiss(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.stop()
        await interaction.response.edit_message(content=f"Kept **{self.persona.name}** as it was.", view=None)


class PersonaCalibrateCommands:
    services: BotServices

    @app_commands.command(name="calibrate", description="Try reference strengths across scenes and propose the best")
    @app_commands.describe(name="The persona to calibrate")
    @app_commands.autocomplete(name=persona_names)
    @manage_server()
    async def calibrate(self, interaction: discord.Interaction, name: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        services = self.services
        persona = await require_persona(services.store, interaction.guild_id, name)
        references = await services.store.reference_paths(persona.guild_id, persona.id)
        try:
            count = len(grid(persona, references_apply=services.engine.supports_references)) * len(SCENES)
            await interaction.edit_original_response(content=f"Drawing {count} pictures of **{persona.name}**…")
            result = await calibrate(
                persona=persona,
                references=[Path(path) for path in references],
                settings=services.settings,
                engine=services.engine,
                service=services.service,
                judge=services.identity,
                image_check=services.image_check,
                owner=(interaction.guild_id, interaction.user.id),
            )
        except CalibrationRefused as refusal:
            raise UserFacingError(str(refusal)) from None
        sheet = await asyncio.to_thread(contact_sheet, result)
        file = discord.File(io.BytesIO(sheet), filename="calibration.png")
        if result.proposal.matches(persona):
            await interaction.followup.send(
                f"**{persona.name}** is already at the best setting found: {result.summary()}.",
                file=file,
                ephemeral=True,
            )
            return
        await interaction.followup.send(
            f"Best likeness that still follows the scene for **{persona.name}**: {result.summary()}. "
            "Apply it as a new look version?",
            file=file,
            view=CalibrationChoice(services, result),
            ephemeral=True,
        )
