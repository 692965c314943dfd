#!/usr/bin/env bash
# The drop-in check for pool-sync: deadpool-sync 0.2.0's own tests, from its
# crates.io package, with `deadpool_sync` renamed to `pool_sync` and
# `deadpool`/`deadpool_runtime` to `pool_core`, built in a scratch
# directory outside the repository and run against this checkout. Its
# feature names are checked against ours first.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=${DROPIN_DIR:-$(mktemp -d /tmp/dropin-deadpool-sync.XXXXXX)}
mkdir -p "$scratch/fetch/src" "$scratch/check/src" "$scratch/check/tests"

cat > "$scratch/fetch/Cargo.toml" <<TOML
[package]
name = "fetch-deadpool-sync"
version = "0.0.0"
edition = "2024"
publish = false
[dependencies]
deadpool-sync = { version = "=0.2.0", default-features = false }
TOML
: > "$scratch/fetch/src/lib.rs"
src=$(cd "$scratch/fetch" && cargo metadata --format-version 1 \
  | python3 -c 'import json,sys; m=json.load(sys.stdin); print([p["manifest_path"] for p in m["packages"] if p["name"]=="deadpool-sync"][0])')
src=$(dirname "$src")

python3 "$repo/scripts/check-features.py" "$src/Cargo.toml" "$repo/pool-sync/Cargo.toml"

cat > "$scratch/check/Cargo.toml" <<TOML
[package]
name = "check-deadpool-sync"
version = "0.0.0"
edition = "2024"
publish = false
[dependencies]
pool_sync = { package = "pool-sync", path = "$repo/pool-sync" }
pool_core = { package = "pool-core", path = "$repo/pool-core", features = ["rt_tokio_1"] }
[dev-dependencies]
tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
TOML
: > "$scratch/check/src/lib.rs"
for f in "$src"/tests/*.rs; do
  sed -e 's/\bdeadpool_sync\b/pool_sync/g' -e 's/\bdeadpool_runtime\b/pool_core/g' \
      -e 's/\bdeadpool::/pool_core::/g' -e 's/\bdeadpool\b/pool_core/g' \
      "$f" > "$scratch/check/tests/$(basename "$f")"
done
echo "deadpool-sync 0.2.0 tests from $src, run in $scratch/check" >&2
cd "$scratch/check" && "$repo/scripts/count-tests.sh" "deadpool-sync 0.2.0 suite" 1 cargo test "$@"
