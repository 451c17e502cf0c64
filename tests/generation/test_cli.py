"""`selfiebot demo-kit` and `selfiebot render` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys

from PIL import Image

from generation.request import GenerationRequest
from tests.generation.conftest import diffusers_reference_picture, max_pixel_difference


def selfiebot(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, timeout=300, cwd=cwd
    )


def test_demo_kit_writes_the_documented_layout(tmp_path):
    done = selfiebot("demo-kit", str(tmp_path / "kit"))
    assert done.returncode == 0, done.stderr
    kit = tmp_path / "kit"
    assert (kit / "pipeline" / "model_index.json").exists()
    assert (kit / "ip_adapter" / "ip-adapter.safetensors").exists()
    assert (kit / "ip_adapter" / "image_encoder" / "config.json").exists()
    assert len(list((kit / "loras").glob("*.safetensors"))) >= 2
    references = sorted((kit / "references").glob("*.png"))
    assert len(references) >= 2 and Image.open(references[0]).size == (64, 64)
    assert json.loads(done.stdout)["pipeline"] == str(kit / "pipeline")


def test_render_prints_its_parameters_and_equals_diffusers(demo_kit, tmp_path):
    out = tmp_path / "selfie.png"
    done = selfiebot(
        "render", "--model", str(demo_kit.pipeline), "--prompt", "a selfie on a rooftop", "--negative", "blurry",
        "--seed", "99", "--steps", "2", "--guidance", "5.5", "--width", "64", "--height", "64",
        "--lora", str(demo_kit.loras[0]), "--lora-scale", "0.8",
        "--reference", str(demo_kit.references[1]), "--ip-adapter", str(demo_kit.ip_adapter), "--ip-scale", "0.4",
        "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["seed"] == 99 and report["steps"] == 2 and report["guidance"] == 5.5
    assert report["lora_scale"] == 0.8 and report["ip_scale"] == 0.4 and report["negative_prompt"] == "blurry"
    assert report["device"] == "cpu" and len(report["lora_sha256"]) == 64
    request = GenerationRequest(
        prompt="a selfie on a rooftop", negative_prompt="blurry", seed=99, steps=2, guidance=5.5, width=64, height=64,
        lora_path=demo_kit.loras[0], lora_scale=0.8, reference_path=demo_kit.references[1], ip_scale=0.4,
    )  # fmt: skip
    assert max_pixel_difference(Image.open(out), diffusers_reference_picture(demo_kit, request)) == 0


def test_render_explains_a_missing_model(tmp_path):
    done = selfiebot("render", "--model", str(tmp_path / "nowhere"), "--prompt", "x", "--seed", "1", "--out", "x.png")
    assert done.returncode == 1
    assert "does not exist" in done.stderr
