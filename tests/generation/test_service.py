"""The async service: batching across personas, progress, failures that stay contained, cancellation."""

from __future__ import annotations

import asyncio

import pytest
import torch

from generation.errors import GenerationError, InvalidAssetError, OutOfMemoryError, ServiceClosedError
from generation.service import GenerationService
from tests.generation.conftest import max_pixel_difference, tiny_request


class CountingEngine:
    """The real engine, with a record of each pipeline call and optional injected faults."""

    def __init__(self, engine, fail_when=None):
        self._engine = engine
        self.batches: list[list[str]] = []
        self.fail_when = fail_when

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def run(self, batch, **kwargs):
        self.batches.append([item.request.prompt for item in batch])
        if self.fail_when is not None:
            error = self.fail_when(batch)
            if error is not None:
                raise error
        return self._engine.run(batch, **kwargs)


@pytest.fixture
async def make_service(engine):
    services = []

    def start(**options):
        fail_when = options.pop("fail_when", None)
        counting = CountingEngine(engine, fail_when)
        service = GenerationService(counting, **options)
        services.append(service)
        return service, counting

    yield start
    for service in services:
        await service.close()


async def test_generate_reports_every_parameter_and_progress(make_service, demo_kit):
    service, _ = make_service()
    events = []
    request = tiny_request(seed=21, lora_path=demo_kit.loras[0], reference_path=demo_kit.references[0])
    result = await service.generate(request, on_progress=events.append)
    await asyncio.sleep(0)  # progress callbacks are scheduled on the loop
    report = result.report()
    assert result.image.size == (64, 64)
    assert report["seed"] == 21 and report["steps"] == 2 and report["lora_scale"] == 1.0
    assert len(report["lora_sha256"]) == 64 and len(report["reference_sha256"]) == 64
    assert report["batch_size"] == 1 and report["queue_wait_s"] >= 0 and report["generation_s"] > 0
    stages = [event.stage for event in events]
    assert stages[0] == "queued" and "started" in stages
    steps = [(event.step, event.total) for event in events if event.stage == "step"]
    assert steps[0][0] == 1 and steps[-1][0] == steps[-1][1] >= 2
    assert [step for step, _ in steps] == list(range(1, len(steps) + 1))


async def test_requests_arriving_together_share_one_batch_and_match_solo(make_service, demo_kit, engine):
    service, counting = make_service(max_batch=4, batch_window_s=0.2)
    loras = demo_kit.loras
    requests = [
        tiny_request("beach", seed=1),
        tiny_request("park", seed=2, lora_path=loras[0]),
        tiny_request("cafe", seed=3, lora_path=loras[1], lora_scale=0.5),
        tiny_request("gym", seed=4, lora_path=loras[2]),
    ]
    results = await asyncio.gather(*(service.generate(request) for request in requests))
    assert counting.batches == [["beach", "park", "cafe", "gym"]]
    assert [result.batch_size for result in results] == [4, 4, 4, 4]
    for request, result in zip(requests, results, strict=True):
        solo = engine.run([engine.prepare(request)])[0]
        assert max_pixel_difference(result.image, solo) <= 1


async def test_incompatible_requests_are_not_batched(make_service):
    service, counting = make_service(max_batch=4, batch_window_s=0.2)
    await asyncio.gather(
        service.generate(tiny_request("small", width=64)),
        service.generate(tiny_request("wide", width=96)),
    )
    assert sorted(map(tuple, counting.batches)) == [("small",), ("wide",)]


async def test_a_solo_request_never_shares_a_pipeline_call(make_service, engine):
    service, counting = make_service(max_batch=4, batch_window_s=0.2)
    solo = tiny_request("exact", seed=5)
    results = await asyncio.gather(
        service.generate(tiny_request("beach", seed=1)),
        service.generate(solo, solo=True),
        service.generate(tiny_request("park", seed=2)),
        service.generate(tiny_request("cafe", seed=3)),
    )
    assert sorted(map(tuple, counting.batches)) == [("beach", "park", "cafe"), ("exact",)]
    assert [result.batch_size for result in results] == [3, 1, 3, 3]
    # Exactly the picture its seed draws alone: what best of N's re-render and Details promise.
    assert max_pixel_difference(results[1].image, engine.run([engine.prepare(solo)])[0]) == 0


async def test_a_failing_request_fails_alone_and_the_service_keeps_serving(make_service, tmp_path):
    service, _ = make_service(max_batch=4, batch_window_s=0.2)
    bad_lora = tmp_path / "bad.safetensors"
    bad_lora.write_bytes(b"definitely not safetensors")
    outcomes = await asyncio.gather(
        service.generate(tiny_request("fine one", seed=1)),
        service.generate(tiny_request("bad lora", lora_path=bad_lora)),
        service.generate(tiny_request("fine two", seed=2)),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], InvalidAssetError)
    assert outcomes[0].image.size == outcomes[2].image.size == (64, 64)
    later = await service.generate(tiny_request("after the failure"))
    assert later.image.size == (64, 64)


