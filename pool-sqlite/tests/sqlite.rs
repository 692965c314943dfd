//! pool-sqlite against real database files in temp dirs.

use std::path::PathBuf;
use std::time::Duration;

use pool_sqlite::{Config, JournalMode, Pool, Runtime, Settings};

/// A fresh directory for one test (removed when dropped).
struct TempDir(tempfile::TempDir);

impl TempDir {
    fn new(name: &str) -> Self {
        let prefix = format!("pool-sqlite-{name}-");
        Self(tempfile::Builder::new().prefix(&prefix).tempdir().unwrap())
    }

    fn db(&self) -> PathBuf {
        self.0.path().join("app.db")
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
    let path = dir.0.path().join("no-such-dir").join("app.db");
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

/// `SQLITE_*` variables become settings every connection is opened with,
/// `page_size` first (a new database takes it before WAL fixes it).
#[tokio::test]
async fn settings_from_the_environment_reach_every_connection() {
    let dir = TempDir::new("env");
    let settings = Settings::from_vars([
        ("SQLITE_PAGE_SIZE", "8192"),
        ("SQLITE_TEMP_STORE", "memory"),
        ("SQLITE_MMAP_SIZE", "1048576"),
        ("SQLITE_SYNCHRONOUS", "full"),
        ("SQLITE_BUSY_TIMEOUT", "1.5"),
        ("SQLITE_PRAGMAS", "recursive_triggers=ON"),
    ])
    .unwrap();
    let pool = pool_with(dir.db(), &settings, 2);
    let (a, b) = (pool.get().await.unwrap(), pool.get().await.unwrap());
    for conn in [&a, &b] {
        let got: Vec<i64> = conn
            .interact(|c| {
                [
                    "page_size",
                    "temp_store",
                    "mmap_size",
                    "synchronous",
                    "busy_timeout",
                    "recursive_triggers",
                ]
                .iter()
                .map(|p| c.query_row(&format!("PRAGMA {p}"), [], |r| r.get(0)))
                .collect::<Result<_, _>>()
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, [8192, 2, 1_048_576, 2, 1500, 1]);
    }
    drop((a, b));
    assert_eq!(pragma(&pool, "journal_mode").await, "wal");
}

/// A file whose permissions say read-only, opened by a pool that writes:
/// an error naming the file at the first connection (SQLite would open it
/// read-only without a word, or as root write it anyway); asked for
/// read-only, it opens.
#[tokio::test]
async fn a_read_only_file_opened_for_writing_is_an_error_naming_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("ro-file");
    let writer = pool_with(dir.db(), &Settings::default(), 1);
    writer
        .get()
        .await
        .unwrap()
        .interact(|c| {
            c.execute_batch("CREATE TABLE t (v INTEGER); PRAGMA wal_checkpoint(TRUNCATE)")
        })
        .await
        .unwrap()
        .unwrap();
    writer.close();
    drop(writer);
    std::fs::set_permissions(dir.db(), std::fs::Permissions::from_mode(0o444)).unwrap();
    let err = pool_with(dir.db(), &Settings::default(), 1)
        .get()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("app.db") && err.contains("read-only"), "{err}");
    let mut settings = Settings::default();
    settings.read_only = true;
    let reader = pool_with(dir.db(), &settings, 1);
    let n: i64 = reader
        .get()
        .await
        .unwrap()
        .interact(|c| c.query_row("SELECT count(*) FROM t", [], |r| r.get(0)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 0);
}

/// Another connection holds the database's exclusive lock past the
/// pool's `busy_timeout`: the first connection fails with an error naming
/// the file, the setting it could not apply and the lock; once the lock is
/// gone the same pool opens connections and nothing is lost.
#[tokio::test]
async fn a_database_locked_past_busy_timeout_is_an_error_naming_it() {
    let dir = TempDir::new("locked");
    let holder = pool_sqlite::rusqlite::Connection::open(dir.db()).unwrap();
    holder
        .execute_batch("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1); BEGIN EXCLUSIVE")
        .unwrap();
    let mut settings = Settings::default();
    settings.busy_timeout = Duration::from_millis(200);
    let pool = pool_with(dir.db(), &settings, 1);
    let err = pool.get().await.unwrap_err().to_string();
    assert!(
        err.contains("app.db") && err.contains("journal_mode") && err.contains("locked"),
        "{err}"
    );
    holder.execute_batch("COMMIT").unwrap();
    let n: i64 = pool
        .get()
        .await
        .unwrap()
        .interact(|c| c.query_row("SELECT count(*) FROM t", [], |r| r.get(0)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 1);
}

/// Read-modify-write transactions (`BEGIN`, a read, work, an `UPDATE`)
/// from 32 tasks on one WAL file. With many writing connections (how
/// deadpool-sqlite pools) a transaction whose snapshot another commit
/// overtook cannot upgrade to a writer: `SQLITE_BUSY` at once, whatever
/// the `busy_timeout`. Through a `ReadWritePool` the same transactions
/// queue for the one writer: no error, and the counter equals the
/// acknowledged increments in both shapes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_modify_write_collides_on_many_writers_and_queues_on_one() {
    async fn run(checkout: impl Fn() -> BoxedCheckout + Send + Sync + 'static) -> (i64, i64) {
        let checkout = std::sync::Arc::new(checkout);
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let checkout = checkout.clone();
                tokio::spawn(async move {
                    let (mut acknowledged, mut busy) = (0, 0);
                    for _ in 0..10 {
                        let conn = checkout().await;
                        let done = conn
                            .interact(|c| {
                                c.execute_batch("BEGIN")?;
                                let v: i64 =
                                    c.query_row("SELECT v FROM counter", [], |r| r.get(0))?;
                                std::thread::sleep(Duration::from_millis(1));
                                let r = c
                                    .execute("UPDATE counter SET v = ?1", [v + 1])
                                    .and_then(|_| c.execute_batch("COMMIT"));
                                if r.is_err() {
                                    let _ = c.execute_batch("ROLLBACK");
                                }
                                r
                            })
                            .await
                            .unwrap();
                        match done {
                            Ok(()) => acknowledged += 1,
                            Err(e)
                                if e.sqlite_error_code()
                                    == Some(pool_sqlite::rusqlite::ErrorCode::DatabaseBusy) =>
                            {
                                busy += 1
                            }
                            Err(e) => panic!("{e}"),
                        }
                    }
                    (acknowledged, busy)
                })
            })
            .collect();
        let (mut acknowledged, mut busy) = (0, 0);
        for t in tasks {
            let (a, b) = tokio::time::timeout(Duration::from_secs(60), t)
                .await
                .unwrap()
                .unwrap();
            acknowledged += a;
            busy += b;
        }
        (acknowledged, busy)
    }
    type BoxedCheckout =
        std::pin::Pin<Box<dyn std::future::Future<Output = pool_sqlite::Object> + Send>>;
    async fn counter(conn: &pool_sqlite::Object) -> i64 {
        conn.interact(|c| c.query_row("SELECT v FROM counter", [], |r| r.get(0)))
            .await
            .unwrap()
            .unwrap()
    }
    let create = "CREATE TABLE counter (v INTEGER); INSERT INTO counter VALUES (0)";

