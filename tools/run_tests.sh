#!/usr/bin/env bash
# Set up the environment if needed, then run the test suite (default: fast tests).
# Extra arguments go to pytest, e.g. `bash tools/run_tests.sh -m slow`.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$REPO/tools/setup_env.sh"
cd "$REPO"
export MMDISTILL_OFFLINE=1
exec "${MMDISTILL_VENV:-$REPO/.venv}/bin/python" -m pytest "$@"
