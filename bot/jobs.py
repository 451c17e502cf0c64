"""The persisted selfie queue, bot side: take a request in (de-duplicated, admitted), and resume after a restart.

Every selfie request is written to `selfie_jobs` before it is queued (the store keeps the states and guards every
transition). On startup the jobs the previous process left open are answered exactly once:

- a chat request younger than `RESUME_MAX_AGE` is served again (at most `MAX_ATTEMPTS` times in all, so a request
  that kills the process cannot loop forever);
- a slash-command or button request (its interaction token is not stored and expires after 15 minutes), or an older
  chat request, gets a short note from the persona in the channel;
- a job caught in 'posting' (the process died while the picture was being sent) is closed without resending: the
  picture may well have arrived, and a duplicate is worse than the rare lost one (docs/bot.md, "Reliability").

The previous process's progress note of each job found ("getting ready… 40%", recorded on the job when it was
posted) is deleted first. Jobs that ended more than a day ago are pruned at start and then once an hour.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import discord

from bot.admission import Admission, Refused, Ticket
from bot.progress import WebhookStatus
from bot.replies import ReplyWriter
from bot.selfie_flow import SelfieFlow
from bot.selfie_request import SelfieContext
from bot.services import WorkTracker
from bot.settings import Settings
from bot.storage import BotStore, JobKind, JobState, SelfieJob
from bot.webhooks import Speakable, WebhookManager
from personas.models import Persona
from personas.store import PersonaStore

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
RESTART_NOTE = "sorry, I restarted before your selfie was ready — ask me again?"
PRUNE_EVERY_S = 3600.0


@dataclass(frozen=True)
class Requester:
    """Someone the bot only knows by id (after a restart, without the members intent): enough to mention them."""

    id: int

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@dataclass
class Intake:
    """A request that was recorded and admitted; `ticket` must be released when it is over."""

    job_id: int
    ticket: Ticket


class SelfieJobs:
    """Takes selfie requests in (recorded, de-duplicated, admitted) and answers what a restart left open."""

    def __init__(
        self,
        *,
        queue: BotStore,
        store: PersonaStore,
        admission: Admission,
        webhooks: WebhookManager,
        replies: ReplyWriter,
        flow: SelfieFlow,
        settings: Settings,
        run_in_background: Callable[..., object],
        find_channel: Callable[[int], object],
        find_user: Callable[[int], object],
    ) -> None:
        self._queue = queue
        self._store = store
        self._admission = admission
        self._webhooks = webhooks
        self._replies = replies
        self._flow = flow
        self._settings = settings
        self._background = run_in_background
        self._find_channel = find_channel
        self._find_user = find_user

    async def take(
        self, *, kind: JobKind, source_id: int, persona: Persona, channel: Speakable, requester_id: int, text: str
    ) -> Intake | None:
        """Record and admit a request. None: this message/interaction was taken before (a replayed event).
        Raises `Refused` (the job is closed as refused) when the requester or the server is at its limit."""
        job_id = await self._queue.enqueue_job(
            source_kind=kind,
            source_id=source_id,
            guild_id=persona.guild_id,
            channel_id=channel.id,
            persona_id=persona.id,
            requester_id=requester_id,
            request_text=text,
        )
        if job_id is None:
            log.info("%s request %s was already taken; ignoring the repeat", kind, source_id)
            return None
        try:
            ticket = self._admission.admit(persona.guild_id, requester_id)
        except Refused as refusal:
            await self._queue.mark_job_failed(job_id, f"refused: {refusal}")
            raise
        return Intake(job_id, ticket)

    async def abandon(self, intake: Intake | None, why: str) -> None:
        """Close a job that ended before the flow could settle it (the caller has told the requester already)."""
        if intake is None:
            return
        intake.ticket.release()
        with contextlib.suppress(Exception):  # the store may be closing with the process
            await self._queue.mark_job_failed(intake.job_id, why)

    async def tell(self, channel: Speakable, persona: Persona, user_id: int, text: str) -> discord.Message:
        """The persona says `text` to one user (mentioned) in the channel."""
        return await self._webhooks.send(
            channel,
            persona,
            content=f"<@{user_id}> {text}"[:2000],
            allowed_mentions=discord.AllowedMentions(users=[discord.Object(user_id)], roles=False, everyone=False),
        )

    def progress_status(self, channel: Speakable, persona: Persona, job_id: int | None) -> WebhookStatus:
        """The persona's progress note for a job; its message id is recorded on the job once posted."""

        async def record(message_id: int) -> None:
            if job_id is not None:
                await self._queue.set_job_progress_message(job_id, message_id)

        interval = self._settings.progress_interval_s
        return WebhookStatus(self._webhooks, channel, persona, interval, on_open=record)

    async def prune_periodically(self, work: WorkTracker, every_s: float = PRUNE_EVERY_S) -> None:
        """Prune ended jobs every `every_s` seconds until shutdown starts (resume prunes once at start)."""
        while await work.pause(every_s):
            try:
                pruned = await self._queue.prune_ended_jobs()
            except Exception:
                log.warning("pruning ended selfie jobs failed", exc_info=True)
                continue
            if pruned:
                log.info("pruned %d ended selfie job(s)", pruned)

    async def _remove_old_note(self, job: SelfieJob) -> None:
        """Delete the dead process's progress note of `job` (it would say "getting ready…" forever)."""
        channel = self._find_channel(job.channel_id)
        if job.progress_message_id is None or not isinstance(channel, discord.TextChannel | discord.Thread):
            return
        try:
            await self._webhooks.delete(channel, job.progress_message_id)
        except Exception:  # missing permissions, webhook gone: leave the note, answer the job all the same
            log.warning("could not remove the old progress note of job %s", job.id, exc_info=True)

    async def resume_pending(self) -> None:
        """Answer what the previous process left open; each job is claimed first, so nothing is answered twice."""
        queue, now = self._queue, datetime.now(UTC)
        pruned = await queue.prune_ended_jobs()
        if pruned:
            log.info("pruned %d selfie job(s) that ended more than a day ago", pruned)
        jobs = await queue.pending_jobs()
        if jobs:
            log.info("resuming %d selfie request(s) left from before the restart", len(jobs))
        for job in jobs:
            await self._remove_old_note(job)
            if job.state == JobState.POSTING:
                await queue.mark_job_failed(job.id, "interrupted while posting; not resent")
                continue
            if not await queue.claim_job(job.id, job.attempts):
                continue
            persona = await self._store.get_persona_by_id(job.guild_id, job.persona_id)
            channel = self._find_channel(job.channel_id)
            if persona is None or not isinstance(channel, discord.TextChannel | discord.Thread):
                await queue.mark_job_failed(job.id, "persona or channel gone after a restart")
                continue
            fresh = (now - job.created_at).total_seconds() <= self._settings.resume_max_age_s
            if job.source_kind == JobKind.CHAT and fresh and job.attempts + 1 <= MAX_ATTEMPTS:
                self._background(self._serve_again(job, persona, channel), name=f"resume-{job.id}")
            else:
                self._background(self._send_note(job, persona, channel), name=f"note-{job.id}")

    async def _serve_again(self, job: SelfieJob, persona: Persona, channel: Speakable) -> None:
        ticket = self._admission.admit(job.guild_id, job.requester_id, force=True)  # admitted before the restart
        try:
            requester = self._find_user(job.requester_id) or Requester(job.requester_id)
            turns = await self._store.recent_turns(job.guild_id, channel.id, persona.id)
            caption = await self._replies.reply(persona, turns, selfie=True, channel=channel)
            status = self.progress_status(channel, persona, job.id)
            context = SelfieContext(
                persona=persona,
                channel=channel,
                requester=requester,
                request_text=job.request_text,
                caption=caption,
                job_id=job.id,
                ticket=ticket,
                resumable=True,
            )
            outcome = await self._flow.run(context, status)
            if outcome.requester_must_hear:
                await self.tell(channel, persona, job.requester_id, outcome.text)
        finally:
            ticket.release()

    async def _send_note(self, job: SelfieJob, persona: Persona, channel: Speakable) -> None:
        # 'posting' first: if the process dies right after the note went out, the next start does not repeat it.
        if not await self._queue.mark_job_posting(job.id, None):
            return
        message = await self.tell(channel, persona, job.requester_id, RESTART_NOTE)
        await self._queue.mark_job_failed(job.id, "told to ask again after a restart", message.id)
