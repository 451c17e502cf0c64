"""What a selfie request carries into the flow (`SelfieContext`) and what comes out of it (`SelfieOutcome`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import discord

from bot.admission import Ticket
from bot.webhooks import Speakable
from personas.models import Persona, SelfieRecord


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


class Outcome(StrEnum):
    POSTED = "posted"  # the picture is in the channel
    DECLINED = "declined"  # refused by the picture policy; nothing was generated; `text` is the persona's words
    REFUSED = "refused"  # too many requests (limits, full queue); `text` says so; the caller tells the requester
    FAILED = "failed"  # generation or posting failed; `text` was already shown in the status message
    POSTPONED = "postponed"  # shutting down; the restart will serve it
    ALREADY_ANSWERED = "already_answered"  # a replay: the job was posted before, nothing was sent again


@dataclass(frozen=True)
class SelfieOutcome:
    kind: Outcome
    text: str = ""
    message: discord.WebhookMessage | None = None
    selfie_id: int | None = None

    @property
    def requester_must_hear(self) -> bool:
        """The caller still has to tell the requester `text` (declines and refusals are not shown anywhere yet)."""
        return self.kind in {Outcome.DECLINED, Outcome.REFUSED}
