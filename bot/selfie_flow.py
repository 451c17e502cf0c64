"""One path from "send me a selfie" to a posted picture: plan, check, queue, generate, post, remember.

Used by the chat listener, `/selfie`, "Another take" and the restart resumer (bot/jobs.py). The flow never answers
an interaction itself; it reports through a `StatusMessage` and returns a `SelfieOutcome` the caller turns into
words. It holds an admission ticket for the whole request (released whatever happens) and, when the request was
recorded as a job, moves that job on: 'posting' right before the picture is sent, 'done' in the same step as the
posted message is recorded, 'failed' when it was answered without a picture.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import discord

from bot import safety
from bot.admission import Refused, Ticket
from bot.messages import camera_trouble, generation_words
from bot.progress import StatusMessage, progress_text
from bot.views import selfie_view
from bot.webhooks import Speakable
from generation.errors import GenerationError, QueueFullError, ServiceClosedError
from generation.request import GenerationRequest
from personas.models import Persona, SelfieRecord
from personas.planner import plan_selfie
from personas.prompting import describe_scene
from personas.seeds import take_seed

if TYPE_CHECKING:
    from bot.client import SelfieBot

log = logging.getLogger(__name__)

DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
BACK_AFTER_RESTART = "I have to restart for a moment; I'll send your selfie when I'm back 📸"


@dataclass
class SelfieContext:
    persona: Persona
    channel: Speakable
    requester: discord.abc.User
    request_text: str
    caption: str | None = None  # the persona's words to go with the picture
    kind: str | None = None  # force a request kind (`/selfie`)
    retake_of: SelfieRecord | None = None
    job_id: int | None = None  # the persisted request (bot/jobs.py), if it was recorded
    ticket: Ticket | None = None  # admission already granted by the caller; the flow admits otherwise
    resumable: bool = False  # a restart serves it again (chat jobs), so shutdown postpones instead of failing


@dataclass
class SelfieOutcome:
    message: discord.WebhookMessage | None = None
    selfie_id: int | None = None
    declined: str | None = None  # in-character refusal; nothing was generated
    error: str | None = None  # generation failed; the sentence says why (already shown in the status)
    refused: str | None = None  # too many requests (limits, full queue); the caller says it
    postponed: bool = False  # shutting down; the restart will serve it


def encode_picture(image, limit: int) -> tuple[bytes, str]:
    """PNG when it fits the upload limit, else JPEG at falling quality."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    if buffer.tell() <= limit:
        return buffer.getvalue(), "selfie.png"
    rgb = image.convert("RGB")
    for quality in (92, 85, 75, 60):
        buffer = io.BytesIO()
        rgb.save(buffer, format="JPEG", quality=quality)
        if buffer.tell() <= limit:
            return buffer.getvalue(), "selfie.jpg"
    raise GenerationError("The picture is too large to upload here; lower SELFIE_SIZE.")


def upload_limit(channel: Speakable) -> int:
    guild = getattr(channel, "guild", None)
    return int(getattr(guild, "filesize_limit", 0) or DEFAULT_UPLOAD_LIMIT)


