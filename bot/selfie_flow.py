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
from pathlib import Path

import discord

from bot import safety
from bot.admission import Admission, Refused
from bot.best_of import Drawn, IdentityJudge, candidate_count, draw_best
from bot.buttons import selfie_view
from bot.image_check import WITHHELD, ImageCheck
from bot.messages import camera_trouble, generation_words
from bot.pictures import encode_picture, request_for, upload_limit
from bot.progress import StatusMessage, progress_text
from bot.selfie_request import Outcome, SelfieContext, SelfieOutcome
from bot.services import WorkTracker
from bot.settings import Settings
from bot.storage import BotStore
from bot.webhooks import WebhookManager
from generation.engine import Engine
from generation.errors import GenerationError, QueueFullError, ServiceClosedError
from generation.request import GenerationRequest
from generation.service import GenerationService
from personas.planner import plan_selfie
from personas.prompting import describe_scene
from personas.scene import SceneExtractor
from personas.seeds import take_seed
from personas.store import PersonaStore

log = logging.getLogger(__name__)

BACK_AFTER_RESTART = "I have to restart for a moment; I'll send your selfie when I'm back 📸"
GAVE_UP = "My camera gave up on this one; try again in a bit."
CANNOT_POST = "I couldn't post the picture here; check my permissions."
PERSONA_GONE = "that persona was deleted while your selfie was on its way, so it won't be sent."


