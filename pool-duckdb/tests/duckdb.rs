//! pool-duckdb against real DuckDB databases in temp dirs.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pool_duckdb::{AccessMode, Config, Pool, Settings};

/// A fresh directory for one test (removed when dropped).
struct TempDir(tempfile::TempDir);

impl TempDir {
    fn new(name: &str) -> Self {
        let prefix = format!("pool-duckdb-{name}-");
        Self(tempfile::Builder::new().prefix(&prefix).tempdir().unwrap())
    }

    fn db(&self) -> PathBuf {
        self.0.path().join("app.duckdb")
    }
}

async fn setting(pool: &Pool, name: &'static str) -> String {
    pool.get()
        .await
        .unwrap()
        .interact(move |c| {
            c.query_row(
                &format!("SELECT current_setting('{name}')::VARCHAR"),
                [],
                |r| r.get::<_, String>(0),
            )
        })
        .await
        .unwrap()
        .unwrap()
}

async fn count(pool: &Pool, table: &'static str) -> i64 {
    pool.get()
        .await
        .unwrap()
        .interact(move |c| c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)))
        .await
        .unwrap()
        .unwrap()
}

async fn exec(pool: &Pool, sql: &'static str) {
    pool.get()
        .await
        .unwrap()
        .interact(move |c| c.execute_batch(sql))
        .await
        .unwrap()
        .unwrap();
}

/// The database instance's settings are DuckDB's, read back from a pooled
/// connection; the per-connection ones hold on every connection.
#[tokio::test]
async fn settings_reach_the_database_and_every_connection() {
    let dir = TempDir::new("settings");
    let mut config = Config::new(dir.db());
    config.settings.threads = Some(2);
    config.settings.memory_limit = Some("512MB".into());
    config.settings.temp_directory = Some(dir.0.path().join("spill"));
    config.settings.checkpoint_threshold = Some("32MB".into());
    config.settings.extra = vec![("default_order".into(), "desc".into())];
    let pool = config.create_pool().await.unwrap();
    assert_eq!(setting(&pool, "threads").await, "2");
    assert_eq!(setting(&pool, "memory_limit").await, "488.2 MiB");
    assert!(setting(&pool, "temp_directory").await.ends_with("spill"));
    assert_eq!(
        setting(&pool, "checkpoint_threshold").await,
        "30.5 MiB",
        "32 MB"
    );
    assert_eq!(setting(&pool, "default_order").await.to_lowercase(), "desc");
    let (a, b) = (pool.get().await.unwrap(), pool.get().await.unwrap());
    for conn in [&a, &b] {
        let bar: bool = conn
            .interact(|c| {
                c.query_row("SELECT current_setting('enable_progress_bar')", [], |r| {
                    r.get(0)
                })
            })
            .await
            .unwrap()
            .unwrap();
        assert!(!bar, "the progress bar is off on every connection");
    }
}

