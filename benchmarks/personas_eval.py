"""Measure request detection and scene-cue accuracy on the labelled corpus in tests/personas/corpus/.

    python benchmarks/personas_eval.py [--json OUT] [--verbose] [--scenes FILE ...]

Request detection: precision and recall over requests.jsonl. Scene cues: a conversation passes when every
expected cue (alternatives separated by '|') appears in the prompt for its last message and no stale cue does.
Every further `scenes_*.jsonl` set in the corpus folder (and each `--scenes FILE`) is reported on its own line,
outside the totals above: they are later held-out and tuning sets, kept apart so each figure stays honest.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "personas" / "corpus"
sys.path.insert(0, str(ROOT))

from personas.intent import detect_selfie_request  # noqa: E402
from personas.models import Persona, SceneState, Turn  # noqa: E402
from personas.planner import plan_selfie  # noqa: E402
from personas.scene import OfflineSceneExtractor  # noqa: E402

# A deliberately plain persona, so its own words never satisfy or trip a scene check.
EVAL_PERSONA = Persona(id=0, guild_id=0, name="Eval", appearance="young woman, short brown hair", style="photo")


def _read(name: str | Path) -> list[dict[str, Any]]:
    with (CORPUS / name).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def evaluate_requests(verbose: bool = False, subset: str | None = None) -> dict[str, Any]:
    tp = fp = fn = tn = kind_ok = 0
    for item in _read("requests.jsonl"):
        if subset and item.get("set", "tuning") != subset:
            continue
        found = detect_selfie_request(item["text"])
        if found and item["request"]:
            tp += 1
            kind_ok += found.kind == item["kind"]
        elif found:
            fp += 1
        elif item["request"]:
            fn += 1
        else:
            tn += 1
        if verbose and bool(found) != item["request"]:
            print(f"  request {'FP' if found else 'FN'}: {item['text']}")
    return {
        "messages": tp + fp + fn + tn,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "kind_accuracy": kind_ok / tp if tp else 1.0,
    }


def _mentions(prompt: str, cue: str) -> bool:
    return any(re.search(rf"\b{re.escape(alt.strip().lower())}", prompt) for alt in cue.split("|"))


async def evaluate_scenes(
    verbose: bool = False, subset: str | None = None, source: str | Path = "conversations.jsonl"
) -> dict[str, Any]:
    extractor = OfflineSceneExtractor()
    passed = total = 0
    for item in _read(source):
        if subset and item.get("set", "tuning") != subset:
            continue
        turns = [Turn(role=m["author"], content=m["content"]) for m in item["messages"]]
        plan = await plan_selfie(EVAL_PERSONA, turns, SceneState(), extractor=extractor)
        prompt = plan.prompt.lower()
        missing = [cue for cue in item["expect"] if not _mentions(prompt, cue)]
        stale = [cue for cue in item.get("stale", []) if _mentions(prompt, cue)]
        total += 1
        passed += not missing and not stale
        if verbose and (missing or stale):
            print(f"  scene miss {missing} stale {stale}: {item['messages'][-2:]} -> {plan.prompt}")
    return {"conversations": total, "accuracy": passed / total if total else 1.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--verbose", action="store_true", help="print every miss")
    parser.add_argument("--scenes", type=Path, action="append", default=[], help="a further scene set to report")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    figures = {"requests": evaluate_requests(args.verbose), "scenes": asyncio.run(evaluate_scenes(args.verbose))}
    # "holdout" items were written and labelled after the rules were tuned on the rest; kept apart for honesty.
    figures["holdout"] = {
        "requests": evaluate_requests(subset="holdout"),
        "scenes": asyncio.run(evaluate_scenes(subset="holdout")),
    }
    extra_sets = sorted(CORPUS.glob("scenes_*.jsonl")) + [path.resolve() for path in args.scenes]
    figures["scene_sets"] = {
        path.stem: asyncio.run(evaluate_scenes(args.verbose, source=path)) for path in dict.fromkeys(extra_sets)
    }
    figures["seconds"] = round(time.perf_counter() - started, 3)
    r, s = figures["requests"], figures["scenes"]
    print(
        f"requests: {r['messages']} messages, precision {r['precision']:.3f}, recall {r['recall']:.3f},"
        f" kind accuracy {r['kind_accuracy']:.3f}"
    )
    print(f"scenes: {s['conversations']} conversations, {s['accuracy']:.1%} with every expected cue and no stale one")
    h = figures["holdout"]
    print(
        f"holdout only: precision {h['requests']['precision']:.3f}, recall {h['requests']['recall']:.3f},"
        f" scenes {h['scenes']['accuracy']:.1%} of {h['scenes']['conversations']}"
    )
    for name, result in figures["scene_sets"].items():
        print(f"{name}: scenes {result['accuracy']:.1%} of {result['conversations']}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
