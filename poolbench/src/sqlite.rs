//! SQLite mode (`--url sqlite://PATH`): the same sweep through pool-sqlite's
//! `ReadWritePool`, the shape SQLite wants (read-only connections in
//! parallel, one writer): the pool size under test is the number of
//! readers; writes queue for the one writer. Operations: `get` reads one row
//! by key, `set` updates one, `mixed` does both. SQLite's own settings come
//! from the `SQLITE_*` variables (`pool_sqlite::Settings::from_env`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use pool_sqlite::rusqlite;
use tokio::time::Instant;

use crate::load::{self, Measured, Operation, Spec, TaskOp};

/// Rows the load reads and writes.
const ROWS: i64 = 1000;
const READ: &str = "SELECT v FROM poolbench WHERE k = ?1";
const WRITE: &str = "UPDATE poolbench SET v = ?2 WHERE k = ?1";

/// Whether `url` selects the SQLite mode.
pub fn is_sqlite_url(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// The database file a `sqlite://PATH` (or `sqlite:PATH`) URL names.
///
/// # Errors
/// An in-memory database, or no path.
pub fn path(url: &str) -> Result<PathBuf, String> {
    let rest = url.strip_prefix("sqlite:").unwrap_or(url);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let rest = rest.split_once('?').map_or(rest, |(path, _)| path);
    if rest == ":memory:" || rest.is_empty() {
        return Err(format!(
            "{url}: an in-memory SQLite database belongs to one connection, so a pool of them \
             shares no data and measures nothing; give a file (on tmpfs, such as \
             sqlite:///dev/shm/bench.db, for memory speed)"
        ));
    }
    Ok(PathBuf::from(rest))
}

/// What the SQLite mode cannot do, refused by name; its pool sizes
/// (default: `SQLITE_POOL_SIZE`, else the tuning guide's 5).
pub fn checks(
    mode: load::Mode,
    tls: bool,
    operation: Operation,
    sizes: &[usize],
) -> Result<(Vec<usize>, String), String> {
    crate::embedded::checks(
        "SQLite",
        "get, set or mixed",
        ("SQLITE_POOL_SIZE", 5),
        mode,
        tls,
        operation,
        sizes,
    )
}

fn settings() -> Result<pool_sqlite::Settings, String> {
    pool_sqlite::Settings::from_env().map_err(|e| e.to_string())
}

async fn pool(url: &str, readers: usize) -> Result<pool_sqlite::ReadWritePool, String> {
    let config = pool_sqlite::Config::new(path(url)?);
    pool_sqlite::ReadWritePool::new(&config, readers, &settings()?)
        .await
        .map_err(|e| format!("{url}: {e}"))
}

/// Opens the file (creating it) with the `SQLITE_*` settings and creates
/// the table the load uses; a bad path, a file that is not a database or a
/// setting SQLite refuses is an error naming it.
pub async fn prepare(url: &str, value_size: usize) -> Result<(), String> {
    let pool = pool(url, 1).await?;
    let conn = pool.write().await.map_err(|e| format!("{url}: {e}"))?;
    let value = "x".repeat(value_size);
    conn.interact(move |c| {
        let tx = c.transaction()?;
        tx.execute(
            "CREATE TABLE IF NOT EXISTS poolbench (k INTEGER PRIMARY KEY, v TEXT)",
            [],
        )?;
        for k in 0..ROWS {
            tx.execute(
                "INSERT OR IGNORE INTO poolbench VALUES (?1, ?2)",
                rusqlite::params![k, value],
            )?;
        }
        tx.commit()
    })
    .await
    .map_err(|e| format!("{url}: {e}"))?
    .map_err(|e| format!("{url}: creating the table poolbench failed: {e}"))
}

struct SqliteTask {
    pool: pool_sqlite::ReadWritePool,
    op: Operation,
    value: Arc<str>,
}

impl TaskOp for SqliteTask {
    async fn op(&mut self, i: usize) -> (bool, Duration) {
        let key = (i as i64 * 7919) % ROWS;
        let read = match self.op {
            Operation::Get | Operation::Pipeline(_) | Operation::Scan => true,
            Operation::Set => false,
            Operation::Mixed { read_percent } => (i * 37) % 100 < usize::from(read_percent),
        };
        let t0 = Instant::now();
        let conn = if read {
            self.pool.read().await
        } else {
            self.pool.write().await
        };
        let waited = t0.elapsed();
        let Ok(conn) = conn else {
            return (false, waited);
        };
        let value = self.value.clone();
        let ok = conn
            .interact(move |c| {
                if read {
                    c.prepare_cached(READ)
                        .and_then(|mut s| s.query_row([key], |r| r.get::<_, String>(0)))
                        .is_ok()
                } else {
                    c.prepare_cached(WRITE)
                        .and_then(|mut s| s.execute(rusqlite::params![key, &*value]))
                        .is_ok()
                }
            })
            .await
            .unwrap_or(false);
        (ok, waited)
    }
}

/// Runs the SQLite load of `spec` (the pool size is the readers' count);
/// `stop` (Ctrl-C) ends it early.
pub async fn run(
    spec: &Spec,
    stop: &Arc<AtomicBool>,
    on_progress: &(dyn Fn(Duration) + Sync),
) -> Result<Measured, String> {
    let pool = pool(&spec.url, spec.pool_size).await?;
    let value: Arc<str> = "x".repeat(spec.value_size).into();
    let mut measured = load::drive(spec.into(), stop, on_progress, |_| SqliteTask {
        pool: pool.clone(),
        op: spec.operation,
        value: value.clone(),
    })
    .await?;
    let (readers, writer) = (pool.readers().metrics(), pool.writer().metrics());
    load::connect_times(&mut measured, &readers.create_time);
    measured.connections_opened = readers.creates_ok + writer.creates_ok;
    Ok(measured)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_file_and_memory_is_refused() {
        assert_eq!(
            path("sqlite:///tmp/a.db").unwrap(),
            PathBuf::from("/tmp/a.db")
        );
        assert_eq!(
            path("sqlite://data/a.db").unwrap(),
            PathBuf::from("data/a.db")
        );
        assert_eq!(path("sqlite:a.db?mode=rwc").unwrap(), PathBuf::from("a.db"));
        for url in ["sqlite::memory:", "sqlite://:memory:", "sqlite://"] {
            let e = path(url).unwrap_err();
            assert!(e.contains(url), "{e}");
        }
    }
}
