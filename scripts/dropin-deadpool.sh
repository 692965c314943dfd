#!/usr/bin/env bash
# The drop-in check for pool-core: deadpool 0.13.1's own tests (managed and
# unmanaged), from its crates.io package, with `deadpool` renamed to
# `pool_core`, built in a scratch directory outside the repository and run
# against this checkout. Its feature names are checked against ours first.
# Usage: scripts/dropin-deadpool.sh [extra cargo test args]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=${DROPIN_DIR:-$(mktemp -d /tmp/dropin-deadpool.XXXXXX)}
mkdir -p "$scratch/fetch/src" "$scratch/check/src" "$scratch/check/tests"

# 1. Let cargo download the package (sources land in the cargo registry).
cat > "$scratch/fetch/Cargo.toml" <<TOML
[package]
name = "fetch-deadpool"
version = "0.0.0"
edition = "2024"
publish = false
[dependencies]
deadpool = { version = "=0.13.1", default-features = false }
TOML
: > "$scratch/fetch/src/lib.rs"
src=$(cd "$scratch/fetch" && cargo metadata --format-version 1 \
  | python3 -c 'import json,sys; m=json.load(sys.stdin); print([p["manifest_path"] for p in m["packages"] if p["name"]=="deadpool"][0])')
src=$(dirname "$src")

# 2. Every feature of deadpool's is one of pool-core's, by name.
python3 "$repo/scripts/check-features.py" "$src/Cargo.toml" "$repo/pool-core/Cargo.toml"

# 3. The check crate: deadpool's tests switch on the features of the crate
# they are compiled in, so its features forward to pool-core's, as a user's
# `deadpool = { default-features = false, features = [...] }` renamed would.
# DROPIN_FEATURES=none checks pool-core without `fast-acquire` (mutex store).
if [ "${DROPIN_FEATURES:-}" = none ]; then
  extra_features=''
  scratch="$scratch/mutex"
  mkdir -p "$scratch/check/src" "$scratch/check/tests"
else
  extra_features=', "fast-acquire"'
fi
cat > "$scratch/check/Cargo.toml" <<TOML
[package]
name = "check-deadpool"
version = "0.0.0"
edition = "2024"
publish = false
[features]
default = ["managed", "unmanaged", "serde", "rt_tokio_1"]
managed = ["pool_core/managed"]
unmanaged = ["pool_core/unmanaged"]
serde = ["pool_core/serde"]
rt_tokio_1 = ["pool_core/rt_tokio_1"]
[dependencies]
pool_core = { package = "pool-core", path = "$repo/pool-core", default-features = false, features = ["rt_tokio_1"$extra_features] }
[dev-dependencies]
tokio = { version = "1", features = ["macros", "rt", "rt-multi-thread", "time", "sync"] }
itertools = "0.15"
config = { version = "0.15", default-features = false, features = ["json"] }
serde = { version = "1", features = ["derive"] }
TOML
: > "$scratch/check/src/lib.rs"
for f in "$src"/tests/managed*.rs "$src"/tests/unmanaged*.rs; do
  sed -e 's/\bdeadpool::/pool_core::/g' -e 's/\bdeadpool\b/pool_core/g' "$f" > "$scratch/check/tests/$(basename "$f")"
done
echo "deadpool 0.13.1 tests from $src, run in $scratch/check" >&2
cd "$scratch/check" && "$repo/scripts/count-tests.sh" "deadpool 0.13.1 suite" 34 cargo test "$@"
