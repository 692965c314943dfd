//! One workload for one contender, for profilers:
//! `cargo run --release -p pool-benches --example profile -- [lockfree|nometrics|mutex|deadpool|bb8] [OPS] [a|b|c]`
//! (`WORKERS=N`: the runtime's worker threads, 2 unless set).

use pool_benches::overhead::{Contender, Kind, Workload};

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = match args.next().as_deref() {
        Some("mutex") => Kind::PoolCoreMutex,
        Some("deadpool") => Kind::Deadpool,
        Some("bb8") => Kind::Bb8,
        Some("nometrics") => Kind::PoolCoreNoMetrics,
        _ => Kind::PoolCoreLockFree,
    };
    let ops: u64 = args
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000_000);
    let workload = match args.next().as_deref() {
        Some("b") => Workload::B,
        Some("c") => Workload::C,
        _ => Workload::A,
    };
    let rt = pool_benches::overhead_runtime();
    let c = rt.block_on(Contender::new(kind, 16));
    let elapsed = rt.block_on(c.run(workload, ops, None));
    println!(
        "{} {}: {:.2} M/s",
        workload.name(),
        kind.name(),
        ops as f64 / elapsed.as_secs_f64() / 1e6
    );
}
