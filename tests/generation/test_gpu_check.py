"""`bash benchmarks/gpu_check.sh --device cpu --smoke`: every code path of the GPU check, on tiny shapes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_smoke_run_prints_a_passing_report():
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--device", "cpu", "--smoke"],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["ok"] and report["smoke"] and [f["family"] for f in report["families"]] == ["sd15", "sdxl"]
    for family in report["families"]:
        correctness = family["correctness"]
        assert correctness["no_nan"] and correctness["batch_vs_solo_max_diff"] <= correctness["tolerance"]
        assert correctness["per_sample_lora_vs_diffusers_max_diff"] <= correctness["tolerance"]
        speed = family["speed"]
        for key in (
            "raw_diffusers_eager_s_per_picture",
            "service_s_per_picture",
            "mixed8_batched_pictures_per_s",
            "mixed8_in_a_row_pictures_per_s",
            "compile_warm_up_s",
            "compiled_s_per_picture",
            "switch_cost_steady_s",
            "dollars_per_1000_pictures",
        ):
            assert isinstance(speed[key], float | int), key
        assert speed["compile_counters"]["graphs"] >= 1 and speed["compile_counters"]["graph_breaks"] == 0
