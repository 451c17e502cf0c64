"""Accuracy of the offline appearance extraction for character cards (personas/cards/traits.py).

Reads tests/personas/corpus/card_traits_{tune,holdout}.jsonl: each description lists the traits a reader would
expect in the prompt and words that must not leak in (personality, hobbies). A found phrase matches an expected
trait when it contains all of the trait's words. Prints one JSON line per set:
recall (expected traits found), precision (found phrases that match an expected trait), leaks (forbidden words
that got through). Run: python benchmarks/card_traits_eval.py [--verbose]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from personas.cards.traits import extract_appearance

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "personas" / "corpus"


def _matches(phrase: str, trait: str) -> bool:
    words = phrase.replace(",", " ").replace("-", " ").split()
    return all(any(word == t or word.startswith(t) for word in words) for t in trait.lower().replace("-", " ").split())


def evaluate(set_name: str, verbose: bool = False) -> dict[str, float | int | str]:
    expected_total = found_expected = phrases_total = phrases_matching = leaks = 0
    for line in (CORPUS / f"card_traits_{set_name}.jsonl").read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        phrases = extract_appearance(case["description"]).phrases()
        text = ", ".join(phrases)
        hits = [t for t in case["expected"] if any(_matches(p, t) for p in phrases) or _matches(text, t)]
        expected_total += len(case["expected"])
        found_expected += len(hits)
        phrases_total += len(phrases)
        phrases_matching += sum(1 for p in phrases if any(_matches(p, t) for t in case["expected"]))
        leaked = [w for w in case["forbidden"] if w.lower() in text]
        leaks += len(leaked)
        if verbose:
            missing = [t for t in case["expected"] if t not in hits]
            print(f"{case['id']}: {text}\n   missing={missing} leaked={leaked}", file=sys.stderr)
    return {
        "set": set_name,
        "recall": round(found_expected / max(expected_total, 1), 3),
        "precision": round(phrases_matching / max(phrases_total, 1), 3),
        "leaks": leaks,
    }


if __name__ == "__main__":
    verbose = "--verbose" in sys.argv
    chosen = [a for a in sys.argv[1:] if not a.startswith("--")] or ["tune", "holdout"]
    for name in chosen:
        print(json.dumps(evaluate(name, verbose)))
