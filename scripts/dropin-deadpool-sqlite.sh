#!/usr/bin/env bash
# The drop-in check for pool-sqlite: deadpool-sqlite 0.14.0's own tests,
# from its crates.io package, with `deadpool_sqlite` renamed to
# `pool_sqlite`, built in a scratch directory outside the repository and
# run against this checkout (its tests open `db.sqlite3` in the scratch
# check crate). Its feature names are checked against ours first.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=${DROPIN_DIR:-$(mktemp -d /tmp/dropin-deadpool-sqlite.XXXXXX)}
mkdir -p "$scratch/fetch/src" "$scratch/check/src" "$scratch/check/tests"

cat > "$scratch/fetch/Cargo.toml" <<TOML
[package]
name = "fetch-deadpool-sqlite"
version = "0.0.0"
edition = "2024"
publish = false
[dependencies]
deadpool-sqlite = { version = "=0.14.0", default-features = false }
TOML
: > "$scratch/fetch/src/lib.rs"
src=$(cd "$scratch/fetch" && cargo metadata --format-version 1 \
  | python3 -c 'import json,sys; m=json.load(sys.stdin); print([p["manifest_path"] for p in m["packages"] if p["name"]=="deadpool-sqlite"][0])')
src=$(dirname "$src")

python3 "$repo/scripts/check-features.py" "$src/Cargo.toml" "$repo/pool-sqlite/Cargo.toml"

cat > "$scratch/check/Cargo.toml" <<TOML
[package]
name = "check-deadpool-sqlite"
version = "0.0.0"
edition = "2024"
publish = false
[dependencies]
pool_sqlite = { package = "pool-sqlite", path = "$repo/pool-sqlite" }
[dev-dependencies]
tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
TOML
: > "$scratch/check/src/lib.rs"
for f in "$src"/tests/*.rs; do
  sed -e 's/\bdeadpool_sqlite\b/pool_sqlite/g' "$f" > "$scratch/check/tests/$(basename "$f")"
done
echo "deadpool-sqlite 0.14.0 tests from $src, run in $scratch/check" >&2
cd "$scratch/check" && "$repo/scripts/count-tests.sh" "deadpool-sqlite 0.14.0 suite" 2 cargo test "$@"