async def test_a_crash_inside_a_batch_is_retried_one_by_one(make_service):
    def fail_for_poison(batch):
        if any(item.request.prompt == "poison" for item in batch):
            return RuntimeError("injected failure")
        return None

    service, counting = make_service(max_batch=4, batch_window_s=0.2, fail_when=fail_for_poison)
    outcomes = await asyncio.gather(
        service.generate(tiny_request("good", seed=1)),
        service.generate(tiny_request("poison", seed=2)),
        return_exceptions=True,
    )
    assert outcomes[0].image.size == (64, 64)
    assert isinstance(outcomes[1], GenerationError) and "injected failure" in str(outcomes[1])
    assert counting.batches[0] == ["good", "poison"] and ["good"] in counting.batches[1:]


async def test_out_of_memory_retries_at_batch_size_one_then_reports_clearly(make_service):
    def oom_for_batches_and_huge(batch):
        if len(batch) > 1 or batch[0].request.prompt == "huge":
            return torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return None

    service, _ = make_service(max_batch=4, batch_window_s=0.2, fail_when=oom_for_batches_and_huge)
    first, second = await asyncio.gather(
        service.generate(tiny_request("a", seed=1)), service.generate(tiny_request("b"))
    )
    assert first.batch_size == second.batch_size == 1
    with pytest.raises(OutOfMemoryError, match="ran out of memory"):
        await service.generate(tiny_request("huge"))
    assert (await service.generate(tiny_request("small again"))).image.size == (64, 64)


async def test_cancelling_a_queued_request_withdraws_it(make_service):
    service, counting = make_service()
    long_one = asyncio.create_task(service.generate(tiny_request("long", steps=12)))
    await asyncio.sleep(0.05)
    queued = asyncio.create_task(service.generate(tiny_request("withdrawn")))
    await asyncio.sleep(0.05)
    assert service.queued == 1
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert (await long_one).image.size == (64, 64)
    await service.generate(tiny_request("next"))
    assert ["withdrawn"] not in counting.batches
    assert counting.batches == [["long"], ["next"]]


async def test_queue_position_is_reported_while_waiting(make_service):
    service, _ = make_service()
    events = []
    first = asyncio.create_task(service.generate(tiny_request("first", steps=8)))
    await asyncio.sleep(0.05)
    second = await service.generate(tiny_request("second"), on_progress=events.append)
    await first
    positions = [event.position for event in events if event.stage == "queued"]
    assert positions and positions[0] == 1
    assert second.queue_wait_s > 0


async def test_closing_fails_queued_requests_clearly(make_service):
    service, _ = make_service()
    running = asyncio.create_task(service.generate(tiny_request("running", steps=8)))
    await asyncio.sleep(0.05)
    waiting = asyncio.create_task(service.generate(tiny_request("waiting")))
    await asyncio.sleep(0.01)
    await service.close()
    assert (await running).image.size == (64, 64)
    with pytest.raises(ServiceClosedError):
        await waiting
    with pytest.raises(ServiceClosedError):
        await service.generate(tiny_request("too late"))


async def test_owners_are_served_round_robin_not_in_arrival_order(make_service):
    service, counting = make_service()
    blocker = asyncio.create_task(service.generate(tiny_request("blocker", steps=8), owner="zoe"))
    await asyncio.sleep(0.05)
    burst = [asyncio.create_task(service.generate(tiny_request(f"ann {i}"), owner="ann")) for i in range(3)]
    await asyncio.sleep(0.01)
    positions = []
    bob = asyncio.create_task(
        service.generate(tiny_request("bob 0"), owner="bob", on_progress=lambda e: positions.append(e.position))
    )
    await asyncio.gather(blocker, bob, *burst)
    served = [prompt for (prompt,) in counting.batches]
    assert served == ["blocker", "ann 0", "bob 0", "ann 1", "ann 2"]
    assert positions[0] == 2  # told right away that only ann's first request is ahead


async def test_counting_prompt_tokens_while_generating_is_safe(make_service, engine):
    service, _ = make_service()
    drawing = asyncio.create_task(service.generate(tiny_request("a long one", steps=12)))
    counts = set()
    while not drawing.done():
        counts.add(engine.count_tokens("a selfie of a young woman with wavy auburn hair at the beach"))
        await asyncio.sleep(0)
    assert (await drawing).image.size == (64, 64)
    assert len(counts) == 1 and counts.pop() > 5


async def test_cancelling_a_running_request_stops_its_denoising_early(make_service):
    service, _ = make_service()
    steps_seen = []
    started = asyncio.Event()

    def on_progress(event):
        if event.stage == "step":
            steps_seen.append(event.step)
            started.set()

    running = asyncio.create_task(service.generate(tiny_request("stop me", steps=900), on_progress=on_progress))
    await asyncio.wait_for(started.wait(), 30)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    after = await service.generate(tiny_request("next"))  # free long before 900 steps (~10 s) are done
    assert after.image.size == (64, 64)
    assert after.queue_wait_s < 3