class SelfieFlow:
    def __init__(self, bot: SelfieBot) -> None:
        self.bot = bot

    def request_for(self, persona: Persona, prompt: str, negative: str, seed: int) -> GenerationRequest:
        settings = self.bot.settings
        size = self.bot.settings.selfie_size or self.bot.engine.native_size
        reference = persona.reference_path if persona.reference_path and self.bot.engine.supports_references else None
        return GenerationRequest(
            prompt=prompt,
            seed=seed,
            negative_prompt=negative,
            steps=settings.selfie_steps,
            guidance=settings.selfie_guidance,
            width=size,
            height=size,
            lora_path=Path(persona.lora_path) if persona.lora_path else None,
            lora_scale=persona.lora_scale,
            reference_path=Path(reference) if reference else None,
            ip_scale=persona.ip_scale,
            identity=f"persona:{persona.id}:v{persona.version}",
        )

    async def run(self, ctx: SelfieContext, status: StatusMessage) -> SelfieOutcome:
        ticket = ctx.ticket
        if ticket is None:
            try:
                ticket = self.bot.admission.admit(ctx.persona.guild_id, ctx.requester.id)
            except Refused as refusal:
                await self._settle(ctx, f"refused: {refusal}")
                return SelfieOutcome(refused=str(refusal))
        try:
            return await self._run(ctx, status)
        finally:
            ticket.release()

    async def _settle(self, ctx: SelfieContext, outcome: str) -> None:
        """The request was answered without a picture: close its job so a restart leaves it alone."""
        if ctx.job_id is not None:
            await self.bot.bot_store.mark_job_failed(ctx.job_id, outcome)

    def _postpone(self, ctx: SelfieContext) -> bool:
        return ctx.resumable and ctx.job_id is not None and not self.bot.accepting

    async def _run(self, ctx: SelfieContext, status: StatusMessage) -> SelfieOutcome:
        bot, persona, channel = self.bot, ctx.persona, ctx.channel
        guild_id = persona.guild_id
        store = bot.store
        plan = None
        nonce = await store.selfie_count(guild_id, persona.id)
        if ctx.retake_of is not None:
            record = ctx.retake_of
            base_seed = int(record.parameters.get("base_seed", record.seed))
            prompt, negative, seed = record.prompt, record.negative, take_seed(base_seed, nonce + 1)
            take = nonce + 1
            description = str(record.parameters.get("scene") or "another take")
        else:
            turns = await store.recent_turns(guild_id, channel.id, persona.id)
            scene = await store.get_scene(guild_id, channel.id, persona.id)
            plan = await plan_selfie(
                persona,
                turns,
                scene,
                request_text=ctx.request_text,
                extractor=bot.extractor,
                count_tokens=bot.engine.count_tokens,
                nonce=nonce,
                kind=ctx.kind,
            )
            prompt, negative, seed = plan.prompt, plan.negative_prompt, plan.seed
            base_seed, take = seed, 0
            description = describe_scene(plan.scene)

        decision = safety.check_picture(persona, channel, ctx.request_text, prompt)
        if not decision.allowed:
            log.info("declined a picture of %s in %s (%s)", persona.name, channel.id, decision.reason)
            await self._settle(ctx, f"declined: {decision.reason}")
            return SelfieOutcome(declined=decision.decline)
        if not decision.explicit:
            negative = safety.sfw_negative(negative)

        request = self.request_for(persona, prompt, negative, seed)
        await status.open(f"{persona.name} is getting ready…")
        try:
            result = await bot.service.generate(
                request,
                on_progress=lambda e: status.show(progress_text(persona.name, e)),
                owner=ctx.requester.id,  # round-robin between users: one user's burst does not hold up the rest
            )
            data, filename = encode_picture(result.image, upload_limit(channel))
        except QueueFullError as error:
            await status.finish(None, None)
            await self._settle(ctx, f"refused: {error}")
            return SelfieOutcome(refused=generation_words(error))
        except ServiceClosedError as error:
            if self._postpone(ctx):
                await status.finish(BACK_AFTER_RESTART, None)
                return SelfieOutcome(postponed=True)
            text = camera_trouble(error)
            await status.finish(text, None)
            await self._settle(ctx, f"error: {error}")
            return SelfieOutcome(error=text)
        except GenerationError as error:
            text = camera_trouble(error)
            await status.finish(text, None)
            await self._settle(ctx, f"error: {error}")
            return SelfieOutcome(error=text)
        except BaseException:
            if self._postpone(ctx):  # cancelled by shutdown: the job stays open for the restart
                await status.finish(BACK_AFTER_RESTART, None)
                raise
            await status.finish("My camera gave up on this one; try again in a bit.", None)
            await self._settle(ctx, "cancelled")
            raise

        parameters = result.report() | {
            "base_seed": base_seed,
            "take": take,
            "persona_version": persona.version,
            "scene": description,
            "request_kind": plan.request_kind if plan else ctx.kind,
        }
        selfie_id = await store.record_selfie(
            guild_id=guild_id,
            channel_id=channel.id,
            persona_id=persona.id,
            persona_version=persona.version,
            requester_id=ctx.requester.id,
            prompt=prompt,
            negative=negative,
            seed=seed,
            parameters=parameters,
        )
        caption = ctx.caption or "here you go 📸"
        if ctx.job_id is not None and not await bot.bot_store.mark_job_posting(ctx.job_id, selfie_id):
            log.warning("job %s was answered already; not posting it again", ctx.job_id)
            await status.finish(None, None)
            return SelfieOutcome(selfie_id=selfie_id)
        try:
            message = await bot.webhooks.send(
                channel,
                persona,
                content=f"{ctx.requester.mention} {caption}"[:2000],
                file=discord.File(
                    io.BytesIO(data), filename=filename, description=f"{persona.name}: {description}"[:1024]
                ),
                view=selfie_view(selfie_id),
                allowed_mentions=discord.AllowedMentions(users=[ctx.requester], roles=False, everyone=False),
            )
        except BaseException:
            await status.finish("I couldn't post the picture here; check my permissions.", None)
            await self._settle(ctx, "posting failed")
            raise
        if ctx.job_id is not None:
            await bot.bot_store.mark_job_done(ctx.job_id, message.id)  # also records the message on the selfie
        else:
            await store.set_selfie_message(guild_id, selfie_id, message.id)
        if plan is not None:
            await store.save_scene(guild_id, channel.id, persona.id, plan.persistent_scene)
        await store.add_turn(
            guild_id, channel.id, persona.id, None, "selfie", f"sent a selfie: {description}", message_id=message.id
        )
        await status.finish(None, message)
        return SelfieOutcome(message=message, selfie_id=selfie_id)
