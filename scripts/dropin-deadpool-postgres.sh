#!/usr/bin/env bash
# The drop-in check for pool-postgres: deadpool-postgres 0.14.2's own
# tests/postgres.rs and tests/async_trait.rs, from its crates.io package,
# with `deadpool_postgres` renamed to `pool_postgres`, built (with the check
# crate's `serde` feature, which gates one of them) in a scratch directory
# outside the repository, against a PostgreSQL server this script starts
# with initdb/pg_ctl on a free loopback port in a temp dir (and stops).
# Usage: scripts/dropin-deadpool-postgres.sh [extra cargo test args]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=${DROPIN_DIR:-$(mktemp -d /tmp/dropin-deadpool-postgres.XXXXXX)}
mkdir -p "$scratch/fetch/src" "$scratch/check/src" "$scratch/check/tests"

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin: apt-get update && apt-get install -y postgresql" >&2
  exit 1
fi

cat > "$scratch/fetch/Cargo.toml" <<TOML
[package]
name = "fetch-deadpool-postgres"
version = "0.0.0"
edition = "2024"
publish = false
[dependencies]
deadpool-postgres = { version = "=0.14.2", default-features = false }
TOML
: > "$scratch/fetch/src/lib.rs"
src=$(cd "$scratch/fetch" && cargo metadata --format-version 1 \
  | python3 -c 'import json,sys; m=json.load(sys.stdin); print([p["manifest_path"] for p in m["packages"] if p["name"]=="deadpool-postgres"][0])')
src=$(dirname "$src")
# Every deadpool-postgres feature exists here by name.
python3 "$repo/scripts/check-features.py" "$src/Cargo.toml" "$repo/pool-postgres/Cargo.toml"

cat > "$scratch/check/Cargo.toml" <<TOML
[package]
name = "check-deadpool-postgres"
version = "0.0.0"
edition = "2024"
publish = false
[features]
# tests/postgres.rs gates one test on the check crate's own feature.
default = ["serde"]
serde = []
[dependencies]
pool_postgres = { package = "pool-postgres", path = "$repo/pool-postgres", features = ["serde"] }
[dev-dependencies]
config = { version = "0.15", default-features = false, features = ["json"] }
futures = "0.3"
futures-util = "0.3"
serde = { version = "1", features = ["derive"] }
tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
tokio-postgres = "0.7.14"
TOML
: > "$scratch/check/src/lib.rs"
for f in postgres.rs async_trait.rs; do
  sed -e 's/\bdeadpool_postgres\b/pool_postgres/g' "$src/tests/$f" > "$scratch/check/tests/$f"
done

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data="$scratch/pg"
mkdir -p "$data"
as_pg=()
if [ "$(id -u)" = 0 ]; then
  # The server refuses root.
  chown postgres: "$data"
  chmod 755 "$scratch"
  as_pg=(runuser -u postgres --)
fi
"${as_pg[@]}" "$bin/initdb" -D "$data/data" -U postgres -E UTF8 --no-sync --auth=trust >/dev/null
trap '"${as_pg[@]}" "$bin/pg_ctl" -D "$data/data" -m immediate -w stop >/dev/null 2>&1 || true' EXIT
"${as_pg[@]}" "$bin/pg_ctl" -D "$data/data" -l "$data/server.log" -w \
  -o "-p $port -c listen_addresses=127.0.0.1 -k $data -c fsync=off" start >/dev/null
"${as_pg[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres deadpool

echo "deadpool-postgres 0.14.2 tests from $src, run in $scratch/check, PostgreSQL on port $port" >&2
cd "$scratch/check" && PG__HOST=127.0.0.1 PG__PORT="$port" PG__USER=postgres PG__DBNAME=deadpool \
  "$repo/scripts/count-tests.sh" "deadpool-postgres 0.14.2 suite" 13 cargo test "$@"
