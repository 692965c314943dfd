//! DuckDB queries from many tokio tasks: through pool-duckdb, through the
//! duckdb crate's own r2d2 pool (its blocking `get()` inside
//! `spawn_blocking`, as an async program has to call it), and on one held
//! connection with no pool (the floor for a single task), in alternating
//! rounds on one database file in a temp dir.
//!
//! ```text
//! cargo run --release -p pool-benches --example duckdb_rounds -- [ROUNDS] [SECONDS] [TASKS,..] [scan|point] [THREADS]
//! ```
//! Defaults: 7 rounds of 2 s, 1,16 tasks, scan, DuckDB's own `threads`
//! (the number of cores). `scan` aggregates a
//! million rows (`GROUP BY` over 100 groups); `point` reads one row by key.
//! Each pool's `max_size` is the number of tasks. Comparing the 1-task and
//! 16-task lines shows what parallel checkouts buy: 16 tasks finishing 16
//! queries in less than 16 times one query's time.

use std::sync::{Arc, Mutex};

use pool_benches::rounds::RoundsArgs;
use pool_benches::{Worker, alternate_rounds, print_rounds, timed_run};

const ROWS: i64 = 1000;
const FACTS: i64 = 1_000_000;

#[derive(Clone, Copy)]
enum Query {
    Scan,
    Point,
}

enum Contender {
    PoolDuckdb(pool_duckdb::Pool),
    R2d2(r2d2::Pool<duckdb::DuckdbConnectionManager>),
    Held(Arc<Mutex<duckdb::Connection>>),
}

struct Task {
    contender: Contender,
    query: Query,
}

fn run_on(c: &duckdb::Connection, query: Query, key: i64) -> bool {
    match query {
        Query::Scan => c
            .prepare_cached("SELECT g, count(*), avg(x) FROM facts GROUP BY g")
            .and_then(|mut s| {
                s.query_map([], |r| r.get::<_, i64>(1))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .is_ok_and(|rows| rows.len() == 100),
        Query::Point => c
            .prepare_cached("SELECT v FROM kv WHERE k = ?")
            .and_then(|mut s| s.query_row([key], |r| r.get::<_, i64>(0)))
            .is_ok(),
    }
}

impl Worker for Task {
    async fn once(&mut self, i: usize) -> bool {
        let key = (i as i64 * 7919) % ROWS;
        let query = self.query;
        match &self.contender {
            Contender::PoolDuckdb(p) => match p.get().await {
                Ok(c) => c
                    .interact(move |c| run_on(c, query, key))
                    .await
                    .unwrap_or(false),
                Err(_) => false,
            },
            Contender::R2d2(p) => {
                let p = p.clone();
                tokio::task::spawn_blocking(move || p.get().is_ok_and(|c| run_on(&c, query, key)))
                    .await
                    .unwrap_or(false)
            }
            Contender::Held(conn) => {
                let conn = conn.clone();
                tokio::task::spawn_blocking(move || run_on(&conn.lock().unwrap(), query, key))
                    .await
                    .unwrap_or(false)
            }
        }
    }
}

fn main() {
    let mut args = RoundsArgs::from_env(7, 2.0, "1,16", "scan");
    let query = match args.operation.as_str() {
        "scan" => Query::Scan,
        "point" => Query::Point,
        other => panic!("query must be scan or point, not {other:?}"),
    };
    let threads: Option<u32> = args
        .next_arg()
        .map(|t| t.parse().expect("THREADS: a number"));
    let (rounds, tasks) = (args.rounds, args.tasks.clone());
    let dir = std::env::temp_dir().join(format!("duckdb-rounds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bench.duckdb");
    let rt = pool_benches::overhead_runtime();
    // One pool-duckdb pool for the whole run (one database instance per
    // file per process), resized to each task count.
    let tables = format!(
        "CREATE TABLE kv AS SELECT range AS k, range AS v FROM range({ROWS}); \
         CREATE TABLE facts AS SELECT range AS k, (range % 100)::INTEGER AS g, random() AS x FROM range({FACTS}); \
         CHECKPOINT;"
    );
    let pool = rt.block_on(async {
        let mut config = pool_duckdb::Config::new(&path);
        config.settings.threads = threads;
        let mut pc = pool_duckdb::Config::default_pool();
        pc.max_overflow = 0;
        config.pool = Some(pc);
        let pool = config.create_pool().await.unwrap();
        let tables = tables.clone();
        pool.get()
            .await
            .unwrap()
            .interact(move |c| c.execute_batch(&tables))
            .await
            .unwrap()
            .unwrap();
        pool
    });
    // r2d2's manager opens its own database instance (it cannot share
    // pool-duckdb's), on its own copy of the data, once per task count
    // (the last one dropped first: one instance per file at a time).
    let r2d2_path = dir.join("r2d2.duckdb");
    let names = ["pool-duckdb", "duckdb r2d2", "one held connection"];
    for &n in &tasks {
        pool.resize(n);
        let r2d2_pool = r2d2::Pool::builder()
            .max_size(u32::try_from(n).unwrap())
            .build({
                let mut config = duckdb::Config::default();
                if let Some(t) = threads {
                    config = config.threads(i64::from(t)).unwrap();
                }
                duckdb::DuckdbConnectionManager::file_with_flags(&r2d2_path, config).unwrap()
            })
            .unwrap();
        if n == tasks[0] {
            r2d2_pool.get().unwrap().execute_batch(&tables).unwrap();
        }
        let held = Arc::new(Mutex::new(
            rt.block_on(pool.get())
                .unwrap()
                .try_lock()
                .map(|c| c.try_clone().unwrap())
                .unwrap(),
        ));
        let results = alternate_rounds(&names, rounds, |i| {
            rt.block_on(async {
                let workers: Vec<Task> = (0..n)
                    .map(|_| Task {
                        contender: match i {
                            0 => Contender::PoolDuckdb(pool.clone()),
                            1 => Contender::R2d2(r2d2_pool.clone()),
                            _ => Contender::Held(held.clone()),
                        },
                        query,
                    })
                    .collect();
                timed_run(workers, args.duration()).await
            })
        });
        println!(
            "{n} tasks, {}:",
            match query {
                Query::Scan => "GROUP BY over a million rows",
                Query::Point => "point reads",
            }
        );
        print_rounds(&names, &results, &[(1, "r2d2"), (2, "held")]);
        drop((r2d2_pool, held));
    }
    drop(pool);
    let _ = std::fs::remove_dir_all(&dir);
}
