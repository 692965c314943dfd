//! End-to-end PostgreSQL throughput: pool-postgres against deadpool-postgres,
//! bb8-postgres and one dedicated tokio-postgres client per task, doing the
//! same statement in the same number of tasks.

use std::sync::Arc;
use std::time::Duration;

use bb8_postgres::PostgresConnectionManager;
use tokio_postgres::{NoTls, Statement, types::Type};

/// Connections every pool may hold (the dedicated floor has one per task).
pub const POOL_SIZE: usize = 16;

/// Who serves the statements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contender {
    /// pool-postgres with its defaults (`Verified` within the 1 s TTL,
    /// session tracking).
    PoolPostgres,
    /// pool-postgres checking every checkout (`health_check_interval` 0).
    PoolPostgresVerifiedEvery,
    /// pool-postgres used through the raw client (`&**client`), which it
    /// cannot follow: a `ROLLBACK` at every checkout (what the transaction
    /// safety costs code that bypasses the wrapper).
    PoolPostgresRaw,
    /// deadpool-postgres with its default `Fast` (no round trip).
    DeadpoolFast,
    /// deadpool-postgres with `Verified` (an empty query every checkout).
    DeadpoolVerified,
    /// bb8-postgres with its defaults (an empty query every checkout; no
    /// statement cache, so one `query_typed` round trip per statement).
    Bb8,
    /// One tokio-postgres client per task, its statement prepared once: the
    /// floor no pool can beat.
    Dedicated,
}

impl Contender {
    /// Every contender, in report order.
    pub const ALL: [Contender; 7] = [
        Contender::PoolPostgres,
        Contender::PoolPostgresVerifiedEvery,
        Contender::PoolPostgresRaw,
        Contender::DeadpoolFast,
        Contender::DeadpoolVerified,
        Contender::Bb8,
        Contender::Dedicated,
    ];

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Contender::PoolPostgres => "pool-postgres",
            Contender::PoolPostgresVerifiedEvery => "pool-postgres verified-every",
            Contender::PoolPostgresRaw => "pool-postgres &**client",
            Contender::DeadpoolFast => "deadpool-postgres fast",
            Contender::DeadpoolVerified => "deadpool-postgres verified",
            Contender::Bb8 => "bb8-postgres",
            Contender::Dedicated => "dedicated clients",
        }
    }
}

/// The statement each operation runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `SELECT 1` through the statement cache.
    Select1,
    /// `SELECT $1::int` with one parameter, one row back.
    Param,
}

impl Operation {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Select1 => "SELECT 1 (prepare_cached)",
            Operation::Param => "SELECT $1::int",
        }
    }

    fn sql(self) -> &'static str {
        match self {
            Operation::Select1 => "SELECT 1",
            Operation::Param => "SELECT $1::int",
        }
    }
}

/// A contender ready to run.
#[derive(Clone)]
#[allow(missing_debug_implementations)] // bb8's pool has no Debug
pub enum Handle {
    /// A pool-postgres pool, used through the wrapper or (`raw`) through
    /// the raw client.
    PoolPostgres {
        /// The pool.
        pool: pool_postgres::Pool,
        /// Statements through `&**client`.
        raw: bool,
    },
    /// A deadpool-postgres pool.
    Deadpool(deadpool_postgres::Pool),
    /// A bb8-postgres pool.
    Bb8(bb8::Pool<PostgresConnectionManager<NoTls>>),
    /// One client and its prepared statement (for this task only).
    Dedicated(Arc<(tokio_postgres::Client, Statement)>),
}

fn check(row: &tokio_postgres::Row, expected: i32) -> bool {
    row.get::<_, i32>(0) == expected
}

