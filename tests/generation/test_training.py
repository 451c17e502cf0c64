"""LoRA training on the tiny demo model: reproducible, resumable, effective, loadable, and harmless to selfies."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from bot.cli import main as selfiebot_main
from generation.engine import Engine
from generation.loading import load_pipeline
from generation.training import (
    CheckpointError,
    DenoisingProbe,
    LoraFormat,
    RunState,
    TrainingRun,
    TrainingSettings,
    load_training_folder,
)
from generation.training.lora_layers import ADAPTER_NAME, all_lora_layers
from tests.generation.conftest import diffusers_reference_picture, max_pixel_difference, tiny_request

TRIGGER = "ohwx"
SHORT = TrainingSettings(TRIGGER, steps=6, rank=4, learning_rate=1e-2, resolution=64, checkpoint_every=3)


def fresh_pipe(kit):
    return load_pipeline(str(kit.pipeline), torch.device("cpu"), torch.float32, Path("unused")).pipe


def diffusers_pipe(kit):
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(
        str(kit.pipeline), safety_checker=None, requires_safety_checker=False
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def pictures(demo_kit, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pictures")
    for reference in demo_kit.references:
        shutil.copy(reference, folder / reference.name)
    return folder


@pytest.fixture(scope="module")
def training_set(pictures):
    return load_training_folder(pictures, trigger=TRIGGER)


@pytest.fixture(scope="module")
def pipe(demo_kit):
    return fresh_pipe(demo_kit)


@pytest.fixture(scope="module")
def straight(pipe, training_set):
    """Six steps without interruption: the reference the other runs are held to."""
    with TrainingRun(pipe, training_set, SHORT) as run:
        assert run.run() is RunState.FINISHED
        return run.lora_weights(), list(run.losses)


@pytest.fixture(scope="module")
def trained_lora(demo_kit, training_set, tmp_path_factory) -> Path:
    """The demo model's default training (100 steps), exported in diffusers' layout."""
    from generation.training import recommended_settings

    pipe = fresh_pipe(demo_kit)
    settings = recommended_settings(pipe, TRIGGER)
    assert settings.steps == 100
    with TrainingRun(pipe, training_set, settings) as run:
        run.run()
        folder = tmp_path_factory.mktemp("trained")
        run.export(folder / "kohya.safetensors", lora_format=LoraFormat.KOHYA)
        return run.export(folder / "persona.safetensors")


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_a_short_run_is_deterministic_for_its_seed(pipe, training_set, straight):
    weights, losses = straight
    with TrainingRun(pipe, training_set, SHORT) as again:
        again.run()
        assert again.losses == losses
        assert_same_weights(again.lora_weights(), weights)
    other_seed = TrainingSettings(**{**SHORT.__dict__, "seed": 1})
    with TrainingRun(pipe, training_set, other_seed) as other:
        other.run()
        assert other.losses != losses
        assert not torch.equal(other.lora_weights()[next(iter(weights))], weights[next(iter(weights))])
    assert any(w.abs().sum() > 0 for key, w in weights.items() if "lora_B" in key)  # it did learn something


def test_stopping_and_resuming_gives_the_same_lora_as_running_straight_through(pipe, training_set, straight, tmp_path):
    checkpoints = tmp_path / "checkpoints"
    with TrainingRun(pipe, training_set, SHORT, checkpoint_dir=checkpoints) as first:
        assert first.run(should_cancel=lambda: first.step_count == 3) is RunState.CANCELLED
    assert (checkpoints / "state.json").exists()
    with TrainingRun(pipe, training_set, SHORT, checkpoint_dir=checkpoints, resume=True) as resumed:
        assert resumed.step_count == 3
        resumed.run()
        weights, losses = straight
        assert resumed.losses == losses
        assert_same_weights(resumed.lora_weights(), weights)
    other_rank = TrainingSettings(**{**SHORT.__dict__, "rank": 8})
    with pytest.raises(CheckpointError, match="rank"):
        TrainingRun(pipe, training_set, other_rank, checkpoint_dir=checkpoints, resume=True)


def test_a_run_pauses_when_the_device_is_wanted_and_goes_on_after(pipe, training_set, straight):
    wanted = iter([False, False, True, False, False, False, False])
    seen = []
    with TrainingRun(pipe, training_set, SHORT) as run:
        assert run.run(should_pause=lambda: next(wanted), on_progress=seen.append) is RunState.PAUSED
        assert run.step_count == 2
        assert run.run(should_pause=lambda: next(wanted), on_progress=seen.append) is RunState.FINISHED
        assert_same_weights(run.lora_weights(), straight[0])
    assert [report.step for report in seen] == [1, 2, 3, 4, 5, 6]
    assert seen[-1].seconds_left == 0 and seen[0].seconds_left > 0


def test_the_trained_lora_lowers_the_denoising_loss_on_its_pictures(demo_kit, training_set, trained_lora):
    pipe = diffusers_pipe(demo_kit)
    probe = DenoisingProbe(pipe, training_set, resolution=64)
    base = probe.loss()
    pipe.load_lora_weights(str(trained_lora), adapter_name="persona")
    trained = probe.loss()
    assert trained < base * 0.97, (base, trained)
    pipe.delete_adapters("persona")
    assert probe.loss() == pytest.approx(base, abs=1e-6)
    pipe.load_lora_weights(str(trained_lora.with_name("kohya.safetensors")), adapter_name="kohya")
    assert probe.loss() == pytest.approx(trained, abs=1e-5)  # the kohya layout loads to the same LoRA


def test_the_file_loads_in_diffusers_and_renders_the_same_through_our_engine(demo_kit, trained_lora):
    header = load_file(str(trained_lora))
    assert all(key.startswith("unet.") and key.endswith((".lora_A.weight", ".lora_B.weight")) for key in header)
    loaded = load_pipeline(str(demo_kit.pipeline), torch.device("cpu"), torch.float32, Path("unused"))
    engine = Engine(loaded, cache_dir=None)
    request = tiny_request(f"a photo of {TRIGGER} person at the beach", seed=5, lora_path=trained_lora)
    ours = engine.run([engine.prepare(request)])[0]
    assert max_pixel_difference(ours, diffusers_reference_picture(demo_kit, request)) == 0
    without = engine.run([engine.prepare(tiny_request(request.prompt, seed=5))])[0]
    assert max_pixel_difference(ours, without) > 0


def test_training_between_selfies_changes_no_selfie_and_no_selfie_changes_training(demo_kit, training_set, straight):
    loaded = load_pipeline(str(demo_kit.pipeline), torch.device("cpu"), torch.float32, Path("unused"))
    engine = Engine(loaded, cache_dir=None)
    selfies = [
        tiny_request("a selfie at the beach", seed=3, lora_path=demo_kit.loras[0]),  # adapts the text encoder too
        tiny_request("a selfie in the rain", seed=4),
        tiny_request("a selfie in a cafe", seed=6, lora_path=demo_kit.loras[2]),  # first loaded mid-training
    ]
    expected = [diffusers_reference_picture(demo_kit, request) for request in selfies]
    engine.run([engine.prepare(selfies[0])])  # a persona LoRA is resident before training starts
    with TrainingRun(engine.pipe, training_set, SHORT) as run:
        for request, picture in zip(selfies, expected, strict=True):
            run.step()
            run.step()
            served = engine.run([engine.prepare(request)])[0]
            assert max_pixel_difference(served, picture) == 0
        weights, losses = straight
        assert run.losses == losses
        assert_same_weights(run.lora_weights(), weights)
    remaining = all_lora_layers(engine.pipe)
    assert remaining and all(layer.lora_A and ADAPTER_NAME not in layer.lora_A for layer in remaining)
    served = engine.run([engine.prepare(selfies[1])])[0]
    assert max_pixel_difference(served, expected[1]) == 0


def selfiebot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, timeout=300)


def test_the_command_prints_json_progress_and_its_file_renders(demo_kit, pictures, tmp_path):
    out = tmp_path / "persona.safetensors"
    done = selfiebot(
        "train-lora", "--model", str(demo_kit.pipeline), "--images", str(pictures), "--trigger", TRIGGER,
        "--steps", "4", "--checkpoint-every", "2", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.strip().splitlines()]
    assert [line["step"] for line in lines[:-1]] == [1, 2, 3, 4]
    assert all(isinstance(line["loss"], float) and line["loss"] > 0 for line in lines[:-1])
    assert lines[-1]["out"] == str(out) and lines[-1]["steps"] == 4 and lines[-1]["seconds"] > 0
    assert done.stderr == ""
    picture = tmp_path / "selfie.png"
    rendered = selfiebot(
        "render", "--model", str(demo_kit.pipeline), "--prompt", f"{TRIGGER} person", "--seed", "1", "--steps", "2",
        "--lora", str(out), "--out", str(picture),
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    assert Image.open(picture).size == (64, 64)

    # Stopping after two steps and resuming gives the very same file.
    resumed = tmp_path / "resumed.safetensors"
    common = ["train-lora", "--model", str(demo_kit.pipeline), "--images", str(pictures), "--trigger", TRIGGER]
    assert selfiebot_main([*common, "--steps", "2", "--out", str(resumed)]) == 0
    again = selfiebot(*common, "--steps", "4", "--resume", "--out", str(resumed))
    assert again.returncode == 0, again.stderr
    assert [json.loads(line).get("step") for line in again.stdout.splitlines()[:-1]] == [3, 4]
    assert_same_weights(load_file(str(resumed)), load_file(str(out)))


def write_pictures(folder: Path, count: int, size: int = 64) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        Image.new("RGB", (size, size), (index * 40, 90, 160)).save(folder / f"picture-{index}.png")
    return folder


def bad_folders(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    with_text = write_pictures(tmp_path / "with-pdf", 4)
    (with_text / "notes.pdf").write_bytes(b"%PDF-1.4")
    renamed = write_pictures(tmp_path / "renamed", 4)
    (renamed / "not-really.png").write_text("hello")
    huge = write_pictures(tmp_path / "huge", 4)
    with open(huge / "enormous.png", "wb") as handle:
        handle.truncate(25 * 1024 * 1024)
    return {
        "missing folder": (tmp_path / "nowhere", "is not a folder"),
        "too few": (write_pictures(tmp_path / "two", 2), "at least 3"),
        "not a picture": (with_text, "notes.pdf"),
        "renamed file": (renamed, "not-really.png"),
        "file too large": (huge, "MiB"),
        "too small for the resolution": (write_pictures(tmp_path / "tiny", 4, size=16), "short side"),
    }


@pytest.mark.parametrize(
    "case",
    ["missing folder", "too few", "not a picture", "renamed file", "file too large", "too small for the resolution"],
)
def test_bad_input_gets_one_sentence_and_exit_status_2(demo_kit, tmp_path, capsys, case):
    folder, words = bad_folders(tmp_path)[case]
    out = tmp_path / "never.safetensors"
    status = selfiebot_main(
        ["train-lora", "--model", str(demo_kit.pipeline), "--images", str(folder), "--trigger", TRIGGER,
         "--out", str(out)]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("selfiebot train-lora: ")
    assert words in captured.err
    assert not out.exists()


def test_bad_settings_get_one_sentence_too(demo_kit, pictures, tmp_path, capsys):
    common = ["train-lora", "--model", str(demo_kit.pipeline), "--images", str(pictures)]
    for extra, words in [
        (["--trigger", "two words"], "one word"),
        (["--trigger", TRIGGER, "--resolution", "50"], "multiple of"),
        (["--trigger", TRIGGER, "--steps", "0"], "steps"),
        (["--trigger", TRIGGER, "--out-typo", "x"], "unrecognized arguments"),
    ]:
        assert selfiebot_main([*common, *extra, "--out", str(tmp_path / "x.safetensors")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err, err
