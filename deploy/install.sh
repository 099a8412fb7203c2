#!/usr/bin/env bash
# Installs the project and everything it needs into a virtualenv (default: .venv).
#
# Every Python package comes from a hash-pinned lock file (deploy/lock.sh makes them), installed
# with --require-hashes --no-deps: the same files on every machine, or the install stops.
# The exceptions are torch and torchvision, pinned by version: they come from PyTorch's CPU-only
# index when it can be reached (a few hundred MB), otherwise from the default index (on Linux
# that is the CUDA build, several GB, with the NVIDIA libraries it needs), and the script says
# which. TORCH_INDEX_URL names another index; TORCH_FALLBACK=0 refuses the fallback (the image).
#
# INSTALL_DEV=0: no test tools (the image). INSTALL_PROJECT=0: dependencies only, so that the
# image installs them in a layer of their own, before the code.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
INSTALL_DEV=${INSTALL_DEV:-1}
INSTALL_PROJECT=${INSTALL_PROJECT:-1}
TORCH_INDEX_URL=${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}
TORCH_FALLBACK=${TORCH_FALLBACK:-1}
TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@"; }

lock=deploy/requirements-dev.lock
[ "$INSTALL_DEV" = 1 ] || lock=deploy/requirements.lock
echo "packages: $lock (hash-checked)"
pip install --require-hashes --no-deps -r "$lock"

index_answers() {
  "$VENV/bin/python" - "$1" <<'PY'
import sys
import urllib.request

try:
    urllib.request.urlopen(sys.argv[1].rstrip("/") + "/torch/", timeout=15).close()
except Exception:
    sys.exit(1)
PY
}

torch=("torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION")
if index_answers "$TORCH_INDEX_URL" \
  && pip install --no-deps --index-url "$TORCH_INDEX_URL" "${torch[@]}"; then
  echo "torch: from $TORCH_INDEX_URL"
elif [ "$TORCH_FALLBACK" = 1 ]; then
  echo "torch: $TORCH_INDEX_URL cannot be reached; from the default index instead (on Linux the CUDA build, several GB)"
  pip install "${torch[@]}"
else
  echo "torch: $TORCH_INDEX_URL cannot be reached and TORCH_FALLBACK=0" >&2
  exit 1
fi

# Last, without their dependencies: their own pins would fight the packages above.
pip install --require-hashes --no-deps -r deploy/requirements-nodeps.lock

if [ "$INSTALL_PROJECT" = 1 ]; then
  # Built with the setuptools of the lock, not one fetched for the build.
  if [ "$INSTALL_DEV" = 1 ]; then
    pip install --no-deps --no-build-isolation -e .
  else
    pip install --no-deps --no-build-isolation .
  fi
fi
"$VENV/bin/python" -c "import cv2, mediapipe, torch, facenet_pytorch; print('installed: torch', torch.__version__, '| mediapipe', mediapipe.__version__, '| opencv', cv2.__version__)"
