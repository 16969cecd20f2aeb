#!/usr/bin/env bash
# Makes a CA and a broker certificate with openssl and gives RabbitMQ a TLS listener on 5671 that
# uses them; restarts a running broker when its configuration changed. Safe to run again.
# Gateways verify the broker against the CA (ca.pem) and the host name (subjectAltName).
# Settings: YIZHAN_TLS_DIR (default /etc/rabbitmq/yizhan-tls), YIZHAN_RABBITMQ_CONF
# (default /etc/rabbitmq/rabbitmq.conf), YIZHAN_TLS_HOSTS (default DNS:localhost,IP:127.0.0.1),
# YIZHAN_TLS_NO_RESTART=1 to leave the broker alone.
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

# A TLS listener on 5671 with a locally generated CA (for amqps:// and its tests). The CA
# certificate is /etc/rabbitmq/yizhan-tls/ca.pem; gateways point their TLS settings at it.
TLS_DIR="${YIZHAN_TLS_DIR:-/etc/rabbitmq/yizhan-tls}"
CONF="${YIZHAN_RABBITMQ_CONF:-/etc/rabbitmq/rabbitmq.conf}"
HOSTS="${YIZHAN_TLS_HOSTS:-DNS:localhost,IP:127.0.0.1}"
restart_needed=0
if [ ! -f "$TLS_DIR/server.pem" ]; then
  echo "tls: creating a local TLS certificate for RabbitMQ in $TLS_DIR"
  $SUDO mkdir -p "$TLS_DIR"
  $SUDO openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=Yizhan local broker CA" \
    -keyout "$TLS_DIR/ca-key.pem" -out "$TLS_DIR/ca.pem" 2>/dev/null
  $SUDO openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout "$TLS_DIR/server-key.pem" -out "$TLS_DIR/server.csr" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$HOSTS" | $SUDO tee "$TLS_DIR/ext.cnf" >/dev/null
  $SUDO openssl x509 -req -in "$TLS_DIR/server.csr" -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca-key.pem" -CAcreateserial \
    -days 3650 -extfile "$TLS_DIR/ext.cnf" -out "$TLS_DIR/server.pem" 2>/dev/null
  $SUDO chown -R rabbitmq:rabbitmq "$TLS_DIR" 2>/dev/null || true
  $SUDO chmod 0644 "$TLS_DIR/ca.pem" "$TLS_DIR/server.pem"
  $SUDO chmod 0600 "$TLS_DIR/ca-key.pem" "$TLS_DIR/server-key.pem"
fi
if ! grep -q "yizhan-tls" "$CONF" 2>/dev/null; then
  echo "tls: enabling the TLS listener (5671) in $CONF"
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
if [ "$restart_needed" = 1 ] && [ "${YIZHAN_TLS_NO_RESTART:-0}" != 1 ] && $SUDO rabbitmq-diagnostics -q check_running >/dev/null 2>&1; then
  echo "tls: restarting RabbitMQ to load the TLS listener"
  if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
    $SUDO systemctl restart rabbitmq-server
  else
    $SUDO rabbitmqctl -q stop >/dev/null 2>&1 || true
    for _ in $(seq 1 60); do $SUDO rabbitmq-diagnostics -q check_running >/dev/null 2>&1 || break; sleep 1; done
  fi
fi

