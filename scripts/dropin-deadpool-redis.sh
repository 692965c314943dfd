#!/usr/bin/env bash
# The drop-in check for pool-redis: deadpool-redis 0.23.1's own
# tests/redis.rs, tests/redis_connection_config.rs, tests/redis_sentinel.rs
# and tests/redis_cluster.rs, from its crates.io package, with
# `deadpool_redis` renamed to `pool_redis`, built in a scratch directory
# outside the repository, against servers this script starts on free
# loopback ports (and stops): one redis-server, a Sentinel set-up (a master,
# a replica, three sentinels) and a cluster (three masters, three replicas).
# POOL_REDIS_SERVER picks the server binary (default redis-server;
# valkey-server runs the same tests against Valkey).
# Usage: scripts/dropin-deadpool-redis.sh [extra cargo test args]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=${DROPIN_DIR:-$(mktemp -d /tmp/dropin-deadpool-redis.XXXXXX)}
mkdir -p "$scratch/fetch/src" "$scratch/check/src" "$scratch/check/tests"
server=${POOL_REDIS_SERVER:-redis-server}
command -v "$server" >/dev/null || {
  echo "$server is missing: bin/ensure-deps.sh installs it (as root)" >&2
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

cat > "$scratch/check/Cargo.toml" <<TOML
[package]
name = "check-deadpool-redis"
version = "0.0.0"
edition = "2024"
publish = false
[features]
# The test files are gated on the check crate's own features.
default = ["serde", "sentinel", "cluster"]
serde = []
sentinel = []
cluster = []
[dependencies]
# The features a typical deadpool-redis user enables.
pool_redis = { package = "pool-redis", path = "$repo/pool-redis", features = ["serde", "acl", "streams", "script", "json", "sentinel", "cluster"] }
[dev-dependencies]
config = { version = "0.15", default-features = false, features = ["json"] }
futures = "0.3"
redis = { version = "1", default-features = false, features = ["tokio-comp"] }
serde = { version = "1", features = ["derive"] }
tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
TOML
: > "$scratch/check/src/lib.rs"
for f in redis.rs redis_connection_config.rs redis_sentinel.rs redis_cluster.rs; do
  sed -e 's/\bdeadpool_redis\b/pool_redis/g' "$src/tests/$f" > "$scratch/check/tests/$f"
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing answers on port $1" >&2
  return 1
}
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null || true' EXIT
redis() { # port, extra args
  local port=$1; shift
  mkdir -p "$scratch/node-$port"
  "$server" --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
    --dir "$scratch/node-$port" "$@" >/dev/null 2>&1 &
  pids+=($!)
  wait_port "$port"
}

port=$(free_port)
redis "$port"

# Sentinel: a master, a replica, three sentinels (quorum 2).
master=$(free_port)
redis "$master"
redis "$(free_port)" --replicaof 127.0.0.1 "$master"
sentinel_urls=()
for _ in 1 2 3; do
  sp=$(free_port)
  mkdir -p "$scratch/sentinel-$sp"
  cat > "$scratch/sentinel-$sp/sentinel.conf" <<CONF
port $sp
bind 127.0.0.1
dir $scratch/sentinel-$sp
sentinel monitor mymaster 127.0.0.1 $master 2
sentinel down-after-milliseconds mymaster 1000
sentinel failover-timeout mymaster 5000
CONF
  "$server" "$scratch/sentinel-$sp/sentinel.conf" --sentinel >/dev/null 2>&1 &
  pids+=($!)
  wait_port "$sp"
  sentinel_urls+=("redis://127.0.0.1:$sp")
done
urls=$(IFS=,; echo "${sentinel_urls[*]}")

# Cluster: six nodes, three masters with a replica each.
command -v redis-cli >/dev/null || {
  echo "redis-cli is missing: apt-get install -y redis-tools" >&2
  exit 1
}
cluster_addrs=()
for _ in 1 2 3 4 5 6; do
  cp=$(free_port)
  # The bus port too: by default it is port + 10000, out of range above 55535.
  redis "$cp" --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 1000 \
    --cluster-port "$(free_port)"
  cluster_addrs+=("127.0.0.1:$cp")
done
redis-cli --cluster create "${cluster_addrs[@]}" --cluster-replicas 1 --cluster-yes >/dev/null
for _ in $(seq 300); do
  ok=1
  for a in "${cluster_addrs[@]}"; do
    redis-cli -h 127.0.0.1 -p "${a#*:}" cluster info | grep -q 'cluster_state:ok' || ok=0
  done
  [ "$ok" = 1 ] && break
  sleep 0.1
done
[ "$ok" = 1 ] || { echo "the cluster did not reach cluster_state:ok" >&2; exit 1; }
cluster_urls=$(printf 'redis://%s,' "${cluster_addrs[@]}"); cluster_urls=${cluster_urls%,}

echo "deadpool-redis 0.23.1 tests from $src, run in $scratch/check, $server on port $port, Sentinel master on $master, sentinels $urls, cluster $cluster_urls" >&2
cd "$scratch/check" && REDIS__URL="redis://127.0.0.1:$port" \
  REDIS_SENTINEL__URLS="$urls" REDIS_SENTINEL__MASTER_NAME=mymaster \
  REDIS_CLUSTER__URLS="$cluster_urls" \
  "$repo/scripts/count-tests.sh" "deadpool-redis 0.23.1 suite against $server" 18 cargo test "$@"
