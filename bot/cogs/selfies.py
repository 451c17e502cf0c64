"""`/selfie persona [scene]`: a selfie asked for with a slash command (the buttons under it live in bot/buttons.py)."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.admission import Refused
from bot.checks import in_guild
from bot.errors import UserFacingError
from bot.jobs import Intake, SelfieJobs
from bot.lookup import persona_names, personas_for, require_persona
from bot.messages import RESTARTING
from bot.progress import InteractionStatus
from bot.selfie_flow import SelfieFlow
from bot.selfie_request import SelfieContext, SelfieOutcome
from bot.services import BotServices
from bot.storage import JobKind
from personas.models import Persona

log = logging.getLogger(__name__)


class Selfies(commands.Cog):
    def __init__(self, services: BotServices, flow: SelfieFlow, jobs: SelfieJobs) -> None:
        self.services = services
        self.flow = flow
        self.jobs = jobs

    def _closing(self) -> None:
        if not self.services.work.accepting:
            raise UserFacingError(RESTARTING)

    @app_commands.command(name="selfie", description="Ask a persona for a selfie")
    @app_commands.describe(persona="Who should send it", scene="Where they are or what they wear (optional)")
    @app_commands.autocomplete(persona=persona_names)
    @in_guild()
    async def selfie(self, interaction: discord.Interaction, persona: str, scene: str | None = None) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        self._closing()
        chosen = await require_persona(self.services.store, interaction.guild_id, persona)
        channel = interaction.channel
        if not isinstance(channel, discord.TextChannel | discord.Thread):
            raise UserFacingError("Selfies can be sent in text channels and their threads.")
        if chosen.id not in {p.id for p in await personas_for(self.services.store, channel)}:
            raise UserFacingError(
                f"{chosen.name} doesn't live in this channel; an admin can bring them here with `/persona activate`."
            )
        request_text = f"send me a selfie, {scene}" if scene else "send me a selfie"
        try:
            intake = await self.jobs.take(
                kind=JobKind.SLASH,
                source_id=interaction.id,
                persona=chosen,
                channel=channel,
                requester_id=interaction.user.id,
                text=request_text,
            )
        except Refused as refusal:
            await interaction.edit_original_response(content=f"**{chosen.name}**: {refusal}")
            return
        if intake is None:
            return
        try:
            outcome = await self._serve(interaction, chosen, channel, request_text, intake)
        except Exception:
            await self.jobs.abandon(intake, "the /selfie answer failed")
            raise
        finally:
            intake.ticket.release()
        if outcome is not None and outcome.requester_must_hear:
            await interaction.edit_original_response(content=f"**{chosen.name}**: {outcome.text}")

    async def _serve(
        self, interaction: discord.Interaction, persona: Persona, channel, request_text: str, intake: Intake
    ) -> SelfieOutcome | None:
        """Caption, then the flow in a tracked task (shutdown waits for it); None when shutting down."""
        store = self.services.store
        await store.add_turn(interaction.guild_id, channel.id, persona.id, interaction.user.id, "user", request_text)
        turns = await store.recent_turns(interaction.guild_id, channel.id, persona.id)
        caption = await self.services.replies.reply(persona, turns, selfie=True, channel=channel)
        context = SelfieContext(
            persona=persona,
            channel=channel,
            requester=interaction.user,
            request_text=request_text,
            caption=caption,
            kind="selfie",
            job_id=intake.job_id,
            ticket=intake.ticket,
        )
        status = InteractionStatus(interaction, self.services.settings.progress_interval_s)
        task = self.services.work.track(self.flow.run(context, status), name=f"selfie-{interaction.id}")
        if task is None:
            self._closing()
            return None
        outcome = await task
        if outcome.message is not None:
            await store.add_turn(
                interaction.guild_id, channel.id, persona.id, None, "persona", caption, message_id=outcome.message.id
            )
        return outcome
