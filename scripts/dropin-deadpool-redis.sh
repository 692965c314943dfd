#!/usr/bin/env bash
# The drop-in judge for pool-redis: deadpool-redis 0.23.1's own
# tests/redis.rs and tests/redis_connection_config.rs, from its crates.io
# package, with `deadpool_redis` renamed to `pool_redis`, built in a scratch
# directory outside the repository, against a redis-server this script
# starts on a free loopback port (and stops).
# Usage: scripts/dropin-deadpool-redis.sh [extra cargo test args]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=${DROPIN_DIR:-$(mktemp -d /tmp/dropin-deadpool-redis.XXXXXX)}
mkdir -p "$scratch/fetch/src" "$scratch/judge/src" "$scratch/judge/tests"
command -v redis-server >/dev/null || {
  echo "redis-server is missing: apt-get install -y redis-server" >&2
  exit 1
}

cat > "$scratch/fetch/Cargo.toml" <<TOML
[package]
name = "fetch-deadpool-redis"
version = "0.0.0"
edition = "2024"
publish = false
[dependencies]
deadpool-redis = { version = "=0.23.1", default-features = false }
TOML
: > "$scratch/fetch/src/lib.rs"
src=$(cd "$scratch/fetch" && cargo metadata --format-version 1 \
  | python3 -c 'import json,sys; m=json.load(sys.stdin); print([p["manifest_path"] for p in m["packages"] if p["name"]=="deadpool-redis"][0])')
src=$(dirname "$src")
# Every deadpool-redis feature exists here by name.
python3 "$repo/scripts/check-features.py" "$src/Cargo.toml"

cat > "$scratch/judge/Cargo.toml" <<TOML
[package]
name = "judge-deadpool-redis"
version = "0.0.0"
edition = "2024"
publish = false
[features]
default = ["serde"]
serde = []
[dependencies]
# The features a typical deadpool-redis user enables.
pool_redis = { package = "pool-redis", path = "$repo/pool-redis", features = ["serde", "acl", "streams", "script", "json"] }
[dev-dependencies]
config = { version = "0.15", default-features = false, features = ["json"] }
futures = "0.3"
redis = { version = "1", default-features = false, features = ["tokio-comp"] }
serde = { version = "1", features = ["derive"] }
tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
TOML
: > "$scratch/judge/src/lib.rs"
for f in redis.rs redis_connection_config.rs; do
  sed -e 's/\bdeadpool_redis\b/pool_redis/g' "$src/tests/$f" > "$scratch/judge/tests/$f"
done

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
echo "deadpool-redis 0.23.1 tests from $src, judged in $scratch/judge, redis-server on port $port" >&2
cd "$scratch/judge" && REDIS__URL="redis://127.0.0.1:$port" "$repo/scripts/judge-count.sh" "deadpool-redis 0.23.1 judge" 8 cargo test "$@"
