"""`RayGenerationBackend`: the bot's `GenerationBackend` when pictures are drawn on a Ray Serve cluster.

`start()` connects to the cluster (`address`), or starts a local Ray instance in this process when the address is
empty, and uses the running application or deploys it. `generate()` ships the request's persona files by content
hash, calls the replicas with the look as the multiplexed model id, and relays the replica's progress stream.

Failure policy: a replica that dies (or becomes unreachable) before its picture arrived gets the request tried once
more; Serve routes the retry to a live replica. A second loss is `ReplicaLostError`. A picture is returned at most
once (only a stream that ended without one is retried), so the bot never posts a request twice. Cancelling the
awaiting task cancels the stream, which reaches the replica and withdraws or stops the request there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from dataclasses import dataclass

from generation.errors import GenerationFailed, ModelLoadError, QueueFullError, ServiceClosedError
from generation.ray_backend.assets import AssetShipper
from generation.ray_backend.config import ATTEMPTS, RayBackendConfig, RayUnavailable
from generation.ray_backend.wire import AssetKind, Failed, Finished, Progress, WireRequest, error_from
from generation.request import GenerationRequest, GenerationResult
from generation.service import ProgressCallback, ProgressEvent

log = logging.getLogger(__name__)


class ReplicaLostError(GenerationFailed):
    """The replica drawing a request died, and so did the one it was retried on (`causes`: what each attempt saw)."""

    def __init__(self, message: str, *, causes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.causes = causes


class _ReplicaLost(Exception):
    """One attempt ended without a picture because its replica went away."""


@dataclass(frozen=True)
class RemoteModel:
    """`ModelFacts` of the model the replicas serve, from the description one replica sent at start-up."""

    model_label: str
    device: object  # torch.device of the replicas
    native_size: int
    supports_references: bool
    tokenizer: object

    def count_tokens(self, text: str) -> int:
        # Only the event loop calls this, so the tokenizer's per-call settings are never changed concurrently.
        return len(self.tokenizer(text, add_special_tokens=False, truncation=False).input_ids)


class RayGenerationBackend:
    """Draws pictures on the replicas of the Serve application `config.app_name`."""

    def __init__(self, config: RayBackendConfig, handle, model: RemoteModel, *, owns_ray: bool) -> None:
        self.config = config
        self._handle = handle
        self._model = model
        self._owns_ray = owns_ray
        self.assets = AssetShipper(budget_bytes=config.asset_cache_bytes)
        self._in_flight: set[object] = set()  # streams of requests not yet answered
        self._requests = 0  # requests taken and not yet answered (shipping assets, or on the cluster)
        self._closing = False
        self.completed = 0
        self.failed = 0
        self.retries = 0

    # ----- start and stop --------------------------------------------------------------------------------------

    @classmethod
    async def start(cls, config: RayBackendConfig) -> RayGenerationBackend:
        """Connect (or start Ray), make sure the application runs, and learn the model's facts."""
        try:
            import ray  # noqa: F401
            from ray import serve  # noqa: F401
        except ImportError as error:
            raise RayUnavailable(
                "GENERATION_BACKEND=ray needs Ray Serve: pip install 'selfiebot[ray]'", reason="not installed"
            ) from error
        owns_ray = await asyncio.to_thread(_connect, config)
        try:
            handle = await asyncio.to_thread(_application_handle, config)
            description = await handle.describe.remote()
        except BaseException:
            if owns_ray:
                await asyncio.to_thread(_shut_down_ray)
            raise
        if config.replica.model != description.model_label:
            log.warning(
                "the running application %s serves %s, not MODEL=%s; using it as it is",
                config.app_name,
                description.model_label,
                config.replica.model,
            )
        model = RemoteModel(
            model_label=description.model_label,
            device=description.device,
            native_size=description.native_size,
            supports_references=description.supports_references,
            tokenizer=description.tokenizer,
        )
        return cls(config, handle, model, owns_ray=owns_ray)

    async def close(self) -> None:
        """Stop taking work and cancel what is in flight (its awaiters get ServiceClosedError). A Ray instance this
        process started goes down with its replicas; an outside cluster keeps the application running."""
        self._closing = True
        for stream in list(self._in_flight):
            stream.cancel()
        for _ in range(100):  # let the cancelled awaiters see the closing state before Ray goes away
            if not self._in_flight:
                break
            await asyncio.sleep(0.01)
        self.assets.clear()
        if self._owns_ray:
            await asyncio.to_thread(_shut_down_ray)

    # ----- GenerationBackend -----------------------------------------------------------------------------------

    @property
    def engine(self) -> RemoteModel:
        return self._model

    @property
    def queued(self) -> int:
        """Requests this bot has taken and not yet answered (shipping assets, queued or being drawn)."""
        return self._requests

    async def generate(
        self,
        request: GenerationRequest,
        on_progress: ProgressCallback | None = None,
        owner: Hashable = None,
        solo: bool = False,
    ) -> GenerationResult:
        if self._closing:
            raise ServiceClosedError("generation backend is closing; request not queued")
        if self._requests >= self.config.max_queue:
            raise QueueFullError(
                f"{self._requests} requests in flight on the Ray cluster (limit {self.config.max_queue})",
                limit=self.config.max_queue,
            )
        self._requests += 1
        try:
            return await self._generate(request, on_progress, owner, solo)
        finally:
            self._requests -= 1

    async def _generate(
        self, request: GenerationRequest, on_progress: ProgressCallback | None, owner: Hashable, solo: bool
    ) -> GenerationResult:
        wire = await self._wire(request, owner, solo)
        lost: list[str] = []
        for attempt in range(1, ATTEMPTS + 1):
            if self._closing:
                raise ServiceClosedError("generation backend closed before this request started")
            try:
                finished = await self._attempt(wire, on_progress)
            except _ReplicaLost as error:
                lost.append(str(error))
                if attempt == ATTEMPTS:
                    self.failed += 1
                    raise ReplicaLostError(
                        f"the replicas drawing this request died {ATTEMPTS} times ({'; '.join(lost)})",
                        causes=tuple(lost),
                    ) from error.__cause__
                self.retries += 1
                log.warning("replica lost mid-request (%s); trying once more", error)
                continue
            self.completed += 1
            return GenerationResult(
                image=finished.image,
                request=request,
                model=finished.model,
                queue_wait_s=finished.queue_wait_s,
                generation_s=finished.generation_s,
                batch_size=finished.batch_size,
                lora_hash=finished.lora_hash,
                reference_hash=finished.reference_hash,
                extra={
                    "backend": "ray",
                    "replica": finished.replica,
                    "look_id": finished.look_id,
                    "look_was_resident": finished.look_was_resident,
                    "attempts": attempt,
                },
            )
        raise AssertionError("unreachable")

    # ----- one attempt -----------------------------------------------------------------------------------------

    async def _wire(self, request: GenerationRequest, owner: Hashable, solo: bool) -> WireRequest:
        try:
            lora = await self.assets.ship(AssetKind.LORA, request.lora_path) if request.lora_path else None
            reference = (
                await self.assets.ship(AssetKind.REFERENCE, request.reference_path) if request.reference_path else None
            )
        except OSError as error:  # the same failure the local service reports for a file it cannot read
            raise GenerationFailed(f"persona file could not be read: {type(error).__name__}: {error}") from error
        return WireRequest.of(request, lora=lora, reference=reference, owner=owner, solo=solo)

    async def _attempt(self, wire: WireRequest, on_progress: ProgressCallback | None) -> Finished:
        from ray import exceptions as ray_errors
        from ray.serve import exceptions as serve_errors

        stream = self._handle.options(stream=True, multiplexed_model_id=wire.look_id).generate.remote(wire)
        self._in_flight.add(stream)
        try:
            async for message in stream:
                if isinstance(message, Progress):
                    _tell(on_progress, message.event)
                elif isinstance(message, Finished):
                    return message
                elif isinstance(message, Failed):
                    self.failed += 1
                    raise error_from(message)
            raise _ReplicaLost("the replica's stream ended without a picture")
        except asyncio.CancelledError:
            stream.cancel()  # reaches the replica: the request is withdrawn there, or its pipeline call stopped
            raise
        except serve_errors.RequestCancelledError as error:
            if self._closing:
                raise ServiceClosedError("generation backend closed before this request finished") from error
            raise
        except serve_errors.BackPressureError as error:
            raise QueueFullError(f"the Ray Serve application refused more work: {error}") from error
        except (ray_errors.RayActorError, serve_errors.ReplicaUnavailableError) as error:
            raise _ReplicaLost(f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}") from error
        except ray_errors.RayError as error:
            self.failed += 1
            raise GenerationFailed(f"Ray Serve call failed: {type(error).__name__}: {error}") from error
        finally:
            self._in_flight.discard(stream)

    # ----- operations ------------------------------------------------------------------------------------------

    async def replica_stats(self, look_id: str = "") -> object:
        """Counters of one replica (the one Serve routes `look_id` to): `app.ReplicaStats`."""
        return await self._handle.options(multiplexed_model_id=look_id).stats.remote()


