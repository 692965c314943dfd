//! Alternating rounds of the pool_overhead workloads without criterion:
//! each round runs every contender once, so machine noise hits all of them
//! alike. Prints ops/s per round, then the best and the spread.
//!
//! `cargo run --release -p pool-benches --example overhead_rounds -- [ROUNDS] [OPS] [WORKLOAD-PREFIX]`
//! (`WORKERS=N`: the runtime's worker threads, 2 unless set;
//! `FIXED_LAYOUT=1`: build the contenders once, not fresh every round).

use pool_benches::overhead::{Contender, Kind, Workload};

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(3);
    let ops: u64 = args
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let only: Option<String> = args.next();
    let rt = pool_benches::overhead_runtime();
    let fixed_layout = std::env::var_os("FIXED_LAYOUT").is_some();
    for workload in Workload::ALL {
        if only
            .as_deref()
            .is_some_and(|w| !workload.name().starts_with(w))
        {
            continue;
        }
        let mut results = vec![Vec::new(); Contender::KINDS.len()];
        let mut contenders = build(&rt, 0, fixed_layout);
        for round in 0..rounds {
            if !fixed_layout && round > 0 {
                contenders = build(&rt, round, false);
            }
            for (i, (_, c, _)) in contenders.iter().enumerate() {
                let elapsed = rt.block_on(c.run(workload, ops, None));
                results[i].push(ops as f64 / elapsed.as_secs_f64());
            }
        }
        println!("{} ({rounds} rounds x {ops} ops)", workload.name());
        // The noise hits whoever runs at the time, so the fairest figure is
        // the ratio within each round, then the median over rounds.
        let baseline = contenders
            .iter()
            .position(|(k, _, _)| *k == Kind::Deadpool)
            .expect("deadpool is a contender");
        for ((kind, _, _), r) in contenders.iter().zip(&results) {
            let best = r.iter().cloned().fold(0.0, f64::max);
            let worst = r.iter().cloned().fold(f64::MAX, f64::min);
            let mut sorted = r.clone();
            sorted.sort_by(f64::total_cmp);
            let median = sorted[sorted.len() / 2];
            let rounds: Vec<String> = r.iter().map(|v| format!("{:.2}M", v / 1e6)).collect();
            let mut ratios: Vec<f64> = r
                .iter()
                .zip(&results[baseline])
                .map(|(a, b)| a / b)
                .collect();
            ratios.sort_by(f64::total_cmp);
            println!(
                "  {:<20} median {:>6.2} M/s  best {:>6.2} M/s  worst {:>6.2} M/s  vs deadpool per round: median {:.2}x (min {:.2}x, max {:.2}x)  rounds [{}]",
                kind.name(),
                median / 1e6,
                best / 1e6,
                worst / 1e6,
                ratios[ratios.len() / 2],
                ratios[0],
                ratios[ratios.len() - 1],
                rounds.join(", ")
            );
        }
        // The price of recording: metrics on against off, round by round.
        let on = contenders
            .iter()
            .position(|(k, _, _)| *k == Kind::PoolCoreLockFree)
            .expect("lock-free contender");
        let off = contenders
            .iter()
            .position(|(k, _, _)| *k == Kind::PoolCoreNoMetrics)
            .expect("no-metrics contender");
        let mut ratios: Vec<f64> = results[on]
            .iter()
            .zip(&results[off])
            .map(|(a, b)| a / b)
            .collect();
        ratios.sort_by(f64::total_cmp);
        println!(
            "  recording on / off, per round: median {:.3} (min {:.3}, max {:.3})",
            ratios[ratios.len() / 2],
            ratios[0],
            ratios[ratios.len() - 1]
        );
    }
}

/// Every contender, built for `round`. Where a pool's memory lands moves
/// its speed by up to a third on this machine (seen once, when an
/// unrelated allocation changed size), and a fixed layout keeps that bias
/// in every round. So unless `FIXED_LAYOUT` is set, each round builds
/// fresh contenders, in a rotated order, each after a padding allocation
/// whose size (0-4 KiB in 64-byte steps) varies with the round: the
/// layout's luck becomes noise the median removes.
fn build(
    rt: &tokio::runtime::Runtime,
    round: usize,
    fixed_layout: bool,
) -> Vec<(Kind, Contender, Vec<u8>)> {
    let kinds = Contender::KINDS;
    let mut built: Vec<Option<(Kind, Contender, Vec<u8>)>> = kinds.iter().map(|_| None).collect();
    let mut seed = (round as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for step in 0..kinds.len() {
        let i = if fixed_layout {
            step
        } else {
            (step + round) % kinds.len()
        };
        // xorshift64: the padding before this contender.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let pad = if fixed_layout {
            0
        } else {
            (seed % 64) as usize * 64
        };
        let padding = vec![1u8; pad];
        built[i] = Some((kinds[i], rt.block_on(Contender::new(kinds[i], 16)), padding));
    }
    built
        .into_iter()
        .map(|c| c.expect("every contender built"))
        .collect()
}
