"""Web-UI (kohya-ss) LoRA files with text-encoder layers load, at their own alphas, like the same LoRA in diffusers'
layout: before, diffusers refused the whole file and the persona's LoRA was "does not fit the model"."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from diffusers.utils import convert_state_dict_to_kohya
from safetensors.torch import load_file, save_file

from generation.demo_kit import build_demo_lora
from generation.errors import InvalidAssetError
from generation.loading import load_pipeline
from tests.generation.conftest import max_pixel_difference, tiny_request

RANK = 4


def web_ui_layout(weights: dict[str, torch.Tensor], alpha: float, text_model_level: bool) -> dict[str, torch.Tensor]:
    """`weights` (diffusers layout) as AUTOMATIC1111 / ComfyUI files name them, with `alpha` on every layer; the up
    weights are scaled so the file means the same LoRA (`alpha / rank` times up, times down)."""
    unet = {key: value for key, value in weights.items() if key.startswith("unet.")}
    converted = convert_state_dict_to_kohya(unet)  # diffusers' own writer names the UNet layers
    for key in [key for key in converted if key.endswith(".alpha")]:
        layer = key.removesuffix(".alpha")
        converted[key] = torch.tensor(alpha)
        converted[f"{layer}.lora_up.weight"] = converted[f"{layer}.lora_up.weight"] * (RANK / alpha)
    level = "text_model_" if text_model_level else ""
    for key, value in weights.items():
        if not key.startswith("text_encoder.") or ".lora_A." not in key:
            continue
        module = key.removeprefix("text_encoder.").removesuffix(".lora_A.weight")
        name = f"lora_te_{level}{module.replace('.', '_')}"
        converted[f"{name}.lora_down.weight"] = value
        converted[f"{name}.lora_up.weight"] = weights[key.replace(".lora_A.", ".lora_B.")] * (RANK / alpha)
        converted[f"{name}.alpha"] = torch.tensor(alpha)
    return converted


@pytest.fixture(scope="module")
def lora_pair(demo_kit, tmp_path_factory) -> tuple[Path, Path, Path]:
    folder = tmp_path_factory.mktemp("kohya")
    maker = load_pipeline(str(demo_kit.pipeline), torch.device("cpu"), torch.float32, Path("unused")).pipe
    weights = build_demo_lora(maker, 400, RANK, ["to_q", "to_v"], text_encoder=True)
    files = folder / "diffusers.safetensors", folder / "webui.safetensors", folder / "flat.safetensors"
    save_file(weights, str(files[0]))
    save_file(web_ui_layout(weights, alpha=2.0, text_model_level=True), str(files[1]))
    save_file(web_ui_layout(weights, alpha=8.0, text_model_level=False), str(files[2]))
    return files


def test_web_ui_text_encoder_layers_load_like_the_diffusers_file(engine, lora_pair):
    diffusers_file, web_ui_file, flat_file = lora_pair
    request = tiny_request(seed=61, lora_path=diffusers_file, lora_scale=0.9)
    expected = engine.run([engine.prepare(request)])[0]
    for path in (web_ui_file, flat_file):
        got = engine.run([engine.prepare(tiny_request(seed=61, lora_path=path, lora_scale=0.9))])[0]
        assert max_pixel_difference(got, expected) <= 1
    plain = engine.run([engine.prepare(tiny_request(seed=61))])[0]
    assert max_pixel_difference(expected, plain) > 8
    # The text-encoder part really counts: without it the picture is another one.
    unet_only = tiny_request(seed=61, lora_path=web_ui_file.with_name("unet-only.safetensors"), lora_scale=0.9)
    weights = {k: v for k, v in load_file(str(web_ui_file)).items() if not k.startswith("lora_te_")}
    save_file(weights, str(unet_only.lora_path))
    assert max_pixel_difference(engine.run([engine.prepare(unet_only)])[0], expected) > 1


def test_a_web_ui_file_for_another_text_encoder_still_says_it_does_not_fit(engine, tmp_path):
    foreign = {
        "lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight": torch.zeros(RANK, 999),
        "lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight": torch.zeros(999, RANK),
    }
    path = tmp_path / "foreign.safetensors"
    save_file(foreign, str(path))
    with pytest.raises(InvalidAssetError, match="does not fit the model"):
        engine.prepare(tiny_request(lora_path=path))
