#!/usr/bin/env bash
# Installs what Yizhan needs on Debian 12 and makes sure a local RabbitMQ (with the management
# plugin) is running. Safe to run again: it installs only what is missing and reuses a running broker.
set -euo pipefail

# --tests adds what only the test suite uses: headless Chromium (and a CJK font) for the monitor dashboard test.
pkgs=(rabbitmq-server librabbitmq-dev libssl-dev libsqlite3-dev libcurl4 openssl curl python3-jsonschema python3-yaml)
[ "${1:-}" = "--tests" ] && pkgs+=(chromium fonts-wqy-zenhei)
need=()
for pkg in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

command -v swift >/dev/null || { echo "setup: swift is not on PATH (Swift 6 toolchain required)" >&2; exit 1; }

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

# The TLS listener on 5671 with a locally generated CA (Deploy/tls.sh; restarts a running broker if it changed).
bash "$(dirname "$0")/tls.sh"

if ! $SUDO rabbitmq-diagnostics -q check_running >/dev/null 2>&1; then
  echo "setup: starting RabbitMQ"
  $SUDO rabbitmq-plugins --offline enable rabbitmq_management rabbitmq_shovel rabbitmq_shovel_management >/dev/null
  if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
    $SUDO systemctl start rabbitmq-server
  else
    $SUDO rabbitmq-server -detached
  fi
  for _ in $(seq 1 120); do
    $SUDO rabbitmq-diagnostics -q check_running >/dev/null 2>&1 && break
    sleep 1
  done
  $SUDO rabbitmq-diagnostics -q check_running >/dev/null 2>&1 || { echo "setup: RabbitMQ did not start; see /var/log/rabbitmq" >&2; exit 1; }
else
  $SUDO rabbitmq-plugins -q enable rabbitmq_management rabbitmq_shovel rabbitmq_shovel_management >/dev/null
fi

# The management API answers a little after the node itself.
for _ in $(seq 1 60); do
  if curl -fsS -u guest:guest http://127.0.0.1:15672/api/overview >/dev/null 2>&1; then
    echo "setup: RabbitMQ is up (AMQP 127.0.0.1:5672, management http://127.0.0.1:15672)"
    exit 0
  fi
  sleep 1
done
echo "setup: the RabbitMQ management API did not come up on 127.0.0.1:15672" >&2
exit 1
