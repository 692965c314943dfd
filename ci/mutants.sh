#!/usr/bin/env bash
# Mutation testing of pool-core's protocol files with cargo-mutants: every
# mutant (an operator flipped, a body replaced by a default, ...) should be
# caught by pool-core's own unit and integration tests (not loom: too slow
# per mutant). Not part of CI: about 10 s per mutant on 2 cores, 280
# mutants over the four files. The caught share and every survivor's
# reason are in docs/mutants.md.
#   ci/mutants.sh                       # the four files
#   ci/mutants.sh pool-core/src/state.rs  # one file
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-mutants >/dev/null 2>&1 || cargo install cargo-mutants --locked
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  files=(pool-core/src/handoff.rs pool-core/src/state.rs pool-core/src/store.rs pool-core/src/breaker.rs)
fi
args=()
for f in "${files[@]}"; do args+=(-f "$f"); done
exec cargo mutants -p pool-core "${args[@]}" --timeout "${MUTANTS_TIMEOUT:-20}" --output "${MUTANTS_OUT:-target/mutants}"
