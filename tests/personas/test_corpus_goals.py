"""The labelled corpus must keep meeting the goals (precision >= 0.95, recall >= 0.90, scenes >= 85%)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "personas" / "corpus"


def test_corpus_is_big_enough():
    requests = [json.loads(line) for line in (CORPUS / "requests.jsonl").read_text(encoding="utf-8").splitlines()]
    conversations = (CORPUS / "conversations.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(requests) >= 100 and {True, False} <= {r["request"] for r in requests}
    assert len(conversations) >= 40


def test_evaluation_meets_goals(tmp_path):
    out = tmp_path / "figures.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "personas_eval.py"), "--json", str(out)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text())
    assert figures["requests"]["precision"] >= 0.95, result.stdout
    assert figures["requests"]["recall"] >= 0.90, result.stdout
    assert figures["scenes"]["accuracy"] >= 0.85, result.stdout
