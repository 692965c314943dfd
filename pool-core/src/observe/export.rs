//! The snapshot through the `metrics` crate's facade (cargo feature
//! `metrics`), under OpenTelemetry's semantic-convention names for
//! database client connection pools, labelled `pool.name`. Counters are
//! set to their absolute values and histograms published as quantile
//! gauges (seconds), so publishing is idempotent: call it as often as the
//! exporter scrapes (once a second is plenty).

use metrics::{counter, gauge};

use super::{MetricsSnapshot, Summary};

/// Publishes `m` for the pool named `pool_name`.
pub fn publish(pool_name: &str, m: &MetricsSnapshot) {
    let name = pool_name.to_owned();
    let g = &m.gauges;
    gauge!("db.client.connection.count", "pool.name" => name.clone(), "state" => "idle")
        .set(g.idle as f64);
    gauge!("db.client.connection.count", "pool.name" => name.clone(), "state" => "used")
        .set(g.in_use as f64);
    gauge!("db.client.connection.max", "pool.name" => name.clone()).set(g.max_size as f64);
    gauge!("db.client.connection.idle.min", "pool.name" => name.clone()).set(g.min_idle as f64);
    gauge!("db.client.connection.pending_requests", "pool.name" => name.clone())
        .set(g.waiting as f64);
    counter!("db.client.connection.timeouts", "pool.name" => name.clone())
        .absolute(m.gets.timed_out);
    for (metric, summary) in [
        ("db.client.connection.wait_time", &m.wait),
        ("db.client.connection.use_time", &m.use_time),
        ("db.client.connection.create_time", &m.create_time),
    ] {
        quantiles(metric, &name, summary);
    }
    let gets = &m.gets;
    for (outcome, n) in [
        ("served_at_once", gets.served_at_once),
        ("served_after_wait", gets.served_after_wait),
        ("timed_out", gets.timed_out),
        ("backend_error", gets.backend_error),
        ("refused_unavailable", gets.refused_unavailable),
        ("refused_closed", gets.refused_closed),
        ("cancelled", gets.cancelled),
    ] {
        counter!("pool.gets", "pool.name" => name.clone(), "outcome" => outcome).absolute(n);
    }
    let c = &m.closed;
    for (reason, n) in [
        ("broken", c.broken),
        ("recycle_failed", c.recycle_failed),
        ("idle_surplus", c.idle_surplus),
        ("max_lifetime", c.max_lifetime),
        ("resized_away", c.resized_away),
        ("overflow", c.overflow),
        ("taken", c.taken),
        ("pool_closed", c.pool_closed),
    ] {
        counter!("pool.connections.closed", "pool.name" => name.clone(), "reason" => reason)
            .absolute(n);
    }
    counter!("pool.creates", "pool.name" => name.clone(), "result" => "ok").absolute(m.creates_ok);
    counter!("pool.creates", "pool.name" => name.clone(), "result" => "failed")
        .absolute(m.creates_failed);
    counter!("pool.breaker.opens", "pool.name" => name).absolute(m.breaker_opens);
}

fn quantiles(metric: &'static str, name: &str, s: &Summary) {
    for (q, ns) in [
        ("0.5", s.p50_ns),
        ("0.9", s.p90_ns),
        ("0.99", s.p99_ns),
        ("0.999", s.p999_ns),
        ("1", s.max_ns),
    ] {
        gauge!(metric, "pool.name" => name.to_owned(), "quantile" => q).set(ns as f64 / 1e9);
    }
    let count = format!("{metric}.count");
    counter!(count, "pool.name" => name.to_owned()).absolute(s.count);
}
