//! The circuit breaker in front of `Manager::create`: a pure state machine
//! over an injected clock (the caller passes `now`) and random source, so it
//! is unit-tested deterministically; `admission.rs` wires it to tokio time.
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
//! Backoff: the delay before the next probe grows with how long creates
//! have been failing (a twentieth of it), between `base` and `cap`, and is
//! jittered uniformly in `[ceiling/2, ceiling]`. With the defaults (200 ms,
//! 800 ms): never more than 10 probes a second however long the outage
//! (no connection storm), and a backend that is back is probed again within
//! 200 ms after a short outage, within 800 ms after a long one. (An
//! exponential schedule cannot do both: by the time it is slow enough for a
//! long outage it is too slow for a short one.)

use std::time::Duration;

use tokio::time::Instant;

/// Breaker settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
pub struct BreakerConfig {
    /// Consecutive create failures that open the breaker (0 disables it).
    pub threshold: u32,
    /// The shortest delay ceiling between probes (early in an outage).
    pub base: Duration,
    /// The longest delay ceiling between probes (late in a long outage).
    pub cap: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            threshold: 5,
            base: DEFAULT_BACKOFF_BASE,
            cap: DEFAULT_BACKOFF_CAP,
        }
    }
}

/// The shortest delay ceiling of [`Backoff`] and the breaker: at most 10
/// attempts a second, and a backend back after a short outage is tried
/// again within 200 ms.
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_millis(200);
/// The longest delay ceiling: a backend back after any outage is tried
/// again within 800 ms.
pub const DEFAULT_BACKOFF_CAP: Duration = Duration::from_millis(800);

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

/// The breaker's state without its timing, as [`Gauges::breaker`]
/// reports it (`closed`, `open` or `half-open` when displayed or
/// serialized).
///
/// [`Gauges::breaker`]: crate::Gauges::breaker
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "kebab-case")
)]
pub enum BreakerPhase {
    /// Creates run freely.
    #[default]
    Closed,
    /// Creates are refused.
    Open,
    /// One probe create is allowed (or running).
    HalfOpen,
}

impl From<BreakerState> for BreakerPhase {
    fn from(state: BreakerState) -> Self {
        match state {
            BreakerState::Closed => BreakerPhase::Closed,
            BreakerState::Open { .. } => BreakerPhase::Open,
            BreakerState::HalfOpen => BreakerPhase::HalfOpen,
        }
    }
}

impl std::fmt::Display for BreakerPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BreakerPhase::Closed => "closed",
            BreakerPhase::Open => "open",
            BreakerPhase::HalfOpen => "half-open",
        })
    }
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
#[non_exhaustive]
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
    /// When the current run of failures began (the outage's age sets the
    /// next delay).
    failing_since: Option<Instant>,
    /// Delays between opens.
    backoff: Backoff,
    probe_in_flight: bool,
    opens: u64,
}

/// Delays between attempts to reach a backend that keeps failing: the
/// ceiling is a twentieth of how long attempts have been failing, kept
/// between `base` and `cap`; each delay is uniform in `[ceiling/2,
/// ceiling]`. So attempts never come faster than one per `base/2`, and a
/// backend that comes back is tried again within `base` after a short
/// outage and within `cap` after any outage. The breaker's schedule, and
/// public for other reconnect loops (pool-redis's shared connections).
#[derive(Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    rng: Rng,
}

impl Backoff {
    /// A backoff between `base` and `cap`, seeded randomly.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self::with_seed(base, cap, random_seed())
    }

    pub(crate) fn with_seed(base: Duration, cap: Duration, seed: u64) -> Self {
        Self {
            base,
            cap: cap.max(base),
            rng: Rng::new(seed),
        }
    }

    /// The delay before the next attempt, when attempts have been failing
    /// for `failing_for`.
    pub fn next_delay(&mut self, failing_for: Duration) -> Duration {
        // max then min, not clamp: a base above the cap (refused by the
        // builder, possible through `Backoff::new`) must not panic.
        let ceiling = (failing_for / 20)
            .max(self.base)
            .min(self.cap)
            .min(crate::time::FAR_FUTURE);
        ceiling.mul_f64(0.5 + 0.5 * self.rng.unit())
    }
}