def _tell(on_progress: ProgressCallback | None, event: ProgressEvent) -> None:
    if on_progress is None:
        return
    try:
        on_progress(event)
    except Exception:
        log.exception("progress callback failed")


def _connect(config: RayBackendConfig) -> bool:
    """Connect this process to Ray; True when it started a local instance it must shut down later."""
    import ray

    if ray.is_initialized():
        return False  # someone in this process connected already (a test, an embedding application)
    if config.address:
        try:
            ray.init(address=config.address, log_to_driver=False)
        except Exception as error:
            raise RayUnavailable(
                f"could not connect to the Ray cluster at RAY_ADDRESS={config.address}: {error}", reason="unreachable"
            ) from error
        return False
    options = {"include_dashboard": False, "log_to_driver": False} | config.init_options
    ray.init(**options)
    return True


def _application_handle(config: RayBackendConfig):
    """A handle to the running application, deployed from `config` first when the cluster does not run it."""
    import ray
    from ray import serve

    try:
        return serve.get_app_handle(config.app_name)
    except Exception:  # not running (or Serve not started): deploy it
        pass
    from generation.ray_backend.app import build_app

    serve.start(proxy_location="Disabled")  # the bot calls through handles; no HTTP ingress needed
    gpus = float(ray.cluster_resources().get("GPU", 0))
    app = build_app(config.replica, config.scaling, cluster_gpus=gpus)
    try:
        return serve.run(app, name=config.app_name, route_prefix=None)
    except Exception as error:
        raise ModelLoadError(
            f"the Ray Serve application {config.app_name} did not start (MODEL={config.replica.model}): "
            f"{_replica_failure(config) or error}",
            source=config.replica.model,
        ) from error


def _replica_failure(config: RayBackendConfig) -> str:
    """The last line of the error a replica's constructor raised (Serve keeps it in the deployment's status)."""
    from ray import serve

    try:
        deployments = serve.status().applications[config.app_name].deployments
    except Exception:  # no status to read: the caller reports Serve's own error
        return ""
    for status in deployments.values():
        lines = [line.strip() for line in (status.message or "").splitlines() if line.strip()]
        errors = [line for line in lines if "Error" in line.split(":", 1)[0]]
        if errors:
            return errors[-1]
    return ""


def _shut_down_ray() -> None:
    import ray
    from ray import serve

    try:
        serve.shutdown()
    finally:
        ray.shutdown()
