"""Speed options: the always-on speed LoRA beside persona LoRAs, compile, offload/VAE tiling, previews, settings."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
import torch
from PIL import Image

from generation.speed import SPEED_LORA_GUIDANCE, SPEED_LORA_STEPS, OffloadMode, SpeedOptions, load_engine
from tests.generation.conftest import max_pixel_difference, tiny_request


def speed_lora_file(kit) -> Path:
    return next(path for path in kit.loras if path.stem == "soft-light")  # adapts the UNet and the text encoder


def persona_lora_files(kit) -> list[Path]:
    return [path for path in kit.loras if path.stem in ("freckles", "watercolor")]


def diffusers_with_adapters(kit, request, adapters: list[tuple[Path, float]]) -> Image.Image:
    """diffusers' own pipeline with every LoRA loaded and `set_adapters` weighting them (the documented way)."""
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(str(kit.pipeline), safety_checker=None)
    pipe.set_progress_bar_config(disable=True)
    names = []
    for index, (path, _) in enumerate(adapters):
        pipe.load_lora_weights(str(path), adapter_name=f"a{index}")
        names.append(f"a{index}")
    if names:
        pipe.set_adapters(names, [scale for _, scale in adapters])
    return pipe(
        request.prompt,
        negative_prompt=request.negative_prompt,
        num_inference_steps=request.steps,
        guidance_scale=request.guidance,
        width=request.width,
        height=request.height,
        generator=torch.Generator("cpu").manual_seed(request.seed),
    ).images[0]


@pytest.fixture(scope="module")
def speed_engine(demo_kit, tmp_path_factory):
    options = SpeedOptions(speed_lora=speed_lora_file(demo_kit), speed_lora_scale=0.7, preview=False)
    return load_engine(
        model=str(demo_kit.pipeline), device="cpu", data_dir=tmp_path_factory.mktemp("speed"), options=options
    )


def test_speed_lora_combines_with_persona_loras_like_diffusers(speed_engine, demo_kit):
    freckles, watercolor = persona_lora_files(demo_kit)
    requests = [
        tiny_request(seed=11, lora_path=freckles, lora_scale=0.8),
        tiny_request(seed=12, lora_path=watercolor, lora_scale=1.0),
        tiny_request(seed=13),
    ]
    batched = speed_engine.run([speed_engine.prepare(r) for r in requests])
    speed = (speed_lora_file(demo_kit), 0.7)
    for request, picture in zip(requests, batched, strict=True):
        adapters = [speed] + ([(request.lora_path, request.lora_scale)] if request.lora_path else [])
        expected = diffusers_with_adapters(demo_kit, request, adapters)
        # Fused weights round differently from a separate LoRA branch: at most one pixel level apart.
        assert max_pixel_difference(picture, expected) <= 1
    # The speed LoRA really acts: without it the picture is another.
    plain = diffusers_with_adapters(demo_kit, requests[2], [])
    assert max_pixel_difference(batched[2], plain) > 8


def test_speed_lora_settings_bring_fitting_defaults(demo_kit, tmp_path):
    options = SpeedOptions.from_env({"SPEED_LORA": str(speed_lora_file(demo_kit)), "SCHEDULER": "lcm"})
    assert options.default_steps == SPEED_LORA_STEPS and options.default_guidance == SPEED_LORA_GUIDANCE
    assert options.scheduler.value == "lcm" and options.speed_lora_scale == 1.0
    assert SpeedOptions.from_env({}).default_steps is None
    not_safetensors = tmp_path / "speed.ckpt"
    not_safetensors.write_bytes(b"x")
    for values, words in [
        ({"SPEED_LORA": str(not_safetensors)}, "SPEED_LORA must be a .safetensors"),
        ({"SPEED_LORA": str(tmp_path / "missing.safetensors")}, "does not exist"),
        ({"SPEED_LORA_SCALE": "lots"}, "SPEED_LORA_SCALE must be a number"),
        ({"COMPILE": "maybe"}, "COMPILE must be one of off, on"),
        ({"OFFLOAD": "disk"}, "OFFLOAD must be one of none, model, sequential"),
        ({"SCHEDULER": "plms"}, "SCHEDULER"),
        ({"PREVIEW": "sometimes"}, "PREVIEW must be on or off"),
    ]:
        with pytest.raises(ValueError, match=words):
            SpeedOptions.from_env(values)


