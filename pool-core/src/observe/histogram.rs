//! A log-linear histogram of durations in atomics: no lock and no
//! allocation on record.
//!
//! Values (nanoseconds) below 2^SUB go to their own bucket; above, each
//! power of two is split into 2^SUB equal buckets, so a bucket's width is at
//! most 1/2^SUB = 3.1% of its values and the midpoint used for quantiles is
//! within 1.6% of any value in it (HDR histogram's scheme with 5 significant
//! bits). Values from 2^MAX_EXP ns (about 18 minutes) up share the last
//! bucket.

use crate::sync::{Ordering, StatCounter};

const SUB: u32 = 5;
const SUB_COUNT: usize = 1 << SUB;
const MAX_EXP: u32 = 40;
const BUCKETS: usize = (MAX_EXP - SUB + 1) as usize * SUB_COUNT + SUB_COUNT;

fn index(v: u64) -> usize {
    if v < SUB_COUNT as u64 {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros(); // >= SUB
    if exp >= MAX_EXP {
        return BUCKETS - 1;
    }
    let mantissa = (v >> (exp - SUB)) as usize & (SUB_COUNT - 1);
    (exp - SUB + 1) as usize * SUB_COUNT + mantissa
}

/// The smallest value of bucket `i` and the bucket's width.
fn bounds(i: usize) -> (u64, u64) {
    if i < SUB_COUNT {
        return (i as u64, 1);
    }
    let exp = (i / SUB_COUNT) as u32 + SUB - 1;
    let mantissa = (i % SUB_COUNT) as u64;
    let width = 1u64 << (exp - SUB);
    ((1u64 << exp) + mantissa * width, width)
}

/// See the module docs.
pub(crate) struct Histogram {
    buckets: Box<[StatCounter]>,
    /// Exact; written only when a value beats it (a load first, so a busy
    /// histogram's threads rarely write the same line).
    max: StatCounter,
}

impl Histogram {
    pub(crate) fn new() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| StatCounter::new(0)).collect(),
            max: StatCounter::new(0),
        }
    }

    /// Records one value (nanoseconds).
    pub(crate) fn record(&self, nanos: u64) {
        self.record_weighted(nanos, 1);
    }

    /// Records a sampled value standing for `weight` values.
    pub(crate) fn record_weighted(&self, nanos: u64, weight: u64) {
        self.buckets[index(nanos)].fetch_add(weight, Ordering::Relaxed);
        if nanos > self.max.load(Ordering::Relaxed) {
            self.max.fetch_max(nanos, Ordering::Relaxed);
        }
    }

    /// As `record_weighted`, for a histogram only the calling thread ever
    /// writes: a plain load and store lose nothing.
    pub(crate) fn record_weighted_single_writer(&self, nanos: u64, weight: u64) {
        let bucket = &self.buckets[index(nanos)];
        bucket.store(
            bucket.load(Ordering::Relaxed).wrapping_add(weight),
            Ordering::Relaxed,
        );
        if nanos > self.max.load(Ordering::Relaxed) {
            self.max.store(nanos, Ordering::Relaxed);
        }
    }

    /// `n` values of zero at once (counted elsewhere on the hot path).
    pub(crate) fn summary_with_zeros(&self, zeros: u64) -> Summary {
        Self::merged_summary(std::iter::once(self), zeros)
    }

    /// The values of all `parts` together, and `zeros` values of zero.
    pub(crate) fn merged_summary<'a>(
        parts: impl Iterator<Item = &'a Histogram>,
        zeros: u64,
    ) -> Summary {
        let mut counts = vec![0u64; BUCKETS];
        counts[0] = zeros;
        let mut max = 0;
        for part in parts {
            for (sum, bucket) in counts.iter_mut().zip(part.buckets.iter()) {
                *sum += bucket.load(Ordering::Relaxed);
            }
            max = max.max(part.max.load(Ordering::Relaxed));
        }
        let count: u64 = counts.iter().sum();
        // The mean from bucket midpoints (within 1.6%): an exact sum would
        // be one more shared counter every record writes.
        let sum: u128 = counts
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let (low, width) = bounds(i);
                u128::from(c) * u128::from((low + width / 2).min(max))
            })
            .sum();
        let quantile = |q: f64| -> u64 {
            if count == 0 {
                return 0;
            }
            let rank = ((count as f64 * q).ceil() as u64).clamp(1, count);
            let mut seen = 0;
            for (i, &c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    let (low, width) = bounds(i);
                    // The midpoint, but never above the largest value seen.
                    return (low + width / 2).min(max);
                }
            }
            max
        };
        Summary {
            count,
            mean_ns: if count == 0 {
                0
            } else {
                (sum / u128::from(count)) as u64
            },
            p50_ns: quantile(0.50),
            p90_ns: quantile(0.90),
            p99_ns: quantile(0.99),
            p999_ns: quantile(0.999),
            max_ns: max,
        }
    }
}

/// A histogram read out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Summary {
    /// Values recorded.
    pub count: u64,
    /// Their mean, in nanoseconds (from bucket midpoints: within 1.6%).
    pub mean_ns: u64,
    /// Median (within 1.6%).
    pub p50_ns: u64,
    /// 90th percentile.
    pub p90_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile.
    pub p999_ns: u64,
    /// The largest value (exact).
    pub max_ns: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_lands_in_a_bucket_that_holds_it() {
        for v in (0..5_000u64).chain((0..40).map(|e| (1u64 << e) + 12_345 % (1u64 << e).max(1))) {
            let (low, width) = bounds(index(v));
            if v < 1u64 << MAX_EXP {
                assert!(low <= v && v < low + width, "{v}: [{low}, {})", low + width);
                assert!(width as f64 <= (v.max(1) as f64) / SUB_COUNT as f64 + 1.0);
            }
        }
        assert_eq!(index(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_match_known_inputs_within_the_bucket_error() {
        let h = Histogram::new();
        // 1..=100_000 µs, uniformly.
        for us in 1..=100_000u64 {
            h.record(us * 1_000);
        }
        let s = h.summary_with_zeros(0);
        assert_eq!(s.count, 100_000);
        let close = |got: u64, want: f64| (got as f64 - want).abs() / want <= 0.016;
        assert!(close(s.p50_ns, 50_000_000.0), "{s:?}");
        assert!(close(s.p90_ns, 90_000_000.0), "{s:?}");
        assert!(close(s.p99_ns, 99_000_000.0), "{s:?}");
        assert!(close(s.p999_ns, 99_900_000.0), "{s:?}");
        assert_eq!(s.max_ns, 100_000_000);
        assert!(close(s.mean_ns, 50_000_500.0));
    }

    #[test]
    fn zeros_counted_elsewhere_join_the_first_bucket() {
        let h = Histogram::new();
        h.record(1_000_000);
        let s = h.summary_with_zeros(99);
        assert_eq!((s.count, s.p50_ns, s.max_ns), (100, 0, 1_000_000));
    }
}
