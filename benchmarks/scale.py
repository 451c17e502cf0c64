"""Latency and throughput of the generation backends on the demo model: the in-process service against the Ray
Serve backend with 1 and 2 CPU replicas. Prints one line per backend (p50/p90 latency, a burst's pictures per
second, warm-routing hits). `STEPS` (default 8), `THREADS` (torch threads) and `LOCAL_ONLY=1` tune it.

    .venv/bin/python benchmarks/scale.py
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from generation.demo_kit import ensure_demo_kit
from generation.engine import Engine
from generation.loading import load_pipeline
from generation.request import GenerationRequest
from generation.service import GenerationService

STEPS = int(os.environ.get("STEPS", 8))
N_SEQ = 20
N_BURST = 32


def request(kit, i: int, look: int | None = None) -> GenerationRequest:
    extra = {}
    if look is not None:
        extra = {"lora_path": kit.loras[look % 4], "reference_path": kit.references[(look // 4 + look) % 4]}
    return GenerationRequest(prompt=f"a selfie {i}", seed=i, steps=STEPS, width=64, height=64, guidance=6.0, **extra)


async def measure(kit, backend, label: str) -> None:
    await backend.generate(request(kit, 0, 0))  # warm
    latencies = []
    for i in range(N_SEQ):
        started = time.perf_counter()
        await backend.generate(request(kit, i, i % 2))
        latencies.append(time.perf_counter() - started)
    started = time.perf_counter()
    results = await asyncio.gather(
        *(backend.generate(request(kit, 100 + i, i % 8), owner=i % 5) for i in range(N_BURST))
    )
    wall = time.perf_counter() - started
    hits = [r.extra.get("look_was_resident") for r in results if "look_was_resident" in r.extra]
    hit = f"{sum(hits)}/{len(hits)}" if hits else "-"
    p50 = statistics.median(latencies) * 1000
    p90 = sorted(latencies)[int(0.9 * len(latencies))] * 1000
    print(
        f"{label:18s} p50 {p50:7.1f} ms  p90 {p90:7.1f} ms  burst {N_BURST} in {wall:5.2f} s = "
        f"{N_BURST / wall:5.1f} pictures/s  warm hits {hit}",
        flush=True,
    )


async def main() -> None:
    if os.environ.get("THREADS"):
        torch.set_num_threads(int(os.environ["THREADS"]))
    print("torch threads", torch.get_num_threads())
    work = Path(tempfile.mkdtemp(prefix="selfiebot-scale-"))
    kit = ensure_demo_kit(work / "models")
    loaded = load_pipeline(str(kit.pipeline), torch.device("cpu"), torch.float32, work / "data")
    local = GenerationService(Engine(loaded, ip_adapter=kit.ip_adapter))
    await measure(kit, local, "local")
    await local.close()
    if os.environ.get("LOCAL_ONLY"):
        return
    import ray
    from ray import serve

    from generation.ray_backend.client import RayGenerationBackend
    from generation.ray_backend.config import RayBackendConfig, ReplicaSettings, ScalingSettings

    ray.init(num_cpus=2, object_store_memory=80 << 20, include_dashboard=False, log_to_driver=False)
    for replicas in (1, 2):
        config = RayBackendConfig(
            app_name=f"scale-{replicas}",
            replica=ReplicaSettings(
                model=str(kit.pipeline),
                ip_adapter=str(kit.ip_adapter),
                device="cpu",
                dtype="float32",
                data_dir=str(work / "data"),
                speed={"PREVIEW": "off"},
            ),
            scaling=ScalingSettings(min_replicas=replicas, max_replicas=replicas, cpus_per_replica=0.5),
        )
        started = time.perf_counter()
        backend = await RayGenerationBackend.start(config)
        print(f"ray {replicas} replica(s) ready in {time.perf_counter() - started:.1f} s")
        await measure(kit, backend, f"ray {replicas} replica(s)")
        await backend.close()
        serve.delete(config.app_name)
    serve.shutdown()
    ray.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
