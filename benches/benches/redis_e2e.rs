//! End-to-end Redis throughput of every contender (pool-redis exclusive and
//! shared, deadpool-redis, bb8-redis, one multiplexed connection, a
//! dedicated connection per task) against a redis-server started on a free
//! loopback port: GET and SET at 1, 10 and 50 tasks, pipelines of 50 and 100
//! GETs at 1 and 10 tasks. Every pool's `max_size` equals the task count.
//!
//! `cargo bench -p pool-benches --bench redis_e2e` (criterion measures each
//! contender in its own time window; for comparisons across contenders on a
//! noisy machine prefer `--example redis_rounds`, which alternates them).

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pool_benches::redis_e2e::{Contender, Operation, handles, prepare, run_ops};

fn redis_e2e(c: &mut Criterion) {
    let server = redis_harness::RedisServer::start();
    let url = server.url();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(prepare(&url));
    let plan: [(Operation, &[usize]); 4] = [
        (Operation::Get, &[1, 10, 50]),
        (Operation::Set, &[1, 10, 50]),
        (Operation::Pipeline(50), &[1, 10]),
        (Operation::Pipeline(100), &[1, 10]),
    ];
    for (op, task_counts) in plan {
        let mut group = c.benchmark_group(format!("redis_e2e/{}", op.name()));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(2))
            .throughput(Throughput::Elements(1));
        for &tasks in task_counts {
            for contender in Contender::ALL {
                let hs = rt.block_on(handles(contender, &url, tasks));
                group.bench_function(BenchmarkId::new(contender.name(), tasks), |b| {
                    b.to_async(&rt).iter_custom(|iters| {
                        let hs = hs.clone();
                        async move { run_ops(&hs, op, iters).await }
                    });
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, redis_e2e);
criterion_main!(benches);
