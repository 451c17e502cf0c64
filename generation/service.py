"""The async generation service: a queue in front of one worker thread that owns the GPU.

The event loop never blocks: `await service.generate(request)` enqueues and waits on a future the worker settles.
Requests that arrive together and share size/steps/guidance (and IP-Adapter scale) run as one batch, whatever
persona they belong to.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path

from generation.devices import is_out_of_memory, release_cached_memory
from generation.engine import Engine, PreparedRequest
from generation.errors import (
    GenerationError,
    GenerationFailed,
    OutOfMemoryError,
    QueueFullError,
    ServiceClosedError,
)
from generation.request import GenerationRequest, GenerationResult
from generation.schedulers import with_scheduler
from generation.training import RunState, StepReport, TrainingRun

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProgressEvent:
    """What a waiting caller hears: its queue position, the start of its batch, and each denoising step."""

    stage: str  # "queued" | "started" | "step"
    position: int = 0  # 1-based place in the queue while queued
    step: int = 0
    total: int = 0
    batch_size: int = 1
    preview: bytes | None = None  # a small PNG of the picture so far, every few steps (generation/preview.py)


ProgressCallback = Callable[[ProgressEvent], None]


@dataclass(eq=False)
class _Job:
    request: GenerationRequest
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    on_progress: ProgressCallback | None
    number: int
    owner: Hashable = None
    solo: bool = False  # never shares a pipeline call
    enqueued_at: float = field(default_factory=time.monotonic)
    cancelled: bool = False

    @property
    def group(self) -> tuple:
        """Jobs of one group can share a pipeline call."""
        request = self.request
        reference_scale = request.ip_scale if request.reference_path else None
        return (*request.batch_key, reference_scale)

    def notify(self, event: ProgressEvent) -> None:
        if self.on_progress is None or self.cancelled:
            return
        self.loop.call_soon_threadsafe(_call_safely, self.on_progress, event)

    def settle(self, result: GenerationResult | None = None, error: BaseException | None = None) -> None:
        self.loop.call_soon_threadsafe(_settle, self.future, result, error)


def _group_of(owner: Hashable) -> Hashable:
    """The fairness group of an owner: `group` for `(group, member)`, else the owner itself."""
    if isinstance(owner, tuple) and len(owner) == 2:
        return ("group", owner[0])
    return ("owner", owner)


def _call_safely(callback: ProgressCallback, event: ProgressEvent) -> None:
    try:
        callback(event)
    except Exception:
        log.exception("progress callback failed")


def _settle(future: asyncio.Future, result, error) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class GenerationService:
    """Serves GenerationRequests on `engine` from one worker thread.

    `max_batch` bounds how many pictures share one pipeline call (default 1 on the CPU, where batching buys nothing,
    4 on CUDA). `batch_window_s` is how long the worker waits for companions before starting a batch.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        max_batch: int | None = None,
        batch_window_s: float = 0.02,
        max_queue: int = 256,
    ) -> None:
        self.engine = engine
        on_gpu = engine.device.type == "cuda"
        self.max_batch = max_batch or (4 if on_gpu else 1)
        self.batch_window_s = batch_window_s if self.max_batch > 1 else 0.0
        self.max_queue = max_queue
        self._pending: list[_Job] = []
        self._condition = threading.Condition()
        self._numbers = itertools.count(1)
        self._closing = False
        self._served = 0
        self._last_served: dict[Hashable, int] = {}  # owner -> serving tick of their latest job
        self._group_last_served: dict[Hashable, int] = {}  # owner group (e.g. server) -> the same
        self.completed = 0
        self.failed = 0
        self._training: _TrainingSlot | None = None  # one LoRA training at a time (see `train`)
        self._thread = threading.Thread(target=self._work, name="selfiebot-generation", daemon=True)
        self._thread.start()

    # ----- event-loop side -------------------------------------------------------------------------------------

    @property
    def queued(self) -> int:
        with self._condition:
            return sum(1 for job in self._pending if not job.cancelled)

    async def generate(
        self,
        request: GenerationRequest,
        on_progress: ProgressCallback | None = None,
        owner: Hashable = None,
        solo: bool = False,
    ) -> GenerationResult:
        """Queue `request` and wait for its picture. Cancelling the awaiting task withdraws a queued request.
        `solo`: in a pipeline call of its own (see `GenerationBackend.generate`).

        Requests are served round-robin between owners, so nobody waits behind another owner's burst. An owner
        `(group, member)` (e.g. `(guild_id, user_id)`) is served round-robin between groups first, then between
        members of a group. Without an owner, in arrival order.
        """
        request = with_scheduler(request, self.engine.default_scheduler)  # the report names the real sampler
        loop = asyncio.get_running_loop()
        job = _Job(request, loop.create_future(), loop, on_progress, next(self._numbers), owner, solo)
        with self._condition:
            if self._closing:
                raise ServiceClosedError("generation service is closing; request not queued")
            if len(self._pending) >= self.max_queue:
                raise QueueFullError(f"generation queue is full ({self.max_queue} pending)", limit=self.max_queue)
            self._pending.append(job)
            position = self._fair_order().index(job) + 1
            self._condition.notify()
        job.notify(ProgressEvent("queued", position=position))
        try:
            return await job.future
        except asyncio.CancelledError:
            job.cancelled = True
            with self._condition:
                if job in self._pending:
                    self._pending.remove(job)
            raise

    async def close(self) -> None:
        """Stop taking work, fail what is still queued, and wait for the running batch to finish."""
        with self._condition:
            self._closing = True
            leftovers, self._pending = self._pending, []
            self._condition.notify_all()
        for job in leftovers:
            job.settle(error=ServiceClosedError("generation service closed before this request started"))
        await asyncio.to_thread(self._thread.join)

    # ----- worker side -----------------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._condition:
                while not self._pending and not self._closing and self._training is None:
                    self._condition.wait()
                if self._closing and not self._pending:
                    self._stop_training()
                    return
                training = self._training if not self._pending else None
            if training is not None:
                self._train_step(training)  # only when no picture waits: selfies always go first
                continue
            if self.batch_window_s:
                time.sleep(self.batch_window_s)  # let requests that arrive together share the call
            with self._condition:
                batch = self._take_batch()
                waiting = self._fair_order()
            for position, job in enumerate(waiting, start=1):
                job.notify(ProgressEvent("queued", position=position))
            if batch:
                self._serve(batch)

    def _fair_order(self) -> list[_Job]:
        """Pending jobs in serving order. Call with the condition held.

        Two levels of round-robin: the group served longest ago goes first (an owner `(group, member)` belongs to
        `group`, e.g. a server; any other owner is a group of its own), and inside it the member served longest ago
        (e.g. a user); each turn takes that member's oldest job. A busy server's burst therefore waits behind one
        job of each other server, and one user's burst behind one job of each other user of the same server."""
        queues: dict[Hashable, dict[Hashable, list[_Job]]] = {}
        for job in self._pending:
            if not job.cancelled:
                queues.setdefault(_group_of(job.owner), {}).setdefault(job.owner, []).append(job)
        group_tick = {group: self._group_last_served.get(group, 0) for group in queues}
        owner_tick = {owner: self._last_served.get(owner, 0) for members in queues.values() for owner in members}
        tick = self._served
        order: list[_Job] = []
        while queues:
            group = min(queues, key=lambda g: (group_tick[g], min(jobs[0].number for jobs in queues[g].values())))
            members = queues[group]
            owner = min(members, key=lambda o: (owner_tick[o], members[o][0].number))
            order.append(members[owner].pop(0))
            tick += 1
            group_tick[group] = owner_tick[owner] = tick
            if not members[owner]:
                del members[owner]
                if not members:
                    del queues[group]
        return order

    def _take_batch(self) -> list[_Job]:
        """The next job in fair order plus compatible ones. A LoRA file appears at one scale per batch."""
        order = self._fair_order()
        self._pending = [job for job in self._pending if not job.cancelled]
        if not order:
            return []
        first = order[0]
        batch: list[_Job] = []
        lora_scales: dict[str, float] = {}
        for job in order:
            if len(batch) == self.max_batch or (batch and first.solo):
                break
            if job is not first and (job.group != first.group or job.solo):
                continue
            lora = str(job.request.lora_path) if job.request.lora_path else None
            if lora is not None and lora_scales.setdefault(lora, job.request.lora_scale) != job.request.lora_scale:
                continue
            batch.append(job)
        for job in batch:
            self._pending.remove(job)
            self._served += 1
            self._last_served[job.owner] = self._served
            self._group_last_served[_group_of(job.owner)] = self._served
        return batch

    def _serve(self, batch: list[_Job]) -> None:
        started = time.monotonic()
        prepared: list[tuple[_Job, PreparedRequest]] = []
        pinned: set[str] = set()
        for job in batch:
            job.notify(ProgressEvent("started", batch_size=len(batch)))
            try:
                item = self.engine.prepare(job.request, pinned)
            except Exception as error:
                self._fail(job, error)
                continue
            if item.adapter:
                pinned.add(item.adapter)
            prepared.append((job, item))
        if prepared:
            self._run(prepared, started)

    def _run(self, prepared: list[tuple[_Job, PreparedRequest]], started: float) -> None:
        jobs = [job for job, _ in prepared]

        def on_step(step: int, total: int) -> None:
            for job in jobs:
                job.notify(ProgressEvent("step", step=step, total=total, batch_size=len(jobs)))

        def on_preview(step: int, total: int, pictures: list[bytes]) -> None:
            for job, picture in zip(jobs, pictures, strict=True):
                job.notify(ProgressEvent("step", step=step, total=total, batch_size=len(jobs), preview=picture))

        try:
            images = self.engine.run(
                [item for _, item in prepared],
                on_step=on_step,
                should_stop=lambda: all(j.cancelled for j in jobs),
                on_preview=on_preview,
            )
        except Exception as error:
            release_cached_memory(self.engine.device)
            if len(prepared) > 1:
                # Retry one by one: an out-of-memory batch may fit alone, and a bad request then fails alone.
                log.warning("batch of %d failed (%s); retrying one at a time", len(prepared), error)
                for pair in prepared:
                    self._run([pair], time.monotonic())
                return
            self._fail(jobs[0], error)
            return
        finished = time.monotonic()
        for (job, item), image in zip(prepared, images, strict=True):
            result = GenerationResult(
                image=image,
                request=job.request,
                model=self.engine.model_label,
                queue_wait_s=started - job.enqueued_at,
                generation_s=finished - started,
                batch_size=len(prepared),
                lora_hash=item.lora_hash,
                reference_hash=item.reference_hash,
            )
            self.completed += 1
            job.settle(result)

    def _fail(self, job: _Job, error: BaseException) -> None:
        self.failed += 1
        if is_out_of_memory(error):
            user_error: GenerationError = OutOfMemoryError(
                f"GPU ran out of memory at {job.request.width}x{job.request.height}, {job.request.steps} steps"
            )
        elif isinstance(error, GenerationError):
            user_error = error
        else:
            log.error("generation failed for %s", job.request.parameters(), exc_info=error)
            user_error = GenerationFailed(f"pipeline failed: {type(error).__name__}: {error}")
        if user_error is not error:
            user_error.__cause__ = error
        job.settle(error=user_error)

    # ----- LoRA training (one at a time, between pictures) --------------------------------------------------------

    @property
    def training_busy(self) -> bool:
        with self._condition:
            return self._training is not None

    async def train(
        self,
        start: Callable[[], TrainingRun],
        *,
        export_to: Path | None = None,
        on_progress: Callable[[StepReport], None] | None = None,
        cancel_event: threading.Event | None = None,
    ) -> RunState:
        """Train in the worker thread, one `TrainingRun.step()` whenever no picture request is waiting.

        `start` builds the run on the worker (building one changes the serving pipeline, so it must not happen while
        a picture renders; pass `before_step=engine.switch_ip_adapter_off`). FINISHED: the LoRA is written to
        `export_to`; CANCELLED: `cancel_event` was set (checked before every step) or the awaiting task was
        cancelled. Either way the run is closed on the worker, which takes its adapter out of the pipeline. A second
        training while one runs raises TrainingBusy; when the service closes, the run checkpoints and this raises
        ServiceClosedError (resume it later from the checkpoint)."""
        loop = asyncio.get_running_loop()
        slot = _TrainingSlot(
            start, export_to, on_progress, cancel_event or threading.Event(), loop.create_future(), loop
        )
        with self._condition:
            if self._closing:
                raise ServiceClosedError("generation service is closing; training not started")
            if self._training is not None:
                raise TrainingBusy("a LoRA training is already running on this device")
            self._training = slot
            self._condition.notify()
        try:
            return await slot.future
        except asyncio.CancelledError:
            slot.cancel_event.set()  # the worker closes the run before its next step
            raise

    def _train_step(self, slot: _TrainingSlot) -> None:
        try:
            if slot.run is None:
                slot.run = slot.start()
            if slot.cancel_event.is_set():
                self._end_training(slot, RunState.CANCELLED)
                return
            if not slot.run.finished:
                report = slot.run.step()
                if slot.on_progress is not None:
                    slot.loop.call_soon_threadsafe(_call_safely, slot.on_progress, report)
            if slot.run.finished:
                if slot.export_to is not None:
                    slot.run.export(slot.export_to)
                self._end_training(slot, RunState.FINISHED)
        except Exception as error:
            release_cached_memory(self.engine.device)
            log.error("LoRA training failed", exc_info=error)
            self._end_training(slot, error=error)

    def _end_training(self, slot: _TrainingSlot, state: RunState | None = None, error: BaseException | None = None):
        if slot.run is not None:
            try:
                slot.run.close()
            except Exception:
                log.exception("closing a training run failed")
        with self._condition:
            if self._training is slot:
                self._training = None
        slot.loop.call_soon_threadsafe(_settle, slot.future, state, error)

    def _stop_training(self) -> None:
        """The service is closing: checkpoint the running training (if it has started) and end it."""
        slot = self._training
        if slot is None:
            return
        if slot.run is not None and slot.run.checkpoint_dir is not None and slot.run.step_count:
            try:
                slot.run.save_checkpoint()
            except Exception:
                log.exception("could not checkpoint the training run while closing")
        self._end_training(slot, error=ServiceClosedError("generation service closed during LoRA training"))


class TrainingBusy(GenerationError):
    """A LoRA training is already running on this service's device; one at a time."""


@dataclass(eq=False)
class _TrainingSlot:
    start: Callable[[], TrainingRun]
    export_to: Path | None
    on_progress: Callable[[StepReport], None] | None
    cancel_event: threading.Event
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    run: TrainingRun | None = None
