#!/usr/bin/env bash
# Installs the project and everything it needs into a virtualenv (default: .venv).
# torch comes first so that pip's resolver sees it; mediapipe and facenet-pytorch go in with
# --no-deps because their own pins (opencv-contrib-python, torch<2.3, numpy<2) would fight the
# packages we use; their real run-time needs are listed in pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
# A container wants the plain package (no test tools, not editable): INSTALL_DEV=0.
INSTALL_DEV=${INSTALL_DEV:-1}
TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@"; }

pip install --upgrade pip
pip install "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
if [ "$INSTALL_DEV" = 1 ]; then
  pip install -e ".[dev]"
else
  pip install .
fi
pip install --no-deps mediapipe==1.2.2 facenet-pytorch==2.6.0
"$VENV/bin/python" -c "import cv2, mediapipe, torch, facenet_pytorch; print('installed: torch', torch.__version__, '| mediapipe', mediapipe.__version__, '| opencv', cv2.__version__)"
