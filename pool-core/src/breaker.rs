//! The circuit breaker in front of `Manager::create`: a pure state machine
//! over an injected clock (the caller passes `now`) and random source, so it
//! is unit-tested deterministically; `pool.rs` wires it to tokio time.
//!
//! ```text
//!            failures < threshold
//!           +------------------+
//!           v                  |
//!       +--------+  threshold  |  +------------------+
//!  ---> | Closed | ------------+->| Open { until }   |<-----+
//!       +--------+  failures      +------------------+      |
//!           ^                         | now >= until        | probe failed
//!           | probe succeeded         v                     | (next delay)
//!           |                    +-----------------------+  |
//!           +--------------------| HalfOpen (one probe)  |--+
//!                                +-----------------------+
//! ```
//!
//! Backoff: full jitter, `delay = random(0, min(cap, base * 2^attempt))`,
//! where `attempt` counts the opens since the breaker last closed.

use std::time::Duration;

use tokio::time::Instant;

/// Breaker settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
pub struct BreakerConfig {
    /// Consecutive create failures that open the breaker (0 disables it).
    pub threshold: u32,
    /// First backoff ceiling.
    pub base: Duration,
    /// Largest backoff ceiling.
    pub cap: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            threshold: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(30),
        }
    }
}

/// The breaker's state, as reported by `Pool::breaker()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Creates run freely.
    Closed,
    /// Creates are refused until `until`.
    Open {
        /// When the next probe may run.
        until: Instant,
    },
    /// One probe create is allowed (or running).
    HalfOpen,
}

/// What the breaker says to a would-be create.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Go ahead.
    Allowed,
    /// Go ahead: you are the single half-open probe.
    Probe,
    /// Do not create; the next attempt is due in `retry_in`.
    Refused { retry_in: Duration },
}

/// What a create outcome did to the breaker (for logs and metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transition {
    None,
    Opened { delay: Duration },
    Closed,
}

/// A readable snapshot of the breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerSnapshot {
    /// Current state.
    pub state: BreakerState,
    /// Create failures since the last success.
    pub consecutive_failures: u32,
    /// Times the breaker opened since the pool was built.
    pub opens: u64,
}

#[derive(Debug)]
pub(crate) struct Breaker {
    config: BreakerConfig,
    state: BreakerState,
    consecutive_failures: u32,
    /// Delays between opens; its exponent counts the opens since the
    /// breaker last closed.
    backoff: Backoff,
    probe_in_flight: bool,
    opens: u64,
}

/// Capped exponential backoff with full jitter: the `n`th delay is uniform
/// in `[0, min(cap, base * 2^n))`. The breaker's, and public for other
/// reconnect loops (pool-redis's shared connections).
#[derive(Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
    rng: Rng,
}

impl Backoff {
    /// A backoff starting at `base`, never above `cap`, seeded randomly.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self::with_seed(base, cap, random_seed())
    }

    pub(crate) fn with_seed(base: Duration, cap: Duration, seed: u64) -> Self {
        Self {
            base,
            cap,
            attempt: 0,
            rng: Rng::new(seed),
        }
    }

    /// The next delay; each call doubles the ceiling up to `cap`.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(self.attempt).unwrap_or(u32::MAX))
            .min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        ceiling.mul_f64(self.rng.unit())
    }

    /// Back to `base` (after a success).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

impl Breaker {
    pub(crate) fn new(config: BreakerConfig, seed: u64) -> Self {
        Self {
            config,
            state: BreakerState::Closed,
            consecutive_failures: 0,
            backoff: Backoff::with_seed(config.base, config.cap, seed),
            probe_in_flight: false,
            opens: 0,
        }
    }

    pub(crate) fn admit(&mut self, now: Instant) -> Admission {
        match self.state {
            BreakerState::Closed => Admission::Allowed,
            BreakerState::Open { until } if now < until => Admission::Refused {
                retry_in: until - now,
            },
            BreakerState::Open { .. } | BreakerState::HalfOpen if !self.probe_in_flight => {
                self.state = BreakerState::HalfOpen;
                self.probe_in_flight = true;
                Admission::Probe
            }
            // A probe is running; its outcome decides.
            _ => Admission::Refused {
                retry_in: Duration::ZERO,
            },
        }
    }

    /// A create succeeded (`probe`: it was the half-open probe).
    pub(crate) fn on_success(&mut self, probe: bool) -> Transition {
        self.consecutive_failures = 0;
        if probe {
            self.probe_in_flight = false;
        }
        if self.state == BreakerState::Closed {
            return Transition::None;
        }
        self.state = BreakerState::Closed;
        self.backoff.reset();
        self.probe_in_flight = false;
        Transition::Closed
    }

