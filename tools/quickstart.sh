#!/usr/bin/env bash
# The main job on a fresh machine: set up the environment if needed, then run the
# quickstart on the synthetic world (arguments go to tools/quickstart.py, e.g. --all).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$REPO/tools/setup_env.sh"
cd "$REPO"
export MMDISTILL_OFFLINE=1
exec "${MMDISTILL_VENV:-$REPO/.venv}/bin/python" tools/quickstart.py "$@"
