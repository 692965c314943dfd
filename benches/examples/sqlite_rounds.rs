//! SQLite point reads and single-row writes through pool-sqlite, through
//! deadpool-sqlite 0.14 (as its users get it: its defaults, a `SELECT $1`
//! per checkout), and one connection per task with no pool (the floor), in
//! alternating rounds on one database file in a temp dir.
//!
//! ```text
//! cargo run --release -p pool-benches --example sqlite_rounds -- [ROUNDS] [SECONDS] [TASKS,..] [read|write]
//! ```
//! Defaults: 7 rounds of 2 s, 1,10,50 tasks, read. Each pool's `max_size`
//! is the number of tasks.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pool_benches::{Worker, alternate_rounds, print_rounds, timed_run};

const KEYS: i64 = 10_000;

#[derive(Clone, Copy)]
enum Op {
    Read,
    Write,
}

enum Contender {
    PoolSqlite(pool_sqlite::Pool),
    Deadpool(deadpool_sqlite::Pool),
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
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(7);
    let secs: f64 = args.next().and_then(|v| v.parse().ok()).unwrap_or(2.0);
    let tasks: Vec<usize> = args
        .next()
        .unwrap_or_else(|| "1,10,50".into())
        .split(',')
        .map(|t| t.parse().expect("TASKS: comma-separated numbers"))
        .collect();
    let op = match args.next().as_deref().unwrap_or("read") {
        "read" => Op::Read,
        "write" => Op::Write,
        other => panic!("operation must be read or write, not {other:?}"),
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
    let names = ["pool-sqlite", "deadpool-sqlite 0.14", "connection per task"];
    for &n in &tasks {
        let results = alternate_rounds(&names, rounds, |i| {
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
                timed_run(workers, Duration::from_secs_f64(secs)).await
            })
        });
        println!(
            "{n} tasks, {}:",
            if matches!(op, Op::Read) {
                "point reads"
            } else {
                "single-row writes"
            }
        );
        print_rounds(&names, &results, &[(1, "deadpool-sqlite"), (2, "per task")]);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
