//! Deadlines from durations the user chose: a `Duration` of any size
//! (`Duration::MAX` for "never") added to an `Instant` must not overflow,
//! so every such sum goes through [`later`].

use std::time::Duration;

use tokio::time::Instant;

/// What "never" becomes: about 30 years on, as tokio's own far future.
pub(crate) const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `now + d`, or about 30 years on when that sum overflows or is further.
pub(crate) fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d.min(FAR_FUTURE))
        .unwrap_or_else(|| now + Duration::from_secs(86_400))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_duration_is_a_far_deadline_not_a_panic() {
        let now = Instant::now();
        assert!(later(now, Duration::MAX) > now + Duration::from_secs(86_400 * 365));
        assert_eq!(
            later(now, Duration::from_secs(3)),
            now + Duration::from_secs(3)
        );
    }
}
