//! The report: per pool size figures, the recommendation, the table, and
//! the JSON form (field names are stable: other tools read them).

use serde::{Deserialize, Serialize};

use crate::load::{Measured, Mode};

/// Percentiles of a set of durations, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Percentiles {
    fn of(samples: &mut [u32]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_unstable();
        let at = |q: f64| {
            let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
            u64::from(samples[i])
        };
        Percentiles {
            count: samples.len() as u64,
            mean: samples.iter().map(|&s| f64::from(s)).sum::<f64>() / samples.len() as f64,
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            p999: at(0.999),
            max: u64::from(samples[samples.len() - 1]),
        }
    }
}

/// One bar of a histogram: samples at most `le_us` (and above the previous
/// bound); the last bucket has no bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub le_us: Option<u64>,
    pub count: u64,
}

/// Bounds 1-2-5 per decade, 1 µs to 10 s.
pub(crate) fn histogram(samples: &[u32]) -> Vec<Bucket> {
    let mut bounds = Vec::new();
    let mut decade = 1u64;
    while decade <= 1_000_000 {
        for m in [1, 2, 5] {
            bounds.push(decade * m);
        }
        decade *= 10;
    }
    bounds.push(10_000_000);
    let mut buckets: Vec<Bucket> = bounds
        .iter()
        .map(|&b| Bucket {
            le_us: Some(b),
            count: 0,
        })
        .chain(std::iter::once(Bucket {
            le_us: None,
            count: 0,
        }))
        .collect();
    for &s in samples {
        let i = bounds.partition_point(|&b| b < u64::from(s));
        buckets[i].count += 1;
    }
    buckets
}

/// Figures of one pool size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SizeResult {
    pub pool_size: usize,
    /// Successful operations while measuring (a pipeline counts once).
    pub ops: u64,
    pub errors: u64,
    pub duration_s: f64,
    pub ops_per_sec: f64,
    /// Whole operation, checkout included.
    pub latency_us: Percentiles,
    /// Waiting for a connection (zero in shared mode: no checkout).
    pub acquire_wait_us: Percentiles,
    pub acquire_wait_histogram: Vec<Bucket>,
    /// Connections the server accepted during the run (`INFO stats`).
    pub connections_opened: u64,
    /// Opening one connection (TLS handshake included), p50 and p99.
    #[serde(default)]
    pub connect_us: ConnectTime,
    /// Ctrl-C ended this run before its duration.
    pub stopped_early: bool,
    /// Open loop (`--rate`/`--rates`): the operations per second asked for.
    #[serde(default)]
    pub requested_rate: Option<f64>,
    /// Open loop: the operations per second that started on time, or late
    /// but within the measured window. Below 99% of the requested rate the
    /// generator fell behind (`lagging`): the load offered was less than
    /// asked, so the latencies understate what the rate would cost.
    #[serde(default)]
    pub achieved_rate: Option<f64>,
    #[serde(default)]
    pub lagging: bool,
    /// Open loop: how late operations started after their due time (tokio's
    /// timer alone accounts for up to about 1 ms).
    #[serde(default)]
    pub start_lag_us: Option<Percentiles>,
}

/// The share of the requested rate below which an open-loop run counts as
/// lagging.
pub const LAG_LIMIT: f64 = 0.99;

/// Time to open a connection, microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectTime {
    pub p50: u32,
    pub p99: u32,
}

impl SizeResult {
    pub fn from_measured(pool_size: usize, mut m: Measured) -> Self {
        let secs = m.elapsed.as_secs_f64();
        let ops = m.latency_us.len() as u64;
        let achieved_rate = m.rate.map(|_| {
            if secs > 0.0 {
                m.started as f64 / secs
            } else {
                0.0
            }
        });
        let lagging = match (m.rate, achieved_rate) {
            (Some(asked), Some(got)) => !m.stopped_early && got < LAG_LIMIT * asked,
            _ => false,
        };
        SizeResult {
            requested_rate: m.rate,
            achieved_rate,
            lagging,
            start_lag_us: m.rate.map(|_| Percentiles::of(&mut m.start_lag_us)),
            pool_size,
            ops,
            errors: m.errors,
            duration_s: secs,
            ops_per_sec: if secs > 0.0 { ops as f64 / secs } else { 0.0 },
            latency_us: Percentiles::of(&mut m.latency_us),
            acquire_wait_histogram: histogram(&m.wait_us),
            acquire_wait_us: Percentiles::of(&mut m.wait_us),
            connect_us: ConnectTime {
                p50: m.connect_p50_us,
                p99: m.connect_p99_us,
            },
            connections_opened: m.connections_opened,
            stopped_early: m.stopped_early,
        }
    }
}