impl Handle {
    /// One checkout and one statement; `true` if the right row came back.
    pub async fn run_once(&self, op: Operation, i: i32) -> bool {
        let expected = if op == Operation::Select1 { 1 } else { i };
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = match op {
            Operation::Select1 => vec![],
            Operation::Param => vec![&i],
        };
        match self {
            Handle::PoolPostgres { pool, raw } => {
                let Ok(c) = pool.get().await else {
                    return false;
                };
                let Ok(stmt) = c.prepare_cached(op.sql()).await else {
                    return false;
                };
                let row = if *raw {
                    // Through the raw client: the wrapper cannot follow it.
                    let raw: &tokio_postgres::Client = &c;
                    raw.query_one(&stmt, &params).await
                } else {
                    c.query_one(&stmt, &params).await
                };
                row.is_ok_and(|r| check(&r, expected))
            }
            Handle::Deadpool(pool) => {
                let Ok(c) = pool.get().await else {
                    return false;
                };
                let Ok(stmt) = c.prepare_cached(op.sql()).await else {
                    return false;
                };
                c.query_one(&stmt, &params)
                    .await
                    .is_ok_and(|r| check(&r, expected))
            }
            Handle::Bb8(pool) => {
                let Ok(c) = pool.get().await else {
                    return false;
                };
                let typed: Vec<(&(dyn tokio_postgres::types::ToSql + Sync), Type)> = match op {
                    Operation::Select1 => vec![],
                    Operation::Param => vec![(&i, Type::INT4)],
                };
                c.query_typed(op.sql(), &typed)
                    .await
                    .is_ok_and(|rows| rows.len() == 1 && check(&rows[0], expected))
            }
            Handle::Dedicated(client) => client
                .0
                .query_one(&client.1, &params)
                .await
                .is_ok_and(|r| check(&r, expected)),
        }
    }
}

/// One handle per task.
///
/// # Panics
/// If the server cannot be reached.
pub async fn handles(contender: Contender, url: &str, tasks: usize, op: Operation) -> Vec<Handle> {
    let pg: tokio_postgres::Config = url.parse().expect("a postgres:// URL");
    let one = match contender {
        Contender::PoolPostgres
        | Contender::PoolPostgresVerifiedEvery
        | Contender::PoolPostgresRaw => {
            let mut cfg = pool_postgres::Config::new();
            cfg.url = Some(url.to_string());
            let mut pc = pool_postgres::PoolConfig::new(POOL_SIZE);
            if contender == Contender::PoolPostgresVerifiedEvery {
                pc.health_check_interval = Some(Duration::ZERO);
            }
            cfg.pool = Some(pc);
            let pool = cfg
                .create_pool(Some(pool_postgres::Runtime::Tokio1), NoTls)
                .unwrap();
            Handle::PoolPostgres {
                pool,
                raw: contender == Contender::PoolPostgresRaw,
            }
        }
        Contender::DeadpoolFast | Contender::DeadpoolVerified => {
            let method = if contender == Contender::DeadpoolFast {
                deadpool_postgres::RecyclingMethod::Fast
            } else {
                deadpool_postgres::RecyclingMethod::Verified
            };
            let mgr = deadpool_postgres::Manager::from_config(
                pg.clone(),
                NoTls,
                deadpool_postgres::ManagerConfig {
                    recycling_method: method,
                },
            );
            Handle::Deadpool(
                deadpool_postgres::Pool::builder(mgr)
                    .max_size(POOL_SIZE)
                    .build()
                    .unwrap(),
            )
        }
        Contender::Bb8 => {
            let mgr = PostgresConnectionManager::new(pg.clone(), NoTls);
            Handle::Bb8(
                bb8::Pool::builder()
                    .max_size(POOL_SIZE as u32)
                    .build(mgr)
                    .await
                    .unwrap(),
            )
        }
        Contender::Dedicated => {
            let mut out = Vec::with_capacity(tasks);
            for _ in 0..tasks {
                let (client, conn) = pg.connect(NoTls).await.expect("connect");
                tokio::spawn(conn);
                let stmt = client.prepare(op.sql()).await.expect("prepare");
                out.push(Handle::Dedicated(Arc::new((client, stmt))));
            }
            return out;
        }
    };
    vec![one; tasks]
}

pub use crate::RunResult;

/// Runs `op` in `tasks` tasks of `contender` for `duration` (after every
/// task has done one warm-up operation).
pub async fn run(
    contender: Contender,
    url: &str,
    tasks: usize,
    op: Operation,
    duration: Duration,
) -> RunResult {
    let handles = handles(contender, url, tasks, op).await;
    crate::timed_run(handles.into_iter().map(|h| Task(h, op)).collect(), duration).await
}

/// A task's handle and the statement it repeats.
struct Task(Handle, Operation);

impl crate::Worker for Task {
    async fn once(&mut self, i: usize) -> bool {
        // The parameter wraps around; only its round trip matters.
        self.0.run_once(self.1, i as i32).await
    }
}
