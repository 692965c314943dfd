//! SQLite point reads and single-row writes through pool-sqlite (a plain
//! pool and its `ReadWritePool`), through deadpool-sqlite 0.14 and
//! r2d2_sqlite 0.35 (as their users get them: their defaults, a query per
//! checkout; r2d2's blocking `get()` inside `spawn_blocking`), and one
//! connection per task with no pool (the floor), in alternating rounds on
//! one database file in a temp dir.
//!
//! ```text
//! cargo run --release -p pool-benches --example sqlite_rounds -- [ROUNDS] [SECONDS] [TASKS,..] [read|write|handoff]
//! ```
//! Defaults: 7 rounds of 2 s, 1,10,50 tasks, read. Each pool's `max_size`
//! is the number of tasks (the `ReadWritePool`: that many readers and one
//! writer). `handoff` measures what one `interact` costs over calling the
//! closure in place: one task, one held connection, a closure that does
//! nothing.

use std::sync::{Arc, Mutex};

use pool_benches::rounds::RoundsArgs;
use pool_benches::{Worker, timed_run};

const KEYS: i64 = 10_000;

#[derive(Clone, Copy)]
enum Op {
    Read,
    Write,
}

enum Contender {
    PoolSqlite(pool_sqlite::Pool),
    ReadWrite(pool_sqlite::ReadWritePool),
    Deadpool(deadpool_sqlite::Pool),
    R2d2(r2d2::Pool<r2d2_sqlite::SqliteConnectionManager>),
    PerTask(Arc<Mutex<deadpool_sqlite::rusqlite::Connection>>),
}

struct Task {
    contender: Contender,
    op: Op,
}

fn sql(op: Op) -> &'static str {
    match op {
        Op::Read => "SELECT v FROM kv WHERE k = ?1",
        Op::Write => "UPDATE kv SET v = v + 1 WHERE k = ?1",
    }
}

fn run_on(c: &mut pool_sqlite::rusqlite::Connection, op: Op, key: i64) -> bool {
    match op {
        Op::Read => c
            .prepare_cached(sql(op))
            .and_then(|mut s| s.query_row([key], |r| r.get::<_, i64>(0)))
            .is_ok(),
        Op::Write => c
            .prepare_cached(sql(op))
            .and_then(|mut s| s.execute([key]))
            .is_ok(),
    }
}

impl Worker for Task {
    async fn once(&mut self, i: usize) -> bool {
        let key = (i as i64 * 7919) % KEYS;
        let op = self.op;
        match &self.contender {
            Contender::PoolSqlite(p) => match p.get().await {
                Ok(c) => c
                    .interact(move |c| run_on(c, op, key))
                    .await
                    .unwrap_or(false),
                Err(_) => false,
            },
            Contender::ReadWrite(p) => {
                let conn = match op {
                    Op::Read => p.read().await,
                    Op::Write => p.write().await,
                };
                match conn {
                    Ok(c) => c
                        .interact(move |c| run_on(c, op, key))
                        .await
                        .unwrap_or(false),
                    Err(_) => false,
                }
            }
            Contender::R2d2(p) => {
                let p = p.clone();
                tokio::task::spawn_blocking(move || {
                    p.get().is_ok_and(|mut c| run_on(&mut c, op, key))
                })
                .await
                .unwrap_or(false)
            }
            Contender::Deadpool(p) => match p.get().await {
                Ok(c) => c
                    .interact(move |c| run_on(c, op, key))
                    .await
                    .unwrap_or(false),
                Err(_) => false,
            },
            Contender::PerTask(conn) => {
                let conn = conn.clone();
                tokio::task::spawn_blocking(move || run_on(&mut conn.lock().unwrap(), op, key))
                    .await
                    .unwrap_or(false)
            }
        }
    }
}