impl Breaker {
    pub(crate) fn new(config: BreakerConfig, seed: u64) -> Self {
        Self {
            config,
            state: BreakerState::Closed,
            consecutive_failures: 0,
            failing_since: None,
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
        self.failing_since = None;
        if probe {
            self.probe_in_flight = false;
        }
        if self.state == BreakerState::Closed {
            return Transition::None;
        }
        self.state = BreakerState::Closed;
        self.probe_in_flight = false;
        Transition::Closed
    }

    /// A create failed (`probe`: it was the half-open probe).
    pub(crate) fn on_failure(&mut self, now: Instant, probe: bool) -> Transition {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let since = *self.failing_since.get_or_insert(now);
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
        let delay = self
            .backoff
            .next_delay(now.saturating_duration_since(since));
        self.state = BreakerState::Open {
            until: crate::time::later(now, delay),
        };
        self.opens += 1;
        Transition::Opened { delay }
    }

    /// The backend moved (a failover): failures against the old one say
    /// nothing about the new one, so an open breaker lets its probe
    /// through now instead of at the end of its delay.
    pub(crate) fn on_backend_changed(&mut self, now: Instant) {
        if let BreakerState::Open { until } = &mut self.state {
            *until = (*until).min(now);
        }
        self.failing_since = None;
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

    /// The jitter's generator spreads evenly: every tenth of `[0, 1)`
    /// gets its share, whatever the seed (a generator stuck on a few values
    /// would make pools that failed together retry together).
    #[test]
    fn jitter_draws_spread_over_the_unit_interval() {
        for seed in [1, 2, 7, 0xDEAD_BEEF, u64::MAX] {
            let mut rng = Rng::new(seed);
            let mut deciles = [0u32; 10];
            for _ in 0..10_000 {
                let u = rng.unit();
                assert!((0.0..1.0).contains(&u), "{u}");
                deciles[(u * 10.0) as usize] += 1;
            }
            assert!(
                deciles.iter().all(|&n| (800..1200).contains(&n)),
                "seed {seed}: {deciles:?}"
            );
        }
    }

    /// The generator is xorshift64* as published (Vigna): its first draws
    /// from two seeds match the reference algorithm's 53-bit outputs.
    #[test]
    fn the_generator_is_xorshift64_star() {
        for (seed, expected) in [
            (
                1,
                [0x8_fc99_c971_2d9b, 0x15_79f4_d51c_0f2c, 0x17_3a21_b1fd_6e63],
            ),
            (
                0xDEAD_BEEF,
                [0x8_c2a2_4a36_d037, 0xf_b642_3b04_c7de, 0x9_7fbd_d531_a769],
            ),
        ] {
            let mut rng = Rng::new(seed);
            let draws = [(); 3].map(|()| rng.unit());
            assert_eq!(draws, expected.map(|v: u64| v as f64 / (1u64 << 53) as f64));
        }
    }

    /// Pools built together draw different jitter.
    #[test]
    fn seeds_differ_between_pools() {
        let seeds: std::collections::HashSet<u64> = (0..8).map(|_| random_seed()).collect();
        assert!(seeds.len() > 1, "{seeds:?}");
    }

    #[test]
    fn each_state_has_its_phase_and_words() {
        let open = BreakerState::Open {
            until: Instant::now(),
        };
        let phases = [BreakerState::Closed, open, BreakerState::HalfOpen]
            .map(|s| BreakerPhase::from(s).to_string());
        assert_eq!(phases, ["closed", "open", "half-open"]);
        assert_eq!(BreakerPhase::default(), BreakerPhase::Closed);
    }

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
    fn a_backend_change_lets_the_probe_through_at_once() {
        let now = Instant::now();
        let mut b = breaker(1);
        assert!(matches!(
            b.on_failure(now, false),
            Transition::Opened { .. }
        ));
        assert!(matches!(b.admit(now), Admission::Refused { .. }));
        b.on_backend_changed(now);
        assert_eq!(b.admit(now), Admission::Probe);
        // Closed breakers are left alone.
        let mut closed = breaker(3);
        closed.on_backend_changed(now);
        assert_eq!(closed.admit(now), Admission::Allowed);
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

    /// Runs an outage of `outage` with a caller arriving every 10 ms (each
    /// would-be create that the breaker admits fails until the backend is
    /// back); returns the creates made during it, the most made within any
    /// one second, and how long after the backend came back the first
    /// create ran (and succeeded).
    fn outage(outage: Duration, seed: u64) -> (usize, usize, Duration) {
        let start = Instant::now();
        let mut b = Breaker::new(BreakerConfig::default(), seed);
        let mut creates = Vec::new();
        let mut t = start;
        loop {
            match b.admit(t) {
                Admission::Refused { .. } => {}
                admitted => {
                    let probe = admitted == Admission::Probe;
                    if t >= start + outage {
                        b.on_success(probe);
                        let per_second = (0..creates.len())
                            .map(|i| {
                                creates[i..]
                                    .iter()
                                    .take_while(|&&c| c < creates[i] + Duration::from_secs(1))
                                    .count()
                            })
                            .max()
                            .unwrap_or(0);
                        return (creates.len(), per_second, t - (start + outage));
                    }
                    creates.push(t);
                    b.on_failure(t, probe);
                }
            }
            t += Duration::from_millis(10);
        }
    }

    #[test]
    fn no_storm_during_an_outage_and_a_fast_recovery_after_it() {
        for seed in 1..50 {
            let (creates, per_second, recovery) = outage(Duration::from_secs(3), seed);
            // The threshold's 5 failures, then probes 100-200 ms apart.
            assert!(creates <= 30, "3 s outage: {creates} creates");
            assert!(per_second <= 5 + 10, "{per_second} creates within 1 s");
            assert!(recovery <= Duration::from_millis(210), "{recovery:?}");
            let (creates, _, recovery) = outage(Duration::from_secs(60), seed);
            assert!(creates <= 600, "60 s outage: {creates} creates");
            assert!(recovery <= Duration::from_millis(810), "{recovery:?}");
        }
    }

    #[test]
    fn the_delay_grows_with_the_outage_between_base_and_cap() {
        let mut b = Backoff::with_seed(Duration::from_millis(200), Duration::from_millis(800), 7);
        for (age, low, high) in [
            (Duration::ZERO, 100, 200),
            (Duration::from_secs(3), 100, 200),
            (Duration::from_secs(10), 250, 500),
            (Duration::from_secs(60), 400, 800),
            (Duration::from_secs(3600), 400, 800),
        ] {
            for _ in 0..200 {
                let d = b.next_delay(age).as_millis();
                assert!((low..=high).contains(&d), "{age:?}: {d} ms");
            }
        }
    }

    #[test]
    fn delays_are_jittered() {
        let mut b = Backoff::with_seed(Duration::from_millis(200), Duration::from_millis(800), 3);
        let delays: std::collections::HashSet<Duration> = (0..1000)
            .map(|_| b.next_delay(Duration::from_secs(60)))
            .collect();
        assert!(delays.len() > 900, "jitter spreads the delays");
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
