"""The persisted selfie queue, bot side: take a request in (de-duplicated, admitted), and resume after a restart.

Every selfie request is written to `selfie_jobs` before it is queued (the store keeps the states and guards every
transition). On startup the jobs the previous process left open are answered exactly once:

- a chat request younger than `RESUME_MAX_AGE` is served again (at most `MAX_ATTEMPTS` times in all, so a request
  that kills the process cannot loop forever);
- a slash-command or button request (its interaction token is not stored and expires after 15 minutes), or an older
  chat request, gets a short note from the persona in the channel;
- a job caught in 'posting' (the process died while the picture was being sent) is closed without resending: the
  picture may well have arrived, and a duplicate is worse than the rare lost one (docs/bot.md, "Reliability").
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import discord

from bot.admission import Refused, Ticket
from bot.progress import WebhookStatus
from bot.selfie_flow import SelfieContext
from bot.storage import JobKind, JobState, SelfieJob
from bot.webhooks import Speakable
from personas.models import Persona

if TYPE_CHECKING:
    from bot.client import SelfieBot

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
RESTART_NOTE = "sorry, I restarted before your selfie was ready — ask me again?"


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


async def take(
    bot: SelfieBot, kind: JobKind, source_id: int, persona: Persona, channel: Speakable, requester_id: int, text: str
) -> Intake | None:
    """Record and admit a request. None: this message/interaction was taken before (a replayed event).
    Raises `Refused` (the job is closed as refused) when the requester or the server is at its limit."""
    job_id = await bot.bot_store.enqueue_job(
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
        ticket = bot.admission.admit(persona.guild_id, requester_id)
    except Refused as refusal:
        await bot.bot_store.mark_job_failed(job_id, f"refused: {refusal}")
        raise
    return Intake(job_id, ticket)


async def abandon(bot: SelfieBot, intake: Intake | None, why: str) -> None:
    """Close a job that ended before the flow could settle it (the caller has told the requester already)."""
    if intake is None:
        return
    intake.ticket.release()
    with contextlib.suppress(Exception):  # the store may be closing with the process
        await bot.bot_store.mark_job_failed(intake.job_id, why)


async def tell(bot: SelfieBot, channel: Speakable, persona: Persona, user_id: int, text: str) -> discord.Message:
    """The persona says `text` to one user (mentioned) in the channel."""
    return await bot.webhooks.send(
        channel,
        persona,
        content=f"<@{user_id}> {text}"[:2000],
        allowed_mentions=discord.AllowedMentions(users=[discord.Object(user_id)], roles=False, everyone=False),
    )


async def resume_pending(bot: SelfieBot) -> None:
    """Answer what the previous process left open; each job is claimed first, so nothing is answered twice."""
    store, queue, now = bot.store, bot.bot_store, datetime.now(UTC)
    jobs = await queue.pending_jobs()
    if jobs:
        log.info("resuming %d selfie request(s) left from before the restart", len(jobs))
    for job in jobs:
        if job.state == JobState.POSTING:
            await queue.mark_job_failed(job.id, "interrupted while posting; not resent")
            continue
        if not await queue.claim_job(job.id, job.attempts):
            continue
        persona = await store.get_persona_by_id(job.guild_id, job.persona_id)
        channel = bot.get_channel(job.channel_id)
        if persona is None or not isinstance(channel, discord.TextChannel | discord.Thread):
            await queue.mark_job_failed(job.id, "persona or channel gone after a restart")
            continue
        fresh = (now - job.created_at).total_seconds() <= bot.settings.resume_max_age_s
        if job.source_kind == JobKind.CHAT and fresh and job.attempts + 1 <= MAX_ATTEMPTS:
            bot.track(_serve_again(bot, job, persona, channel), name=f"resume-{job.id}")
        else:
            bot.track(_send_note(bot, job, persona, channel), name=f"note-{job.id}")


async def _serve_again(bot: SelfieBot, job: SelfieJob, persona: Persona, channel: Speakable) -> None:
    ticket = bot.admission.admit(job.guild_id, job.requester_id, force=True)  # it was admitted before the restart
    try:
        requester = bot.get_user(job.requester_id) or Requester(job.requester_id)
        turns = await bot.store.recent_turns(job.guild_id, channel.id, persona.id)
        caption = await bot.replies.reply(persona, turns, selfie=True)
        status = WebhookStatus(bot.webhooks, channel, persona, bot.settings.progress_interval_s)
        context = SelfieContext(
            persona, channel, requester, job.request_text, caption=caption, job_id=job.id, ticket=ticket, resumable=True
        )
        outcome = await bot.flow.run(context, status)
        if outcome.declined or outcome.refused:
            await tell(bot, channel, persona, job.requester_id, outcome.declined or outcome.refused or "")
    finally:
        ticket.release()


async def _send_note(bot: SelfieBot, job: SelfieJob, persona: Persona, channel: Speakable) -> None:
    # 'posting' first: if the process dies right after the note went out, the next start does not repeat it.
    if not await bot.bot_store.mark_job_posting(job.id, None):
        return
    message = await tell(bot, channel, persona, job.requester_id, RESTART_NOTE)
    await bot.bot_store.mark_job_failed(job.id, "told to ask again after a restart", message.id)
