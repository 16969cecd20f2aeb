#!/usr/bin/env bash
# A three-node RabbitMQ cluster on one machine, for the fault suite and for trying failover:
# nodes yz1@localhost, yz2@localhost, yz3@localhost with AMQP on 5681-5683, management on
# 15681-15683 and Erlang distribution on 25681-25683, each with its own data and logs under
# $YIZHAN_CLUSTER_DIR (default /var/lib/yizhan-cluster). yz2 and yz3 join yz1; quorum queues
# declared afterwards get a replica on every node. It leaves the machine's own broker alone.
#
#   bash Deploy/cluster.sh start          # idempotent: starts what is not running, joins, waits
#   bash Deploy/cluster.sh status
#   bash Deploy/cluster.sh stop-node 2    # stop_app on yz2 (the node's VM stays up)
#   bash Deploy/cluster.sh start-node 2
#   bash Deploy/cluster.sh stop           # stops all three nodes
#   bash Deploy/cluster.sh reset          # stop, then delete their data
#
# On three real hosts the same topology is the default one: run rabbitmq-server on each host with
# the same Erlang cookie, node names rabbit@host1..3, the default ports, and on host2 and host3
# `rabbitmqctl stop_app; rabbitmqctl join_cluster rabbit@host1; rabbitmqctl start_app`; load
# Deploy/rabbitmq/definitions.json once; give gateways every host (gateway init --broker-alternate).
set -euo pipefail
base="${YIZHAN_CLUSTER_DIR:-/var/lib/yizhan-cluster}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
node() { echo "yz$1@localhost"; }
ctl() { local i=$1; shift; $SUDO rabbitmqctl -q -n "$(node "$i")" "$@"; }

running() { $SUDO rabbitmq-diagnostics -q -n "$(node "$1")" check_running >/dev/null 2>&1; }
alive() { $SUDO rabbitmqctl -q -n "$(node "$1")" eval 'ok.' >/dev/null 2>&1; }

start_vm() {
  local i=$1 d="$base/yz$1"
  alive "$i" && return 0
  $SUDO mkdir -p "$d/mnesia" "$d/log"
  $SUDO tee "$d/rabbitmq.conf" >/dev/null <<CONF
listeners.tcp.default = 568$i
management.tcp.port = 1568$i
management.tcp.ip = 127.0.0.1
log.file.level = warning
CONF
  echo "[rabbitmq_management]." | $SUDO tee "$d/enabled_plugins" >/dev/null
  # Debian's rabbitmq-server drops to the rabbitmq user: the node's files must be its own.
  if id rabbitmq >/dev/null 2>&1; then $SUDO chown -R rabbitmq:rabbitmq "$base"; fi
  $SUDO env RABBITMQ_NODENAME="$(node "$i")" RABBITMQ_NODE_PORT="568$i" RABBITMQ_DIST_PORT="2568$i" \
    RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf" RABBITMQ_ADVANCED_CONFIG_FILE="$d/advanced.config" \
    RABBITMQ_MNESIA_BASE="$d/mnesia" RABBITMQ_LOG_BASE="$d/log" RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins" \
    RABBITMQ_PID_FILE="$d/pid" RABBITMQ_CONF_ENV_FILE=/dev/null rabbitmq-server -detached >/dev/null 2>&1
}

# Up to $2 seconds (default 120) for node i to run; fails early when its VM has gone (a crash at boot).
wait_running() {
  local i=$1 t
  for t in $(seq 1 "${2:-120}"); do
    running "$i" && return 0
    if [ "$t" -ge 10 ] && ! alive "$i"; then return 1; fi
    sleep 1
  done
  return 1
}

await() {
  local i=$1
  wait_running "$i" && return 0
  echo "cluster: node $(node "$i") did not start; see $base/yz$i/log" >&2
  exit 1
}

case "${1:-start}" in
  start)
    # One node at a time, each started again once if its VM died while booting: RabbitMQ 3.10 can
    # crash a node that syncs feature flags with a peer still booting ("incompatible_feature_flags",
    # "badmap undefined"), which starting all three at once made happen now and then. A node still
    # booting after a minute (waiting for peers that stopped after it) does not hold up the others.
    for i in 1 2 3; do
      start_vm "$i"
      wait_running "$i" 60 || alive "$i" || start_vm "$i"
    done
    for i in 1 2 3; do await "$i"; done
    for i in 2 3; do
      if ! ctl "$i" cluster_status --formatter json | grep -q "yz1@localhost"; then
        ctl "$i" stop_app
        ctl "$i" join_cluster "$(node 1)" >/dev/null 2>&1 || { echo "cluster: $(node "$i") could not join $(node 1)" >&2; exit 1; }
        ctl "$i" start_app
        await "$i"
      fi
    done
    members=$(ctl 1 eval 'length(rabbit_nodes:all_running()).')
    [ "$members" = "3" ] || { echo "cluster: $members node(s) running, expected 3" >&2; exit 1; }
    echo "cluster: yz1..yz3@localhost running; AMQP 127.0.0.1:5681,5682,5683; management http://127.0.0.1:15681"
    ;;
  status) for i in 1 2 3; do printf '%s: ' "$(node "$i")"; if running "$i"; then echo running; elif alive "$i"; then echo "app stopped"; else echo down; fi; done ;;
  stop-node) ctl "$2" stop_app ;;
  start-node) ctl "$2" start_app; await "$2" ;;
  stop) for i in 3 2 1; do alive "$i" && ctl "$i" stop || true; done ;;
  reset) "$0" stop; $SUDO rm -rf "$base" ;;
  *) echo "usage: $0 start|status|stop-node N|start-node N|stop|reset" >&2; exit 2 ;;
esac