/// Two checkouts are two connections of one database: a table one creates
/// is seen by the other, in memory as on a file.
#[tokio::test]
async fn connections_share_one_database_in_memory() {
    let pool = Config::in_memory().create_pool().await.unwrap();
    let a = pool.get().await.unwrap();
    a.interact(|c| c.execute_batch("CREATE TABLE t AS SELECT range AS v FROM range(100)"))
        .await
        .unwrap()
        .unwrap();
    let b = pool.get().await.unwrap();
    let n: i64 = b
        .interact(|c| c.query_row("SELECT sum(v) FROM t", [], |r| r.get(0)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 4950);
    assert_eq!(pool.status().size, 2);
}

/// A connection handed back inside a transaction (`BEGIN` by hand) is
/// rolled back before the next user gets it: the next user does not
/// start inside it, and the uncommitted row is gone.
#[tokio::test]
async fn no_transaction_reaches_the_next_user() {
    let dir = TempDir::new("tx");
    let mut config = Config::new(dir.db());
    config.pool = Some(pool_duckdb::PoolConfig::new(1));
    let pool = config.create_pool().await.unwrap();
    exec(&pool, "CREATE TABLE t (v INTEGER)").await;
    let conn = pool.get().await.unwrap();
    conn.interact(|c| c.execute_batch("BEGIN; INSERT INTO t VALUES (1)"))
        .await
        .unwrap()
        .unwrap();
    drop(conn);
    let conn = pool.get().await.unwrap();
    // Inside a transaction, a second BEGIN fails.
    conn.interact(|c| c.execute_batch("BEGIN; COMMIT"))
        .await
        .unwrap()
        .expect("the next user started inside the last one's transaction");
    drop(conn);
    assert_eq!(
        count(&pool, "t").await,
        0,
        "the uncommitted insert was rolled back"
    );
}

/// A closure that panics breaks its connection: it is dropped, and the
/// next checkout gets a new one that works.
#[tokio::test]
async fn a_panic_in_interact_drops_the_connection() {
    let mut config = Config::in_memory();
    config.pool = Some(pool_duckdb::PoolConfig::new(1));
    let pool = config.create_pool().await.unwrap();
    exec(&pool, "CREATE TABLE t (v INTEGER)").await;
    let conn = pool.get().await.unwrap();
    let err = conn
        .interact(|c| {
            c.execute_batch("BEGIN; INSERT INTO t VALUES (1)").unwrap();
            panic!("bug in the closure");
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, pool_duckdb::InteractError::Panic(_)),
        "{err:?}"
    );
    drop(conn);
    assert_eq!(count(&pool, "t").await, 0);
    assert_eq!(pool.status().size, 1, "replaced, not leaked");
}

#[tokio::test]
async fn a_path_in_a_missing_directory_is_an_error_naming_it() {
    let dir = TempDir::new("missing");
    let err = Config::new(dir.0.path().join("no-such-dir").join("app.duckdb"))
        .create_pool()
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
    std::fs::write(dir.db(), vec![b'x'; 8192]).unwrap();
    let err = Config::new(dir.db())
        .create_pool()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("app.duckdb") && err.contains("not a valid DuckDB database"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(dir.db()).unwrap(),
        vec![b'x'; 8192],
        "the file is untouched"
    );
}

/// DuckDB lets one process write a file: with another process holding its
/// lock, creating the pool fails naming the file and the lock; a
/// read-only pool is refused the same way while a writer holds it, and
/// opens once the writer is gone.
#[tokio::test]
async fn a_database_locked_by_another_process_is_an_error_naming_it() {
    let dir = TempDir::new("locked");
    drop(Config::new(dir.db()).create_pool().await.unwrap());
    // A second process holding the file's lock as DuckDB's writer does
    // (a POSIX record lock on the whole file).
    let mut holder = std::process::Command::new("python3")
        .args([
            "-c",
            "import fcntl,sys; f=open(sys.argv[1],'r+'); fcntl.lockf(f, fcntl.LOCK_EX); print('locked', flush=True); sys.stdin.read()",
        ])
        .arg(dir.db())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs the lock holder: apt-get install python3");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "locked");
    let err = Config::new(dir.db())
        .create_pool()
        .await
        .unwrap_err()
        .to_string();
    drop(holder.stdin.take());
    holder.wait().unwrap();
    assert!(err.contains("app.duckdb") && err.contains("lock"), "{err}");
    let pool = Config::new(dir.db()).create_pool().await.unwrap();
    exec(&pool, "CREATE TABLE t (v INTEGER)").await;
}

#[tokio::test]
async fn an_unknown_setting_or_a_bad_value_is_an_error_naming_it() {
    let dir = TempDir::new("bad-setting");
    let mut config = Config::new(dir.db());
    config.settings.extra = vec![("threadz".into(), "4".into())];
    let err = config.create_pool().await.unwrap_err().to_string();
    assert!(
        err.contains("app.duckdb") && err.contains("threadz"),
        "{err}"
    );
    let mut config = Config::new(dir.db());
    config.settings.memory_limit = Some("4 bananas".into());
    let err = config.create_pool().await.unwrap_err().to_string();
    assert!(err.contains("memory_limit=\"4 bananas\""), "{err}");
}

/// A read-only pool reads what a writer wrote and cannot write, with
/// DuckDB's error saying so.
#[tokio::test]
async fn a_read_only_pool_reads_and_cannot_write() {
    let dir = TempDir::new("ro");
    let writer = Config::new(dir.db()).create_pool().await.unwrap();
    exec(&writer, "CREATE TABLE t AS SELECT 1 AS v").await;
    writer.close();
    drop(writer);
    let mut config = Config::new(dir.db());
    config.settings.access_mode = AccessMode::ReadOnly;
    let reader = config.create_pool().await.unwrap();
    assert_eq!(count(&reader, "t").await, 1);
    let err = reader
        .get()
        .await
        .unwrap()
        .interact(|c| c.execute_batch("INSERT INTO t VALUES (2)"))
        .await
        .unwrap()
        .unwrap_err()
        .to_string();
    assert!(err.to_lowercase().contains("read-only"), "{err}");
}

/// A checkout waiting for a busy pool yields its runtime thread: on a
/// current-thread runtime another task keeps running while it waits
/// (r2d2's `get()` would block that one thread until a connection frees).
#[tokio::test(flavor = "current_thread")]
async fn a_waiting_checkout_never_blocks_the_runtime() {
    let mut config = Config::in_memory();
    config.pool = Some(pool_duckdb::PoolConfig::new(1));
    let pool = config.create_pool().await.unwrap();
    let held = pool.get().await.unwrap();
    let ticks = Arc::new(AtomicUsize::new(0));
    let ticker = tokio::spawn({
        let ticks = ticks.clone();
        async move {
            loop {
                tokio::time::sleep(Duration::from_millis(5)).await;
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { pool.get().await.map(|_| ()) }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiter.is_finished(), "the pool had one connection, held");
    let seen = ticks.load(Ordering::Relaxed);
    assert!(
        seen >= 10,
        "the other task ran only {seen} times while the checkout waited"
    );
    drop(held);
    tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    ticker.abort();
}

/// Settings read from `DUCKDB_*` variables become the pool's.
#[tokio::test]
async fn a_config_from_the_environment_opens_the_database() {
    let dir = TempDir::new("env");
    let path = dir.db().display().to_string();
    let config = Config::from_vars([
        ("DUCKDB_PATH", path.as_str()),
        ("DUCKDB_POOL_SIZE", "3"),
        ("DUCKDB_THREADS", "1"),
        ("DUCKDB_MAX_MEMORY", "256MB"),
    ])
    .unwrap();
    let pool = config.create_pool().await.unwrap();
    assert_eq!(pool.status().max_size, 3);
    assert_eq!(setting(&pool, "threads").await, "1");
    assert_eq!(setting(&pool, "memory_limit").await, "244.1 MiB");
    let _ = Settings::default();
}

/// With a health-check interval that lets a checkout skip the check, a
/// transaction left open is still rolled back: the check that finds it is
/// not a health check, and runs at every checkout.
#[tokio::test]
async fn a_health_check_interval_never_skips_the_rollback() {
    let mut config = Config::in_memory();
    let mut pool_config = pool_duckdb::PoolConfig::new(1);
    pool_config.health_check_interval = Some(Duration::from_secs(3600));
    config.pool = Some(pool_config);
    let pool = config.create_pool().await.unwrap();
    exec(&pool, "CREATE TABLE t (v INTEGER)").await;
    exec(&pool, "BEGIN; INSERT INTO t VALUES (1)").await;
    exec(&pool, "BEGIN; COMMIT").await;
    assert_eq!(count(&pool, "t").await, 0);
}

/// A second pool on a file a live pool of this process has open is
/// refused (DuckDB would open a second, independent instance that does
/// not see the first one's writes); once the first pool is gone, the file
/// opens again, with what the first wrote.
#[tokio::test]
async fn a_second_pool_on_an_open_file_is_refused() {
    let dir = TempDir::new("twice");
    let first = Config::new(dir.db()).create_pool().await.unwrap();
    exec(&first, "CREATE TABLE t AS SELECT 1 AS v").await;
    let err = Config::new(dir.0.path().join(".").join("app.duckdb"))
        .create_pool()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("app.duckdb") && err.contains("already open"),
        "{err}"
    );
    exec(&first, "INSERT INTO t VALUES (2)").await;
    drop(first);
    let second = Config::new(dir.db()).create_pool().await.unwrap();
    assert_eq!(count(&second, "t").await, 2);
}
