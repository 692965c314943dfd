//! One self-contained HTML page (inline SVG, no script, no network) from
//! one report or several (`poolbench analyze`).

use std::fmt::Write;

use crate::report::{self, Report, SizeResult, fmt_us};

const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
];

struct Series<'a> {
    name: String,
    color: &'a str,
    /// (pool size or rate, value)
    points: Vec<(usize, f64)>,
    dashed: bool,
}

/// Escaped for HTML text and for a quoted attribute value alike.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A round step for about five ticks up to `max`.
fn nice_step(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

fn fmt_tick(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.0}k", v / 1e3)
    } else if v >= 10.0 || v == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// A line chart over pool sizes (evenly spaced, as sweeps use rough
/// doublings).
fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    let (w, h, left, right, top, bottom) = (640.0, 320.0, 70.0, 150.0, 36.0, 48.0);
    let mut sizes: Vec<usize> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    let max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    let step = nice_step(max);
    let y_max = (max / step).ceil().max(1.0) * step;
    let plot_w = w - left - right;
    let plot_h = h - top - bottom;
    let x_of = |size: usize| {
        let i = sizes.iter().position(|&s| s == size).unwrap_or(0);
        if sizes.len() <= 1 {
            left + plot_w / 2.0
        } else {
            left + plot_w * i as f64 / (sizes.len() - 1) as f64
        }
    };
    let y_of = |v: f64| top + plot_h * (1.0 - v / y_max);
    let mut svg = format!(
        r#"<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{t}"><text x="{left}" y="22" class="title">{t}</text>"#,
        t = esc(title)
    );
    let mut v = 0.0;
    while v <= y_max + step / 2.0 {
        let y = y_of(v);
        let _ = write!(
            svg,
            r#"<line x1="{left}" x2="{x2}" y1="{y:.1}" y2="{y:.1}" class="grid"/><text x="{tx}" y="{ty:.1}" class="tick" text-anchor="end">{label}</text>"#,
            x2 = left + plot_w,
            tx = left - 6.0,
            ty = y + 4.0,
            label = fmt_tick(v)
        );
        v += step;
    }
    for &s in &sizes {
        let x = x_of(s);
        let _ = write!(
            svg,
            r#"<line x1="{x:.1}" x2="{x:.1}" y1="{y1}" y2="{y2}" class="axis"/><text x="{x:.1}" y="{ty}" class="tick" text-anchor="middle">{s}</text>"#,
            y1 = top + plot_h,
            y2 = top + plot_h + 5.0,
            ty = top + plot_h + 18.0
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{x:.1}" y="{y}" class="label" text-anchor="middle">{xl}</text><text transform="translate(16 {ly:.1}) rotate(-90)" class="label" text-anchor="middle">{yl}</text>"#,
        x = left + plot_w / 2.0,
        y = h - 8.0,
        ly = top + plot_h / 2.0,
        xl = esc(x_label),
        yl = esc(y_label)
    );
    for (i, s) in series.iter().enumerate() {
        let path: Vec<String> = s
            .points
            .iter()
            .map(|&(size, v)| format!("{:.1},{:.1}", x_of(size), y_of(v)))
            .collect();
        let dash = if s.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = write!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{c}" stroke-width="2.5"{dash}/>"#,
            path.join(" "),
            c = s.color
        );
        for &(size, v) in &s.points {
            let _ = write!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="4" fill="{c}"><title>{}: {} at {xl} {size}</title></circle>"#,
                x_of(size),
                y_of(v),
                esc(&s.name),
                fmt_tick(v),
                c = s.color,
                xl = esc(x_label)
            );
        }
        let ly = top + 8.0 + 20.0 * i as f64;
        let _ = write!(
            svg,
            r#"<line x1="{x1}" x2="{x2}" y1="{ly}" y2="{ly}" stroke="{c}" stroke-width="3"{dash}/><text x="{tx}" y="{ty}" class="legend">{n}</text>"#,
            x1 = w - right + 12.0,
            x2 = w - right + 34.0,
            tx = w - right + 40.0,
            ty = ly + 4.0,
            c = s.color,
            n = esc(&s.name)
        );
    }
    svg + "</svg>"
}

