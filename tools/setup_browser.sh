#!/usr/bin/env bash
# Debian's headless Chromium and its WebDriver, for the web demo's browser test (tests/test_web_demo_browser.py).
# Idempotent: returns at once when both are installed. Needs root (or sudo) for apt-get.
set -euo pipefail

CHROMIUM="${MMDISTILL_CHROMIUM:-/usr/bin/chromium}"
DRIVER="${MMDISTILL_CHROMEDRIVER:-/usr/bin/chromedriver}"
if [[ -x "$CHROMIUM" && -x "$DRIVER" ]]; then
  exit 0
fi
SUDO=()
if [[ "$(id -u)" != 0 ]]; then
  command -v sudo >/dev/null || { echo "[setup_browser] run as root: apt-get install -y chromium chromium-driver" >&2; exit 1; }
  SUDO=(sudo)
fi
echo "[setup_browser] apt-get install -y chromium chromium-driver" >&2
"${SUDO[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium chromium-driver
"$CHROMIUM" --version
