#!/usr/bin/env bash
# Runs a drop-in check's `cargo test` and fails unless at least EXPECTED
# tests ran and passed: a suite that ran no test proves nothing.
# Usage: scripts/count-tests.sh NAME EXPECTED cargo test [args]
# (With extra args the count is reported, not enforced, unless
# COUNT_ENFORCE=1: the test command's own steps name their targets.)
set -euo pipefail
name=$1 expected=$2
shift 2
log=$(mktemp /tmp/count-tests.XXXXXX)
trap 'rm -f "$log"' EXIT
"$@" 2>&1 | tee "$log"
ran=$({ grep -E '^test result:' "$log" || true; } | sed -E 's/.* ([0-9]+) passed.*/\1/' | awk '{s+=$1} END {print s+0}')
echo "$name: $ran tests passed (expected $expected)" >&2
if { [ "$#" -eq 2 ] || [ "${COUNT_ENFORCE:-0}" = 1 ]; } && [ "$ran" -lt "$expected" ]; then
  echo "$name: only $ran of $expected tests ran: it proves nothing" >&2
  exit 1
fi
exit 0