def test_offload_needs_a_gpu_and_vae_tiling_keeps_the_picture(demo_kit, engine, tmp_path):
    with pytest.raises(ValueError, match="OFFLOAD=model needs a CUDA device"):
        load_engine(
            model=str(demo_kit.pipeline),
            device="cpu",
            data_dir=tmp_path,
            options=SpeedOptions(offload=OffloadMode.MODEL),
        )
    tiled = load_engine(
        model=str(demo_kit.pipeline), device="cpu", data_dir=tmp_path, options=SpeedOptions(vae_tiling=True)
    )
    assert tiled.pipe.vae.use_tiling and tiled.pipe.vae.use_slicing
    request = tiny_request(seed=4)
    # Pictures smaller than a tile decode in one piece: the same picture.
    assert max_pixel_difference(tiled.run([tiled.prepare(request)])[0], engine.run([engine.prepare(request)])[0]) == 0


def test_previews_come_every_few_steps_and_never_at_the_last(demo_kit, tmp_path):
    previewing = load_engine(model=str(demo_kit.pipeline), device="cpu", data_dir=tmp_path, options=SpeedOptions())
    seen: list[tuple[int, int, list[bytes]]] = []
    requests = [tiny_request(seed=1, steps=4), tiny_request(seed=2, steps=4)]
    previewing.run(
        [previewing.prepare(r) for r in requests], on_preview=lambda step, total, pngs: seen.append((step, total, pngs))
    )
    total = seen[0][1]
    assert [step for step, _, _ in seen] == list(range(1, total))  # every step of a short run except the final one
    for _, _, pictures in seen:
        assert len(pictures) == 2
        image = Image.open(io.BytesIO(pictures[0]))
        assert image.format == "PNG" and image.size == (8, 8)  # the latent grid: 64 px / 8
    assert seen[-1][2][0] != seen[-1][2][1]  # each sample its own preview


@pytest.mark.skipif(os.environ.get("SELFIEBOT_SKIP_COMPILE") == "1", reason="SELFIEBOT_SKIP_COMPILE=1")
def test_inductor_compiled_unet_draws_the_same_pictures_and_switches_personas_without_compiling(
    demo_kit, engine, tmp_path
):
    from generation.compile import compile_unet
    from generation.lora_slots import LoraSlots

    compiled = load_engine(
        model=str(demo_kit.pipeline), device="cpu", data_dir=tmp_path, options=SpeedOptions(preview=False)
    )
    compiled.adapters.attach_slots(LoraSlots(compiled.pipe.unet, compiled.adapters.capacity))
    freckles, watercolor = persona_lora_files(demo_kit)
    first = tiny_request(seed=8, lora_path=freckles, lora_scale=0.9)
    # One graph only (real inductor code generation takes minutes on a 2-core CPU): a persona picture at batch 1.
    # compile_engine's full warm-up, with every variant, is counted with dynamo's eager backend in test_lora_slots.
    report = compile_unet(compiled.pipe, warm_up=lambda: compiled.run([compiled.prepare(first)]))
    assert report.graphs == 1 and report.graph_breaks == 0
    for request in [tiny_request(seed=9, lora_path=watercolor), first]:  # a new persona, then switching back
        got = compiled.run([compiled.prepare(request)])[0]
        # Inductor fuses and reorders float operations: pictures within 2 of 255 levels of eager ones.
        assert max_pixel_difference(got, engine.run([engine.prepare(request)])[0]) <= 2
    assert report.graphs_since_warm_up() == 0


def test_a_tiny_vae_draws_sharper_previews_at_picture_size(engine, tmp_path):
    from diffusers import AutoencoderTiny

    from generation.preview import LatentPreviewer

    torch.manual_seed(0)
    tiny = AutoencoderTiny(encoder_block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8))
    tiny.save_pretrained(tmp_path / "taesd")
    previewer = LatentPreviewer(engine.pipe, tiny_vae_path=tmp_path / "taesd")
    latents = torch.randn(2, 4, 8, 8, generator=torch.Generator("cpu").manual_seed(1))
    pictures = previewer.pictures(latents)
    assert [Image.open(io.BytesIO(p)).size for p in pictures] == [(64, 64), (64, 64)]  # decoded, not the 8 px grid
    assert pictures[0] != pictures[1]
