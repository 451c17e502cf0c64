"""`/persona train`: train a persona's LoRA from its pictures (a mixin of the `/persona` group), and the buttons of a
training: Cancel under the progress message, Apply / Discard under the contact sheet. The work itself lives in
`bot/training_jobs.py`; the buttons are persistent (the custom id carries the training's id) and admin-only."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.assets import fetch
from bot.checks import is_manager, manage_server
from bot.error_handler import reply_ephemeral
from bot.errors import UploadError, UserFacingError
from bot.lookup import persona_names, require_persona
from bot.services import BotServices
from bot.training_store import TrainingRecord, TrainingState

if TYPE_CHECKING:
    from bot.training_jobs import TrainingJobs

log = logging.getLogger(__name__)

BUTTONS = {
    "cancel": ("Cancel", discord.ButtonStyle.danger),
    "apply": ("Apply", discord.ButtonStyle.success),
    "discard": ("Discard", discord.ButtonStyle.secondary),
}
VIEWS = {"progress": ("cancel",), "result": ("apply", "discard")}


class TrainingButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"training:(?P<action>cancel|apply|discard):(?P<id>[0-9]{1,20})"
):
    def __init__(self, action: str, run_id: int) -> None:
        label, style = BUTTONS[action]
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=f"training:{action}:{run_id}"))
        self.action = action
        self.run_id = run_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match: Any):
        return cls(match["action"], int(match["id"]))

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if not is_manager(interaction):
            await reply_ephemeral(interaction, "Only a server admin (Manage Server) can use a training's buttons.")
            return False
        return True

    async def callback(self, interaction: discord.Interaction) -> None:
        training: TrainingJobs = interaction.client.services.training  # type: ignore[attr-defined]
        try:
            record = await training.records.get(self.run_id)
            if record is None or record.guild_id != interaction.guild_id or record.channel_id != interaction.channel_id:
                raise UserFacingError("That training does not belong to this channel.")
            await self._act(training, record, interaction)
        except UserFacingError as error:
            await reply_ephemeral(interaction, str(error))

    async def _act(self, training: TrainingJobs, record: TrainingRecord, interaction: discord.Interaction) -> None:
        if self.action == "cancel":
            if record.state is not TrainingState.RUNNING or not await training.cancel(record.id):
                raise UserFacingError("That training is not running any more.")
            await interaction.response.send_message("Cancelling the training…", ephemeral=True)
            return
        if record.state is not TrainingState.FINISHED:
            raise UserFacingError("That training was already applied or discarded.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        if self.action == "apply":
            persona = await training.apply(record, interaction.user.id)
            text = f"Applied: **{persona.name}** now wears its trained LoRA (look version {persona.version})."
        else:
            if not await training.discard(record):
                raise UserFacingError("That training was already applied or discarded.")
            text = "Discarded the trained LoRA."
        if interaction.message is not None:
            try:
                await interaction.message.edit(view=None)
            except discord.HTTPException as error:
                log.warning("could not remove the training buttons: %s", error)
        await interaction.followup.send(text, ephemeral=True)


def training_view(kind: str, run_id: int) -> discord.ui.View:
    """The buttons under a training's progress message ("progress") or its contact sheet ("result")."""
    view = discord.ui.View(timeout=None)
    for action in VIEWS[kind]:
        view.add_item(TrainingButton(action, run_id))
    return view


class PersonaTrainingCommands:
    services: BotServices

    @app_commands.command(name="train", description="Train the persona's own LoRA from its pictures")
    @app_commands.describe(
        name="The persona to train",
        steps="Training steps (default: the model's recommended count)",
        image1="A picture of the persona (PNG/JPEG/WebP)",
        image2="Another picture",
        image3="Another picture",
        image4="Another picture",
    )
    @app_commands.autocomplete(name=persona_names)
    @manage_server()
    async def train(
        self,
        interaction: discord.Interaction,
        name: str,
        steps: app_commands.Range[int, 1, 5000] | None = None,
        image1: discord.Attachment | None = None,
        image2: discord.Attachment | None = None,
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        training = self.services.training
        if training is None:
            raise UploadError("Training is not available on this bot.")
        persona = await require_persona(self.services.store, interaction.guild_id, name)
        attached = []
        for attachment in (image1, image2, image3, image4):
            if attachment is not None:
                limit = self.services.settings.max_reference_bytes
                attached.append(await fetch(self.services, attachment, limit, "training picture"))
        await training.start(
            persona=persona,
            channel=interaction.channel,
            requester_id=interaction.user.id,
            attached=attached,
            steps=steps,
        )
        await interaction.followup.send(
            f"Training **{persona.name}**'s LoRA; progress follows in this channel (selfies still go first).",
            ephemeral=True,
        )
