#!/usr/bin/env bash
# The one-call GPU correctness and speed check (no internet, random weights). Prints JSON; exit 1 if a check fails.
#   bash benchmarks/gpu_check.sh                       # on the first CUDA GPU, meant to take under 8 minutes
#   bash benchmarks/gpu_check.sh --json OUT.json       # also writes OUT.json after every section (kept on timeout)
#   bash benchmarks/gpu_check.sh --device cpu --smoke  # same code paths, tiny shapes, about two minutes
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .venv/bin/activate ]; then . .venv/bin/activate; fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec python benchmarks/gpu_check.py "$@" 2> >(grep -v -E "Loading|it/s\]|MISSING|^Key |^-+\+|^Notes|newly initialized|torchvision" >&2)
