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
fn histogram(samples: &[u32]) -> Vec<Bucket> {
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
}

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
        SizeResult {
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

/// The URL without a password (`redis://user:***@host`).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((auth, host)) => {
            let user = auth.split_once(':').map_or(auth, |(u, _)| u);
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_owned(),
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

/// Microseconds as a human reads them.
pub fn fmt_us(us: u64) -> String {
    match us {
        0..1_000 => format!("{us} µs"),
        1_000..1_000_000 => format!("{:.2} ms", us as f64 / 1e3),
        _ => format!("{:.2} s", us as f64 / 1e6),
    }
}

/// The columns of the results table, and each size's cells, shared by
/// the text table and the HTML page.
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
    const WIDTHS: [usize; 9] = [9, 12, 10, 10, 10, 12, 7, 12, 7];
    let line = |cells: &[String]| -> String {
        cells
            .iter()
            .zip(WIDTHS)
            .map(|(c, w)| format!("{c:>w$}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out = line(&COLUMNS.map(String::from)) + "\n";
    for r in &report.results {
        out += &line(&cells(r));
        out += if r.stopped_early {
            "  (stopped early)\n"
        } else {
            "\n"
        };
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
        }
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
    }
}
