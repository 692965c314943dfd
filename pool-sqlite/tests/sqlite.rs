//! pool-sqlite against real database files in temp dirs.

use std::path::PathBuf;
use std::time::Duration;

use pool_sqlite::{Config, JournalMode, Pool, Runtime, Settings};

/// A fresh directory for one test, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("pool-sqlite-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("app.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn pool_with(path: PathBuf, settings: &Settings, max: usize) -> Pool {
    Config::new(path)
        .builder_with(Runtime::Tokio1, settings)
        .unwrap()
        .max_size(max)
        .build()
        .unwrap()
}

async fn pragma(pool: &Pool, name: &'static str) -> String {
    let conn = pool.get().await.unwrap();
    conn.interact(move |c| {
        c.query_row(&format!("PRAGMA {name}"), [], |r| {
            r.get::<_, rusqlite_value::Value>(0)
        })
    })
    .await
    .unwrap()
    .map(|v| match v {
        rusqlite_value::Value::Text(t) => t,
        rusqlite_value::Value::Integer(i) => i.to_string(),
        other => format!("{other:?}"),
    })
    .unwrap()
}

mod rusqlite_value {
    pub use pool_sqlite::rusqlite::types::Value;
}

#[tokio::test]
async fn a_file_is_opened_in_wal_with_a_busy_timeout_and_normal_sync() {
    let dir = TempDir::new("defaults");
    let pool = pool_with(dir.db(), &Settings::default(), 2);
    assert_eq!(pragma(&pool, "journal_mode").await, "wal");
    assert_eq!(pragma(&pool, "busy_timeout").await, "5000");
    assert_eq!(pragma(&pool, "synchronous").await, "1", "NORMAL");
}

