//! deadpool's unmanaged `PoolConfig`, field for field.

use std::time::Duration;

use crate::runtime::Runtime;

/// Configuration of an unmanaged [`Pool`](super::Pool).
#[derive(Clone, Copy, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
pub struct PoolConfig {
    /// The most objects the pool holds (idle and in use).
    pub max_size: usize,
    /// How long `get()` waits for an object (`None`: as long as it takes).
    pub timeout: Option<Duration>,
    /// The runtime timeouts need, as in deadpool: a timeout other than zero
    /// with no runtime named is [`PoolError::NoRuntimeSpecified`](super::PoolError).
    #[cfg_attr(feature = "serde", serde(skip))]
    pub runtime: Option<Runtime>,
}

impl PoolConfig {
    /// `max_size` objects, no timeout, no runtime.
    #[must_use]
    pub fn new(max_size: usize) -> Self {
        Self {
            max_size,
            timeout: None,
            runtime: None,
        }
    }
}

impl Default for PoolConfig {
    /// Twice the CPU cores, as deadpool.
    fn default() -> Self {
        Self::new(crate::config::default_max_size())
    }
}
