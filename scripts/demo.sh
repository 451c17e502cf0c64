#!/usr/bin/env bash
# One command on a fresh machine: installs selfiebot, then runs the offline demo (MODEL=demo, no downloads).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/selfiebot demo "$@"
