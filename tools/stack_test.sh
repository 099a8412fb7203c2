#!/usr/bin/env bash
# The container stack test: builds the images, starts podman's Docker-compatible socket and runs
# tests/e2e/test_container_stack.py, which brings up docker-compose.yml (with the test override
# deploy/compose.test.yml) and drives the whole system through its web API.
#
#   tools/stack_test.sh                 build what is missing or changed, then run the test
#   tools/stack_test.sh --build-only    build the images and print the application image's size
#
# Images are kept between runs: the base (debootstrap, about a minute) is made only when missing;
# the stand-in servers and the application image are built every run from podman's layer cache,
# which takes seconds when only the code changed (the application's dependencies are a cached
# layer of their own). ATTENDANCE_STACK_REBUILD=1 rebuilds everything. Needs root, podman, debootstrap, docker-compose and the project's .venv.
#
# Settings (environment):
#   ATTENDANCE_EXTRA_CA   a CA bundle the builds trust (a build secret, in no image layer);
#                         default: this machine's /etc/ssl/certs/ca-certificates.crt
#   ATTENDANCE_TEST_IMAGE the application image's name (default localhost/attendance:stack-test)
#   TORCH_INDEX_URL       torch's index for the image (default: the Dockerfile's CPU-only index;
#                         the test allows the fallback to the default index when it is away)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

build_only=0
if [ "${1:-}" = --build-only ]; then
  build_only=1
  shift
fi

for tool in podman debootstrap docker-compose; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "stack test: $tool is not installed (apt-get install podman debootstrap docker-compose)" >&2
    exit 2
  fi
done

export CONTAINERS_CONF="$root/deploy/containers/containers.conf"
# The base is named after the script that makes it, so a change to the script makes a new one.
base_image=localhost/attendance-test-base:bookworm-$(sha256sum deploy/containers/base/build.sh | cut -c1-12)
app_image=${ATTENDANCE_TEST_IMAGE:-localhost/attendance:stack-test}
export ATTENDANCE_TEST_IMAGE=$app_image
rebuild=${ATTENDANCE_STACK_REBUILD:-0}
started=$(date +%s)

# What every build gets: the host network (the builds' only way out here), the extra CA as a
# secret, and this machine's pip index configuration, so the image installs the same locked
# packages from the same places as the project's .venv did. Local indexes (file:// URLs and
# find-links folders) are mounted read-only into the build.
build_args=(--network host)
extra_ca=${ATTENDANCE_EXTRA_CA:-/etc/ssl/certs/ca-certificates.crt}
if [ -s "$extra_ca" ]; then
  build_args+=(--secret "id=ca_bundle,src=$extra_ca")