    /// A create failed (`probe`: it was the half-open probe).
    pub(crate) fn on_failure(&mut self, now: Instant, probe: bool) -> Transition {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        if probe {
            self.probe_in_flight = false;
        }
        let open = match self.state {
            BreakerState::Closed => {
                self.config.threshold > 0 && self.consecutive_failures >= self.config.threshold
            }
            // Only the probe's failure re-opens; a create admitted before
            // the breaker opened may still fail late without effect.
            BreakerState::HalfOpen => probe,
            BreakerState::Open { .. } => false,
        };
        if !open {
            return Transition::None;
        }
        let delay = self.backoff.next_delay();
        self.state = BreakerState::Open { until: now + delay };
        self.opens += 1;
        Transition::Opened { delay }
    }

    /// A probe was abandoned (its `get()` was dropped): let another through.
    pub(crate) fn on_probe_cancelled(&mut self) {
        self.probe_in_flight = false;
    }

    pub(crate) fn snapshot(&self) -> BreakerSnapshot {
        BreakerSnapshot {
            state: self.state,
            consecutive_failures: self.consecutive_failures,
            opens: self.opens,
        }
    }

    pub(crate) fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }
}

/// xorshift64*: enough randomness for jitter, no dependency.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A seed that differs between pools and processes.
pub(crate) fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x9E37_79B9_7F4A_7C15);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(threshold: u32) -> Breaker {
        Breaker::new(
            BreakerConfig {
                threshold,
                base: Duration::from_millis(100),
                cap: Duration::from_secs(30),
            },
            42,
        )
    }

    #[test]
    fn opens_after_threshold_consecutive_failures() {
        let now = Instant::now();
        let mut b = breaker(3);
        for _ in 0..2 {
            assert_eq!(b.admit(now), Admission::Allowed);
            assert_eq!(b.on_failure(now, false), Transition::None);
        }
        assert!(matches!(
            b.on_failure(now, false),
            Transition::Opened { .. }
        ));
        assert!(matches!(b.admit(now), Admission::Refused { .. }));
        assert_eq!(b.snapshot().opens, 1);
    }

    #[test]
    fn a_success_resets_the_count() {
        let now = Instant::now();
        let mut b = breaker(3);
        b.on_failure(now, false);
        b.on_failure(now, false);
        b.on_success(false);
        assert_eq!(b.on_failure(now, false), Transition::None);
        assert_eq!(b.admit(now), Admission::Allowed);
    }

    #[test]
    fn half_open_lets_exactly_one_probe_through() {
        let now = Instant::now();
        let mut b = breaker(1);
        let Transition::Opened { delay } = b.on_failure(now, false) else {
            panic!()
        };
        let later = now + delay;
        assert_eq!(b.admit(later), Admission::Probe);
        assert_eq!(
            b.admit(later),
            Admission::Refused {
                retry_in: Duration::ZERO
            }
        );
        assert_eq!(b.on_success(true), Transition::Closed);
        assert_eq!(b.admit(later), Admission::Allowed);
    }

    #[test]
    fn a_failed_probe_reopens_with_a_larger_ceiling() {
        let mut now = Instant::now();
        let mut b = breaker(1);
        let mut ceilings_ok = true;
        b.on_failure(now, false);
        for attempt in 1..12u32 {
            let BreakerState::Open { until } = b.snapshot().state else {
                panic!()
            };
            now = until;
            assert_eq!(b.admit(now), Admission::Probe);
            let Transition::Opened { delay } = b.on_failure(now, true) else {
                panic!()
            };
            let ceiling = Duration::from_millis(100 * (1 << attempt)).min(Duration::from_secs(30));
            ceilings_ok &= delay <= ceiling;
        }
        assert!(ceilings_ok, "every delay within its ceiling");
        assert_eq!(b.snapshot().opens, 12);
    }

    #[test]
    fn delays_are_jittered_and_capped() {
        let mut b = breaker(1);
        b.backoff.attempt = 20; // far past the cap
        let delays: Vec<Duration> = (0..1000)
            .map(|_| {
                b.backoff.attempt = 20;
                b.backoff.next_delay()
            })
            .collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(30)));
        let mean = delays.iter().sum::<Duration>() / 1000;
        assert!(
            mean > Duration::from_secs(12) && mean < Duration::from_secs(18),
            "{mean:?}"
        );
        let distinct: std::collections::HashSet<_> = delays.iter().collect();
        assert!(distinct.len() > 900, "jitter spreads the delays");
    }

    #[test]
    fn a_cancelled_probe_lets_the_next_one_through() {
        let now = Instant::now();
        let mut b = breaker(1);
        let Transition::Opened { delay } = b.on_failure(now, false) else {
            panic!()
        };
        assert_eq!(b.admit(now + delay), Admission::Probe);
        b.on_probe_cancelled();
        assert_eq!(b.admit(now + delay), Admission::Probe);
    }

    #[test]
    fn threshold_zero_never_opens() {
        let now = Instant::now();
        let mut b = breaker(0);
        for _ in 0..100 {
            assert_eq!(b.on_failure(now, false), Transition::None);
        }
        assert_eq!(b.admit(now), Admission::Allowed);
    }
}
