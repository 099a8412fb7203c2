#!/bin/sh
# Like the official image: a server started without a config file listens on every interface
# and, inside the container network, serves the other containers (protected mode off).
set -eu
if [ "${1:-}" = redis-server ]; then
  shift
  exec redis-server --bind 0.0.0.0 --protected-mode no --dir /data "$@"
fi
exec "$@"