class SelfieFlow:
    def __init__(
        self,
        *,
        settings: Settings,
        store: PersonaStore,
        queue: BotStore,
        service: GenerationService,
        engine: Engine,
        webhooks: WebhookManager,
        extractor: SceneExtractor,
        admission: Admission,
        work: WorkTracker,
        image_check: ImageCheck,
        identity: IdentityJudge | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._queue = queue
        self._service = service
        self._engine = engine
        self._webhooks = webhooks
        self._extractor = extractor
        self._admission = admission
        self._work = work
        self._image_check = image_check
        self._identity = identity

    async def run(self, ctx: SelfieContext, status: StatusMessage) -> SelfieOutcome:
        ticket = ctx.ticket
        if ticket is None:
            try:
                ticket = self._admission.admit(ctx.persona.guild_id, ctx.requester.id)
            except Refused as refusal:
                await self._settle(ctx, f"refused: {refusal}")
                return SelfieOutcome(Outcome.REFUSED, str(refusal))
        try:
            return await self._run(ctx, status)
        finally:
            ticket.release()

    async def _settle(self, ctx: SelfieContext, outcome: str) -> None:
        """The request was answered without a picture: close its job so a restart leaves it alone."""
        if ctx.job_id is not None:
            await self._queue.mark_job_failed(ctx.job_id, outcome)

    def _postpone(self, ctx: SelfieContext) -> bool:
        return ctx.resumable and ctx.job_id is not None and not self._work.accepting

    async def _run(self, ctx: SelfieContext, status: StatusMessage) -> SelfieOutcome:
        persona, channel, store = ctx.persona, ctx.channel, self._store
        guild_id = persona.guild_id
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
                extractor=self._extractor,
                count_tokens=self._engine.count_tokens,
                nonce=nonce,
                kind=ctx.kind,
                prompt_style=persona.prompt_style or self._settings.prompt_style,
            )
            prompt, negative, seed = plan.prompt, plan.negative_prompt, plan.seed
            base_seed, take = seed, 0
            description = describe_scene(plan.scene)

        # The final prompt and negative (every extractor, template and the persona's fields applied) are judged,
        # then hardened: adult anchoring for explicit pictures, child terms always in the negative.
        decision = safety.check_picture(persona, channel, request=ctx.request_text, prompt=prompt, negative=negative)
        if not decision.allowed:
            log.info("declined a picture of %s in %s (%s)", persona.name, channel.id, decision.reason)
            await self._settle(ctx, f"declined: {decision.reason}")
            return SelfieOutcome(Outcome.DECLINED, decision.decline)
        prompt, negative = decision.harden(prompt, negative)
        # A preview is a picture nobody has checked: only where the finished one would not be checked either.
        status.previews = not (decision.must_stay_clothed and self._image_check.active)

        request = request_for(
            persona, prompt=prompt, negative=negative, seed=seed, settings=self._settings, engine=self._engine
        )
        await status.open(f"{persona.name} is getting ready…")
        try:
            drawn = await self._draw(ctx, request, status)
            result = drawn.result
            withheld = await self._image_check.withhold(result.image, must_stay_clothed=decision.must_stay_clothed)
            data, filename = encode_picture(result.image, upload_limit(channel))
        except QueueFullError as error:
            await status.finish(None, None)
            await self._settle(ctx, f"refused: {error}")
            return SelfieOutcome(Outcome.REFUSED, generation_words(error))
        except ServiceClosedError as error:
            if self._postpone(ctx):
                await status.finish(BACK_AFTER_RESTART, None)
                return SelfieOutcome(Outcome.POSTPONED)
            return await self._failed(ctx, status, error)
        except GenerationError as error:
            return await self._failed(ctx, status, error)
        except BaseException:
            if self._postpone(ctx):  # cancelled by shutdown: the job stays open for the restart
                await status.finish(BACK_AFTER_RESTART, None)
                raise
            await status.finish(GAVE_UP, None)
            await self._settle(ctx, "cancelled")
            raise

        if withheld:
            await status.finish(None, None)
            await self._settle(ctx, "withheld by the image check")
            return SelfieOutcome(Outcome.DECLINED, WITHHELD)
        if await store.get_persona_by_id(guild_id, persona.id) is None:
            # Deleted while its selfie was drawn: nothing is posted or recorded for it.
            await status.finish(None, None)
            await self._settle(ctx, "persona deleted")
            return SelfieOutcome(Outcome.DECLINED, PERSONA_GONE)
        seed = drawn.seed  # the chosen candidate's: drawn alone, it gives exactly the posted picture
        parameters = result.report() | drawn.parameters()
        parameters |= {
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
        if ctx.job_id is not None and not await self._queue.mark_job_posting(ctx.job_id, selfie_id):
            log.warning("job %s was answered already; not posting it again", ctx.job_id)
            await status.finish(None, None)
            return SelfieOutcome(Outcome.ALREADY_ANSWERED, selfie_id=selfie_id)
        try:
            message = await self._webhooks.send(
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
            await status.finish(CANNOT_POST, None)
            await self._settle(ctx, "posting failed")
            raise
        if ctx.job_id is not None:
            await self._queue.mark_job_done(ctx.job_id, message.id)  # also records the message on the selfie
        else:
            await store.set_selfie_message(guild_id, selfie_id, message.id)
        if plan is not None:
            await store.save_scene(guild_id, channel.id, persona.id, plan.persistent_scene)
        await store.add_turn(
            guild_id, channel.id, persona.id, None, "selfie", f"sent a selfie: {description}", message_id=message.id
        )
        await status.finish(None, message)
        return SelfieOutcome(Outcome.POSTED, message=message, selfie_id=selfie_id)

    async def _draw(self, ctx: SelfieContext, request: GenerationRequest, status: StatusMessage) -> Drawn:
        """The picture to post: the best of IDENTITY_CANDIDATES against the persona's references, when it has any."""
        persona = ctx.persona
        references = await self._store.reference_paths(persona.guild_id, persona.id)
        return await draw_best(
            service=self._service,
            judge=self._identity,
            request=request,
            references=[Path(path) for path in references],
            count=candidate_count(self._settings.identity_candidates, self._engine.device.type),
            min_score=self._settings.identity_min_score,
            owner=(persona.guild_id, ctx.requester.id),  # round-robin between servers, then users within a server
            on_progress=lambda e: status.show(progress_text(persona.name, e), e.preview),
        )

    async def _failed(self, ctx: SelfieContext, status: StatusMessage, error: GenerationError) -> SelfieOutcome:
        text = camera_trouble(error)
        await status.finish(text, None)
        await self._settle(ctx, f"error: {error}")
        return SelfieOutcome(Outcome.FAILED, text)
