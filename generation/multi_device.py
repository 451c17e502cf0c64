"""Several devices in one process (`DEVICE=cuda:0,cuda:1`): one engine and one worker per device, one `generate`.

`MultiDeviceService` has the surface of `GenerationService` (the `GenerationBackend` protocol): each request goes to
the device with the fewest requests in flight (an idle one first, the first listed on ties), where that device's
service batches it with its companions. Pictures equal those of one device because every sample draws its noise
from its own CPU generator, whatever device denoises it. Fairness between owners holds per device; with requests
spread over idle devices first, nobody waits behind a busy device while another is free.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Hashable
from pathlib import Path

from generation.request import GenerationRequest, GenerationResult
from generation.service import GenerationService, ProgressCallback


def device_list(setting: str) -> list[str]:
    """`cuda:0,cuda:1` -> ["cuda:0", "cuda:1"]; a single device -> a list of one."""
    devices = [part.strip() for part in (setting or "auto").split(",") if part.strip()]
    return devices or ["auto"]


class MultiDeviceService:
    """Requests spread over several `GenerationService`s, each on its own device."""

    def __init__(self, services: list[GenerationService]) -> None:
        if not services:
            raise ValueError("MultiDeviceService needs at least one service")
        self.services = services
        self._in_flight = [0] * len(services)
        self.dispatched = [0] * len(services)  # requests sent to each device so far

    @property
    def engine(self):
        """Facts about the model (every device holds the same one)."""
        return self.services[0].engine

    @property
    def queued(self) -> int:
        return sum(service.queued for service in self.services)

    @property
    def completed(self) -> int:
        return sum(service.completed for service in self.services)

    @property
    def failed(self) -> int:
        return sum(service.failed for service in self.services)

    def __getattr__(self, name: str):
        # Anything else (e.g. LoRA training, which runs on one device) belongs to the first device's service.
        return getattr(self.services[0], name)

    async def generate(
        self,
        request: GenerationRequest,
        on_progress: ProgressCallback | None = None,
        owner: Hashable = None,
        solo: bool = False,
    ) -> GenerationResult:
        index = min(range(len(self.services)), key=lambda i: (self._in_flight[i], i))
        self._in_flight[index] += 1
        self.dispatched[index] += 1
        try:
            return await self.services[index].generate(request, on_progress=on_progress, owner=owner, solo=solo)
        finally:
            self._in_flight[index] -= 1

    async def close(self) -> None:
        await asyncio.gather(*(service.close() for service in self.services))


class _OneLoadAtATime:
    """An engine whose asset preparation (LoRA and reference loading) waits for the other devices' to finish.

    Loading a LoRA that adapts a text encoder goes through transformers' loading code, which patches process-wide
    state while it runs: two workers loading at once fail with "Parameter.__new__() got an unexpected keyword
    argument '_is_hf_initialized'". Denoising needs no lock and runs on every device at once.
    """

    def __init__(self, engine, lock: threading.Lock) -> None:
        self._engine = engine
        self._lock = lock

    def __getattr__(self, name: str):
        return getattr(self._engine, name)

    def __setattr__(self, name: str, value) -> None:
        if name in ("_engine", "_lock"):
            object.__setattr__(self, name, value)
        else:
            setattr(self._engine, name, value)

    def prepare(self, *args, **kwargs):
        with self._lock:
            return self._engine.prepare(*args, **kwargs)


def serve_engines(engines: list, *, max_batch: int | None = None, max_queue: int = 256):
    """One service per engine; a plain `GenerationService` when there is only one."""
    if len(engines) > 1:
        lock = threading.Lock()
        engines = [_OneLoadAtATime(engine, lock) for engine in engines]
    services = [GenerationService(engine, max_batch=max_batch, max_queue=max_queue) for engine in engines]
    return services[0] if len(services) == 1 else MultiDeviceService(services)


def load_engines(
    *, model: str, devices: list[str], data_dir: Path, options, ip_adapter=None, lora_capacity: int = 8, dtype="auto"
) -> list:
    """One engine per device, each with the speed options applied (generation.speed.load_engine)."""
    from generation.speed import load_engine

    return [
        load_engine(
            model=model,
            device=device,
            data_dir=data_dir,
            options=options,
            ip_adapter=ip_adapter,
            lora_capacity=lora_capacity,
            dtype=dtype,
        )
        for device in devices
    ]
