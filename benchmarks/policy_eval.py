"""Precision and recall of the text policy (`personas.policy`) on labelled case files.

    python benchmarks/policy_eval.py                     # both sets in tests/personas/policy_cases/
    python benchmarks/policy_eval.py --show-errors       # also list every miss and false alarm
    python benchmarks/policy_eval.py FILE.jsonl --json   # one JSON line per file

Each case is one JSON line: `{"text": ..., "minor": bool, "explicit": bool, "clothing": bool (optional),
"rule": "why the label follows a policy rule rather than plain meaning" (optional)}`. Classes: minor (any minor
cue), explicit (any explicit or undressed wording), clothing (names clothing; only cases that carry the label),
and "minor+explicit", the combination the bot must always refuse. `heldout.jsonl` was written before the policy
and is not tuned on; `tune.jsonl` is the set the rules were tuned on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from personas.policy import find_minor_cues, is_explicit, names_clothing, text_forms  # noqa: E402

CASES_DIR = Path(__file__).resolve().parents[1] / "tests" / "personas" / "policy_cases"
CLASSES = ("minor", "explicit", "minor+explicit", "clothing")


@dataclass
class Tally:
    true_pos: int = 0
    false_pos: int = 0
    false_neg: int = 0
    true_neg: int = 0
    misses: list[str] = field(default_factory=list)
    false_alarms: list[str] = field(default_factory=list)

    def add(self, *, expected: bool, got: bool, text: str) -> None:
        if expected and got:
            self.true_pos += 1
        elif expected:
            self.false_neg += 1
            self.misses.append(text)
        elif got:
            self.false_pos += 1
            self.false_alarms.append(text)
        else:
            self.true_neg += 1

    @property
    def precision(self) -> float:
        flagged = self.true_pos + self.false_pos
        return self.true_pos / flagged if flagged else 1.0

    @property
    def recall(self) -> float:
        positives = self.true_pos + self.false_neg
        return self.true_pos / positives if positives else 1.0


def load_cases(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def predict(text: str) -> dict[str, bool]:
    forms = text_forms(text)
    minor = bool(find_minor_cues(forms))
    explicit = is_explicit(forms)
    return {"minor": minor, "explicit": explicit, "minor+explicit": minor and explicit,
            "clothing": bool(names_clothing(forms))}  # fmt: skip


def evaluate(cases: list[dict]) -> dict[str, Tally]:
    tallies = {name: Tally() for name in CLASSES}
    for case in cases:
        got = predict(case["text"])
        expected = {"minor": case["minor"], "explicit": case["explicit"],
                    "minor+explicit": case["minor"] and case["explicit"], "clothing": case.get("clothing")}  # fmt: skip
        for name in CLASSES:
            if expected[name] is not None:
                tallies[name].add(expected=expected[name], got=got[name], text=case["text"])
    return tallies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--show-errors", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    files = args.files or [CASES_DIR / "heldout.jsonl", CASES_DIR / "tune.jsonl"]
    for path in files:
        if not path.exists():
            print(f"{path}: missing", file=sys.stderr)
            continue
        cases = load_cases(path)
        started = time.perf_counter()
        tallies = evaluate(cases)
        per_case_ms = (time.perf_counter() - started) / max(1, len(cases)) * 1000
        by_rule = sum(1 for case in cases if case.get("rule"))
        if args.json:
            print(json.dumps({"file": path.name, "cases": len(cases), "labelled_by_rule": by_rule,
                              "ms_per_case": round(per_case_ms, 2),
                              **{name: {"precision": round(t.precision, 3), "recall": round(t.recall, 3),
                                        "tp": t.true_pos, "fp": t.false_pos, "fn": t.false_neg}
                                 for name, t in tallies.items()}}))  # fmt: skip
            continue
        print(f"{path.name}: {len(cases)} cases ({by_rule} labelled by a policy rule), {per_case_ms:.2f} ms per case")
        for name, tally in tallies.items():
            print(f"  {name:15s} precision {tally.precision:6.1%}  recall {tally.recall:6.1%}  "
                  f"(tp {tally.true_pos}, fp {tally.false_pos}, fn {tally.false_neg}, tn {tally.true_neg})")  # fmt: skip
            if args.show_errors:
                for text in tally.misses:
                    print(f"      missed: {text!r}")
                for text in tally.false_alarms:
                    print(f"      false alarm: {text!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
