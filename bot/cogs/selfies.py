"""`/selfie` and the buttons under every selfie (another take, details, delete)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import jobs
from bot.admission import Refused
from bot.checks import in_guild, is_manager
from bot.cogs.chat import personas_for
from bot.cogs.persona_admin import persona_names, require_persona
from bot.error_handler import reply_ephemeral
from bot.errors import UserFacingError
from bot.progress import InteractionStatus, WebhookStatus
from bot.selfie_flow import SelfieContext
from bot.storage import JobKind
from personas.models import SelfieRecord

if TYPE_CHECKING:
    from bot.client import SelfieBot

log = logging.getLogger(__name__)


def details_text(record: SelfieRecord, persona_name: str) -> str:
    p = record.parameters
    lora = f"sha256 {p.get('lora_sha256')} at {p.get('lora_scale')}" if p.get("lora_sha256") else "none"
    reference = f"sha256 {p.get('reference_sha256')} at {p.get('ip_scale')}" if p.get("reference_sha256") else "none"
    lines = [
        f"**Selfie #{record.id}** of {persona_name} (persona version {record.persona_version})",
        f"model: `{p.get('model')}`",
        f"seed: `{record.seed}` (take {p.get('take', 0)} of base seed {p.get('base_seed', record.seed)})",
        f"steps: `{p.get('steps')}` · guidance: `{p.get('guidance')}` · size: `{p.get('width')}×{p.get('height')}`",
        f"LoRA: {lora}",
        f"reference: {reference}",
        f"prompt: ```{record.prompt[:700]}```",
        f"negative: ```{record.negative[:500]}```",
    ]
    return "\n".join(lines)[:2000]


class Selfies(commands.Cog):
    def __init__(self, bot: SelfieBot) -> None:
        self.bot = bot
        bot.selfie_buttons = self.on_button  # type: ignore[attr-defined]

    def _closing(self) -> None:
        if not self.bot.accepting:
            raise UserFacingError("I'm restarting right now; ask again in a minute.")

    @app_commands.command(name="selfie", description="Ask a persona for a selfie")
    @app_commands.describe(persona="Who should send it", scene="Where they are or what they wear (optional)")
    @app_commands.autocomplete(persona=persona_names)
    @in_guild()
    async def selfie(self, interaction: discord.Interaction, persona: str, scene: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self._closing()
        chosen = await require_persona(self.bot, interaction.guild_id, persona)
        channel = interaction.channel
        if not isinstance(channel, discord.TextChannel | discord.Thread):
            raise UserFacingError("Selfies can be sent in text channels and their threads.")
        if chosen.id not in {p.id for p in await personas_for(self.bot, channel)}:
            raise UserFacingError(
                f"{chosen.name} doesn't live in this channel; an admin can bring them here with `/persona activate`."
            )
        request_text = f"send me a selfie, {scene}" if scene else "send me a selfie"
        try:
            intake = await jobs.take(
                self.bot, JobKind.SLASH, interaction.id, chosen, channel, interaction.user.id, request_text
            )
        except Refused as refusal:
            await interaction.edit_original_response(content=f"**{chosen.name}**: {refusal}")
            return
        if intake is None:
            return
        try:
            outcome = await self._serve(interaction, chosen, channel, request_text, intake)
        except Exception:
            await jobs.abandon(self.bot, intake, "the /selfie answer failed")
            raise
        finally:
            intake.ticket.release()
        if outcome is None:
            return
        if outcome.declined or outcome.refused:
            await interaction.edit_original_response(
                content=f"**{chosen.name}**: {outcome.declined or outcome.refused}"
            )

    async def _serve(self, interaction, persona, channel, request_text: str, intake: jobs.Intake):
        """Caption, then the flow in a tracked task (shutdown waits for it); None when shutting down."""
        store = self.bot.store
        await store.add_turn(interaction.guild_id, channel.id, persona.id, interaction.user.id, "user", request_text)
        turns = await store.recent_turns(interaction.guild_id, channel.id, persona.id)
        caption = await self.bot.replies.reply(persona, turns, selfie=True)
        context = SelfieContext(
            persona,
            channel,
            interaction.user,
            request_text,
            caption=caption,
            kind="selfie",
            job_id=intake.job_id,
            ticket=intake.ticket,
        )
        task = self.bot.track(
            self.bot.flow.run(context, InteractionStatus(interaction, self.bot.settings.progress_interval_s)),
            name=f"selfie-{interaction.id}",
        )
        if task is None:
            self._closing()
            return None
        outcome = await task
        if outcome.message is not None:
            await store.add_turn(
                interaction.guild_id, channel.id, persona.id, None, "persona", caption, message_id=outcome.message.id
            )
        return outcome

    async def on_button(self, action: str, selfie_id: int, interaction: discord.Interaction) -> None:
        try:
            await self._on_button(action, selfie_id, interaction)
        except UserFacingError as error:
            await reply_ephemeral(interaction, str(error))

    async def _on_button(self, action: str, selfie_id: int, interaction: discord.Interaction) -> None:
        if interaction.guild_id is None:
            raise UserFacingError("This button only works on a server.")
        store = self.bot.store
        record = await store.get_selfie(interaction.guild_id, selfie_id)
        if record is None:
            raise UserFacingError("That selfie is gone (its persona may have been deleted).")
        persona = await store.get_persona_by_id(interaction.guild_id, record.persona_id)
        name = persona.name if persona else "a deleted persona"
        if action == "info":
            await interaction.response.send_message(details_text(record, name), ephemeral=True)
            return
        channel = interaction.channel
        if not isinstance(channel, discord.TextChannel | discord.Thread):
            channel = self.bot.get_channel(interaction.channel_id)  # type: ignore[assignment]
        if action == "del":
            if interaction.user.id != record.requester_id and not is_manager(interaction):
                raise UserFacingError("Only the person who asked for this selfie or a server admin can delete it.")
            await interaction.response.defer(ephemeral=True, thinking=True)
            deleted = record.message_id is not None and await self.bot.webhooks.delete(channel, record.message_id)
            await interaction.followup.send("Deleted." if deleted else "That selfie was already gone.", ephemeral=True)
            return
        self._closing()
        if persona is None:
            raise UserFacingError("The persona of this selfie was deleted, so there is no other take.")
        await interaction.response.defer()
        try:
            intake = await jobs.take(
                self.bot, JobKind.RETAKE, interaction.id, persona, channel, interaction.user.id, "take"
            )
        except Refused as refusal:
            raise UserFacingError(str(refusal)[:1].upper() + str(refusal)[1:]) from None
        if intake is None:
            return
        context = SelfieContext(
            persona,
            channel,
            interaction.user,
            "",
            caption="another take 📸",
            retake_of=record,
            job_id=intake.job_id,
            ticket=intake.ticket,
        )
        status = WebhookStatus(self.bot.webhooks, channel, persona, self.bot.settings.progress_interval_s)
        task = self.bot.track(self.bot.flow.run(context, status), name=f"take-{interaction.id}")
        if task is None:
            await jobs.abandon(self.bot, intake, "shutting down")
        outcome = await task if task is not None else None
        if outcome is not None and (outcome.declined or outcome.error or outcome.refused):
            await interaction.followup.send(outcome.declined or outcome.error or outcome.refused, ephemeral=True)


async def setup(bot: SelfieBot) -> None:
    await bot.add_cog(Selfies(bot))
