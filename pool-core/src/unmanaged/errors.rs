//! deadpool's unmanaged `PoolError`, variant for variant.

/// Why an unmanaged pool operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// No object (or no room, for `try_add`) within the timeout.
    #[error("Timeout occurred while waiting for an object to become available")]
    Timeout,
    /// The pool was closed.
    #[error("Pool has been closed")]
    Closed,
    /// A timeout was asked for without a runtime in the config (deadpool's
    /// rule, kept so that deadpool code behaves the same).
    #[error("No runtime specified")]
    NoRuntimeSpecified,
}
