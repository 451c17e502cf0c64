#!/usr/bin/env bash
# Creates .venv and installs selfiebot with its dev tools. Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch first and pinned: this version is a CPU build available locally; a bare requirement could pull CUDA wheels.
# On a GPU server install the torch build for your CUDA first; this line then changes nothing.
python -c "import torch" 2>/dev/null || python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[dev,nudity,nudity-test,identity,identity-test,ray]"
