//! How long requests take, as a Prometheus histogram: one type for the revocation server's and
//! the office console's `/metrics`, so both report latency the same way.

use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the buckets, in seconds.
pub const BUCKETS: [f64; 8] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// Request durations, counted into [`BUCKETS`]; lock-free.
#[derive(Debug, Default)]
pub struct Latency {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    micros: AtomicU64,
}

impl Latency {
    /// Counts one request that took `seconds`.
    pub fn observe(&self, seconds: f64) {
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.micros.fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    /// Appends the histogram `name` (cumulative buckets, `+Inf`, sum and count) to `out`.
    pub fn render(&self, name: &str, help: &str, out: &mut String) {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} histogram\n"));
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            out.push_str(&format!("{name}_bucket{{le=\"{bound}\"}} {}\n", bucket.load(Ordering::Relaxed)));
        }
        let count = self.count.load(Ordering::Relaxed);
        out.push_str(&format!("{name}_bucket{{le=\"+Inf\"}} {count}\n"));
        out.push_str(&format!("{name}_sum {}\n", self.micros.load(Ordering::Relaxed) as f64 / 1e6));
        out.push_str(&format!("{name}_count {count}\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_the_sum_adds_up() {
        let latency = Latency::default();
        for seconds in [0.001, 0.02, 0.3, 9.0] {
            latency.observe(seconds);
        }
        let mut out = String::new();
        latency.render("t_seconds", "Test.", &mut out);
        for line in [
            "# TYPE t_seconds histogram",
            "t_seconds_bucket{le=\"0.005\"} 1",
            "t_seconds_bucket{le=\"0.025\"} 2",
            "t_seconds_bucket{le=\"0.25\"} 2",
            "t_seconds_bucket{le=\"1\"} 3",
            "t_seconds_bucket{le=\"5\"} 3",
            "t_seconds_bucket{le=\"+Inf\"} 4",
            "t_seconds_sum 9.321",
            "t_seconds_count 4",
        ] {
            assert!(out.lines().any(|l| l == line), "{line}: {out}");
        }
    }
}
