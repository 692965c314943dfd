//! The rate window: arrivals, completions and churn per second over the
//! last minute, from the snapshots `metrics()` kept.

use std::time::Duration;

use tokio::time::Instant;

use super::snapshot::{MetricsSnapshot, Rates};

/// One point of the rate history.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RatePoint {
    at: Instant,
    arrivals: u64,
    completions: u64,
    churn: u64,
}

impl RatePoint {
    pub(crate) fn zero(at: Instant) -> Self {
        RatePoint {
            at,
            arrivals: 0,
            completions: 0,
            churn: 0,
        }
    }
}

/// The window of rates.
pub(crate) const RATE_WINDOW: Duration = Duration::from_secs(60);

/// Adds `m` to `history` (oldest first) and fills `m.rates`: the deltas
/// against the newest point at least a window old, or the oldest kept.
pub(crate) fn rates(
    history: &mut std::collections::VecDeque<RatePoint>,
    m: &mut MetricsSnapshot,
    now: Instant,
) {
    let c = &m.closed;
    let point = RatePoint {
        at: now,
        arrivals: m.gets.started,
        completions: m.gets.started - m.gets.pending,
        churn: m.creates_ok
            + c.broken
            + c.recycle_failed
            + c.idle_surplus
            + c.max_lifetime
            + c.resized_away
            + c.overflow
            + c.taken
            + c.pool_closed,
    };
    while history.len() >= 2 && history[1].at + RATE_WINDOW <= now {
        history.pop_front();
    }
    if let Some(first) = history.front() {
        let dt = now.saturating_duration_since(first.at);
        if dt >= Duration::from_secs(1) {
            let per_sec = |a: u64, b: u64| a.saturating_sub(b) as f64 / dt.as_secs_f64();
            m.rates = Some(Rates {
                window: dt,
                arrivals_per_sec: per_sec(point.arrivals, first.arrivals),
                completions_per_sec: per_sec(point.completions, first.completions),
                churn_per_min: per_sec(point.churn, first.churn) * 60.0,
            });
        }
    }
    history.push_back(point);
    // Bounded: callers polling many times a second keep at most ~4 points
    // per second of window.
    if history.len() > 256 {
        history.remove(1);
    }
}