/// How the run was set up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub mode: Mode,
    pub concurrency: usize,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub operation: String,
    pub value_size: usize,
    pub target_p99_us: Option<u64>,
    /// Open loop: the rates asked for (empty: closed loop, `concurrency`
    /// tasks each starting its next operation when the last one ends).
    #[serde(default)]
    pub rates: Vec<f64>,
}

/// The size to use, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub pool_size: usize,
    pub reason: String,
}

/// A whole run (or a merge of runs, by `analyze`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub tool: String,
    pub version: String,
    /// The server, without its password.
    pub url: String,
    pub settings: Settings,
    pub results: Vec<SizeResult>,
    pub recommendation: Option<Recommendation>,
}

impl Report {
    pub fn new(url: &str, settings: Settings) -> Self {
        Report {
            tool: "poolbench".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            url: redact(url),
            settings,
            results: Vec::new(),
            recommendation: None,
        }
    }
}

/// The URL without a password, masked by the rules of the crate that
/// parses it (`postgres://user:***@host`, `redis://user:***@host`,
/// `?password=***`, `?pass=***`), so whatever the parser would take as the
/// password is hidden.
pub fn redact(url: &str) -> String {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        pool_postgres::masked_url(url)
    } else if url.starts_with("sqlite:") || url.starts_with("duckdb:") {
        // A file path: nothing secret in it.
        url.to_owned()
    } else {
        pool_redis::masked_url(url)
    }
}

/// The smallest size within 5% of the best throughput (with no errors)
/// whose p99 meets `target_p99_us`, if given.
pub fn recommend(results: &[SizeResult], target_p99_us: Option<u64>) -> Option<Recommendation> {
    let clean: Vec<&SizeResult> = results
        .iter()
        .filter(|r| r.errors == 0 && r.ops > 0)
        .collect();
    let best = clean.iter().map(|r| r.ops_per_sec).fold(0.0, f64::max);
    if best <= 0.0 {
        return None;
    }
    if let [only] = clean.as_slice()
        && results.len() == 1
    {
        return Some(Recommendation {
            pool_size: only.pool_size,
            reason: "the only size measured: compare several with --pool-sizes 5,10,20,50".into(),
        });
    }
    let near_best = |r: &&&SizeResult| r.ops_per_sec >= 0.95 * best;
    let meets = |r: &&&SizeResult| target_p99_us.is_none_or(|t| r.latency_us.p99 <= t);
    let mut fits: Vec<&&SizeResult> = clean.iter().filter(near_best).filter(meets).collect();
    fits.sort_by_key(|r| r.pool_size);
    if let Some(r) = fits.first() {
        let target = target_p99_us
            .map(|t| {
                format!(
                    ", and its p99 {} meets the target {}",
                    fmt_us(r.latency_us.p99),
                    fmt_us(t)
                )
            })
            .unwrap_or_default();
        return Some(Recommendation {
            pool_size: r.pool_size,
            reason: format!(
                "the smallest size within 5% of the best throughput ({:.0} ops/s against {:.0}){target}; a larger pool would hold more connections for no measured gain",
                r.ops_per_sec, best
            ),
        });
    }
    // Nothing near the best meets the target: the lowest p99 wins.
    let r = clean
        .iter()
        .min_by_key(|r| (r.latency_us.p99, r.pool_size))?;
    Some(Recommendation {
        pool_size: r.pool_size,
        reason: format!(
            "no size within 5% of the best throughput meets the p99 target {}; this one has the lowest p99 ({}). The bottleneck is likely not the pool: look at the server or the network",
            fmt_us(target_p99_us.unwrap_or(0)),
            fmt_us(r.latency_us.p99)
        ),
    })
}

