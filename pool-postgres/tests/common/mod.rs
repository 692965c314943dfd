//! Helpers shared by pool-postgres's test binaries.

/// An error and its sources, joined by `: `: what a reader of the logs
/// sees, where tokio-postgres keeps the server's message.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}
