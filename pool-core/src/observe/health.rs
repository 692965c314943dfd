//! The health report and the sizing advisor, from the recorder's figures.

use std::time::Duration;

use super::MetricsSnapshot;

/// Thresholds of [`Pool::health`](crate::Pool::health): utilization, waits, errors and the breaker.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HealthThresholds {
    /// In use / `max_size` above this: degraded, raise `max_size`.
    pub utilization: f64,
    /// Mean wait for an object above this: degraded.
    pub mean_wait: Duration,
    /// Backend errors (failed creates and gets failed by the backend) in
    /// the window above this: unhealthy.
    pub connection_errors: u64,
}

impl Default for HealthThresholds {
    fn default() -> Self {
        Self {
            utilization: 0.8,
            mean_wait: Duration::from_secs(1),
            connection_errors: 10,
        }
    }
}

/// Overall state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[non_exhaustive]
pub enum HealthStatus {
    /// Nothing to report.
    Healthy,
    /// Working, with warnings (high utilisation, long waits, timeouts).
    Degraded,
    /// Connection errors above the threshold, or the breaker open.
    Unhealthy,
}

/// What [`Pool::health`](crate::Pool::health) found.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Health {
    /// The overall state.
    pub status: HealthStatus,
    /// What crossed a threshold, in words.
    pub warnings: Vec<String>,
    /// What to change about it, in words.
    pub recommendations: Vec<String>,
    /// The window the report covers (since the previous report).
    pub window: Duration,
}

/// Judges the window between two snapshots (`before`: the start of the
/// window).
pub(crate) fn judge(
    now: &MetricsSnapshot,
    before: &MetricsSnapshot,
    t: &HealthThresholds,
) -> Health {
    let mut warnings = Vec::new();
    let mut recommendations = Vec::new();
    let g = &now.gauges;
    let utilization = if g.max_size == 0 {
        0.0
    } else {
        g.in_use as f64 / g.max_size as f64
    };
    if utilization > t.utilization || g.waiting > 0 && g.in_use >= g.max_size {
        warnings.push(format!(
            "high pool utilization: {} of {} in use, {} waiting",
            g.in_use, g.max_size, g.waiting
        ));
        recommendations.push(format!(
            "raise max_size above {} (see recommend_size())",
            g.max_size
        ));
    }
    let served = now.wait.count.saturating_sub(before.wait.count);
    let waited_ns = (now.wait.mean_ns as u128 * now.wait.count as u128)
        .saturating_sub(before.wait.mean_ns as u128 * before.wait.count as u128);
    if served > 0 {
        let mean = Duration::from_nanos((waited_ns / served as u128) as u64);
        if mean > t.mean_wait {
            warnings.push(format!("high wait for an object: {mean:?} on average"));
            recommendations.push("raise max_size, or hold objects for less time".into());
        }
    }
    let errors = (now.creates_failed + now.gets.backend_error)
        .saturating_sub(before.creates_failed + before.gets.backend_error);
    let unhealthy = errors > t.connection_errors || g.breaker == crate::BreakerPhase::Open;
    if unhealthy {
        warnings.push(format!(
            "backend errors: {errors} failed creates or gets in the window, breaker {}",
            g.breaker
        ));
        recommendations.push("check the backend: the pool cannot fix this".into());
    }
    let timeouts = now.gets.timed_out.saturating_sub(before.gets.timed_out);
    if timeouts > 0 {
        warnings.push(format!("{timeouts} gets timed out"));
    }
    Health {
        status: if unhealthy {
            HealthStatus::Unhealthy
        } else if warnings.is_empty() {
            HealthStatus::Healthy
        } else {
            HealthStatus::Degraded
        },
        warnings,
        recommendations,
        window: now.uptime.saturating_sub(before.uptime),
    }
}

/// What [`Pool::recommend_size`](crate::Pool::recommend_size) advises.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct SizeAdvice {
    /// The `max_size` the measured load needs.
    pub max_size: usize,
    /// Gets per second since the pool was built.
    pub arrival_rate: f64,
    /// Mean time an object is held (checkout to return).
    pub mean_use: Duration,
    /// Why.
    pub reason: String,
}

/// Little's law on what was measured: objects busy on average = arrival
/// rate x mean hold time; the burst headroom is the 99th percentile of a
/// Poisson count with that mean (normal approximation: + 2.33 sqrt).
pub(crate) fn advise(m: &MetricsSnapshot) -> Option<SizeAdvice> {
    let secs = m.uptime.as_secs_f64();
    if secs <= 0.0 || m.use_time.count == 0 {
        return None;
    }
    let arrival_rate = m.gets.started as f64 / secs;
    let mean_use = Duration::from_nanos(m.use_time.mean_ns);
    let busy = arrival_rate * mean_use.as_secs_f64();
    let need = (busy + 2.33 * busy.sqrt()).ceil().max(1.0) as usize;
    Some(SizeAdvice {
        max_size: need,
        arrival_rate,
        mean_use,
        reason: format!(
            "{arrival_rate:.1} gets/s x {mean_use:?} held = {busy:.2} objects busy on average (Little's law); {need} covers the 99th percentile of a Poisson burst around that mean"
        ),
    })
}