/// Open loop: whether `r` sustained its requested rate: the generator kept
/// up, no operation failed, and the p99 met the target (if one was given).
pub fn sustains(r: &SizeResult, target_p99_us: Option<u64>) -> bool {
    r.requested_rate.is_some()
        && !r.lagging
        && r.errors == 0
        && r.ops > 0
        && target_p99_us.is_none_or(|t| r.latency_us.p99 <= t)
}

/// Open loop: each pool size and the highest rate it sustained (its knee),
/// `None` if it sustained none. Sizes in ascending order.
pub fn knees(results: &[SizeResult], target_p99_us: Option<u64>) -> Vec<(usize, Option<f64>)> {
    let mut sizes: Vec<usize> = results.iter().map(|r| r.pool_size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    sizes
        .into_iter()
        .map(|size| {
            let knee = results
                .iter()
                .filter(|r| r.pool_size == size && sustains(r, target_p99_us))
                .filter_map(|r| r.requested_rate)
                .fold(None, |best: Option<f64>, rate| {
                    Some(best.map_or(rate, |b| b.max(rate)))
                });
            (size, knee)
        })
        .collect()
}

/// Open loop: the smallest pool size that sustains the highest requested
/// rate within the p99 target.
pub fn recommend_open(
    results: &[SizeResult],
    target_p99_us: Option<u64>,
) -> Option<Recommendation> {
    let rate = results
        .iter()
        .filter_map(|r| r.requested_rate)
        .fold(None, |best: Option<f64>, rate| {
            Some(best.map_or(rate, |b| b.max(rate)))
        })?;
    let target = target_p99_us
        .map(|t| format!(" within the p99 target {}", fmt_us(t)))
        .unwrap_or_else(|| {
            " (no --target-p99 given: without errors and without falling behind)".into()
        });
    if let Some(r) = results
        .iter()
        .filter(|r| r.requested_rate == Some(rate) && sustains(r, target_p99_us))
        .min_by_key(|r| r.pool_size)
    {
        return Some(Recommendation {
            pool_size: r.pool_size,
            reason: format!(
                "the smallest size that sustains {rate:.0} ops/s{target}: p99 {}",
                fmt_us(r.latency_us.p99)
            ),
        });
    }
    // None sustains the top rate: the size with the highest knee, smallest
    // first among equals.
    let (size, knee) = knees(results, target_p99_us)
        .into_iter()
        .filter_map(|(size, knee)| knee.map(|k| (size, k)))
        .fold(None, |best: Option<(usize, f64)>, (size, k)| match best {
            Some((_, b)) if b >= k => best,
            _ => Some((size, k)),
        })?;
    Some(Recommendation {
        pool_size: size,
        reason: format!(
            "no size sustains {rate:.0} ops/s{target}; this one sustains the most, {knee:.0} ops/s. Above that, look at the server or the network before the pool"
        ),
    })
}

/// Microseconds as a human reads them.
pub fn fmt_us(us: u64) -> String {
    match us {
        0..1_000 => format!("{us} µs"),
        1_000..1_000_000 => format!("{:.2} ms", us as f64 / 1e3),
        _ => format!("{:.2} s", us as f64 / 1e6),
    }
}

/// The columns of the results table, and each size's cells, shared by
/// the text table and the HTML page (open-loop runs add `OPEN_COLUMNS`
/// after the pool size).
pub const COLUMNS: [&str; 9] = [
    "pool size",
    "ops/s",
    "p50",
    "p99",
    "p99.9",
    "wait p99",
    "conns",
    "connect p50",
    "errors",
];

/// The open loop's columns: the rate asked for, the rate achieved, and
/// the p99 of the start lag.
pub const OPEN_COLUMNS: [&str; 3] = ["rate", "achieved", "lag p99"];

/// Whether the report has open-loop results.
pub fn is_open_loop(report: &Report) -> bool {
    report.results.iter().any(|r| r.requested_rate.is_some())
}

/// The column names of `report`'s table.
pub fn columns(report: &Report) -> Vec<&'static str> {
    let mut c = vec![COLUMNS[0]];
    if is_open_loop(report) {
        c.extend(OPEN_COLUMNS);
    }
    c.extend(&COLUMNS[1..]);
    c
}

