//! pool-core's unmanaged pool against deadpool 0.13's, side by side in one
//! run, rounds alternating (the starting contender rotates): objects are
//! `u64`s, so what is measured is each pool's own synchronisation.
//!
//! ```text
//! cargo run --release -p pool-benches --example unmanaged_rounds -- [ROUNDS] [OPS]
//! ```
//! Workloads: (a) one task, get + drop; (c) 256 tasks over 16 objects,
//! each holding its object across one `yield_now`. ROUNDS (9) rounds of
//! OPS (2,000,000) gets per contender and workload; `WORKERS` worker
//! threads (2).

use std::sync::Arc;
use std::time::Instant;

use pool_benches::{RunResult, alternate_rounds, overhead_runtime, print_rounds};

#[derive(Clone)]
enum Contender {
    PoolCore(pool_core::unmanaged::Pool<u64>),
    Deadpool(deadpool::unmanaged::Pool<u64>),
}

impl Contender {
    fn new(i: usize, objects: usize) -> Self {
        let values: Vec<u64> = (0..objects as u64).collect();
        match i {
            0 => Contender::PoolCore(pool_core::unmanaged::Pool::from(values)),
            _ => Contender::Deadpool(deadpool::unmanaged::Pool::from(values)),
        }
    }

    async fn cycle(&self, hold: bool) {
        macro_rules! body {
            ($obj:expr) => {{
                let obj = $obj;
                if hold {
                    tokio::task::yield_now().await;
                }
                drop(obj);
            }};
        }
        match self {
            Contender::PoolCore(p) => body!(p.get().await.expect("get")),
            Contender::Deadpool(p) => body!(p.get().await.expect("get")),
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args
        .next()
        .map_or(9, |a| a.parse().expect("ROUNDS: a number"));
    let ops: u64 = args
        .next()
        .map_or(2_000_000, |a| a.parse().expect("OPS: a number"));
    let rt = overhead_runtime();
    let names = ["pool-core unmanaged", "deadpool 0.13 unmanaged"];
    for (label, tasks, hold) in [
        ("(a) 1 task", 1u64, false),
        ("(c) 256 tasks over 16", 256, true),
    ] {
        let results = alternate_rounds(&names, rounds, |i| {
            rt.block_on(async {
                let pool = Contender::new(i, 16);
                let per_task = ops.div_ceil(tasks);
                let barrier = Arc::new(tokio::sync::Barrier::new(tasks as usize + 1));
                let handles: Vec<_> = (0..tasks)
                    .map(|_| {
                        let (pool, barrier) = (pool.clone(), barrier.clone());
                        tokio::spawn(async move {
                            barrier.wait().await;
                            for _ in 0..per_task {
                                pool.cycle(hold).await;
                            }
                        })
                    })
                    .collect();
                barrier.wait().await;
                let started = Instant::now();
                for h in handles {
                    h.await.expect("task");
                }
                RunResult {
                    ops: per_task * tasks,
                    errors: 0,
                    elapsed: started.elapsed(),
                }
            })
        });
        println!("{label}:");
        print_rounds(&names, &results, &[(1, "deadpool")]);
    }
}
