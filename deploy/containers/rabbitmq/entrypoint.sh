#!/bin/sh
# The official image's RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS, as a config file.
set -eu
mkdir -p /etc/rabbitmq
{
  echo "listeners.tcp.default = 5672"
  echo "default_user = ${RABBITMQ_DEFAULT_USER:-guest}"
  echo "default_pass = ${RABBITMQ_DEFAULT_PASS:-guest}"
  echo "loopback_users = none"
} >/etc/rabbitmq/rabbitmq.conf
exec "$@"
