"""Persona LoRAs under torch.compile: how many graphs new personas, switches and mixed batches cost. JSON out.

    python benchmarks/compile_switch.py                        # slots (COMPILE=on today), dynamo's eager backend
    python benchmarks/compile_switch.py --routing peft         # before: peft loads LoRAs into the compiled UNet
    python benchmarks/compile_switch.py --backend inductor     # real code generation (minutes per graph on a CPU)

Graph counts do not depend on the machine (dynamo makes the same graphs and guards for inductor on a GPU); seconds
do, and with the eager backend they are tracing time, not run time. Demo `tiny` shape, 2-step 64 px pictures, 10
random persona LoRAs of varied layers (one of rank 24, above the slots' starting 16), 4 LoRA slots, one LoCon LoRA.
Every picture is compared with an uncompiled engine's. `compile_unet` raises dynamo's recompile limit from 8 to 64,
so `--routing peft` shows every recompile; with the old limit the 8th graph froze the UNet in eager mode.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generation.compile import compile_engine, compile_unet  # noqa: E402
from generation.demo_kit import SHAPES, build_demo_lora, build_demo_pipeline  # noqa: E402
from generation.engine import Engine  # noqa: E402
from generation.loading import LoadedModel  # noqa: E402
from generation.request import GenerationRequest  # noqa: E402

TARGETS = [["to_q", "to_k", "to_v", "to_out.0"], ["to_k", "to_v"], ["to_q", "to_v", "ff.net.2", "proj_in"]]


def tiny_engine(capacity: int) -> Engine:
    pipe = build_demo_pipeline(SHAPES["tiny"])
    pipe.set_progress_bar_config(disable=True)
    return Engine(LoadedModel(pipe=pipe, label="tiny", default_ip_adapter=None), lora_capacity=capacity)


def write_loras(folder: Path) -> tuple[list[Path], Path]:
    maker = build_demo_pipeline(SHAPES["tiny"])
    personas = []
    for index in range(10):
        path = folder / f"persona-{index}.safetensors"
        rank = 24 if index == 5 else 4
        save_file(build_demo_lora(maker, 100 + index, rank, TARGETS[index % 3], index % 3 == 0), str(path))
        personas.append(path)
    locon = folder / "locon.safetensors"
    save_file(build_demo_lora(maker, 77, 4, ["to_q", "conv1", "conv2"]), str(locon))
    return personas, locon


def difference(a, b) -> int:
    return int(np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16)).max())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routing", choices=["slots", "peft"], default="slots")
    parser.add_argument("--backend", choices=["eager", "inductor"], default="eager")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    base = GenerationRequest(prompt="a selfie", seed=1, steps=2, width=64, height=64, guidance=6.0)
    with tempfile.TemporaryDirectory(prefix="compile-switch-") as folder:
        personas, locon = write_loras(Path(folder))
        plain, engine = tiny_engine(8), tiny_engine(4)
        started = time.perf_counter()
        if args.routing == "slots":
            report = compile_engine(engine, base, largest_batch=5, backend=args.backend)
        else:
            report = compile_unet(engine.pipe, warm_up=lambda: engine.run([engine.prepare(base)]), backend=args.backend)
        result = {
            "routing": args.routing,
            "backend": args.backend,
            "warm_up_graphs": report.graphs,
            "warm_up_s": round(time.perf_counter() - started, 1),
            "steps": [],
        }

        def step(label: str, requests: list[GenerationRequest]) -> None:
            graphs, started = report.counter.graphs, time.perf_counter()
            got = engine.run(engine.prepare_batch(requests))
            seconds = time.perf_counter() - started
            expected = plain.run([plain.prepare(r) for r in requests])
            result["steps"].append(
                {
                    "step": label,
                    "new_graphs": report.counter.graphs - graphs,
                    "seconds": round(seconds, 3),
                    "max_difference": max(difference(a, b) for a, b in zip(got, expected, strict=True)),
                }
            )

        for index, path in enumerate(personas):
            step(f"persona {index} (rank {24 if index == 5 else 4})", [replace(base, lora_path=path, lora_scale=0.9)])
        step("switch back to persona 0", [replace(base, lora_path=personas[0], seed=3)])
        step("mixed batch of 3", [replace(base, lora_path=personas[7]), base, replace(base, lora_path=personas[8])])
        step("5 personas in one batch", [replace(base, lora_path=path, seed=i) for i, path in enumerate(personas[:5])])
        step("LoCon LoRA", [replace(base, lora_path=locon)])
        result["graphs_after_warm_up"] = report.graphs_since_warm_up()
        result["outside_slots"] = engine.adapters.outside_slots
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
