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

# A TLS listener on 5671 with a locally generated CA (for amqps:// and its tests). The CA
# certificate is /etc/rabbitmq/yizhan-tls/ca.pem; gateways point their TLS settings at it.
TLS_DIR=/etc/rabbitmq/yizhan-tls
restart_needed=0
if [ ! -f "$TLS_DIR/server.pem" ]; then
  echo "setup: creating a local TLS certificate for RabbitMQ in $TLS_DIR"
  $SUDO mkdir -p "$TLS_DIR"
  $SUDO openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=Yizhan local broker CA" \
    -keyout "$TLS_DIR/ca-key.pem" -out "$TLS_DIR/ca.pem" 2>/dev/null
  $SUDO openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout "$TLS_DIR/server-key.pem" -out "$TLS_DIR/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' | $SUDO tee "$TLS_DIR/ext.cnf" >/dev/null
  $SUDO openssl x509 -req -in "$TLS_DIR/server.csr" -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca-key.pem" -CAcreateserial \
    -days 3650 -extfile "$TLS_DIR/ext.cnf" -out "$TLS_DIR/server.pem" 2>/dev/null
  $SUDO chown -R rabbitmq:rabbitmq "$TLS_DIR" 2>/dev/null || true
  $SUDO chmod 0644 "$TLS_DIR/ca.pem" "$TLS_DIR/server.pem"
  $SUDO chmod 0600 "$TLS_DIR/ca-key.pem" "$TLS_DIR/server-key.pem"
fi
CONF=/etc/rabbitmq/rabbitmq.conf
if ! grep -q "yizhan-tls" "$CONF" 2>/dev/null; then
  echo "setup: enabling the TLS listener (5671) in $CONF"
  $SUDO tee -a "$CONF" >/dev/null <<CONFEOF
# Added by Yizhan Deploy/setup.sh: TLS listener with the local CA in $TLS_DIR (yizhan-tls)
listeners.ssl.default = 5671
ssl_options.cacertfile = $TLS_DIR/ca.pem
ssl_options.certfile = $TLS_DIR/server.pem
ssl_options.keyfile = $TLS_DIR/server-key.pem
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
CONFEOF
  restart_needed=1
fi
if [ "$restart_needed" = 1 ] && $SUDO rabbitmq-diagnostics -q check_running >/dev/null 2>&1; then
  echo "setup: restarting RabbitMQ to load the TLS listener"
  if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
    $SUDO systemctl restart rabbitmq-server
  else
    $SUDO rabbitmqctl -q stop >/dev/null 2>&1 || true
    for _ in $(seq 1 60); do $SUDO rabbitmq-diagnostics -q check_running >/dev/null 2>&1 || break; sleep 1; done
  fi
fi

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
