//! Shared code of the criterion benches and the side-by-side examples.

pub mod overhead;
pub mod pg_e2e;
pub mod redis_e2e;

/// Prints one line per contender of a side-by-side run: best and median
/// ops/s, every round, and the median (range) of its same-round ratios to
/// each reference (`(index, label)`; a contender is not compared with
/// itself). `results[c][round]` is contender `c`'s ops/s in that round.
pub fn print_rounds(names: &[&str], results: &[Vec<f64>], references: &[(usize, &str)]) {
    for (c, (name, r)) in names.iter().zip(results).enumerate() {
        let mut sorted = r.clone();
        sorted.sort_by(f64::total_cmp);
        let per_round: Vec<String> = r.iter().map(|v| format!("{:.0}k", v / 1e3)).collect();
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
            "  {:<28} best {:>6.1}k  median {:>6.1}k  rounds [{}]{}",
            name,
            sorted[sorted.len() - 1] / 1e3,
            sorted[sorted.len() / 2] / 1e3,
            per_round.join(" "),
            ratios_text
        );
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
