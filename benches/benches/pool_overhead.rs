//! Pool overhead with a no-op manager: pool-core (lock-free and mutex store),
//! deadpool 0.13 and bb8 0.9, side by side, same `max_size` (16), on a
//! multi-thread tokio runtime.
//!
//! - `a_1_task`: one task, get + drop in a loop.
//! - `b_16_over_16`: 16 tasks over 16 objects, each holding its object
//!   across one `yield_now`.
//! - `c_256_over_16`: 256 tasks over 16 objects, the same.
//!
//! After the criterion groups, a latency pass runs (c) again and prints the
//! acquire-latency percentiles of every contender (p50, p99, p99.9).
//!
//! `cargo bench -p pool-benches --bench pool_overhead`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use pool_benches::overhead::{Contender, Workload};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    for workload in Workload::ALL {
        let mut group = c.benchmark_group(workload.name());
        group.throughput(Throughput::Elements(1));
        for kind in Contender::KINDS {
            let contender = rt.block_on(Contender::new(kind, 16));
            group.bench_function(kind.name(), |b| {
                b.iter_custom(|iters| {
                    let elapsed = rt.block_on(contender.run(workload, iters, None));
                    black_box(elapsed)
                })
            });
        }
        group.finish();
    }
}

/// Acquire-latency percentiles in workload (c), printed as a table. The
/// contenders alternate over rounds (this machine has slow and fast phases
/// that hit whoever runs at the time), and each one's samples from all
/// rounds are pooled.
fn latency_pass() {
    let rt = runtime();
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let ops = env("LATENCY_OPS", 2_000_000);
    let rounds = env("LATENCY_ROUNDS", 4).max(1);
    let contenders: Vec<_> = Contender::KINDS
        .iter()
        .map(|&kind| (kind, rt.block_on(Contender::new(kind, 16))))
        .collect();
    let mut samples: Vec<Vec<u64>> = vec![Vec::with_capacity(ops as usize); contenders.len()];
    let mut elapsed = vec![Duration::ZERO; contenders.len()];
    for _ in 0..rounds {
        for (i, (_, contender)) in contenders.iter().enumerate() {
            let start = Instant::now();
            rt.block_on(contender.run(Workload::C, ops / rounds, Some(&mut samples[i])));
            elapsed[i] += start.elapsed();
        }
    }
    println!(
        "\nacquire latency, {} ({ops} gets per contender, {rounds} alternating rounds)",
        Workload::C.name()
    );
    println!(
        "{:<18} {:>10} {:>10} {:>10} {:>10} {:>12}",
        "contender", "p50", "p99", "p99.9", "max", "ops/s"
    );
    for (i, (kind, _)) in contenders.iter().enumerate() {
        let samples = &mut samples[i];
        samples.sort_unstable();
        let q = |p: f64| Duration::from_nanos(samples[((samples.len() - 1) as f64 * p) as usize]);
        println!(
            "{:<18} {:>10.1?} {:>10.1?} {:>10.1?} {:>10.1?} {:>12.0}",
            kind.name(),
            q(0.5),
            q(0.99),
            q(0.999),
            q(1.0),
            samples.len() as f64 / elapsed[i].as_secs_f64()
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = bench
}

fn main() {
    if std::env::var_os("SKIP_CRITERION").is_none() {
        benches();
        Criterion::default().configure_from_args().final_summary();
    }
    if std::env::var_os("SKIP_LATENCY").is_none() {
        latency_pass();
    }
}
