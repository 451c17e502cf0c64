"""IP-Adapter Plus (a resampler over the image encoder's hidden states) works like the plain IP-Adapter."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from generation.engine import Engine
from generation.loading import load_pipeline
from tests.generation.conftest import diffusers_reference_picture, max_pixel_difference, tiny_request


@pytest.fixture(scope="module")
def plus_engine(demo_kit):
    loaded = load_pipeline(str(demo_kit.pipeline), torch.device("cpu"), torch.float32, Path("unused"))
    return Engine(loaded, ip_adapter=demo_kit.ip_adapter_plus)


def test_plus_reference_picture_equals_diffusers(plus_engine, demo_kit):
    request = tiny_request(seed=12, reference_path=demo_kit.references[2], ip_scale=0.7, lora_path=demo_kit.loras[1])
    ours = plus_engine.run([plus_engine.prepare(request)])[0]
    plus_file = demo_kit.ip_adapter_plus / "ip-adapter-plus.safetensors"
    assert max_pixel_difference(ours, diffusers_reference_picture(demo_kit, request, ip_adapter=plus_file)) == 0


def test_plus_batches_keep_each_reference_apart(plus_engine, demo_kit):
    batch = [tiny_request("park", seed=s, reference_path=demo_kit.references[s % 3]) for s in range(3)]
    solo = [plus_engine.run([plus_engine.prepare(request)])[0] for request in batch]
    together = plus_engine.run([plus_engine.prepare(request) for request in batch])
    assert [max_pixel_difference(a, b) for a, b in zip(together, solo, strict=True)] <= [1, 1, 1]
    assert plus_engine.references.encodes == 3  # hidden states encoded once per picture, then cached
