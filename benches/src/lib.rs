//! Shared code of the criterion benches and the side-by-side examples.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub mod overhead;
pub mod pg_e2e;
pub mod redis_e2e;
pub mod rounds;

/// The outcome of one timed run.
#[derive(Clone, Copy, Debug)]
pub struct RunResult {
    /// Operations that succeeded (a pipeline counts once).
    pub ops: u64,
    /// Operations that failed.
    pub errors: u64,
    /// How long they ran.
    pub elapsed: Duration,
}

impl RunResult {
    /// Successful operations per second.
    pub fn per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }
}

/// One task's operation in a timed run (a backend's handle and what to do
/// with it); `true` if it succeeded.
pub trait Worker: Send + 'static {
    /// Runs operation number `i`.
    fn once(&mut self, i: usize) -> impl std::future::Future<Output = bool> + Send;
}

/// Runs one task per worker for `duration`, after every task has done one
/// warm-up operation (so connections exist); task `t` numbers its
/// operations `t`, `t + tasks`, ...
pub async fn timed_run<W: Worker>(workers: Vec<W>, duration: Duration) -> RunResult {
    let tasks = workers.len();
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let start_line = Arc::new(tokio::sync::Barrier::new(tasks + 1));
    let handles: Vec<_> = workers
        .into_iter()
        .enumerate()
        .map(|(t, mut w)| {
            let (stop, ops, errors, start_line) = (
                stop.clone(),
                ops.clone(),
                errors.clone(),
                start_line.clone(),
            );
            tokio::spawn(async move {
                w.once(t).await; // warm-up
                start_line.wait().await;
                let (mut ok, mut failed) = (0u64, 0u64);
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    if w.once(i).await {
                        ok += 1;
                    } else {
                        failed += 1;
                    }
                    i = i.wrapping_add(tasks);
                }
                ops.fetch_add(ok, Ordering::Relaxed);
                errors.fetch_add(failed, Ordering::Relaxed);
            })
        })
        .collect();
    start_line.wait().await;
    let started = Instant::now();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.await.expect("bench task");
    }
    RunResult {
        ops: ops.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
    }
}

/// The multi-thread runtime of the overhead examples: `WORKERS` worker
/// threads (2 unless set). A `WORKERS` that is not a positive number ends
/// the example with a message naming it, rather than running with a
/// default nobody asked for.
pub fn overhead_runtime() -> tokio::runtime::Runtime {
    let workers = match std::env::var("WORKERS") {
        Err(_) => 2,
        Ok(v) => match v.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!("WORKERS={v:?} is not a positive number of worker threads");
                std::process::exit(2);
            }
        },
    };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Runs every contender once per round, the starting one rotating each
/// round so the machine's slow and fast phases hit all alike; returns
/// `results[contender][round]` in ops/s. `run(i)` runs contender `i` and
/// returns its result; a run with errors panics, naming `names[i]`.
pub fn alternate_rounds(
    names: &[&str],
    rounds: usize,
    mut run: impl FnMut(usize) -> RunResult,
) -> Vec<Vec<f64>> {
    let mut results = vec![Vec::new(); names.len()];
    for round in 0..rounds {
        for k in 0..names.len() {
            let i = (k + round) % names.len();
            let r = run(i);
            assert_eq!(r.errors, 0, "{}: {} errors", names[i], r.errors);
            results[i].push(r.per_sec());
        }
    }
    results
}

/// Prints one line per contender of a side-by-side run: best and median
/// ops/s, every round, and the median (range) of its same-round ratios to
/// each reference (`(index, label)`; a contender is not compared with
/// itself). `results[c][round]` is contender `c`'s ops/s in that round.
pub fn print_rounds(names: &[&str], results: &[Vec<f64>], references: &[(usize, &str)]) {
    for (c, (name, r)) in names.iter().zip(results).enumerate() {
        let mut sorted = r.clone();
        sorted.sort_by(f64::total_cmp);
        let per_round: Vec<String> = r.iter().map(|&v| ops(v)).collect();
        let mut ratios_text = String::new();
        for &(m, label) in references {
            if m == c {
                continue;
            }
            let mut ratios: Vec<f64> = r.iter().zip(&results[m]).map(|(a, b)| a / b).collect();
            ratios.sort_by(f64::total_cmp);
            ratios_text.push_str(&format!(
                "  {:.2}x {label} ({:.2}-{:.2})",
                ratios[ratios.len() / 2],
                ratios[0],
                ratios[ratios.len() - 1]
            ));
        }
        println!(
            "  {:<28} best {:>7}  median {:>7}  rounds [{}]{}",
            name,
            ops(sorted[sorted.len() - 1]),
            ops(sorted[sorted.len() / 2]),
            per_round.join(" "),
            ratios_text
        );
    }
}

/// Ops/s with three significant figures: `312`, `4.21k`, `158k`.
fn ops(v: f64) -> String {
    match v {
        v if v < 1e3 => format!("{v:.0}"),
        v if v < 1e4 => format!("{:.2}k", v / 1e3),
        v if v < 1e5 => format!("{:.1}k", v / 1e3),
        v => format!("{:.0}k", v / 1e3),
    }
}

/// docs/MIGRATION.md's code blocks, compiled (and run where they need no
/// server) as doc-tests: this crate depends on the peers and on ours.
#[cfg(doctest)]
#[doc = include_str!("../../docs/MIGRATION.md")]
pub struct MigrationGuide;

/// docs/TUNING.md's code blocks, compiled and run as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/TUNING.md")]
pub struct TuningGuide;

/// The workspace README's code blocks, compiled (and run where they need
/// no server) as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct Readme;
