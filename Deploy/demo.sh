#!/usr/bin/env bash
# Installs what is missing, starts a local RabbitMQ, builds, and runs `yizhan demo`.
# Pass a folder to keep the demo's registry and units for later commands: bash Deploy/demo.sh ./demo-home
set -euo pipefail
cd "$(dirname "$0")/.."
bash Deploy/setup.sh
swift build --product yizhan
if [ $# -gt 0 ]; then
  exec .build/debug/yizhan demo --home "$1" --broker-admin "${YIZHAN_BROKER_ADMIN:-http://guest:guest@127.0.0.1:15672}"
else
  exec .build/debug/yizhan demo --broker-admin "${YIZHAN_BROKER_ADMIN:-http://guest:guest@127.0.0.1:15672}"
fi
