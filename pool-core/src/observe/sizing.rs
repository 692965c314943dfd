//! Static pool sizing, as pool-tuning guides compute it.

/// The formula (Little's law with a safety factor): the effective
/// time of one query is `avg_query_time_ms + connection_overhead_ms`; the
/// requests that can run at once within `target_response_time_ms` on
/// `cpu_cores` cores are `target / effective * cpu_cores`; the size is that
/// plus 20%, capped at twice the expected concurrent users and at four per
/// core, and at least one per core. Non-finite or non-positive times give
/// the floor (`cpu_cores`, at least 1).
#[must_use]
pub fn calculate_optimal_pool_size(
    cpu_cores: usize,
    expected_concurrent_users: usize,
    avg_query_time_ms: f64,
    target_response_time_ms: f64,
    connection_overhead_ms: f64,
) -> usize {
    let floor = cpu_cores.max(1);
    let effective = avg_query_time_ms + connection_overhead_ms;
    if !(effective.is_finite() && effective > 0.0 && target_response_time_ms.is_finite()) {
        return floor;
    }
    let max_concurrent = (target_response_time_ms / effective) * cpu_cores as f64;
    let with_safety = (max_concurrent * 1.2).max(0.0) as usize; // truncates, as int()
    let size = with_safety
        .min(expected_concurrent_users.saturating_mul(2))
        .min(cpu_cores.saturating_mul(4));
    size.max(floor)
}

#[cfg(test)]
mod tests {
    use super::calculate_optimal_pool_size as size;

    #[test]
    fn worked_examples() {
        // 8 cores, 10 ms queries + 50 ms overhead, 500 ms target:
        // 500/60*8 = 66.7 concurrent, *1.2 = 80; capped at 4 per core = 32.
        assert_eq!(size(8, 100, 10.0, 500.0, 50.0), 32);
        // Few users cap it: 2 * 5 = 10.
        assert_eq!(size(8, 5, 10.0, 500.0, 50.0), 10);
        // A tight target: 100/150*4 = 2.67, *1.2 = 3.2 -> 3, below the
        // floor of one per core -> 4.
        assert_eq!(size(4, 100, 100.0, 100.0, 50.0), 4);
        // 4 cores, 20 ms + 50 ms, 300 ms: 300/70*4 = 17.1, *1.2 = 20.6 -> 20,
        // capped at 4 per core: 16.
        assert_eq!(size(4, 100, 20.0, 300.0, 50.0), 16);
        // 16 cores, 5 + 5 ms, 30 ms: 3*16 = 48, *1.2 = 57.6 -> 57.
        assert_eq!(size(16, 100, 5.0, 30.0, 5.0), 57);
    }

    #[test]
    fn nonsense_inputs_give_the_floor() {
        assert_eq!(size(4, 10, f64::NAN, 100.0, 50.0), 4);
        assert_eq!(size(4, 10, -100.0, 100.0, 50.0), 4);
        assert_eq!(size(0, 10, 10.0, 100.0, 50.0), 1);
        assert_eq!(size(4, 10, 10.0, -5.0, 50.0), 4);
    }
}
