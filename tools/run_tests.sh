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
PYTHON="${MMDISTILL_VENV:-$REPO/.venv}/bin/python"
if [[ $# -eq 0 ]]; then
    # The README's command (the fast set): one worker process per core, one torch thread each, a test file per
    # worker (pytest-xdist). Two one-thread processes do about 1.4 times the work of one two-thread process on
    # 2 cores, and most tests are too small for two threads. MMDISTILL_TEST_WORKERS=1: one process.
    workers="${MMDISTILL_TEST_WORKERS:-$(nproc)}"
    [[ "$workers" =~ ^[1-9][0-9]*$ ]] || { echo "MMDISTILL_TEST_WORKERS='$workers': expected a positive number of worker processes" >&2; exit 2; }
    if [[ "$workers" -gt 1 ]]; then
        export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
        exec "$PYTHON" -m pytest -n "$workers" --dist loadfile
    fi
fi
exec "$PYTHON" -m pytest "$@"