fn main() {
    let args = RoundsArgs::from_env(7, 2.0, "1,10,50", "read");
    let op = match args.operation.as_str() {
        "read" => Op::Read,
        "write" => Op::Write,
        "handoff" => return handoff(args.rounds, args.secs),
        other => panic!("operation must be read, write or handoff, not {other:?}"),
    };
    let dir = std::env::temp_dir().join(format!("sqlite-rounds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bench.db");
    {
        let c = pool_sqlite::rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode=WAL; CREATE TABLE kv (k INTEGER PRIMARY KEY, v INTEGER)",
        )
        .unwrap();
        let tx = c.unchecked_transaction().unwrap();
        for k in 0..KEYS {
            tx.execute("INSERT INTO kv VALUES (?1, 0)", [k]).unwrap();
        }
        tx.commit().unwrap();
    }
    let rt = pool_benches::overhead_runtime();
    let names = [
        "pool-sqlite",
        "pool-sqlite ReadWritePool",
        "deadpool-sqlite 0.14",
        "r2d2_sqlite 0.35",
        "connection per task",
    ];
    let title = |n: usize| match op {
        Op::Read => format!("{n} tasks, point reads"),
        Op::Write => format!("{n} tasks, single-row writes"),
    };
    let references = [(2, "deadpool-sqlite"), (3, "r2d2_sqlite"), (4, "per task")];
    args.run_and_print(&names, &references, title, |i, n| {
        rt.block_on(async {
            let workers: Vec<Task> = match i {
                0 => {
                    let pool = pool_sqlite::Config::new(&path)
                        .builder(pool_sqlite::Runtime::Tokio1)
                        .unwrap()
                        .max_size(n)
                        .build()
                        .unwrap();
                    (0..n)
                        .map(|_| Task {
                            contender: Contender::PoolSqlite(pool.clone()),
                            op,
                        })
                        .collect()
                }
                1 => {
                    let pool = pool_sqlite::ReadWritePool::new(
                        &pool_sqlite::Config::new(&path),
                        n,
                        &pool_sqlite::Settings::default(),
                    )
                    .await
                    .unwrap();
                    (0..n)
                        .map(|_| Task {
                            contender: Contender::ReadWrite(pool.clone()),
                            op,
                        })
                        .collect()
                }
                3 => {
                    let pool = r2d2::Pool::builder()
                        .max_size(u32::try_from(n).unwrap())
                        .build(r2d2_sqlite::SqliteConnectionManager::file(&path))
                        .unwrap();
                    (0..n)
                        .map(|_| Task {
                            contender: Contender::R2d2(pool.clone()),
                            op,
                        })
                        .collect()
                }
                2 => {
                    let mut cfg = deadpool_sqlite::Config::new(&path);
                    cfg.pool = Some(deadpool_sqlite::PoolConfig::new(n));
                    let pool = cfg.create_pool(deadpool_sqlite::Runtime::Tokio1).unwrap();
                    (0..n)
                        .map(|_| Task {
                            contender: Contender::Deadpool(pool.clone()),
                            op,
                        })
                        .collect()
                }
                _ => (0..n)
                    .map(|_| Task {
                        contender: Contender::PerTask(Arc::new(Mutex::new(
                            pool_sqlite::rusqlite::Connection::open(&path).unwrap(),
                        ))),
                        op,
                    })
                    .collect(),
            };
            timed_run(workers, args.duration()).await
        })
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// Nanoseconds per `interact` of a closure that does nothing on a held
/// connection, against the same closure called in place, in alternating
/// rounds.
fn handoff(rounds: usize, secs: f64) {
    let rt = pool_benches::overhead_runtime();
    let pool = pool_sqlite::Config::new(":memory:")
        .create_pool(pool_sqlite::Runtime::Tokio1)
        .unwrap();
    let conn = rt.block_on(pool.get()).unwrap();
    let (mut via, mut direct) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let ns = rt.block_on(async {
            let start = std::time::Instant::now();
            let mut calls = 0u64;
            while start.elapsed().as_secs_f64() < secs {
                std::hint::black_box(conn.interact(|c| c.is_autocommit()).await.unwrap());
                calls += 1;
            }
            start.elapsed().as_nanos() as f64 / calls as f64
        });
        via.push(ns);
        let ns = {
            let mut c = conn.try_lock().unwrap();
            let closure = |c: &mut pool_sqlite::rusqlite::Connection| c.is_autocommit();
            let start = std::time::Instant::now();
            let mut calls = 0u64;
            while start.elapsed().as_secs_f64() < secs {
                std::hint::black_box(closure(std::hint::black_box(&mut c)));
                calls += 1;
            }
            start.elapsed().as_nanos() as f64 / calls as f64
        };
        direct.push(ns);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (lo, hi) = (
        via.iter().copied().fold(f64::MAX, f64::min),
        via.iter().copied().fold(0.0, f64::max),
    );
    println!(
        "interact of a no-op closure: {:.1} us per call (min {:.1}, max {:.1}, {rounds} rounds); the closure in place: {:.0} ns",
        median(&mut via) / 1e3,
        lo / 1e3,
        hi / 1e3,
        median(&mut direct)
    );
}
