#!/usr/bin/env bash
# Runs the loom model checks of pool-core (crate loom-tests): release mode
# with debug assertions on, LOOM_MAX_PREEMPTIONS=2. Every model was seen
# failing with its bug put in on purpose (docs/ARCHITECTURE.md,
# "Verification"). Extra arguments go to the test binary's filter, e.g.
# `ci/loom.sh close_races` for one model.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="${RUSTFLAGS:-} --cfg loom"
export CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/loom}"
exec cargo test -p loom-tests --release --locked -- "$@"
