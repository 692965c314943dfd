//! PostgreSQL mode (`--url postgres://...`): the same sweep through
//! pool-postgres. Operations: `get` reads one row by key, `set` updates one,
//! `mixed` does both, `pipeline:N` sends N reads at once on one connection.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use pool_postgres::tokio_postgres::NoTls;
use tokio::time::Instant;

use crate::load::{self, Measured, Operation, Spec, TaskOp};

/// Rows the load reads and writes.
const ROWS: i32 = 1000;
const READ: &str = "SELECT v FROM poolbench WHERE k = $1";
const WRITE: &str = "UPDATE poolbench SET v = $2 WHERE k = $1";

fn pool(spec: &Spec) -> Result<pool_postgres::Pool, String> {
    // The tuning guide's preset, with the size under test and no overflow
    // (so the size measured is the size used).
    let mut cfg = pool_postgres::Config::tuned();
    cfg.url = Some(spec.url.clone());
    let mut pc = cfg.get_pool_config();
    pc.max_size = spec.pool_size;
    pc.max_overflow = 0;
    pc.min_idle = spec.min_idle.min(spec.pool_size);
    cfg.pool = Some(pc);
    cfg.create_pool(Some(pool_postgres::Runtime::Tokio1), NoTls)
        .map_err(|e| format!("{}: {e}", crate::report::redact(&spec.url)))
}

/// Reaches the server (within 2 s, or an error naming it) and creates the
/// table the load uses.
pub async fn prepare(url: &str, value_size: usize) -> Result<(), String> {
    let mut cfg = pool_postgres::Config::new();
    cfg.url = Some(url.to_owned());
    cfg.connect_timeout = Some(Duration::from_secs(2));
    let redacted = crate::report::redact(url);
    let pool = cfg
        .create_pool(Some(pool_postgres::Runtime::Tokio1), NoTls)
        .map_err(|e| format!("{redacted}: not a usable PostgreSQL URL: {e}"))?;
    let client = match tokio::time::timeout(Duration::from_secs(3), pool.get()).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return Err(format!("cannot reach {redacted}: {}", chain(&e))),
        Err(_) => return Err(format!("cannot reach {redacted}: no answer within 3 s")),
    };
    let value = "x".repeat(value_size);
    client
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS poolbench (k int PRIMARY KEY, v text); \
             INSERT INTO poolbench SELECT g, '{value}' FROM generate_series(0, {}) g \
             ON CONFLICT (k) DO NOTHING",
            ROWS - 1
        ))
        .await
        .map_err(|e| {
            format!(
                "{redacted}: creating the table poolbench failed: {}",
                chain(&e)
            )
        })
}

/// An error with its sources (tokio-postgres keeps the server's message in
/// the source).
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

struct PgTask {
    pool: pool_postgres::Pool,
    op: Operation,
    value: Arc<str>,
}

impl PgTask {
    async fn run(&self, client: &pool_postgres::Client, i: usize) -> bool {
        let key = |i: usize| (i % ROWS as usize) as i32;
        let read = match self.op {
            Operation::Get | Operation::Pipeline(_) | Operation::Scan => true,
            Operation::Set => false,
            Operation::Mixed { read_percent } => (i * 37) % 100 < usize::from(read_percent),
        };
        if let Operation::Pipeline(n) = self.op {
            let Ok(stmt) = client.prepare_cached(READ).await else {
                return false;
            };
            let keys: Vec<i32> = (0..n).map(|k| key(i + k)).collect();
            let reads = keys.iter().map(|k| {
                let stmt = &stmt;
                async move { client.query_opt(stmt, &[k]).await }
            });
            return futures_util::future::join_all(reads)
                .await
                .iter()
                .all(Result::is_ok);
        }
        let (sql, k) = (if read { READ } else { WRITE }, key(i));
        let Ok(stmt) = client.prepare_cached(sql).await else {
            return false;
        };
        if read {
            client.query_opt(&stmt, &[&k]).await.is_ok()
        } else {
            client.execute(&stmt, &[&k, &&*self.value]).await.is_ok()
        }
    }
}

impl TaskOp for PgTask {
    async fn op(&mut self, i: usize) -> (bool, Duration) {
        let t0 = Instant::now();
        match self.pool.get().await {
            Ok(client) => {
                let waited = t0.elapsed();
                (self.run(&client, i).await, waited)
            }
            Err(_) => (false, t0.elapsed()),
        }
    }
}

/// Runs the PostgreSQL load of `spec`; `stop` (Ctrl-C) ends it early.
pub async fn run(
    spec: &Spec,
    stop: &Arc<AtomicBool>,
    on_progress: &(dyn Fn(Duration) + Sync),
) -> Result<Measured, String> {
    let pool = pool(spec)?;
    let value: Arc<str> = "x".repeat(spec.value_size).into();
    let mut measured = load::drive(spec.into(), stop, on_progress, |_| PgTask {
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
