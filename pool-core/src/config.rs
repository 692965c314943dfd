//! Plain configuration values, serialisable behind the `serde` feature.

use std::time::Duration;

/// Pool configuration, as deadpool's `PoolConfig` (same fields and serde
/// shape, so existing config files keep working). The idle store is a
/// builder choice: `PoolBuilder::store`.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
pub struct PoolConfig {
    /// Maximum number of objects that may exist at once.
    pub max_size: usize,
    /// Timeouts of `get()`.
    #[cfg_attr(feature = "serde", serde(default))]
    pub timeouts: Timeouts,
    /// Order in which idle objects are reused.
    #[cfg_attr(feature = "serde", serde(default))]
    pub queue_mode: QueueMode,
    /// A checkout skips `Manager::recycle` if the object was used, checked or
    /// created less than this long ago (not in deadpool). `None` (the
    /// default): the manager's [`Manager::health_check_interval`], which is
    /// `ZERO` (recycle on every checkout, as deadpool) unless the backend
    /// says otherwise (pool-redis: 1 s). `Some(ZERO)` always recycles.
    ///
    /// [`Manager::health_check_interval`]: crate::Manager::health_check_interval
    #[cfg_attr(feature = "serde", serde(default))]
    pub health_check_interval: Option<Duration>,
    /// Record outcomes, counters and histograms (`Pool::metrics`); on by
    /// default (not in deadpool).
    #[cfg_attr(feature = "serde", serde(default = "default_record_metrics"))]
    pub record_metrics: bool,
    /// Objects allowed above `max_size` during a burst; one is closed when it
    /// comes back instead of going idle (not in deadpool; default 0).
    #[cfg_attr(feature = "serde", serde(default))]
    pub max_overflow: usize,
    /// Creates that may run at once (not in deadpool; default 2, 0 = no
    /// limit). A `get()` that would create beyond it waits for an object or
    /// a permit instead: a burst does not open a connection per caller.
    #[cfg_attr(feature = "serde", serde(default = "default_max_concurrent_creates"))]
    pub max_concurrent_creates: usize,
    /// Idle objects the background task keeps ready (not in deadpool).
    #[cfg_attr(feature = "serde", serde(default))]
    pub min_idle: usize,
    /// Close idle objects the pool did not need for this long: the surplus
    /// above `min_idle` of the smallest idle count seen in the window (not in
    /// deadpool). `None` disables.
    #[cfg_attr(feature = "serde", serde(default = "default_idle_timeout"))]
    pub idle_timeout: Option<Duration>,
    /// Close objects older than this, minus up to 5% per-object jitter (not
    /// in deadpool). `None` disables.
    #[cfg_attr(feature = "serde", serde(default = "default_max_lifetime"))]
    pub max_lifetime: Option<Duration>,
    /// The circuit breaker in front of `Manager::create` (not in deadpool).
    #[cfg_attr(feature = "serde", serde(default))]
    pub breaker: crate::BreakerConfig,
}

impl PoolConfig {
    /// A configuration with the given `max_size` and defaults elsewhere.
    #[must_use]
    pub fn new(max_size: usize) -> Self {
        Self {
            max_size,
            timeouts: Timeouts::default(),
            queue_mode: QueueMode::default(),
            health_check_interval: None,
            record_metrics: true,
            max_overflow: 0,
            max_concurrent_creates: default_max_concurrent_creates(),
            min_idle: 0,
            idle_timeout: default_idle_timeout(),
            max_lifetime: default_max_lifetime(),
            breaker: crate::BreakerConfig::default(),
        }
    }
}

impl Default for PoolConfig {
    /// `max_size` is deadpool's default: twice the number of CPU cores.
    fn default() -> Self {
        Self::new(default_max_size())
    }
}

/// Two creates at once.
fn default_max_concurrent_creates() -> usize {
    2
}

/// HikariCP's and bb8's default: 10 minutes.
fn default_idle_timeout() -> Option<Duration> {
    Some(Duration::from_secs(600))
}

/// HikariCP's and bb8's default: 30 minutes.
fn default_max_lifetime() -> Option<Duration> {
    Some(Duration::from_secs(1800))
}

/// Twice the available parallelism, as deadpool.
pub(crate) fn default_max_size() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) * 2
}

/// Timeouts of the phases of a `get()`. `None` waits forever; `Some(ZERO)`
/// for `wait` means "never wait for another task's object".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
pub struct Timeouts {
    /// Waiting for an object or a free slot.
    pub wait: Option<Duration>,
    /// Creating a new object.
    pub create: Option<Duration>,
    /// Recycling an idle object.
    pub recycle: Option<Duration>,
}

impl Timeouts {
    /// No timeouts.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            wait: None,
            create: None,
            recycle: None,
        }
    }

    /// Only a wait timeout, in milliseconds.
    #[must_use]
    pub const fn wait_millis(wait: u64) -> Self {
        Self {
            wait: Some(Duration::from_millis(wait)),
            create: None,
            recycle: None,
        }
    }
}

/// Order in which idle objects are handed out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
pub enum QueueMode {
    /// Oldest idle object first: spreads use over all objects.
    #[default]
    Fifo,
    /// Most recently returned first: lets surplus objects go idle. Served by
    /// the mutex store only.
    Lifo,
}

#[cfg(feature = "serde")]
fn default_record_metrics() -> bool {
    true
}
