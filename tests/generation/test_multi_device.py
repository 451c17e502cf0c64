"""DEVICE=cpu,cpu: one engine per device, a burst spread over both, the same pictures as one device."""

from __future__ import annotations

import asyncio

import pytest

from generation.multi_device import MultiDeviceService, device_list, load_engines, serve_engines
from generation.service import GenerationService
from generation.speed import SpeedOptions
from tests.generation.conftest import max_pixel_difference, tiny_request


def burst(kit) -> list:
    loras = [None, kit.loras[0], kit.loras[1]]
    return [tiny_request(seed=100 + index, lora_path=loras[index % 3]) for index in range(6)]


async def test_two_devices_serve_a_burst_with_the_pictures_of_one(demo_kit, engine, tmp_path):
    engines = load_engines(
        model=str(demo_kit.pipeline),
        devices=device_list("cpu,cpu"),
        data_dir=tmp_path,
        options=SpeedOptions(preview=False),
    )
    both = serve_engines(engines)
    assert isinstance(both, MultiDeviceService) and len(both.services) == 2
    one = GenerationService(engine)
    requests = burst(demo_kit)
    try:
        progress: list[str] = []
        spread = await asyncio.gather(
            *(both.generate(r, on_progress=lambda e: progress.append(e.stage), owner=i) for i, r in enumerate(requests))
        )
        alone = [await one.generate(r) for r in requests]
    finally:
        await both.close()
        await one.close()
    assert all(count >= 2 for count in both.dispatched), both.dispatched  # both devices drew pictures
    assert both.completed == len(requests) and both.queued == 0
    for picture, expected in zip(spread, alone, strict=True):
        assert max_pixel_difference(picture.image, expected.image) == 0
        assert picture.report()["seed"] == expected.report()["seed"]
    assert "step" in progress


def test_one_device_is_a_plain_service(engine):
    assert device_list("cuda:0, cuda:1") == ["cuda:0", "cuda:1"] and device_list("") == ["auto"]
    with pytest.raises(ValueError):
        MultiDeviceService([])
