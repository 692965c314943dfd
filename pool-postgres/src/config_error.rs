//! What is wrong with a configuration: a leaf, so the pool types can name
//! it without depending on `config`.

/// What is wrong with a [`Config`](crate::Config); each names the field. deadpool-postgres's
/// three variants.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `url` does not parse (the reason names the bad option; the URL itself
    /// is not repeated, so its password is not either).
    #[error("configuration property \"url\" is invalid: {}", url_reason(.0))]
    InvalidUrl(tokio_postgres::Error),
    /// No `dbname`, in the fields or the URL.
    #[error("configuration property \"dbname\" not found")]
    DbnameMissing,
    /// `dbname` is empty.
    #[error("configuration property \"dbname\" contains an empty string")]
    DbnameEmpty,
}

/// tokio-postgres says "invalid connection string" and keeps the reason
/// (the bad option) in its source.
fn url_reason(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(reason) => format!("{e}: {reason}"),
        None => e.to_string(),
    }
}
