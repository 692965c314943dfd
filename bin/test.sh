#!/usr/bin/env bash
# The project's test command: everything CI checks, in one place.
#   bin/test.sh            # all steps
#   bin/test.sh --quick    # skip the loom models, the drop-in checks, the
#                          # bench build and the fuzzers
# Ends with a line "tests: N passed, M failed" (cargo's own counts, summed).
set -uo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1

# What the tests need, installed when missing (as root), or one message
# naming the command to run.
if [ "$quick" = 0 ]; then
  bin/ensure-deps.sh --fuzz || exit 1
else
  bin/ensure-deps.sh || exit 1
fi

log=$(mktemp /tmp/pool-tests.XXXXXX)
failed_steps=()
steps=0

step() {
  local name=$1
  shift
  steps=$((steps + 1))
  echo "==> $name: $*"
  local started=$SECONDS
  if "$@" 2>&1 | tee -a "$log"; then
    echo "<== $name: ok ($((SECONDS - started)) s)"
  else
    echo "<== $name: FAILED ($((SECONDS - started)) s)"
    failed_steps+=("$name")
  fi
}

step fmt cargo fmt --all --check
# Imports point one way: no module circle in pool-core or pool-redis.
step module-cycles sh -c 'python3 ci/module-cycles.py pool-core/src && python3 ci/module-cycles.py pool-redis/src && python3 ci/module-cycles.py pool-postgres/src'
step clippy cargo clippy --workspace --all-targets --locked -- -D warnings
# The whole suite with the default store (fast-acquire: lock-free); the
# pool-redis tests start their own redis-server and the pool-postgres tests
# their own PostgreSQL (the binaries must exist)...
# (The Sentinel and Cluster tests run once, in their own step below.)
step test-lockfree cargo test --workspace --locked -- --skip sentinel_failover --skip cluster_scenarios
# ...and again with the mutex store as the default.
step test-mutex cargo test -p pool-core --no-default-features --locked
# TLS against real TLS redis-servers (certificates made by the test),
# Sentinel failover against a master, two replicas and three sentinels, and
# Cluster against six nodes (one build for all three; the count proves none
# was skipped by a feature gate).
step test-tls-sentinel-cluster env COUNT_ENFORCE=1 scripts/count-tests.sh "TLS, Sentinel and Cluster tests" 10 \
  cargo test -p pool-redis --features tls-rustls-insecure,sentinel,cluster --locked --test tls --test sentinel --test cluster --test secrets
# The Redis suite again against Valkey (POOL_REDIS_SERVER=valkey-server):
# every pool-redis test but the TLS ones (the valkey-server installed here
# is built without TLS), with the features of the step above so the build
# is shared.
valkey_targets=(--lib)
for f in pool-redis/tests/*.rs; do
  name=$(basename "$f" .rs)
  [ "$name" = tls ] || valkey_targets+=(--test "$name")
done
step test-valkey env POOL_REDIS_SERVER=valkey-server COUNT_ENFORCE=1 scripts/count-tests.sh "pool-redis against Valkey" 82 \
  cargo test --no-fail-fast -p pool-redis --features tls-rustls-insecure,sentinel,cluster --locked "${valkey_targets[@]}"
# The optional features: the Prometheus scrape test and their lints.
step test-metrics cargo test -p pool-core --features metrics,serde --locked --test prometheus
step clippy-features cargo clippy -p pool-core -p pool-sqlite -p pool-duckdb -p pool-redis -p pool-postgres --all-targets --features pool-core/metrics,pool-core/serde,pool-sqlite/serde,pool-duckdb/serde,pool-redis/serde,pool-redis/tls-rustls-insecure,pool-redis/sentinel,pool-redis/cluster,pool-postgres/serde --locked -- -D warnings
# The API docs with the documented features: a broken intra-doc link fails.
step doc env RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --locked -p pool-core -p pool-sync -p pool-sqlite -p pool-duckdb -p pool-redis -p pool-postgres \
  --features pool-core/serde,pool-core/metrics,pool-redis/serde,pool-redis/tls-rustls,pool-redis/sentinel,pool-redis/cluster,pool-postgres/serde
# The publishable crates package (each other's path dependencies carry a
# version); the doc and clippy steps are the compile check.
step package cargo package -p pool-core -p pool-sync -p pool-sqlite -p pool-duckdb -p pool-redis -p pool-postgres -p poolbench --no-verify --locked
if [ "$quick" = 0 ]; then
  step loom ci/loom.sh
  # Drop-in check: deadpool 0.13.1's own tests (managed and unmanaged)
  # against pool-core, with each store as the default.
  step dropin-deadpool scripts/dropin-deadpool.sh
  step dropin-deadpool-mutex env DROPIN_FEATURES=none scripts/dropin-deadpool.sh
  # deadpool-sync 0.2.0's own tests against pool-sync.
  step dropin-deadpool-sync scripts/dropin-deadpool-sync.sh
  # deadpool-sqlite 0.14.0's own tests against pool-sqlite.
  step dropin-deadpool-sqlite scripts/dropin-deadpool-sqlite.sh
  # deadpool-redis 0.23.1's own tests against pool-redis and a real server.
  step dropin-deadpool-redis scripts/dropin-deadpool-redis.sh
  step dropin-deadpool-redis-valkey env POOL_REDIS_SERVER=valkey-server scripts/dropin-deadpool-redis.sh
  # deadpool-postgres 0.14.2's own tests against pool-postgres and a
  # PostgreSQL server the script starts.
  step dropin-deadpool-postgres scripts/dropin-deadpool-postgres.sh
  # The benches must build (they are not run here: speed is measured, not
  # tested).
  step bench-build cargo bench --workspace --no-run --locked
  # Each fuzz target for FUZZ_SECONDS (30) from the seeds in the repo.
  step fuzz ci/fuzz.sh
fi

passed=$(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) passed.*/\1/' | awk '{s+=$1} END {print s+0}')
failed=$(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) failed.*/\1/' | awk '{s+=$1} END {print s+0}')
rm -f "$log"
if [ ${#failed_steps[@]} -gt 0 ]; then
  echo "failed steps: ${failed_steps[*]}"
  [ "$failed" -gt 0 ] || failed=${#failed_steps[@]}
fi
echo "steps: $((steps - ${#failed_steps[@]})) passed, ${#failed_steps[@]} failed"
echo "tests: $passed passed, $failed failed"
[ ${#failed_steps[@]} -eq 0 ]
