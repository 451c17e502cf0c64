"""Nudity check benchmark: model load time and time per picture on this CPU. Prints numbers; asserts nothing.

    python benchmarks/nudity.py                 # 512 px and 64 px, one picture and a batch of 4
    python benchmarks/nudity.py --repeats 50 --json benchmarks/out/nudity-cpu.json

The picture is scikit-image's astronaut (a clothed person), resized; NudeNet resizes every input to 320 px, so the
size mostly changes the cost of the resize and padding around the model.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generation.nudity import NudityDetector  # noqa: E402


def interleaved_timings_ms(actions: dict[str, object], repeats: int) -> dict[str, list[float]]:
    """Each action once per round, rounds repeated: load from other processes drifts over all actions alike."""
    for action in actions.values():
        action()  # warm-up: the first run allocates onnxruntime's buffers
    measured: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeats):
        for name, action in actions.items():
            started = time.perf_counter()
            action()
            measured[name].append((time.perf_counter() - started) * 1000)
    return measured


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered), 2),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 2),
        "min_ms": round(ordered[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 64])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    from skimage import data

    astronaut = Image.fromarray(data.astronaut())
    detector = NudityDetector()
    started = time.perf_counter()
    detector.load()
    results: dict = {"load_s": round(time.perf_counter() - started, 3), "cpu_count": os.cpu_count(), "sizes": {}}

    pictures = {size: astronaut.resize((size, size)) for size in args.sizes}
    actions = {}
    for size, picture in pictures.items():
        actions[f"{size} one"] = lambda picture=picture: detector.check(picture)
        actions[f"{size} batch"] = lambda picture=picture: detector.check_many([picture] * 4)
    measured = interleaved_timings_ms(actions, args.repeats)
    for size, picture in pictures.items():
        results["sizes"][str(size)] = {
            "one_picture": summary(measured[f"{size} one"]),
            "batch_of_4_per_picture": summary([value / 4 for value in measured[f"{size} batch"]]),
            "nude": detector.check(picture).nude,
        }

    for size, figures in results["sizes"].items():
        one, per = figures["one_picture"], figures["batch_of_4_per_picture"]
        print(
            f"{size:>4} px  one picture: median {one['median_ms']:.1f} ms (p90 {one['p90_ms']:.1f})  "
            f"batch of 4: {per['median_ms']:.1f} ms per picture  nude={figures['nude']}"
        )
    print(f"model load: {results['load_s']:.2f} s")
    print(json.dumps(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
