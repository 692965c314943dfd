//! Why a configuration could not become a pool: a leaf, so the TLS and
//! Sentinel address readers can name it without depending on `config`.

use std::fmt;

use redis::RedisError;

/// Why a configuration could not become a pool.
#[derive(Debug)]
pub enum ConfigError {
    /// Both `url` and `connection` were given.
    UrlAndConnectionSpecified,
    /// The URL or connection details were refused by the redis crate.
    Redis(RedisError),
    /// An address kind this configuration cannot represent.
    UnsupportedAddress(String),
    /// A TLS certificate or key could not be used (the message names the
    /// file or parameter and the problem).
    Tls(String),
    /// A `redis+sentinel://` address that cannot be used (the message
    /// names the part; never the password).
    SentinelUrl(String),
}

impl From<RedisError> for ConfigError {
    fn from(e: RedisError) -> Self {
        Self::Redis(e)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UrlAndConnectionSpecified => {
                f.write_str("url and connection must not be specified at the same time.")
            }
            Self::Redis(e) => write!(f, "Redis: {e}"),
            Self::UnsupportedAddress(addr) => write!(f, "unsupported connection address: {addr}"),
            Self::Tls(problem) => write!(f, "TLS: {problem}"),
            Self::SentinelUrl(problem) => write!(f, "Sentinel address: {problem}"),
        }
    }
}

impl std::error::Error for ConfigError {}