/// Bars of the acquire-wait histogram (only the non-empty range).
fn histogram_chart(title: &str, r: &SizeResult) -> String {
    let buckets = &r.acquire_wait_histogram;
    if buckets.is_empty() {
        // A report written by hand, or by a run that recorded no wait.
        return format!(
            r#"<svg viewBox="0 0 640 60" width="640" height="60" role="img" aria-label="{t}"><text x="70" y="22" class="title">{t}</text><text x="70" y="48" class="tick">no acquire wait recorded</text></svg>"#,
            t = esc(title)
        );
    }
    let first = buckets.iter().position(|b| b.count > 0).unwrap_or(0);
    let last = buckets.iter().rposition(|b| b.count > 0).unwrap_or(0);
    let shown = &buckets[first..=last.max(first)];
    let (w, h, left, top, bottom) = (640.0, 300.0, 70.0, 36.0, 60.0);
    let plot_w = w - left - 20.0;
    let plot_h = h - top - bottom;
    let max = shown.iter().map(|b| b.count).max().unwrap_or(1).max(1) as f64;
    let bar_w = plot_w / shown.len().max(1) as f64;
    let mut svg = format!(
        r#"<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{t}"><text x="{left}" y="22" class="title">{t}</text>"#,
        t = esc(title)
    );
    let mut prev: Option<u64> = if first == 0 {
        None
    } else {
        buckets[first - 1].le_us
    };
    for (i, b) in shown.iter().enumerate() {
        let bh = plot_h * b.count as f64 / max;
        let x = left + bar_w * i as f64;
        let label = match b.le_us {
            Some(le) => format!("≤{}", fmt_us(le)),
            None => format!(">{}", fmt_us(prev.unwrap_or(0))),
        };
        let share = 100.0 * b.count as f64 / r.acquire_wait_us.count.max(1) as f64;
        let _ = write!(
            svg,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{bh:.1}" fill="{c}"><title>{label}: {n} ({share:.1}%)</title></rect><text x="{tx:.1}" y="{ly}" class="tick" text-anchor="end" transform="rotate(-40 {tx:.1} {ly})">{label}</text>"#,
            y = top + plot_h - bh,
            bw = (bar_w - 3.0).max(1.0),
            c = COLORS[0],
            n = b.count,
            tx = x + bar_w / 2.0,
            ly = top + plot_h + 14.0
        );
        if b.count > 0 {
            let _ = write!(
                svg,
                r#"<text x="{cx:.1}" y="{cy:.1}" class="tick" text-anchor="middle">{share:.0}%</text>"#,
                cx = x + bar_w / 2.0,
                cy = top + plot_h - bh - 4.0
            );
        }
        prev = b.le_us;
    }
    svg + "</svg>"
}

/// The closed loop's charts: throughput and latency by pool size.
fn closed_loop_charts(reports: &[(String, Report)]) -> String {
    let multi = reports.len() > 1;
    let mut body = String::new();
    let throughput: Vec<Series> = reports
        .iter()
        .enumerate()
        .map(|(i, (label, r))| Series {
            name: label.clone(),
            color: COLORS[i % COLORS.len()],
            points: r
                .results
                .iter()
                .map(|x| (x.pool_size, x.ops_per_sec))
                .collect(),
            dashed: false,
        })
        .collect();
    body += &line_chart(
        "Throughput by pool size",
        "pool size",
        "operations per second",
        &throughput,
    );
    let latency: Vec<Series> = if multi {
        reports
            .iter()
            .enumerate()
            .map(|(i, (label, r))| Series {
                name: format!("{label} p99"),
                color: COLORS[i % COLORS.len()],
                points: r
                    .results
                    .iter()
                    .map(|x| (x.pool_size, x.latency_us.p99 as f64 / 1e3))
                    .collect(),
                dashed: false,
            })
            .collect()
    } else {
        let r = &reports[0].1;
        let pick = |f: fn(&SizeResult) -> u64| -> Vec<(usize, f64)> {
            r.results
                .iter()
                .map(|x| (x.pool_size, f(x) as f64 / 1e3))
                .collect()
        };
        vec![
            Series {
                name: "p50".into(),
                color: COLORS[2],
                points: pick(|x| x.latency_us.p50),
                dashed: false,
            },
            Series {
                name: "p99".into(),
                color: COLORS[0],
                points: pick(|x| x.latency_us.p99),
                dashed: false,
            },
            Series {
                name: "p99.9".into(),
                color: COLORS[1],
                points: pick(|x| x.latency_us.p999),
                dashed: true,
            },
            Series {
                name: "wait p99".into(),
                color: COLORS[4],
                points: pick(|x| x.acquire_wait_us.p99),
                dashed: true,
            },
        ]
    };
    body += &line_chart(
        "Latency by pool size",
        "pool size",
        "milliseconds",
        &latency,
    );
    body
}

