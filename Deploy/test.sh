#!/usr/bin/env bash
# Runs the whole test suite against a real local RabbitMQ (started here if none is running).
set -euo pipefail
cd "$(dirname "$0")/.."
bash Deploy/setup.sh --tests
export YIZHAN_TEST_BROKER="${YIZHAN_TEST_BROKER:-amqp://guest:guest@127.0.0.1:5672}"
export YIZHAN_TEST_BROKER_ADMIN="${YIZHAN_TEST_BROKER_ADMIN:-http://guest:guest@127.0.0.1:15672}"
swift build --build-tests
swift test --skip-build "$@"