fi
pip_setting() {
  # $1: the environment variable, $2: the pip configuration key; the variable wins, as in pip.
  local value=${!1:-}
  if [ -z "$value" ] && [ -x .venv/bin/python ]; then
    value=$(.venv/bin/python -m pip config get "$2" 2>/dev/null || true)
  fi
  printf '%s' "$value"
}
declare -A mounted=()
for pair in PIP_INDEX_URL:global.index-url PIP_EXTRA_INDEX_URL:global.extra-index-url \
  PIP_FIND_LINKS:global.find-links; do
  name=${pair%%:*}
  value=$(pip_setting "$name" "${pair#*:}")
  [ -n "$value" ] || continue
  build_args+=(--build-arg "$name=$value")
  for location in $value; do
    path=${location#file://}
    if [ "${path:0:1}" = / ] && [ -d "$path" ]; then
      # An index's pages link to files beside them (../../files): mount the folder above.
      [ "$(basename "$path")" = simple ] && path=$(dirname "$path")
      if [ -z "${mounted[$path]:-}" ]; then
        build_args+=(-v "$path:$path:ro")
        mounted[$path]=1
      fi
    fi
  done
done

image_missing() { [ "$rebuild" = 1 ] || ! podman image exists "$1"; }
cache_args=()
[ "$rebuild" = 1 ] && cache_args+=(--no-cache)

echo "== images"
if image_missing "$base_image"; then
  bash deploy/containers/base/build.sh "$base_image"
else
  echo "base: $base_image (kept)"
fi

context=$(mktemp -d)
socket_dir=""
service_pid=""
cleanup() {
  [ -z "$service_pid" ] || kill "$service_pid" 2>/dev/null || true
  [ -z "$socket_dir" ] || rm -rf "$socket_dir"
  rm -rf "$context"
}
trap cleanup EXIT

# The stand-ins' build context: deploy/containers plus the MongoDB-wire server's pinned
# requirements, cut from the project's lock (the same versions the tests use).
cp -r deploy/containers/. "$context/"
awk 'BEGIN { split("nx-27017 neosqlite pymongo dnspython", names, " "); for (i in names) want[names[i]] = 1 }
  /^[^ #]/ { split($1, parts, "=="); keep = (parts[1] in want) }
  keep' deploy/requirements-dev.lock >"$context/mongo/requirements.txt"
# Built every run: podman's layer cache makes that a second or two when nothing changed, and a
# changed Containerfile or lock is never served from an old image.
for server in rabbitmq redis mongo; do
  image=localhost/attendance-test-$server:latest
  if ! podman build "${build_args[@]}" "${cache_args[@]}" --build-arg "BASE_IMAGE=$base_image" \
    -t "$image" -f "$context/$server/Containerfile" "$context" >"$context/$server.log" 2>&1; then
    grep -v '^WARNING: Location' "$context/$server.log" | tail -n 30 >&2
    echo "stack test: the $server stand-in did not build" >&2
    exit 1
  fi
  echo "stand-in: $image"
done

echo "application: building $app_image"
app_args=(--build-arg "BASE_IMAGE=$base_image" --build-arg TORCH_FALLBACK=1)
[ -z "${TORCH_INDEX_URL:-}" ] || app_args+=(--build-arg "TORCH_INDEX_URL=$TORCH_INDEX_URL")
app_args+=("${cache_args[@]}")
# The build's steps and what install.sh says as they happen; the whole log on failure.
log="$context/application-build.log"
set +e
podman build "${build_args[@]}" "${app_args[@]}" -t "$app_image" -f deploy/Dockerfile . 2>&1 \
  | tee "$log" | grep --line-buffered -E '^(STEP [0-9]+/[0-9]+: (RUN|COPY)|--> Using cache|torch:|packages:|installed:)'
status=${PIPESTATUS[0]}
set -e
if [ "$status" != 0 ]; then
  grep -v '^WARNING: Location' "$log" | tail -n 40 >&2
  echo "stack test: the application image did not build (podman build exited $status)" >&2
  exit 1
fi
size=$(podman image inspect --format '{{.Size}}' "$app_image")
torch=$(podman run --rm --network none "$app_image" python -c \
  'import torch; print(torch.__version__)' 2>/dev/null || echo unknown)
echo "application: $app_image, $(awk -v b="$size" 'BEGIN { printf "%.2f GB", b / 1e9 }'), torch $torch"
printf '{"image": "%s", "size_bytes": %s, "torch": "%s", "build_seconds": %s}\n' \
  "$app_image" "$size" "$torch" "$(($(date +%s) - started))"
[ "$build_only" = 0 ] || exit 0

echo "== podman's Docker-compatible socket"
socket_dir=$(mktemp -d /tmp/attendance-podman.XXXXXX)
podman system service --time=0 "unix://$socket_dir/podman.sock" >"$socket_dir/service.log" 2>&1 &
service_pid=$!
for _ in $(seq 1 100); do
  [ -S "$socket_dir/podman.sock" ] && break
  sleep 0.1
done
export DOCKER_HOST="unix://$socket_dir/podman.sock"

echo "== the stack"
# -s: the test's figures (one JSON line) reach the terminal.
ATTENDANCE_STACK_TEST=1 .venv/bin/python -m pytest -p no:cacheprovider -s -m containers \
  tests/e2e/test_container_stack.py "$@"
echo "stack test: $(($(date +%s) - started)) s in all"
