//! What the pool remembers between reports: the snapshot the last
//! `health()` judged up to, and earlier `metrics()` points for the windowed
//! rates. Touched only by those calls, never by a get.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::{GetOutcomes, Health, HealthThresholds, MetricsSnapshot, RatePoint, Summary};
use crate::sync::StdMutex;

pub(crate) struct Reports {
    /// The snapshot the last `health()` judged up to: the next report's
    /// window starts there.
    health_mark: StdMutex<Option<MetricsSnapshot>>,
    /// Points of earlier `metrics()` calls, for the windowed rates.
    rate_history: StdMutex<VecDeque<RatePoint>>,
}

impl Reports {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            health_mark: StdMutex::new(None),
            rate_history: StdMutex::new(VecDeque::from([RatePoint::zero(now)])),
        }
    }

    /// Fills `m.rates` from the history, and remembers `m`.
    pub(crate) fn add_rates(&self, m: &mut MetricsSnapshot, now: Instant) {
        let mut history = self.rate_history.lock().unwrap_or_else(|p| p.into_inner());
        super::rates(&mut history, m, now);
    }

    /// Judges the window from the previous report to `now`, and starts the
    /// next window there.
    pub(crate) fn judge(&self, now: MetricsSnapshot, thresholds: &HealthThresholds) -> Health {
        let mut mark = self.health_mark.lock().unwrap_or_else(|p| p.into_inner());
        let before = mark.take().unwrap_or(MetricsSnapshot {
            gets: GetOutcomes::default(),
            creates_failed: 0,
            uptime: Duration::ZERO,
            wait: Summary::default(),
            ..now
        });
        let report = super::judge_window(&now, &before, thresholds);
        *mark = Some(now);
        report
    }
}
