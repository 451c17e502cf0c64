"""LoRA training beyond the plain SD case: SDXL, text-encoder LoRAs, gradient checkpointing, the IP-Adapter guard."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from generation.demo_kit import ensure_demo_kit
from generation.engine import Engine
from generation.loading import load_pipeline
from generation.training import (
    DenoisingProbe,
    TrainingError,
    TrainingRun,
    TrainingSettings,
    training_set_from_pictures,
)
from tests.generation.conftest import diffusers_reference_picture, max_pixel_difference, tiny_request

TRIGGER = "ohwx"


def cpu_pipe(kit):
    return load_pipeline(str(kit.pipeline), torch.device("cpu"), torch.float32, Path("unused")).pipe


def settings(**changes) -> TrainingSettings:
    values = {"steps": 4, "rank": 4, "learning_rate": 1e-2, "resolution": 64}
    return TrainingSettings(TRIGGER, **{**values, **changes})


@pytest.fixture(scope="module")
def xl_kit(tmp_path_factory):
    return ensure_demo_kit(tmp_path_factory.mktemp("xl"), "tiny-xl")


@pytest.fixture(scope="module")
def training_set(demo_kit):
    return training_set_from_pictures([(path, None) for path in demo_kit.references], trigger=TRIGGER)


def test_sdxl_trains_with_both_text_encoders_and_loads_like_diffusers(xl_kit, training_set, tmp_path):
    from diffusers import StableDiffusionXLPipeline

    pipe = cpu_pipe(xl_kit)
    with TrainingRun(pipe, training_set, settings(train_text_encoder=True)) as run:
        run.run()
        out = run.export(tmp_path / "xl.safetensors")
    prefixes = {key.split(".")[0] for key in load_file(str(out))}
    assert prefixes == {"unet", "text_encoder", "text_encoder_2"}

    reference = StableDiffusionXLPipeline.from_pretrained(str(xl_kit.pipeline))
    probe = DenoisingProbe(reference, training_set, resolution=64)
    base = probe.loss()
    reference.load_lora_weights(str(out), adapter_name="persona")
    assert probe.loss() != pytest.approx(base, abs=1e-6)

    engine = Engine(load_pipeline(str(xl_kit.pipeline), torch.device("cpu"), torch.float32, Path("unused")))
    request = tiny_request(f"a photo of {TRIGGER} person", seed=2, lora_path=out)
    ours = engine.run([engine.prepare(request)])[0]
    assert max_pixel_difference(ours, diffusers_reference_picture(xl_kit, request, StableDiffusionXLPipeline)) == 0


def test_a_text_encoder_lora_is_written_and_loaded_for_sd(demo_kit, training_set, tmp_path):
    from diffusers import StableDiffusionPipeline

    pipe = cpu_pipe(demo_kit)
    with TrainingRun(pipe, training_set, settings(train_text_encoder=True)) as run:
        run.run()
        out = run.export(tmp_path / "te.safetensors")
    keys = load_file(str(out))
    assert any(key.startswith("text_encoder.") and ".self_attn.q_proj." in key for key in keys)
    reference = StableDiffusionPipeline.from_pretrained(str(demo_kit.pipeline), safety_checker=None)
    before = reference.encode_prompt(f"a photo of {TRIGGER} person", "cpu", 1, False)[0]
    reference.load_lora_weights(str(out), adapter_name="persona")
    after = reference.encode_prompt(f"a photo of {TRIGGER} person", "cpu", 1, False)[0]
    assert not torch.allclose(before, after)  # the text encoder's LoRA took effect


def test_gradient_checkpointing_trains_the_same_lora(demo_kit, training_set):
    pipe = cpu_pipe(demo_kit)
    results = []
    for checkpointing in (False, True):
        with TrainingRun(pipe, training_set, settings(gradient_checkpointing=checkpointing)) as run:
            run.run()
            results.append(run.lora_weights())
        assert not pipe.unet.is_gradient_checkpointing  # switched off again by close()
    plain, recomputed = results
    for key in plain:
        torch.testing.assert_close(plain[key], recomputed[key], rtol=0, atol=1e-6)


def test_a_unet_with_its_ip_adapter_on_is_refused_until_before_step_switches_it_off(demo_kit, training_set):
    pipe = cpu_pipe(demo_kit)
    pipe.load_ip_adapter(
        str(demo_kit.ip_adapter),
        subfolder="",
        weight_name="ip-adapter.safetensors",
        image_encoder_folder="image_encoder",
    )
    with TrainingRun(pipe, training_set, settings()) as run, pytest.raises(TrainingError, match="IP-Adapter"):
        run.step()
    with TrainingRun(pipe, training_set, settings(), before_step=pipe.unload_ip_adapter) as run:
        assert run.step().step == 1
