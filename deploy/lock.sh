#!/usr/bin/env bash
# Regenerates the hash-pinned lock files from pyproject.toml with pip-tools:
#   deploy/requirements.lock         what the image runs (INSTALL_DEV=0)
#   deploy/requirements-dev.lock     the same plus the test tools (deploy/install.sh's default)
#   deploy/requirements-nodeps.lock  mediapipe and facenet-pytorch, with the hashes of their
#                                    published files: their own pins (opencv-contrib-python,
#                                    torch<2.3, numpy<2) would fight ours, so they are never
#                                    resolved, and install.sh installs them last
# Each lock is a complete set, installed with --require-hashes --no-deps, so every file pip
# fetches must have one of the listed hashes. torch and torchvision are not in them: install.sh
# takes them from PyTorch's CPU index, whose files cannot be hashed from a machine that cannot
# reach it; their other dependencies are (deploy/torch-deps.in).
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS=${TOOLS:-${TMPDIR:-/tmp}/attendance-lock-tools}
if [ ! -x "$TOOLS/bin/pip-compile" ]; then
  python3 -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install -q pip-tools==7.6.2
fi
NO_DEPS="mediapipe==1.2.2 facenet-pytorch==2.6.0"

published_hashes() {
  # "name==version --hash=sha256:..." for every file PyPI publishes for that release.
  "$TOOLS/bin/python" - "$@" <<'PY'
import re
import sys
import urllib.request

for pin in sys.argv[1:]:
    name, version = pin.split("==")
    page = urllib.request.urlopen(f"https://pypi.org/simple/{name}/", timeout=60).read().decode()
    stem = re.escape(name.replace("-", "_")) + "|" + re.escape(name)
    found = sorted(set(re.findall(rf"(?:{stem})-{re.escape(version)}[-.][^\"#]*#sha256=([0-9a-f]{{64}})", page)))
    if not found:
        sys.exit(f"no published files for {pin}")
    lines = [f"{pin} \\"] + [f"    --hash=sha256:{h} \\" for h in found]
    lines[-1] = lines[-1].removesuffix(" \\")
    print("\n".join(lines))
PY
}

for lock in requirements requirements-dev; do
  extra=()
  [ "$lock" = requirements-dev ] && extra=(--extra dev)
  "$TOOLS/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras \
    --no-emit-index-url --no-emit-find-links --no-emit-trusted-host --no-header \
    "${extra[@]}" --output-file "deploy/$lock.lock" pyproject.toml deploy/torch-deps.in
done
# shellcheck disable=SC2086
published_hashes $NO_DEPS >deploy/requirements-nodeps.lock
echo "wrote deploy/requirements.lock, deploy/requirements-dev.lock, deploy/requirements-nodeps.lock"
