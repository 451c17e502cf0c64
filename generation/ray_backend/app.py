"""The Ray Serve application: replicas that each hold one Engine (on one GPU) behind a GenerationService.

Why a `GenerationService` inside each replica rather than `@serve.batch`: Serve's batching splits a batch by
multiplexed model id, so personas could never share a pipeline call, and it knows nothing of which requests fit one
call (size, steps, guidance, IP-Adapter scale, one scale per LoRA), of per-step progress, of withdrawing one queued
request, of retrying a failed batch one request at a time, or of round-robin between owners. The service does all
of that already, and it is what the local backend runs, so a replica draws the same pictures the same way.

Routing: every request for a look (its LoRA and reference, by content hash; `WireRequest.look_id`) carries that
look as Serve's multiplexed model id. A replica registers the look when it first serves it (`serve.multiplexed`,
`lora_capacity` looks per replica, least recently used forgotten), and Serve's router prefers replicas that report
it, so the LoRA stays loaded and the reference embeddings cached where the look's next request goes. A look new to
the cluster goes to the replica holding the fewest looks.

Build it with `build_app(ReplicaSettings, ScalingSettings)` or, from `serve_config.yaml`, through `app_builder`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ray import serve

from generation.engine import Engine
from generation.errors import GenerationError, GenerationFailed
from generation.ray_backend.assets import AssetCache
from generation.ray_backend.config import DEPLOYMENT_NAME, ReplicaSettings, ScalingSettings
from generation.ray_backend.wire import Failed, Finished, Progress, WireRequest, failure_of
from generation.service import GenerationService, ProgressEvent
from generation.speed import SpeedOptions, load_engine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelDescription:
    """What the bot's `ModelFacts` are built from, sent once at start-up."""

    model_label: str
    device: Any  # torch.device of the replica
    native_size: int
    supports_references: bool
    tokenizer: Any  # a copy of the pipeline's first tokenizer, for prompt token counts on the bot's side


@dataclass(frozen=True)
class RunRecord:
    """One pipeline call on a replica: how many denoising steps ran of how many (fewer: it was stopped)."""

    steps: int
    total: int
    batch_size: int


@dataclass(frozen=True)
class ReplicaStats:
    replica: str
    completed: int
    failed: int
    cancelled: int
    looks: list[str]  # looks this replica has served, least recently used first
    asset_fetches: int
    asset_hits: int
    adapter_loads: int
    reference_encodes: int
    runs: list[RunRecord]


class _Look:
    """A look registered with Serve's multiplexer on this replica; the warm state itself lives in the Engine's
    caches (resident LoRA adapter, reference embeddings), which hold the same number of looks."""

    def __init__(self, look_id: str) -> None:
        self.look_id = look_id
        self.served = 0


class _RecordingEngine:
    """The replica's Engine, recording how many steps each pipeline call ran (a stopped call runs fewer)."""

    def __init__(self, engine: Engine, runs: collections.deque) -> None:
        self._engine = engine
        self._runs = runs

    def __getattr__(self, name: str):
        return getattr(self._engine, name)

    def run(self, batch, on_step=None, **options):
        seen = {"step": 0, "total": 0}

        def counting(step: int, total: int) -> None:
            seen.update(step=step, total=total)
            if on_step is not None:
                on_step(step, total)

        try:
            return self._engine.run(batch, on_step=counting, **options)
        finally:
            self._runs.append(RunRecord(seen["step"], seen["total"], len(batch)))