/// The open loop's charts, one line per pool size against the requested
/// rate: the p99 (where it turns up is the knee) and the rate achieved.
fn open_loop_charts(report: &Report) -> String {
    let mut sizes: Vec<usize> = report.results.iter().map(|r| r.pool_size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let by_size = |f: fn(&SizeResult) -> f64| -> Vec<Series> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| Series {
                name: format!("size {size}"),
                color: COLORS[i % COLORS.len()],
                points: report
                    .results
                    .iter()
                    .filter(|r| r.pool_size == size)
                    .filter_map(|r| r.requested_rate.map(|rate| (rate.round() as usize, f(r))))
                    .collect(),
                dashed: false,
            })
            .collect()
    };
    let mut body = line_chart(
        "p99 latency by requested rate (from each operation's due time)",
        "requested ops/s",
        "milliseconds",
        &by_size(|r| r.latency_us.p99 as f64 / 1e3),
    );
    body += &line_chart(
        "Achieved rate by requested rate",
        "requested ops/s",
        "operations started per second",
        &by_size(|r| r.achieved_rate.unwrap_or(0.0)),
    );
    body
}

fn results_table(report: &Report) -> String {
    let mut t = String::from("<table><tr>");
    for c in report::columns(report) {
        let _ = write!(t, "<th>{}</th>", esc(c));
    }
    t += "</tr>";
    let rec = report.recommendation.as_ref().map(|r| r.pool_size);
    for r in &report.results {
        t += if rec == Some(r.pool_size) {
            r#"<tr class="rec">"#
        } else {
            "<tr>"
        };
        for c in report::row(report, r) {
            let _ = write!(t, "<td>{}</td>", esc(&c));
        }
        t += "</tr>";
    }
    t + "</table>"
}

