#!/usr/bin/env bash
# Set up the environment (and the browser of the web demo's test) if needed, then run the test suite (default:
# fast tests).
# Extra arguments go to pytest, e.g. `bash tools/run_tests.sh -m slow`.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$REPO/tools/setup_env.sh"
# Debian's headless Chromium for the web demo's browser test (apt-get, as root); without it that test fails
# and says how to install it
bash "$REPO/tools/setup_browser.sh" || echo "[run_tests] could not install chromium: the browser test will fail" >&2
cd "$REPO"
export MMDISTILL_OFFLINE=1
exec "${MMDISTILL_VENV:-$REPO/.venv}/bin/python" -m pytest "$@"