class GenerationReplica:
    """One Serve replica: an Engine, its GenerationService, and the look and asset caches that feed it."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = ReplicaSettings.from_args(settings)
        context = serve.get_replica_context()
        self.replica = context.replica_id.to_full_id_str()  # also the replica actor's name in namespace "serve"
        data_dir = Path(self.settings.data_dir)
        engine = load_engine(
            model=self.settings.model,
            device=self.settings.device,
            data_dir=data_dir,
            options=SpeedOptions.from_env(self.settings.speed),
            ip_adapter=self.settings.ip_adapter,
            lora_capacity=self.settings.lora_capacity,
            dtype=self.settings.dtype,
            max_batch=self.settings.max_batch,
        )
        self.engine = engine
        self.runs: collections.deque[RunRecord] = collections.deque(maxlen=64)
        self.service = GenerationService(
            _RecordingEngine(engine, self.runs),  # type: ignore[arg-type]  # an Engine in all but name
            max_batch=self.settings.max_batch,
            max_queue=self.settings.max_queue,
        )
        self.assets = AssetCache(data_dir / "ray-assets")
        self.cancelled = 0
        self._looks: collections.OrderedDict[str, None] = collections.OrderedDict()

        async def register_look(look_id: str) -> _Look:
            self._looks[look_id] = None
            while len(self._looks) > self.settings.lora_capacity:
                self._looks.popitem(last=False)
            return _Look(look_id)

        # Set up per instance so the number of looks follows LORA_CACHE (Serve detects instance-level loaders).
        self._look = serve.multiplexed(max_num_models_per_replica=self.settings.lora_capacity)(register_look)
        log.info("replica %s serving %s on %s", self.replica, engine.model_label, engine.device)

    async def describe(self) -> ModelDescription:
        return ModelDescription(
            model_label=self.engine.model_label,
            device=self.engine.device,
            native_size=self.engine.native_size,
            supports_references=self.engine.supports_references,
            tokenizer=copy.deepcopy(self.engine.pipe.tokenizer),
        )

    async def stats(self) -> ReplicaStats:
        return ReplicaStats(
            replica=self.replica,
            completed=self.service.completed,
            failed=self.service.failed,
            cancelled=self.cancelled,
            looks=list(self._looks),
            asset_fetches=self.assets.fetches,
            asset_hits=self.assets.hits,
            adapter_loads=self.engine.adapters.loads,
            reference_encodes=self.engine.references.encodes if self.engine.references else 0,
            runs=list(self.runs),
        )

    async def generate(self, wire: WireRequest) -> AsyncIterator[Progress | Finished | Failed]:
        """Stream `Progress` events, then one `Finished` or `Failed`. Closing the stream (the bot cancelled, or
        went away) withdraws the request from this replica's queue, or stops its pipeline call."""
        look = serve.get_multiplexed_model_id()
        try:
            request = await self._local_request(wire)
            resident = False
            if look:
                registered = await self._look(look)
                self._looks.move_to_end(look)
                resident, registered.served = registered.served > 0, registered.served + 1
        except GenerationError as error:
            yield failure_of(error, replica=self.replica)
            return
        events: asyncio.Queue[ProgressEvent] = asyncio.Queue()
        drawing = asyncio.create_task(
            self.service.generate(request, on_progress=events.put_nowait, owner=wire.owner, solo=wire.solo)
        )
        try:
            while not drawing.done() or not events.empty():
                next_event = asyncio.ensure_future(events.get())
                await asyncio.wait({drawing, next_event}, return_when=asyncio.FIRST_COMPLETED)
                if next_event.done():
                    yield Progress(next_event.result())
                else:
                    next_event.cancel()
            result = drawing.result()
        except GenerationError as error:
            yield failure_of(error, replica=self.replica)
            return
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a defect here, not the request's fault: say so, keep the replica serving
            log.exception("replica %s failed a request", self.replica)
            yield failure_of(GenerationFailed(f"{type(error).__name__}: {error}"), replica=self.replica)
            return
        finally:
            if not drawing.done():
                self.cancelled += 1
                drawing.cancel()  # the service withdraws it, or stops the batch once nobody waits on it
                with contextlib.suppress(BaseException):
                    await drawing
        yield Finished(
            image=result.image,
            model=result.model,
            queue_wait_s=result.queue_wait_s,
            generation_s=result.generation_s,
            batch_size=result.batch_size,
            lora_hash=result.lora_hash,
            reference_hash=result.reference_hash,
            replica=self.replica,
            look_id=look,
            look_was_resident=resident,
        )

    async def _local_request(self, wire: WireRequest):
        lora = await self.assets.local_path(wire.lora) if wire.lora else None
        reference = await self.assets.local_path(wire.reference) if wire.reference else None
        return wire.to_request(lora_path=lora, reference_path=reference)

    async def check_health(self) -> None:
        """Serve restarts a replica whose check raises: the worker thread must be alive."""
        if not self.service._thread.is_alive():  # noqa: SLF001  # the service exposes no liveness yet
            raise RuntimeError(f"generation worker of {self.replica} has stopped")


def build_app(replica: ReplicaSettings, scaling: ScalingSettings, *, cluster_gpus: float = 0.0):
    """The Serve application for these settings (`serve.run(build_app(...), name=APP_NAME)`)."""
    deployment = serve.deployment(GenerationReplica, name=DEPLOYMENT_NAME)
    return deployment.options(**scaling.deployment_options(cluster_gpus=cluster_gpus)).bind(replica.to_args())


def app_builder(args: dict[str, Any]):
    """Entry point for `serve_config.yaml` (`import_path: generation.ray_backend.app:app_builder`).

    `args` are `ReplicaSettings` fields; replica count, GPUs and autoscaling come from the file's `deployments:`
    section, which overrides what is set here."""
    return serve.deployment(GenerationReplica, name=DEPLOYMENT_NAME).bind(ReplicaSettings.from_args(args).to_args())
