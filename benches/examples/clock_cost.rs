//! What one clock read costs on this machine, the unit of recording's
//! price (docs/benchmarks.md, "The price of recording metrics"):
//! `cargo run --release -p pool-benches --example clock_cost -- [READS] [RUNS]`
//!
//! Reads in a tight loop, so the figures are throughput (a read's cost when
//! nothing else waits on it), the best case for every clock alike.

use std::hint::black_box;
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let reads: u32 = args
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000_000);
    let runs: u32 = args.next().and_then(|v| v.parse().ok()).unwrap_or(3);
    let tsc = quanta::Clock::new();
    let per_read = |took: Duration| took.as_nanos() as f64 / f64::from(reads);
    for run in 1..=runs {
        let started = Instant::now();
        for _ in 0..reads {
            black_box(tsc.raw());
        }
        let raw = per_read(started.elapsed());

        let started = Instant::now();
        for _ in 0..reads {
            let from = tsc.raw();
            black_box(tsc.delta_as_nanos(from, tsc.raw()));
        }
        let pair = per_read(started.elapsed());

        let started = Instant::now();
        for _ in 0..reads {
            black_box(tokio::time::Instant::now());
        }
        let tokio_now = per_read(started.elapsed());

        println!(
            "run {run}: TSC read (quanta raw) {raw:.1} ns; TSC pair + conversion {pair:.1} ns; \
             tokio::time::Instant::now {tokio_now:.1} ns"
        );
    }
}
