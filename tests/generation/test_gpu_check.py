"""`bash benchmarks/gpu_check.sh --device cpu --smoke`: every code path of the GPU check, on tiny shapes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_smoke_run_prints_a_passing_report(tmp_path):
    saved = tmp_path / "gpu-check.json"
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--device", "cpu", "--smoke", "--json", str(saved)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    written = json.loads(saved.read_text())  # written after every section, so a cut-short run keeps its figures
    assert written["finished"] and written["families"] == report["families"]
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
            "dollars_per_1000_pictures",
        ):
            assert isinstance(speed[key], float | int), key
    # Compiled: SD 1.5 (SDXL only with --compile-sdxl, as on a GPU, where its warm-up takes minutes).
    sd15 = report["families"][0]
    speed, tolerance = sd15["speed"], sd15["correctness"]["tolerance"]
    for key in ("compile_warm_up_s", "compiled_s_per_picture", "switch_cost_steady_s", "switch_cost_first_s"):
        assert isinstance(speed[key], float | int), key
    counters = speed["compile_counters"]
    assert counters["graphs_at_warm_up"] >= 1 and counters["graph_breaks"] == 0
    # New personas, switches and the mixed batch of 8 compiled nothing after the warm-up.
    assert counters["graphs_since_warm_up"] == 0
    hotswap = speed["lora_hotswap"]
    assert hotswap["vs_diffusers_max_diff"] <= tolerance and hotswap["mixed8_calls"] == 5
    assert isinstance(speed["vae_decoder"]["speedup"], float | int)