    let dir = TempDir::new("rmw-many");
    let many = pool_with(dir.db(), &Settings::default(), 8);
    many.get()
        .await
        .unwrap()
        .interact(move |c| c.execute_batch(create))
        .await
        .unwrap()
        .unwrap();
    let pool = many.clone();
    let (acknowledged, busy) = run(move || {
        let pool = pool.clone();
        Box::pin(async move { pool.get().await.unwrap() })
    })
    .await;
    assert!(busy > 0, "many writers: no transaction met SQLITE_BUSY");
    assert_eq!(counter(&many.get().await.unwrap()).await, acknowledged);

    let dir = TempDir::new("rmw-one");
    let rw = pool_sqlite::ReadWritePool::new(&Config::new(dir.db()), 4, &Settings::default())
        .await
        .unwrap();
    rw.write()
        .await
        .unwrap()
        .interact(move |c| c.execute_batch(create))
        .await
        .unwrap()
        .unwrap();
    let pool = rw.clone();
    let (acknowledged, busy) = run(move || {
        let pool = pool.clone();
        Box::pin(async move { pool.write().await.unwrap() })
    })
    .await;
    assert_eq!((acknowledged, busy), (320, 0));
    assert_eq!(counter(&rw.read().await.unwrap()).await, 320);
}
