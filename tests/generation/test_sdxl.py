"""The SDXL family goes through the same engine: loaded by folder, equal to diffusers, batched == solo."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from generation.demo_kit import ensure_demo_kit
from generation.engine import Engine
from generation.loading import load_pipeline
from tests.generation.conftest import diffusers_reference_picture, max_pixel_difference, tiny_request


@pytest.fixture(scope="module")
def xl_kit(tmp_path_factory):
    return ensure_demo_kit(tmp_path_factory.mktemp("xl"), "tiny-xl")


@pytest.fixture(scope="module")
def xl_engine(xl_kit):
    loaded = load_pipeline(str(xl_kit.pipeline), torch.device("cpu"), torch.float32, Path("unused"))
    return Engine(loaded, ip_adapter=xl_kit.ip_adapter)


def diffusers_xl_picture(kit, request):
    from diffusers import StableDiffusionXLPipeline

    return diffusers_reference_picture(kit, request, StableDiffusionXLPipeline)


def test_sdxl_folder_is_recognised(xl_engine):
    assert type(xl_engine.pipe).__name__ == "StableDiffusionXLPipeline"
    assert xl_engine.native_size == 64


def test_sdxl_persona_picture_equals_diffusers(xl_engine, xl_kit):
    request = tiny_request(seed=5, lora_path=xl_kit.loras[0], lora_scale=0.6, reference_path=xl_kit.references[0])
    ours = xl_engine.run([xl_engine.prepare(request)])[0]
    assert max_pixel_difference(ours, diffusers_xl_picture(xl_kit, request)) == 0


def test_sdxl_mixed_persona_batch_equals_solo(xl_engine, xl_kit):
    batch = [
        tiny_request("beach", seed=1, lora_path=xl_kit.loras[0], reference_path=xl_kit.references[0]),
        tiny_request("park", seed=2, lora_path=xl_kit.loras[1], reference_path=xl_kit.references[1]),
        tiny_request("cafe", seed=3, reference_path=xl_kit.references[2]),
    ]
    solo = [xl_engine.run([xl_engine.prepare(request)])[0] for request in batch]
    together = xl_engine.run([xl_engine.prepare(request) for request in batch])
    assert [max_pixel_difference(a, b) for a, b in zip(together, solo, strict=True)] <= [1, 1, 1]
    assert max_pixel_difference(solo[0], solo[1]) > 10
