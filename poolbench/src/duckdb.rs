//! DuckDB mode (`--url duckdb://PATH`, or `duckdb::memory:`): the same
//! sweep through pool-duckdb, one database instance and a connection per
//! pooled object. Operations: `get` reads one row by key, `set` updates
//! one, `mixed` does both, `scan` runs an aggregate over a million-row
//! table. DuckDB's settings come from the `DUCKDB_*` variables
//! (`pool_duckdb::Config::from_env`); the pool size under test replaces
//! `DUCKDB_POOL_SIZE`, with no overflow.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use pool_duckdb::duckdb;
use tokio::time::Instant;

use crate::load::{self, Measured, Operation, Spec, TaskOp};

/// Rows the point reads and writes use.
const ROWS: i64 = 1000;
/// Rows the scan aggregates.
const FACTS: i64 = 1_000_000;
const READ: &str = "SELECT v FROM poolbench WHERE k = ?";
const WRITE: &str = "UPDATE poolbench SET v = ? WHERE k = ?";
const SCAN: &str = "SELECT g, count(*), avg(x) FROM poolbench_facts GROUP BY g";

/// Whether `url` selects the DuckDB mode.
pub fn is_duckdb_url(url: &str) -> bool {
    url.starts_with("duckdb:")
}

/// The database a `duckdb://PATH`, `duckdb:PATH` or `duckdb::memory:` URL
/// names (`:memory:` for in-memory).
///
/// # Errors
/// No path.
pub fn path(url: &str) -> Result<String, String> {
    let rest = url.strip_prefix("duckdb:").unwrap_or(url);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    if rest.is_empty() {
        return Err(format!(
            "{url}: no database: give duckdb://PATH or duckdb::memory:"
        ));
    }
    Ok(rest.to_owned())
}

/// What the DuckDB mode cannot do, refused by name; its pool sizes
/// (default: `DUCKDB_POOL_SIZE`, else the tuning guide's 10).
pub fn checks(
    mode: load::Mode,
    tls: bool,
    operation: Operation,
    sizes: &[usize],
) -> Result<(Vec<usize>, String), String> {
    crate::embedded::checks(
        "DuckDB",
        "get, set, mixed or scan",
        ("DUCKDB_POOL_SIZE", 10),
        mode,
        tls,
        operation,
        sizes,
    )
}

/// The pool: the `DUCKDB_*` configuration on the URL's database, `size`
/// connections and no overflow (so the size measured is the size used).
async fn pool(url: &str, size: usize) -> Result<pool_duckdb::Pool, String> {
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("DUCKDB_"))
        .collect();
    vars.retain(|(k, _)| k != "DUCKDB_PATH");
    vars.push(("DUCKDB_PATH".into(), path(url)?));
    let mut config = pool_duckdb::Config::from_vars(vars).map_err(|e| e.to_string())?;
    let mut pc = config.get_pool_config();
    pc.max_size = size;
    pc.max_overflow = 0;
    config.pool = Some(pc);
    config.create_pool().await.map_err(|e| e.to_string())
}

/// Creates the tables the load uses, if missing.
async fn prepare_on(pool: &pool_duckdb::Pool, url: &str, value_size: usize) -> Result<(), String> {
    let conn = pool.get().await.map_err(|e| format!("{url}: {e}"))?;
    let value = "x".repeat(value_size).replace('\'', "''");
    conn.interact(move |c| {
        c.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS poolbench AS \
               SELECT range AS k, '{value}' AS v FROM range({ROWS}); \
             CREATE TABLE IF NOT EXISTS poolbench_facts AS \
               SELECT range AS k, (range % 100)::INTEGER AS g, random() AS x FROM range({FACTS});"
        ))
    })
    .await
    .map_err(|e| format!("{url}: {e}"))?
    .map_err(|e| format!("{url}: creating the tables poolbench and poolbench_facts failed: {e}"))
}

/// Opens the database with the `DUCKDB_*` settings and creates the tables
/// the load uses; a bad path, a file that is not a DuckDB database, a lock
/// another process holds or a setting DuckDB refuses is an error naming
/// it.
pub async fn prepare(url: &str, value_size: usize) -> Result<(), String> {
    let pool = pool(url, 1).await?;
    prepare_on(&pool, url, value_size).await
}

struct DuckTask {
    pool: pool_duckdb::Pool,
    op: Operation,
    value: Arc<str>,
}

impl TaskOp for DuckTask {
    async fn op(&mut self, i: usize) -> (bool, Duration) {
        let key = (i as i64 * 7919) % ROWS;
        let (op, value) = (self.op, self.value.clone());
        let t0 = Instant::now();
        let conn = self.pool.get().await;
        let waited = t0.elapsed();
        let Ok(conn) = conn else {
            return (false, waited);
        };
        let ok = conn
            .interact(move |c| match op {
                Operation::Scan => c
                    .prepare_cached(SCAN)
                    .and_then(|mut s| s.query_map([], |r| r.get::<_, i64>(1))?.count_ok())
                    .is_ok(),
                Operation::Set => write(c, key, &value),
                Operation::Mixed { read_percent }
                    if (i * 37) % 100 >= usize::from(read_percent) =>
                {
                    write(c, key, &value)
                }
                _ => c
                    .prepare_cached(READ)
                    .and_then(|mut s| s.query_row([key], |r| r.get::<_, String>(0)))
                    .is_ok(),
            })
            .await
            .unwrap_or(false);
        (ok, waited)
    }
}

fn write(c: &duckdb::Connection, key: i64, value: &str) -> bool {
    c.prepare_cached(WRITE)
        .and_then(|mut s| s.execute(duckdb::params![value, key]))
        .is_ok()
}

/// Counts the rows of a query, stopping at the first error.
trait CountOk {
    fn count_ok(self) -> duckdb::Result<usize>;
}

impl<I: Iterator<Item = duckdb::Result<i64>>> CountOk for I {
    fn count_ok(self) -> duckdb::Result<usize> {
        let mut n = 0;
        for row in self {
            row?;
            n += 1;
        }
        Ok(n)
    }
}

/// Runs the DuckDB load of `spec`; `stop` (Ctrl-C) ends it early.
pub async fn run(
    spec: &Spec,
    stop: &Arc<AtomicBool>,
    on_progress: &(dyn Fn(Duration) + Sync),
) -> Result<Measured, String> {
    let pool = pool(&spec.url, spec.pool_size).await?;
    // An in-memory database is new with each pool.
    prepare_on(&pool, &spec.url, spec.value_size).await?;
    let value: Arc<str> = "x".repeat(spec.value_size).into();
    let mut measured = load::drive(spec.into(), stop, on_progress, |_| DuckTask {
        pool: pool.clone(),
        op: spec.operation,
        value: value.clone(),
    })
    .await?;
    let m = pool.metrics();
    load::connect_times(&mut measured, &m.create_time);
    measured.connections_opened = m.creates_ok;
    Ok(measured)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_file_or_memory() {
        assert_eq!(path("duckdb:///tmp/a.duckdb").unwrap(), "/tmp/a.duckdb");
        assert_eq!(path("duckdb://data/a.duckdb").unwrap(), "data/a.duckdb");
        assert_eq!(path("duckdb::memory:").unwrap(), ":memory:");
        assert!(path("duckdb://").unwrap_err().contains("duckdb://"));
    }
}
