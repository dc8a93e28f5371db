//! What the benchmarks share: percentiles of timings, how they print, and how many rounds.

use std::time::Duration;

/// The `p` percentile (nearest rank) of timings sorted in ascending order.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// The 95th percentile of timings in any order.
pub fn p95(mut timings: Vec<Duration>) -> Duration {
    timings.sort();
    percentile(&timings, 0.95)
}

/// Milliseconds, as the tables print them.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The rounds `BENCH_ROUNDS` asks for, else `default`.
pub fn rounds(default: usize) -> usize {
    std::env::var("BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).filter(|r| *r > 0).unwrap_or(default)
}
