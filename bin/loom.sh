#!/usr/bin/env bash
# Runs the loom model checks of pool-core (crate loom-tests).
# LOOM_MAX_PREEMPTIONS bounds the search; 3 covers every model here fully
# enough to catch the races they were written for (each was seen failing
# with its bug put in on purpose: see docs/ARCHITECTURE.md).
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="${RUSTFLAGS:-} --cfg loom"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/loom}"
exec cargo test -p loom-tests --release "$@"