#[tokio::test]
async fn settings_are_applied_to_every_connection() {
    let dir = TempDir::new("settings");
    let mut settings = Settings::default();
    settings.cache_size = Some(-4096);
    settings.foreign_keys = Some(true);
    settings.pragmas = vec![("user_version".into(), "7".into())];
    let pool = pool_with(dir.db(), &settings, 2);
    let (a, b) = (pool.get().await.unwrap(), pool.get().await.unwrap());
    for conn in [&a, &b] {
        let (cache, fk, version): (i64, i64, i64) = conn
            .interact(|c| {
                Ok::<_, pool_sqlite::rusqlite::Error>((
                    c.query_row("PRAGMA cache_size", [], |r| r.get(0))?,
                    c.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?,
                    c.query_row("PRAGMA user_version", [], |r| r.get(0))?,
                ))
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!((cache, fk, version), (-4096, 1, 7));
    }
}

#[tokio::test]
async fn wal_asked_of_an_in_memory_database_is_an_error_naming_both() {
    let mut settings = Settings::default();
    settings.journal_mode = Some(JournalMode::Wal);
    let pool = pool_with(":memory:".into(), &settings, 1);
    let err = pool.get().await.unwrap_err().to_string();
    assert!(
        err.contains(":memory:") && err.contains("journal_mode wal"),
        "{err}"
    );
    // Left to the default, an in-memory database is fine.
    let pool = pool_with(":memory:".into(), &Settings::default(), 1);
    assert_eq!(pragma(&pool, "journal_mode").await, "memory");
}

#[tokio::test]
async fn an_unknown_pragma_is_an_error_naming_it() {
    let dir = TempDir::new("pragma");
    let mut settings = Settings::default();
    settings.pragmas = vec![("jurnal_mode".into(), "wal".into())];
    let err = pool_with(dir.db(), &settings, 1)
        .get()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown pragma `jurnal_mode`"), "{err}");
}

#[tokio::test]
async fn a_path_in_a_missing_directory_is_an_error_naming_it() {
    let dir = TempDir::new("missing");
    let path = dir.0.join("no-such-dir").join("app.db");
    let err = pool_with(path, &Settings::default(), 1)
        .get()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no-such-dir") && err.contains("does not exist"),
        "{err}"
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_an_error_naming_it() {
    let dir = TempDir::new("notadb");
    std::fs::write(dir.db(), vec![b'x'; 4096]).unwrap();
    let err = pool_with(dir.db(), &Settings::default(), 1)
        .get()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not a database") && err.contains("app.db"),
        "{err}"
    );
}

#[tokio::test]
async fn a_read_only_pool_cannot_write_and_says_so() {
    let dir = TempDir::new("readonly");
    let writer = pool_with(dir.db(), &Settings::default(), 1);
    let conn = writer.get().await.unwrap();
    conn.interact(|c| c.execute_batch("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1)"))
        .await
        .unwrap()
        .unwrap();
    let mut settings = Settings::default();
    settings.read_only = true;
    let reader = pool_with(dir.db(), &settings, 1);
    let conn = reader.get().await.unwrap();
    let n: i64 = conn
        .interact(|c| c.query_row("SELECT count(*) FROM t", [], |r| r.get(0)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 1);
    let err = conn
        .interact(|c| c.execute("INSERT INTO t VALUES (2)", []))
        .await
        .unwrap()
        .unwrap_err()
        .to_string();
    assert!(err.contains("readonly"), "{err}");
}

/// A connection handed back inside a transaction (`BEGIN` by hand) is
/// rolled back before the next user gets it.
#[tokio::test]
async fn no_transaction_reaches_the_next_user() {
    let dir = TempDir::new("txn");
    let pool = pool_with(dir.db(), &Settings::default(), 1);
    let conn = pool.get().await.unwrap();
    conn.interact(|c| {
        c.execute_batch("CREATE TABLE t (v INTEGER); BEGIN; INSERT INTO t VALUES (1)")
    })
    .await
    .unwrap()
    .unwrap();
    drop(conn);
    let conn = pool.get().await.unwrap();
    let (autocommit, rows): (bool, i64) = conn
        .interact(|c| {
            let rows = c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?;
            Ok::<_, pool_sqlite::rusqlite::Error>((c.is_autocommit(), rows))
        })
        .await
        .unwrap()
        .unwrap();
    assert!(
        autocommit,
        "the next user started inside the last one's transaction"
    );
    assert_eq!(rows, 0, "the uncommitted insert was rolled back");
}

/// 32 tasks write into one WAL file through a pool of 8: the busy timeout
/// queues the writers instead of failing them with `SQLITE_BUSY`, and
/// every acknowledged write is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_meet_no_busy_error() {
    let dir = TempDir::new("writers");
    let pool = pool_with(dir.db(), &Settings::default(), 8);
    pool.get()
        .await
        .unwrap()
        .interact(|c| c.execute_batch("CREATE TABLE t (task INTEGER, n INTEGER)"))
        .await
        .unwrap()
        .unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|task| {
            let pool = pool.clone();
            tokio::spawn(async move {
                for n in 0..20 {
                    let conn = pool.get().await.unwrap();
                    conn.interact(move |c| c.execute("INSERT INTO t VALUES (?1, ?2)", [task, n]))
                        .await
                        .unwrap()
                        .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(60), t)
            .await
            .unwrap()
            .unwrap();
    }
    let n: i64 = pool
        .get()
        .await
        .unwrap()
        .interact(|c| c.query_row("SELECT count(*) FROM t", [], |r| r.get(0)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 32 * 20);
}

/// 32 tasks mixing reads and writes on one WAL file through a
/// `ReadWritePool` (4 readers, one writer): no error, `SQLITE_BUSY` or
/// other, and every acknowledged write is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_and_one_writer_mix_without_errors() {
    let dir = TempDir::new("rw");
    let pool = pool_sqlite::ReadWritePool::new(&Config::new(dir.db()), 4, &Settings::default())
        .await
        .unwrap();
    pool.write()
        .await
        .unwrap()
        .interact(|c| c.execute_batch("CREATE TABLE t (task INTEGER, n INTEGER)"))
        .await
        .unwrap()
        .unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|task| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut acknowledged = 0;
                for n in 0..20 {
                    if (task + n) % 2 == 0 {
                        let conn = pool.write().await.unwrap();
                        conn.interact(move |c| {
                            c.execute("INSERT INTO t VALUES (?1, ?2)", [task, n])
                        })
                        .await
                        .unwrap()
                        .unwrap();
                        acknowledged += 1;
                    } else {
                        let conn = pool.read().await.unwrap();
                        let _: i64 = conn
                            .interact(|c| c.query_row("SELECT count(*) FROM t", [], |r| r.get(0)))
                            .await
                            .unwrap()
                            .unwrap();
                    }
                }
                acknowledged
            })
        })
        .collect();
    let mut acknowledged = 0;
    for t in tasks {
        acknowledged += tokio::time::timeout(Duration::from_secs(60), t)
            .await
            .unwrap()
            .unwrap();
    }
    let n: i64 = pool
        .read()
        .await
        .unwrap()
        .interact(|c| c.query_row("SELECT count(*) FROM t", [], |r| r.get(0)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, acknowledged);
    assert_eq!(pool.writer().status().max_size, 1);
}

/// While the writer holds a write transaction open, readers read (the
/// snapshot before it) instead of waiting; a reader cannot write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_run_beside_an_open_write_transaction() {
    let dir = TempDir::new("rw-snapshot");
    let pool = pool_sqlite::ReadWritePool::new(&Config::new(dir.db()), 2, &Settings::default())
        .await
        .unwrap();
    let writer = pool.write().await.unwrap();
    writer
        .interact(|c| {
            c.execute_batch("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1); BEGIN IMMEDIATE; INSERT INTO t VALUES (2)")
        })
        .await
        .unwrap()
        .unwrap();
    let reader = pool.read().await.unwrap();
    let seen: i64 = tokio::time::timeout(
        Duration::from_secs(2),
        reader.interact(|c| c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))),
    )
    .await
    .expect("a reader waited for the writer")
    .unwrap()
    .unwrap();
    assert_eq!(seen, 1, "the committed row only");
    let err = reader
        .interact(|c| c.execute("INSERT INTO t VALUES (3)", []))
        .await
        .unwrap()
        .unwrap_err()
        .to_string();
    assert!(err.contains("readonly"), "{err}");
    writer
        .interact(|c| c.execute_batch("COMMIT"))
        .await
        .unwrap()
        .unwrap();
}
