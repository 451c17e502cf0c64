"""`BotServices`: every resource the bot's features use, made once by the runner and passed in explicitly.

The selfie flow, the job queue, the cogs and the buttons each take the services they need from here instead of
reaching through the discord.py client; the client only wires them into Discord. `WorkTracker` owns the background
work the features start, so shutdown can stop taking work and wait for what is in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from bot.admission import Admission
from bot.assets import FileLocks
from bot.best_of import IdentityJudge
from bot.image_check import ImageCheck
from bot.replies import ReplyWriter
from bot.settings import Settings
from bot.storage import BotStore
from bot.webhooks import WebhookManager
from generation.backend import GenerationBackend
from generation.engine import Engine
from personas.scene import SceneExtractor
from personas.store import PersonaStore

if TYPE_CHECKING:
    from bot.training_jobs import TrainingJobs

log = logging.getLogger(__name__)


class WorkTracker:
    """Background work started by features; `drain` stops new work and waits (bounded) for the rest."""

    def __init__(self) -> None:
        self.accepting = True
        self._work: set[asyncio.Task] = set()
        self._stopping = asyncio.Event()

    async def pause(self, seconds: float) -> bool:
        """Sleep up to `seconds` for periodic work; False (at once) when shutdown has begun, so drain need not wait."""
        if not self.accepting:
            return False
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return True
        return False

    def track(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task | None:
        """Run `work` in the background unless shutting down (then it is closed unstarted and None returned)."""
        if not self.accepting:
            work.close()
            return None
        task = asyncio.create_task(work, name=name)
        self._work.add(task)
        task.add_done_callback(self._finished)
        return task

    def in_flight(self) -> list[asyncio.Task]:
        return list(self._work)

    def _finished(self, task: asyncio.Task) -> None:
        self._work.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def drain(self, timeout: float) -> None:
        """Stop taking work and give what is in flight up to `timeout` seconds to finish; cancel the rest."""
        self.accepting = False
        self._stopping.set()
        pending = set(self._work)
        if not pending:
            return
        log.info("waiting for %d selfie(s) in flight (up to %.0f s)", len(pending), timeout)
        _, still = await asyncio.wait(pending, timeout=timeout)
        for task in still:
            task.cancel()
        if still:
            await asyncio.wait(still, timeout=5)


@dataclass(frozen=True)
class BotServices:
    settings: Settings
    store: PersonaStore
    bot_store: BotStore
    service: GenerationBackend  # in-process GenerationService or the Ray Serve backend (GENERATION_BACKEND)
    engine: Engine
    webhooks: WebhookManager
    replies: ReplyWriter
    extractor: SceneExtractor
    admission: Admission
    work: WorkTracker
    http: httpx.AsyncClient
    image_check: ImageCheck
    file_locks: FileLocks  # one lock per stored reference/LoRA file: saving a persona and deleting a file never race
    identity: IdentityJudge | None = None  # scores selfies against references (best of N, calibration)
    training: TrainingJobs | None = None  # `/persona train` (bot/training_jobs.py)
