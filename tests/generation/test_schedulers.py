"""SCHEDULER: the sampler is part of the request, recorded in the report, reproduced by `render`, batched apart."""

from __future__ import annotations

import asyncio
import json

import pytest
import torch
from PIL import Image

from generation.cli import render_main
from generation.schedulers import SchedulerName, build_scheduler, parse_scheduler
from generation.service import GenerationService
from tests.generation.conftest import make_engine, max_pixel_difference, tiny_request


@pytest.fixture(scope="module")
def euler_a_engine(demo_kit):
    engine = make_engine(demo_kit)
    engine.default_scheduler = "euler_a"  # what SCHEDULER=euler_a sets
    return engine


async def test_the_setting_is_recorded_and_render_reproduces_the_picture(euler_a_engine, demo_kit, tmp_path, capsys):
    service = GenerationService(euler_a_engine)
    try:
        result = await service.generate(tiny_request(seed=21))
    finally:
        await service.close()
    report = result.report()
    assert report["scheduler"] == "euler_a" and result.request.scheduler == "euler_a"

    out = tmp_path / "again.png"
    code = render_main(
        [
            "--model", str(demo_kit.pipeline), "--prompt", report["prompt"], "--seed", str(report["seed"]),
            "--steps", str(report["steps"]), "--guidance", str(report["guidance"]), "--width", "64", "--height", "64",
            "--scheduler", report["scheduler"], "--device", "cpu", "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["scheduler"] == "euler_a"
    assert max_pixel_difference(Image.open(out), result.image) == 0


def test_schedulers_draw_different_pictures_and_match_diffusers(engine, demo_kit):
    from diffusers import StableDiffusionPipeline

    pictures = {}
    for name in ("default", "euler", "dpmpp_2m_karras"):
        request = tiny_request(seed=5, steps=3, scheduler=name)
        pictures[name] = engine.run([engine.prepare(request)])[0]
    assert max_pixel_difference(pictures["default"], pictures["euler"]) > 0
    assert max_pixel_difference(pictures["euler"], pictures["dpmpp_2m_karras"]) > 0

    pipe = StableDiffusionPipeline.from_pretrained(str(demo_kit.pipeline), safety_checker=None)
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = build_scheduler("dpmpp_2m_karras", pipe.scheduler.config)
    assert pipe.scheduler.config.use_karras_sigmas
    request = tiny_request(seed=5, steps=3)
    expected = pipe(
        request.prompt,
        num_inference_steps=3,
        guidance_scale=request.guidance,
        width=64,
        height=64,
        generator=torch.Generator("cpu").manual_seed(5),
    ).images[0]
    assert max_pixel_difference(pictures["dpmpp_2m_karras"], expected) == 0
    assert type(engine.pipe.scheduler).__name__ == "PNDMScheduler"  # the model's own is back after each call


def test_every_named_scheduler_builds_and_draws(engine):
    for name in SchedulerName:
        image = engine.run([engine.prepare(tiny_request(seed=3, steps=2, scheduler=name.value))])[0]
        assert image.size == (64, 64)


def test_unknown_scheduler_is_one_sentence():
    with pytest.raises(ValueError, match="not one of default, euler"):
        parse_scheduler("heun++")


async def test_only_requests_with_the_same_scheduler_share_a_batch(engine):
    calls: list[list[str]] = []

    class Recording:
        def __getattr__(self, name):
            return getattr(engine, name)

        def run(self, batch, **kwargs):
            calls.append([item.request.scheduler for item in batch])
            return engine.run(batch, **kwargs)

    service = GenerationService(Recording(), max_batch=4, batch_window_s=0.3)
    try:
        results = await asyncio.gather(
            service.generate(tiny_request(seed=1, scheduler="euler")),
            service.generate(tiny_request(seed=2, scheduler="ddim")),
            service.generate(tiny_request(seed=3, scheduler="euler")),
        )
    finally:
        await service.close()
    assert sorted(calls) == [["ddim"], ["euler", "euler"]]
    solo = engine.run([engine.prepare(tiny_request(seed=3, scheduler="euler"))])[0]
    assert max_pixel_difference(results[2].image, solo) <= 1
