#!/usr/bin/env bash
# Idempotent set-up of the project's virtual environment (.venv in the repo).
#
# Installs torch 2.14.1 / torchvision 0.29.1, mmengine 0.10.7, mmcv 2.1.0 with
# CPU ops (built once from the PyPI sdist and cached as a wheel outside the
# repo), mmdet 3.3.0, mmsegmentation 1.2.2, open_clip, timm and the rest of
# requirements/*.txt, then mmdistill itself in editable mode.
#
# A second run with nothing changed returns in about a second (stamp file).
# Environment:
#   MMDISTILL_VENV   where the venv lives          (default: <repo>/.venv)
#   MMDISTILL_CACHE  where the mmcv wheel is kept  (default: ~/.cache/mmdistill)
#   PYTHON           interpreter for the venv      (default: python3.11, else python3)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MMDISTILL_VENV:-$REPO/.venv}"
CACHE="${MMDISTILL_CACHE:-$HOME/.cache/mmdistill}"
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"

TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1
MMCV_VERSION=2.1.0

say() { printf '[setup_env] %s\n' "$*" >&2; }

# The command that precompiles mmcv's common C++ header (source tree $1) with the flags its extension
# build uses: the build's CFLAGS ($2) and Python's CCSHARED (as setuptools passes them), the include
# paths and macros of torch's BuildExtension, C++20.
precompiled_header_command() {
  "$VENV/bin/python" - "$1" "$2" <<'PY'
import shlex
import sys
import sysconfig

from torch.utils.cpp_extension import include_paths

common = f'{sys.argv[1]}/mmcv/ops/csrc/common'
flags = [*sys.argv[2].split(), *sysconfig.get_config_var('CCSHARED').split(),
         f'-I{common}', *(f'-I{p}' for p in include_paths()), f"-I{sysconfig.get_paths()['include']}",
         '-std=c++20', '-DTORCH_API_INCLUDE_EXTENSION_H', '-DTORCH_EXTENSION_NAME=_ext']
header = f'{common}/pytorch_cpp_helper.hpp'
print(shlex.join(['c++', *flags, '-x', 'c++-header', header, '-o', f'{header}.gch']))
PY
}

stamp_inputs() {
  cat "$REPO/tools/setup_env.sh" "$REPO"/requirements/*.txt "$REPO/setup.py"
}
STAMP="$VENV/.mmdistill-setup-stamp"
WANT="$(stamp_inputs | sha256sum | cut -d' ' -f1)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
  exit 0
fi

t0=$(date +%s)
if [[ ! -x "$VENV/bin/python" ]]; then
  say "creating virtual environment $VENV with $PY"
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
"${PIP[@]}" install -q --upgrade "pip>=24" wheel "setuptools>=77,<82"

say "torch==$TORCH_VERSION torchvision==$TORCHVISION_VERSION"
"${PIP[@]}" install -q "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
# mmcv's setup.py picks opencv-python-headless when it is already installed.
"${PIP[@]}" install -q "opencv-python-headless<5" "numpy<2.3" ninja

PYTAG="$("$VENV/bin/python" -c 'import sys; print(f"cp{sys.version_info.major}{sys.version_info.minor}")')"
WHEEL_DIR="$CACHE/wheels/mmcv-$MMCV_VERSION-torch$TORCH_VERSION-$PYTAG-cpuops"
if ! ls "$WHEEL_DIR"/mmcv-*.whl >/dev/null 2>&1; then
  say "building mmcv $MMCV_VERSION with CPU ops (about 4 min on 2 cores; cached in $WHEEL_DIR)"
  BUILD="$(mktemp -d)"
  "${PIP[@]}" download -q --no-deps --no-binary :all: --no-build-isolation "mmcv==$MMCV_VERSION" -d "$BUILD"
  tar -xzf "$BUILD"/mmcv-"$MMCV_VERSION".tar.gz -C "$BUILD"
  SRC="$BUILD/mmcv-$MMCV_VERSION"
  # torch 2.14's headers need C++20.
  sed -i 's/-std=c++17/-std=c++20/g' "$SRC/setup.py"
  "${PIP[@]}" install -q addict mmengine==0.10.7 yapf packaging pyyaml
  # 63 of the 77 CPU sources include pytorch_cpp_helper.hpp (torch's headers) first: compiled once as a
  # precompiled header, with the flags of the build itself, each of them takes about 2 s of CPU instead of
  # 23 s; debug info (-g from Python's CFLAGS) is off for the header and the build alike (half of the rest).
  # GCC falls back to the plain header, with a warning (-Winvalid-pch), if the flags ever stop matching.
  # (setuptools replaces Python's CFLAGS by $CFLAGS when it is set: Python's are passed on, -g0 appended)
  BUILD_CFLAGS="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_config_var("CFLAGS"))') -g0"
  eval "$(precompiled_header_command "$SRC" "$BUILD_CFLAGS")"
  mkdir -p "$WHEEL_DIR.partial"
  (cd "$SRC" && MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="${MAX_JOBS:-2}" CFLAGS="$BUILD_CFLAGS -Winvalid-pch" \
     "${PIP[@]}" wheel --no-build-isolation --no-deps -w "$WHEEL_DIR.partial" .) \
    || { say "compiling mmcv's CPU ops failed (the compiler's output is above): it needs g++ >= 10 and the"
         say "Python headers (Debian / Ubuntu: apt-get install g++ python3-dev; RHEL: dnf install gcc-c++ python3-devel)"
         exit 1; }
  rm -rf "$WHEEL_DIR" && mv "$WHEEL_DIR.partial" "$WHEEL_DIR"
  rm -rf "$BUILD"
fi
"${PIP[@]}" install -q "$WHEEL_DIR"/mmcv-*.whl

say "OpenMMLab, open_clip, the web demo's Gradio and the rest of requirements/"
"${PIP[@]}" install -q -r "$REPO/requirements/runtime.txt" -r "$REPO/requirements/tests.txt" \
  -r "$REPO/requirements/demo.txt"
# mmengine / mmdet may pull the GUI opencv build; keep the headless one only.
if "${PIP[@]}" show -q opencv-python >/dev/null 2>&1; then
  "${PIP[@]}" uninstall -q -y opencv-python
  "${PIP[@]}" install -q --force-reinstall --no-deps "opencv-python-headless<5"
fi
"${PIP[@]}" install -q --no-deps --no-build-isolation -e "$REPO"

"$VENV/bin/python" -c "import mmdistill, mmcv.ops, mmdet.models, mmseg.models, open_clip" \
  || { say "import check failed"; exit 1; }
echo "$WANT" > "$STAMP"
say "environment ready in $(( $(date +%s) - t0 )) s"
