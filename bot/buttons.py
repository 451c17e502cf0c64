"""The buttons under every selfie: Another take, Details, Delete. Their behaviour lives in the item.

Persistent: the custom_id carries the selfie id, so they work after a restart. A button acts only in the channel
its selfie was posted in: a forged component pressed elsewhere learns nothing and posts nothing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord

from bot.admission import Refused
from bot.checks import is_manager
from bot.error_handler import reply_ephemeral
from bot.errors import UserFacingError
from bot.messages import RESTARTING
from bot.selfie_request import Outcome, SelfieContext
from bot.storage import JobKind
from personas.models import SelfieRecord

if TYPE_CHECKING:
    from bot.client import SelfieBot

log = logging.getLogger(__name__)

ACTIONS = {
    "take": ("Another take", discord.ButtonStyle.primary, "🎲"),
    "info": ("Details", discord.ButtonStyle.secondary, "ℹ️"),
    "del": ("Delete", discord.ButtonStyle.danger, "🗑️"),
}
GONE = "That selfie is gone (its persona may have been deleted)."


def details_text(record: SelfieRecord, persona_name: str) -> str:
    p = record.parameters
    lora = f"sha256 {p.get('lora_sha256')} at {p.get('lora_scale')}" if p.get("lora_sha256") else "none"
    reference = f"sha256 {p.get('reference_sha256')} at {p.get('ip_scale')}" if p.get("reference_sha256") else "none"
    lines = [
        f"**Selfie #{record.id}** of {persona_name} (persona version {record.persona_version})",
        f"model: `{p.get('model')}`",
        f"seed: `{record.seed}` (take {p.get('take', 0)} of base seed {p.get('base_seed', record.seed)})",
        f"steps: `{p.get('steps')}` · guidance: `{p.get('guidance')}` · size: `{p.get('width')}×{p.get('height')}`"
        f" · scheduler: `{p.get('scheduler') or 'default'}`",
        f"LoRA: {lora}",
        f"reference: {reference}",
        *identity_lines(p, record.seed),
        f"prompt: ```{record.prompt[:700]}```",
        f"negative: ```{record.negative[:500]}```",
    ]
    return "\n".join(lines)[:2000]


def identity_lines(parameters: dict[str, Any], seed: int) -> list[str]:
    """How alike the picture is to the persona's references, and how it was chosen. Members see scores only here."""
    if parameters.get("identity_score") is None:
        return []
    method = parameters.get("identity_method")
    verdict = {True: ", same person", False: ", not the same person"}.get(parameters.get("identity_same_person"), "")
    line = f"identity: `{float(parameters['identity_score']):.3f}` ({method}{verdict})"
    candidates = parameters.get("identity_candidates") or []
    if len(candidates) > 1:
        rounds = int(parameters.get("identity_rounds", 1))
        line += f" · best of {len(candidates)}" + (f" in {rounds} rounds" if rounds > 1 else "") + f", seed `{seed}`"
    if parameters.get("identity_miss"):
        line += " · below the minimum score"
    return [line]


class SelfieButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"selfie:(?P<action>take|info|del):(?P<id>[0-9]{1,20})"
):
    def __init__(self, action: str, selfie_id: int) -> None:
        label, style, emoji = ACTIONS[action]
        super().__init__(
            discord.ui.Button(label=label, style=style, emoji=emoji, custom_id=f"selfie:{action}:{selfie_id}")
        )
        self.action = action
        self.selfie_id = selfie_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: Any
    ) -> SelfieButton:
        return cls(match["action"], int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            await self._act(interaction.client, interaction)  # type: ignore[arg-type]
        except UserFacingError as error:
            await reply_ephemeral(interaction, str(error))

    async def _record(self, bot: SelfieBot, interaction: discord.Interaction) -> SelfieRecord:
        if interaction.guild_id is None:
            raise UserFacingError("This button only works on a server.")
        record = await bot.services.store.get_selfie(interaction.guild_id, self.selfie_id)
        if record is None:
            raise UserFacingError(GONE)
        if record.channel_id != interaction.channel_id:
            log.warning(
                "selfie button %s pressed in channel %s, but the selfie is in %s; ignored",
                self.custom_id,
                interaction.channel_id,
                record.channel_id,
            )
            raise UserFacingError("That button does not belong to a selfie in this channel.")
        return record

    async def _act(self, bot: SelfieBot, interaction: discord.Interaction) -> None:
        services = bot.services
        record = await self._record(bot, interaction)
        persona = await services.store.get_persona_by_id(record.guild_id, record.persona_id)
        if self.action == "info":
            name = persona.name if persona else "a deleted persona"
            await interaction.response.send_message(details_text(record, name), ephemeral=True)
            return
        channel = interaction.channel
        if not isinstance(channel, discord.TextChannel | discord.Thread):
            channel = bot.get_channel(interaction.channel_id)  # type: ignore[assignment]
        if self.action == "del":
            if interaction.user.id != record.requester_id and not is_manager(interaction):
                raise UserFacingError("Only the person who asked for this selfie or a server admin can delete it.")
            await interaction.response.defer(ephemeral=True, thinking=True)
            deleted = record.message_id is not None and await services.webhooks.delete(channel, record.message_id)
            await interaction.followup.send("Deleted." if deleted else "That selfie was already gone.", ephemeral=True)
            return
        await self._another_take(bot, interaction, record, persona, channel)

    async def _another_take(self, bot: SelfieBot, interaction, record, persona, channel) -> None:
        services = bot.services
        if not services.work.accepting:
            raise UserFacingError(RESTARTING)
        if persona is None:
            raise UserFacingError("The persona of this selfie was deleted, so there is no other take.")
        await interaction.response.defer()
        try:
            intake = await bot.jobs.take(
                kind=JobKind.RETAKE,
                source_id=interaction.id,
                persona=persona,
                channel=channel,
                requester_id=interaction.user.id,
                text="take",
            )
        except Refused as refusal:
            raise UserFacingError(str(refusal)[:1].upper() + str(refusal)[1:]) from None
        if intake is None:
            return
        context = SelfieContext(
            persona=persona,
            channel=channel,
            requester=interaction.user,
            request_text="",
            caption="another take 📸",
            retake_of=record,
            job_id=intake.job_id,
            ticket=intake.ticket,
        )
        status = bot.jobs.progress_status(channel, persona, intake.job_id)
        task = services.work.track(bot.flow.run(context, status), name=f"take-{interaction.id}")
        if task is None:
            await bot.jobs.abandon(intake, "shutting down")
            return
        outcome = await task
        if outcome.kind in {Outcome.DECLINED, Outcome.REFUSED, Outcome.FAILED}:
            await interaction.followup.send(outcome.text, ephemeral=True)


def selfie_view(selfie_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in ACTIONS:
        view.add_item(SelfieButton(action, selfie_id))
    return view
