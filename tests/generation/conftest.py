"""Fixtures for the generation tests: one demo kit and one engine per test session (building them takes seconds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from generation.demo_kit import DemoKit, ensure_demo_kit
from generation.engine import Engine
from generation.loading import load_pipeline
from generation.request import GenerationRequest


@pytest.fixture(scope="session")
def demo_kit(tmp_path_factory) -> DemoKit:
    return ensure_demo_kit(tmp_path_factory.mktemp("models"))


def make_engine(kit: DemoKit, cache_dir: Path | None = None, lora_capacity: int = 8) -> Engine:
    loaded = load_pipeline(str(kit.pipeline), torch.device("cpu"), torch.float32, Path("unused"))
    return Engine(loaded, ip_adapter=kit.ip_adapter, lora_capacity=lora_capacity, cache_dir=cache_dir)


@pytest.fixture(scope="session")
def engine(demo_kit, tmp_path_factory) -> Engine:
    return make_engine(demo_kit, tmp_path_factory.mktemp("engine-cache"))


def tiny_request(prompt: str = "a selfie of a woman with red hair", seed: int = 7, **overrides) -> GenerationRequest:
    values = {"steps": 2, "width": 64, "height": 64, "guidance": 6.0}
    values.update(overrides)
    return GenerationRequest(prompt=prompt, seed=seed, **values)


def max_pixel_difference(a: Image.Image, b: Image.Image) -> int:
    return int(np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16)).max())


def diffusers_reference_picture(
    kit: DemoKit, request: GenerationRequest, pipeline_class=None, ip_adapter: Path | None = None
) -> Image.Image:
    """What diffusers' own pipeline draws for `request`, set up the documented way, on a fresh pipeline."""
    from diffusers import StableDiffusionPipeline

    pipeline_class = pipeline_class or StableDiffusionPipeline
    no_checker = {"safety_checker": None, "requires_safety_checker": False}
    pipe = pipeline_class.from_pretrained(
        str(kit.pipeline), **(no_checker if pipeline_class is StableDiffusionPipeline else {})
    )
    pipe.set_progress_bar_config(disable=True)
    extra = {}
    if request.lora_path:
        pipe.load_lora_weights(str(request.lora_path), adapter_name="persona")
        pipe.set_adapters(["persona"], [request.lora_scale])
    if request.reference_path:
        ip_file = ip_adapter or kit.ip_adapter / "ip-adapter.safetensors"
        pipe.load_ip_adapter(
            str(ip_file.parent), subfolder="", weight_name=ip_file.name, image_encoder_folder="image_encoder"
        )
        pipe.set_ip_adapter_scale(request.ip_scale)
        extra["ip_adapter_image"] = Image.open(request.reference_path)
    return pipe(
        request.prompt,
        negative_prompt=request.negative_prompt,
        num_inference_steps=request.steps,
        guidance_scale=request.guidance,
        width=request.width,
        height=request.height,
        generator=torch.Generator("cpu").manual_seed(request.seed),
        **extra,
    ).images[0]