/// One result's cells, in `columns` order.
pub fn row(report: &Report, r: &SizeResult) -> Vec<String> {
    let base = cells(r);
    let mut out = vec![base[0].clone()];
    if is_open_loop(report) {
        out.push(r.requested_rate.map_or("-".into(), |v| format!("{v:.0}")));
        out.push(match r.achieved_rate {
            Some(v) if r.lagging => format!("{v:.0} (behind)"),
            Some(v) => format!("{v:.0}"),
            None => "-".into(),
        });
        out.push(r.start_lag_us.map_or("-".into(), |p| fmt_us(p.p99)));
    }
    out.extend(base.into_iter().skip(1));
    out
}

/// One size's cells, in `COLUMNS` order.
pub fn cells(r: &SizeResult) -> [String; 9] {
    [
        r.pool_size.to_string(),
        format!("{:.0}", r.ops_per_sec),
        fmt_us(r.latency_us.p50),
        fmt_us(r.latency_us.p99),
        fmt_us(r.latency_us.p999),
        fmt_us(r.acquire_wait_us.p99),
        r.connections_opened.to_string(),
        fmt_us(u64::from(r.connect_us.p50)),
        r.errors.to_string(),
    ]
}

/// The results as a text table.
pub fn table(report: &Report) -> String {
    let names = columns(report);
    let rows: Vec<Vec<String>> = report.results.iter().map(|r| row(report, r)).collect();
    let widths: Vec<usize> = (0..names.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([names[i].chars().count(), 7])
                .max()
                .unwrap_or(7)
        })
        .collect();
    let line = |cells: &[String]| -> String {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, &w)| format!("{c:>w$}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out = line(&names.iter().map(|s| s.to_string()).collect::<Vec<_>>()) + "\n";
    for (r, cells) in report.results.iter().zip(&rows) {
        out += &line(cells);
        out += if r.stopped_early {
            "  (stopped early)\n"
        } else {
            "\n"
        };
    }
    if report.results.iter().any(|r| r.lagging) {
        out += &format!(
            "\n(behind): the load generator started under {:.0}% of the requested rate in the measured window, so that load was not offered; raise --concurrency (the most operations in flight) or lower the rate\n",
            LAG_LIMIT * 100.0
        );
    }
    if is_open_loop(report) {
        out += "\nknee (highest rate sustained";
        out += &report
            .settings
            .target_p99_us
            .map(|t| format!(" within p99 {}", fmt_us(t)))
            .unwrap_or_default();
        out += "):";
        for (size, knee) in knees(&report.results, report.settings.target_p99_us) {
            out += &match knee {
                Some(k) => format!(" size {size}: {k:.0} ops/s;"),
                None => format!(" size {size}: none of the rates;"),
            };
        }
        out.pop();
        out += "\n";
    }
    if report.recommendation.is_none() && is_open_loop(report) {
        out += "\nno recommendation: no pool size sustained any of the rates; lower the rate, raise --concurrency, or look at the server\n";
    }
    if let Some(rec) = &report.recommendation {
        out += &format!(
            "\nrecommended pool size: {} ({})\n",
            rec.pool_size, rec.reason
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(pool_size: usize, ops_per_sec: f64, p99: u64) -> SizeResult {
        SizeResult {
            pool_size,
            ops: 1000,
            errors: 0,
            duration_s: 1.0,
            ops_per_sec,
            latency_us: Percentiles {
                p99,
                ..Percentiles::default()
            },
            acquire_wait_us: Percentiles::default(),
            acquire_wait_histogram: Vec::new(),
            connections_opened: 0,
            connect_us: ConnectTime::default(),
            stopped_early: false,
            requested_rate: None,
            achieved_rate: None,
            lagging: false,
            start_lag_us: None,
        }
    }

    fn open(pool_size: usize, rate: f64, achieved: f64, p99: u64) -> SizeResult {
        SizeResult {
            requested_rate: Some(rate),
            achieved_rate: Some(achieved),
            lagging: achieved < LAG_LIMIT * rate,
            ..result(pool_size, achieved, p99)
        }
    }

    #[test]
    fn open_loop_knees_and_the_smallest_size_that_sustains_the_top_rate() {
        let results = [
            open(1, 1000.0, 1000.0, 300),
            open(1, 2000.0, 1500.0, 9_000), // behind
            open(2, 1000.0, 1000.0, 250),
            open(2, 2000.0, 1995.0, 800),
            open(4, 1000.0, 1000.0, 240),
            open(4, 2000.0, 2000.0, 400),
        ];
        assert_eq!(
            knees(&results, Some(500)),
            vec![(1, Some(1000.0)), (2, Some(1000.0)), (4, Some(2000.0))]
        );
        // Without a target, 2 keeps up with 2000/s.
        assert_eq!(recommend_open(&results, None).unwrap().pool_size, 2);
        // Within 500 µs only 4 does.
        let rec = recommend_open(&results, Some(500)).unwrap();
        assert_eq!(rec.pool_size, 4);
        assert!(rec.reason.contains("2000 ops/s"), "{}", rec.reason);
        // Nobody sustains 2000/s within 300 µs: the highest knee, smallest
        // size first.
        let rec = recommend_open(&results, Some(300)).unwrap();
        assert_eq!(rec.pool_size, 1);
        assert!(rec.reason.contains("no size sustains"), "{}", rec.reason);
    }

    #[test]
    fn a_lagging_run_is_flagged_in_the_table() {
        let mut rep = Report::new(
            "redis://h:1",
            Settings {
                mode: Mode::Exclusive,
                concurrency: 1,
                duration_s: 1.0,
                warmup_s: 0.0,
                operation: "get".into(),
                value_size: 16,
                target_p99_us: None,
                rates: vec![1000.0],
            },
        );
        rep.results.push(open(1, 1000.0, 600.0, 300));
        let t = table(&rep);
        assert!(t.contains("600 (behind)"), "{t}");
        assert!(t.contains("size 1: none of the rates"), "{t}");
    }

    #[test]
    fn recommends_the_smallest_size_near_the_best() {
        let results = [
            result(5, 80.0, 900),
            result(10, 97.0, 700),
            result(20, 100.0, 650),
        ];
        assert_eq!(recommend(&results, None).unwrap().pool_size, 10);
        // A target that only the largest meets.
        assert_eq!(recommend(&results, Some(660)).unwrap().pool_size, 20);
        // A target nobody near the best meets: the lowest p99.
        let rec = recommend(&results, Some(100)).unwrap();
        assert_eq!(rec.pool_size, 20);
        assert!(rec.reason.contains("no size"), "{}", rec.reason);
    }

    #[test]
    fn percentiles_and_histogram_of_known_samples() {
        let mut samples: Vec<u32> = (1..=1000).collect();
        let p = Percentiles::of(&mut samples);
        assert_eq!((p.p50, p.p99, p.p999, p.max), (500, 990, 999, 1000));
        let h = histogram(&[1, 2, 3, 900, 20_000_000]);
        let count = |le: Option<u64>| h.iter().find(|b| b.le_us == le).unwrap().count;
        assert_eq!((count(Some(1)), count(Some(2)), count(Some(5))), (1, 1, 1));
        assert_eq!((count(Some(1000)), count(None)), (1, 1));
    }

    #[test]
    fn passwords_never_reach_the_report() {
        assert_eq!(
            redact("redis://alice:s3cret@h:6379/0"),
            "redis://alice:***@h:6379/0"
        );
        assert_eq!(redact("redis://:pw@h"), "redis://:***@h");
        assert_eq!(redact("redis://h:1"), "redis://h:1");
        for url in [
            "postgres://app:pa/ss@db/x",
            "postgres://db/x?user=a&password=s3cret",
            "postgresql://app@db/x?pass%77ord=s3cret",
            "redis+unix:///tmp/r.sock?pass=p@s3cret",
            "redis://:s3c@ret@h/0",
        ] {
            let shown = redact(url);
            assert!(
                !shown.contains("s3cret") && !shown.contains("pa/ss") && !shown.contains("s3c@"),
                "{url} -> {shown}"
            );
        }
    }
}
