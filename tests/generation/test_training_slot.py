"""The generation service's training slot: LoRA training in the worker thread, always yielding to pictures."""

from __future__ import annotations

import asyncio
import threading

import pytest
from safetensors.torch import load_file

from generation.service import GenerationService, TrainingBusy
from generation.training import RunState, TrainingRun, TrainingSettings, training_set_from_pictures
from generation.training.lora_layers import ADAPTER_NAME, all_lora_layers
from tests.generation.conftest import make_engine, tiny_request

TRIGGER = "ohwx"


class RecordingEngine:
    """The real engine; every pipeline call is written to `events` (from the worker thread) as ("picture", prompt)."""

    def __init__(self, engine, events: list) -> None:
        self._engine = engine
        self.events = events

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def run(self, batch, **kwargs):
        self.events.extend(("picture", item.request.prompt) for item in batch)
        return self._engine.run(batch, **kwargs)


@pytest.fixture(scope="module")
def engine(demo_kit, tmp_path_factory):
    return make_engine(demo_kit, tmp_path_factory.mktemp("slot-cache"))


@pytest.fixture(scope="module")
def training_set(demo_kit):
    pictures = [(path, None) for path in demo_kit.references]
    pictures += [(demo_kit.references[0], "smiling, at the beach")]
    return training_set_from_pictures(pictures, trigger=TRIGGER)


def starter(engine, training_set, steps: int, events: list | None = None, checkpoint_dir=None):
    settings = TrainingSettings(TRIGGER, steps=steps, rank=4, learning_rate=1e-2, resolution=64, checkpoint_every=2)
    runs: list[TrainingRun] = []

    def before_step() -> None:
        engine.switch_ip_adapter_off()
        if events is not None:
            events.append(("step", runs[0].step_count + 1))

    def start() -> TrainingRun:
        run = TrainingRun(
            engine.pipe, training_set, settings, checkpoint_dir=checkpoint_dir, resume=True, before_step=before_step
        )
        runs.append(run)
        return run

    return start, runs


def training_adapter_left(engine) -> bool:
    return any(ADAPTER_NAME in getattr(layer, "lora_A", {}) for layer in all_lora_layers(engine.pipe))


async def test_a_picture_asked_for_during_training_is_served_before_training_goes_on(
    engine, training_set, demo_kit, tmp_path
):
    events: list = []
    service = GenerationService(RecordingEngine(engine, events))
    start, runs = starter(engine, training_set, steps=24, events=events)
    pictures: list[asyncio.Task] = []

    def on_progress(report) -> None:
        if report.step == 3 and not pictures:
            events.append(("asked", report.step))
            # With a reference: the IP-Adapter comes on for the picture and goes off again for the next step.
            request = tiny_request("a selfie at the beach", reference_path=demo_kit.references[0])
            pictures.append(asyncio.ensure_future(service.generate(request)))

    try:
        state = await service.train(start, export_to=tmp_path / "new.safetensors", on_progress=on_progress)
        assert state is RunState.FINISHED
        assert pictures and (await pictures[0]).image.size == (64, 64)
    finally:
        await service.close()
    kinds = [kind for kind, _ in events]
    asked, served = kinds.index("asked"), kinds.index("picture")
    # At most the step that was already under way when the picture was asked for ran before it.
    assert kinds[asked:served].count("step") <= 1, events
    assert kinds[served + 1 :].count("step") > 0, "training went on after the picture"
    assert runs[0].step_count == 24
    weights = load_file(tmp_path / "new.safetensors")
    assert weights and all(key.endswith((".lora_A.weight", ".lora_B.weight")) for key in weights)
    assert not training_adapter_left(engine), "the training adapter was taken out of the pipeline"


async def test_one_training_at_a_time_and_cancel_stops_it_between_steps(engine, training_set, tmp_path):
    service = GenerationService(engine)
    cancel = threading.Event()
    start, runs = starter(engine, training_set, steps=200)
    second_start, second_runs = starter(engine, training_set, steps=2)
    refused: list[BaseException] = []

    async def try_second() -> None:
        try:
            await service.train(second_start)
        except TrainingBusy as error:
            refused.append(error)

    def on_progress(report) -> None:
        if report.step == 2:
            asyncio.ensure_future(try_second())
        if report.step == 4:
            cancel.set()

    try:
        state = await service.train(
            start, export_to=tmp_path / "never.safetensors", on_progress=on_progress, cancel_event=cancel
        )
        await asyncio.sleep(0)
        assert state is RunState.CANCELLED
        assert refused and not second_runs, "the second training was refused and never built"
        assert 4 <= runs[0].step_count < 200
        assert not (tmp_path / "never.safetensors").exists()
        assert not training_adapter_left(engine)
        # The slot is free again, and pictures still work.
        assert not service.training_busy
        assert (await service.generate(tiny_request())).image.size == (64, 64)
    finally:
        await service.close()


async def test_closing_the_service_checkpoints_a_running_training(engine, training_set, tmp_path):
    service = GenerationService(engine)
    checkpoints = tmp_path / "checkpoint"
    start, runs = starter(engine, training_set, steps=200, checkpoint_dir=checkpoints)
    progressed = asyncio.Event()
    training = asyncio.ensure_future(
        service.train(start, on_progress=lambda report: report.step >= 3 and progressed.set())
    )
    await asyncio.wait_for(progressed.wait(), 60)
    await service.close()
    with pytest.raises(Exception, match="closed during LoRA training"):
        await training
    assert not training_adapter_left(engine)

    # A new service resumes from where the first stopped.
    service = GenerationService(engine)
    resumed_start, resumed = starter(engine, training_set, steps=runs[0].step_count + 2, checkpoint_dir=checkpoints)
    try:
        assert await service.train(resumed_start) is RunState.FINISHED
    finally:
        await service.close()
    assert resumed[0].step_count == runs[0].step_count + 2
    assert len(resumed[0].losses) == resumed[0].step_count, "the losses before the restart came from the checkpoint"
