"""COMPILE=on with persona LoRAs: new personas, switches and mixed batches compile nothing and draw the same pictures.

The UNet is compiled with dynamo's eager backend: the same tracing, guards and recompiles as inductor (what these tests
count), without minutes of C++ code generation on a 2-core CPU. test_speed_options.py runs real inductor once.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from generation.demo_kit import build_demo_lora
from generation.loading import load_pipeline
from generation.speed import SpeedOptions, apply_engine_options
from generation.training.export import LoraFormat, save_lora
from tests.generation.conftest import make_engine, max_pixel_difference, tiny_request

TARGETS = [
    ["to_q", "to_k", "to_v", "to_out.0"],
    ["to_k", "to_v"],
    ["to_q", "ff.net.2", "proj_in"],
    ["to_out.0", "proj_out", "ff.net.0.proj"],
]


@pytest.fixture(scope="module")
def lora_files(demo_kit, tmp_path_factory) -> dict[str, Path]:
    """Six personas of varied layers and ranks (two also adapt the text encoder), one of rank 32 and one LoCon."""
    folder = tmp_path_factory.mktemp("slot-loras")
    maker = load_pipeline(str(demo_kit.pipeline), torch.device("cpu"), torch.float32, Path("unused")).pipe
    specs = {f"persona-{i}": (200 + i, 4 + 4 * (i % 3), TARGETS[i % 4], i % 3 == 0) for i in range(6)}
    specs["rank-32"] = (300, 32, TARGETS[0], False)
    specs["locon"] = (301, 4, ["to_q", "conv1", "conv2"], False)  # 3x3 convolutions: no slot holds those
    files = {}
    for name, (seed, rank, targets, text_encoder) in specs.items():
        files[name] = folder / f"{name}.safetensors"
        save_file(build_demo_lora(maker, seed, rank, targets, text_encoder), str(files[name]))
    # The kohya layout web UIs share, with alphas that differ from the rank (a scale of its own per layer).
    files["kohya"] = save_lora(
        folder / "kohya.safetensors",
        build_demo_lora(maker, 302, 8, TARGETS[0] + ["proj_in"]),
        lora_format=LoraFormat.KOHYA,
        dtype=torch.float32,
    )
    kohya = load_file(str(files["kohya"]))
    alphas = [key for key in kohya if key.endswith(".alpha")]
    assert alphas
    for index, key in enumerate(alphas):
        kohya[key] = torch.tensor(2.0 if index % 2 else 12.0)
    save_file(kohya, str(files["kohya"]))
    return files


@pytest.fixture(scope="module")
def compiled(demo_kit, tmp_path_factory):
    """A compiled engine with room for three personas, so loading more reuses slots."""
    engine = make_engine(demo_kit, tmp_path_factory.mktemp("compiled-cache"), lora_capacity=3)
    # The COMPILE=on path of load_engine, with MAX_BATCH=5 and dynamo's eager backend.
    report = apply_engine_options(
        engine, SpeedOptions.from_env({"COMPILE": "on", "PREVIEW": "off"}), max_batch=5, compile_backend="eager"
    )
    assert engine.compile_report is report
    return engine, report


def draw(engine, requests):
    return engine.run(engine.prepare_batch(requests))


def assert_same_pictures(compiled_engine, plain_engine, requests):
    for got, expected in zip(draw(compiled_engine, requests), draw(plain_engine, requests), strict=True):
        assert max_pixel_difference(got, expected) <= 1


def test_new_personas_switches_and_mixed_batches_compile_nothing(compiled, engine, lora_files, demo_kit):
    compiled_engine, report = compiled
    assert report.graph_breaks == 0 and report.graphs == 6  # batches of 1 and 2 and slots on; again with a reference
    in_slots = [path for path in demo_kit.loras if path.stem != "film-grain"]  # film-grain adapts 3x3 convolutions
    personas = [lora_files[f"persona-{i}"] for i in range(6)] + in_slots
    assert len(personas) > 8  # more than dynamo's default recompile limit, with only three slots
    for index, path in enumerate(personas):
        assert_same_pictures(compiled_engine, engine, [tiny_request(seed=index, lora_path=path, lora_scale=0.8)])
    # A kohya file with its own alphas is read as diffusers reads it.
    assert_same_pictures(compiled_engine, engine, [tiny_request(seed=15, lora_path=lora_files["kohya"])])
    # Switching back to an evicted persona, a mixed batch of three (one without a LoRA), a batch of five.
    mixed = [
        tiny_request(seed=20, lora_path=personas[0]),
        tiny_request(seed=21),
        tiny_request(seed=22, lora_path=personas[4], lora_scale=0.5),
    ]
    assert_same_pictures(compiled_engine, engine, mixed)
    assert_same_pictures(compiled_engine, engine, [tiny_request(seed=30 + i) for i in range(5)])
    assert report.graphs_since_warm_up() == 0
    assert compiled_engine.adapters.outside_slots == 0 and compiled_engine.adapters.evictions > 0
    # The LoRAs really act: a persona's picture differs from the plain one.
    with_lora, plain = draw(compiled_engine, [mixed[0], replace(mixed[0], lora_path=None)])
    assert max_pixel_difference(with_lora, plain) > 8


def test_reference_batches_compile_nothing(compiled, engine, lora_files, demo_kit):
    compiled_engine, report = compiled
    reference = demo_kit.references[0]
    requests = [
        tiny_request(seed=40, reference_path=reference, lora_path=lora_files["persona-1"]),
        tiny_request(seed=41, reference_path=reference),
    ]
    before = report.counter.graphs
    assert_same_pictures(compiled_engine, engine, requests[:1])
    assert_same_pictures(compiled_engine, engine, requests)
    assert_same_pictures(compiled_engine, engine, [tiny_request(seed=42, lora_path=lora_files["persona-2"])])
    assert report.counter.graphs == before  # the warm-up compiled the IP-Adapter's variants


def test_a_larger_rank_grows_the_slots_and_a_locon_goes_peft_s_way(compiled, engine, lora_files):
    compiled_engine, report = compiled
    before, slots = report.counter.graphs, compiled_engine.adapters.slots
    rank_before = slots.rank
    assert_same_pictures(compiled_engine, engine, [tiny_request(seed=50, lora_path=lora_files["rank-32"])])
    assert slots.rank == 32 > rank_before and slots.growths == 1
    assert report.counter.graphs - before == 1  # one recompile for the new shapes
    assert_same_pictures(
        compiled_engine,
        engine,
        [
            tiny_request(seed=51, lora_path=lora_files["locon"]),
            tiny_request(seed=52, lora_path=lora_files["persona-3"]),
        ],
    )
    assert compiled_engine.adapters.outside_slots == 1
