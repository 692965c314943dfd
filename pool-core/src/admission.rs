//! Breaker admission: whether a create may start now, and reporting its
//! outcome to the breaker. The state machine itself is `breaker.rs` (pure,
//! no clock of its own); this wires it to tokio time and to `PoolInner`.

use std::time::Duration;

use tokio::time::Instant;

use crate::breaker::{Admission, Transition};
use crate::errors::SharedError;
use crate::errors::{PoolError, TimeoutType};
use crate::inner::PoolInner;
use crate::manager::Manager;

impl<M: Manager> PoolInner<M> {
    /// Asks the breaker whether a create may start. `Ok(probe)`: yes (the
    /// guard says whether it is the half-open probe); `Err`: refused, with
    /// the error to give the caller.
    pub(crate) fn admit(&self) -> Result<ProbeGuard<'_, M>, PoolError<M::Error>> {
        let now = Instant::now();
        let mut cell = self.breaker.lock();
        match cell.breaker.admit(now) {
            Admission::Allowed => Ok(ProbeGuard {
                pool: self,
                probe: false,
                done: false,
            }),
            Admission::Probe => {
                tracing::info!("breaker half-open: one probe create");
                Ok(ProbeGuard {
                    pool: self,
                    probe: true,
                    done: false,
                })
            }
            Admission::Refused { retry_in } => Err(PoolError::Unavailable {
                last_error: cell.last_error.clone(),
                failures: cell.breaker.consecutive_failures(),
                retry_in,
            }),
        }
    }

    /// `Unavailable` if creates are currently failing, for a caller that
    /// gave up waiting.
    pub(crate) fn unavailable(&self, now: Instant) -> Option<PoolError<M::Error>> {
        let cell = self.breaker.lock();
        let failures = cell.breaker.consecutive_failures();
        if failures == 0 {
            return None;
        }
        let retry_in = match cell.breaker.snapshot().state {
            crate::BreakerState::Open { until } => until.saturating_duration_since(now),
            _ => Duration::ZERO,
        };
        Some(PoolError::Unavailable {
            last_error: cell.last_error.clone(),
            failures,
            retry_in,
        })
    }
}

/// A create admitted by the breaker. Its outcome must be reported:
/// `succeeded`, `failed`, or (dropped unreported: the `get()` was cancelled)
/// the probe slot is freed for the next caller.
pub(crate) struct ProbeGuard<'a, M: Manager> {
    pool: &'a PoolInner<M>,
    probe: bool,
    done: bool,
}

impl<M: Manager> ProbeGuard<'_, M> {
    pub(crate) fn succeeded(mut self) {
        self.done = true;
        let transition = self.pool.breaker.lock().breaker.on_success(self.probe);
        if transition == Transition::Closed {
            tracing::info!("breaker closed: create succeeded");
        }
    }

    /// Records a failed create (`None`: it timed out) and returns the error
    /// for the caller: the backend's own while the breaker stays closed,
    /// `Unavailable` (with this error as the last one) once it is open.
    pub(crate) fn failed(mut self, error: Option<M::Error>) -> PoolError<M::Error> {
        self.done = true;
        let description = error
            .as_ref()
            .and_then(|e| self.pool.manager.describe_error(e));
        tracing::warn!(
            timed_out = error.is_none(),
            probe = self.probe,
            error = description.as_deref(),
            "create failed"
        );
        let now = Instant::now();
        let mut cell = self.pool.breaker.lock();
        let transition = cell.breaker.on_failure(now, self.probe);
        let failures = cell.breaker.consecutive_failures();
        match transition {
            Transition::Opened { delay } => {
                tracing::warn!(failures, retry_in = ?delay, "breaker opened: creates keep failing");
                let last_error = error.map(|e| SharedError::new(e, description));
                cell.last_error = last_error.clone();
                PoolError::Unavailable {
                    last_error,
                    failures,
                    retry_in: delay,
                }
            }
            _ => match error {
                Some(e) => PoolError::Backend(e),
                None => PoolError::Timeout(TimeoutType::Create),
            },
        }
    }
}

impl<M: Manager> Drop for ProbeGuard<'_, M> {
    fn drop(&mut self) {
        if !self.done && self.probe {
            self.pool.breaker.lock().breaker.on_probe_cancelled();
        }
    }
}
