#!/usr/bin/env bash
# Builds a Debian bookworm base image from Debian's packages, for machines that can reach
# Debian's archive but no image registry: debootstrap a minimal system with Python 3.11, then
# import it as an image. Tests build the application and the stand-in servers on it.
#
#   deploy/containers/base/build.sh [IMAGE [MIRROR]]
#
# IMAGE defaults to localhost/attendance-test-base:bookworm; MIRROR to the first Debian mirror
# of this machine's apt sources (else deb.debian.org). Needs root, debootstrap and podman.
set -euo pipefail

image=${1:-localhost/attendance-test-base:bookworm}
mirror=${2:-}
if [ -z "$mirror" ]; then
  # The mirror this machine already installs from: apt's deb822 sources, then the old format.
  mirror=$(sed -n 's/^URIs:[[:space:]]*\(http[^[:space:]]*\/debian\/\{0,1\}\)[[:space:]]*$/\1/p' \
    /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi

root=$(mktemp -d /var/tmp/attendance-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "base: debootstrap bookworm from $mirror"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$root" "$mirror" >"$root.log" 2>&1 || { tail -n 20 "$root.log" >&2; exit 1; }
rm -f "$root.log"
# What an image does not need: the downloaded packages and apt's lists.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar --numeric-owner -C "$root" -c . | podman import --quiet \
  --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' - "$image" >/dev/null
echo "base: $image"
