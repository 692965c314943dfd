#!/usr/bin/env bash
# Builds the fuzz crate once and runs each target for FUZZ_SECONDS (default
# 30) from its seed inputs (fuzz/seeds/<target>, in the repo) plus a scratch
# corpus (fuzz/corpus, ignored by git). Needs cargo-fuzz
# (`cargo install cargo-fuzz --locked`); RUSTC_BOOTSTRAP=1 lets it run on
# the stable toolchain. No sanitizer: the code under test has no unsafe,
# and building tokio and redis with ASan would double the build time.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1
secs="${FUZZ_SECONDS:-30}"
targets=(pool_ops env_config redis_url masks blocking_args)
cargo fuzz build -s none
status=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  out=$(mktemp)
  if cargo fuzz run -s none "$t" "corpus/$t" "seeds/$t" -- -max_total_time="$secs" >"$out" 2>&1; then
    echo "fuzz $t: ok, $(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$out" | tail -1)"
  else
    tail -40 "$out"
    echo "fuzz $t: FAILED (the crashing input is in fuzz/artifacts/$t)"
    status=1
  fi
  rm -f "$out"
done
exit "$status"
