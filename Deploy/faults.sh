#!/usr/bin/env bash
# Fault injection (full run, on demand): 10,000 documents from one gateway process to another while
# the broker restarts, each gateway is SIGKILLed five times, the broker closes every connection and
# the receiver's disk (a tmpfs) is full for a while. Prints the counts; exits 1 unless every document
# is in the receiver's inbox exactly once with its receipt back. Needs root (rabbitmqctl, mount).
# CI runs a smaller stream of the same harness (FaultInjectionTests).
#   bash Deploy/faults.sh [--documents 10000] [--rate 250] [--seed 1] ...
set -euo pipefail
cd "$(dirname "$0")/.."
bash Deploy/setup.sh
swift build -c release --product yizhan
.build/release/yizhan bench faults "$@"