/// The page for `reports` (label, report); the first one's recommendation
/// is the headline.
pub fn render(reports: &[(String, Report)]) -> String {
    let mut body = String::new();
    let multi = reports.len() > 1;
    if let Some((_, first)) = reports.first() {
        let s = &first.settings;
        let _ = write!(
            body,
            "<p class=\"settings\">{} · {} mode · {} · {} · {} s measured after {} s warm-up · values of {} bytes{}</p>",
            esc(&first.url),
            match s.mode {
                crate::load::Mode::Exclusive => "exclusive",
                crate::load::Mode::Shared => "shared",
            },
            if s.rates.is_empty() {
                format!("{} concurrent tasks", s.concurrency)
            } else {
                format!(
                    "open loop at {} ops/s, at most {} in flight",
                    s.rates
                        .iter()
                        .map(|r| format!("{r:.0}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    s.concurrency
                )
            },
            esc(&s.operation),
            s.duration_s,
            s.warmup_s,
            s.value_size,
            s.target_p99_us
                .map(|t| format!(" · p99 target {}", fmt_us(t)))
                .unwrap_or_default()
        );
        if let Some(rec) = &first.recommendation {
            let _ = write!(
                body,
                "<div class=\"rec-box\"><b>Recommended pool size: {}</b><br>{}</div>",
                rec.pool_size,
                esc(&rec.reason)
            );
        }
    }
    if let Some((_, first)) = reports.first()
        && report::is_open_loop(first)
    {
        body += &open_loop_charts(first);
    } else {
        body += &closed_loop_charts(reports);
    }
    for (label, r) in reports {
        let shown = r
            .recommendation
            .as_ref()
            .and_then(|rec| r.results.iter().find(|x| x.pool_size == rec.pool_size))
            .or_else(|| r.results.first());
        if let Some(x) = shown {
            let title = format!(
                "Acquire wait at pool size {}{}",
                x.pool_size,
                if multi {
                    format!(" ({label})")
                } else {
                    String::new()
                }
            );
            body += &histogram_chart(&title, x);
        }
        if multi {
            let _ = write!(body, "<h2>{}</h2>", esc(label));
        }
        body += &results_table(r);
    }
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>poolbench report</title><style>
body{{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:720px;color:#222}}
h1{{font-size:22px;margin-bottom:4px}} h2{{font-size:16px;margin:18px 0 6px}}
.settings{{color:#555;font-size:13px}} .rec-box{{background:#eef6ee;border-left:4px solid #2ca02c;padding:10px 14px;margin:12px 0 18px;font-size:14px}}
svg{{display:block;margin:18px 0}} .title{{font-size:15px;font-weight:600}} .tick{{font-size:11px;fill:#555}} .label{{font-size:12px;fill:#333}} .legend{{font-size:12px}}
.grid{{stroke:#e4e4e4}} .axis{{stroke:#999}}
table{{border-collapse:collapse;font-size:13px;margin:8px 0 24px}} th,td{{padding:4px 9px;text-align:right;border-bottom:1px solid #e4e4e4;white-space:nowrap}} th{{background:#f5f5f5}} tr.rec td{{background:#eef6ee;font-weight:600}}
</style></head><body><h1>Pool size report</h1>{body}<p class="settings">Made by poolbench {v}. Latency is the whole operation, checkout included; acquire wait is the checkout alone (zero in shared mode).</p></body></html>
"#,
        v = env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Percentiles, Settings, SizeResult};

    fn report(with_histogram: bool) -> Report {
        let mut rep = Report::new(
            "redis://h:1/0",
            Settings {
                mode: crate::load::Mode::Exclusive,
                concurrency: 4,
                duration_s: 1.0,
                warmup_s: 0.1,
                operation: "get".into(),
                value_size: 16,
                target_p99_us: None,
                rates: Vec::new(),
            },
        );
        let mut result: SizeResult = serde_json::from_value(serde_json::json!({
            "pool_size": 2, "ops": 10, "errors": 0, "duration_s": 1.0, "ops_per_sec": 10.0,
            "latency_us": Percentiles::default(), "acquire_wait_us": Percentiles::default(),
            "acquire_wait_histogram": [], "connections_opened": 2, "stopped_early": false,
        }))
        .unwrap();
        if with_histogram {
            result.acquire_wait_histogram = crate::report::histogram(&[3, 40]);
        }
        rep.results.push(result);
        rep
    }

    #[test]
    fn a_report_with_an_empty_wait_histogram_renders() {
        let page = render(&[("hand-written".into(), report(false))]);
        assert!(page.contains("no acquire wait recorded"), "{page}");
        assert!(render(&[("run".into(), report(true))]).contains("<rect"));
    }

    #[test]
    fn labels_are_escaped_for_attributes_and_text() {
        let label = r#"x" onload="alert(1)' <b>"#;
        let page = render(&[(label.into(), report(true)), ("b".into(), report(true))]);
        assert!(!page.contains(label), "raw label in the page");
        assert!(
            !page.contains(r#"" onload=""#),
            "an attribute could be closed"
        );
        assert!(page.contains("x&quot; onload=&quot;alert(1)&#39; &lt;b&gt;"));
    }
}
