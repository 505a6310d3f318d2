//! When to try again: exponential backoff with jitter, and a circuit breaker per node.
//!
//! Both are pure state machines over `Instant`s so they can be tested without waiting. The
//! breaker stops hammering a node that keeps failing: after `threshold` consecutive failures it
//! opens for a cool-down (doubling up to a maximum), then lets one half-open probe through; a
//! success closes it, a failure opens it again.

use std::time::{Duration, Instant};

/// Exponential backoff with full jitter: the n-th wait is uniform in `[base·2ⁿ/2, base·2ⁿ]`,
/// capped at `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff {
            base,
            max,
            attempt: 0,
        }
    }

    /// The next wait; `unit` in `[0, 1)` is the random draw (the jitter).
    pub fn next_with(&mut self, unit: f64) -> Duration {
        let exp = self.base.saturating_mul(1u32 << self.attempt.min(20));
        let ceiling = exp.min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        ceiling.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
    }

    pub fn next_wait(&mut self) -> Duration {
        self.next_with(rand::random::<f64>())
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open { until: Instant },
    HalfOpen,
}

/// A circuit breaker for one node URL.
#[derive(Debug, Clone)]
pub struct Breaker {
    state: BreakerState,
    failures: u32,
    threshold: u32,
    cooldown: Duration,
    min_cooldown: Duration,
    max_cooldown: Duration,
}

impl Breaker {
    pub fn new(threshold: u32, min_cooldown: Duration, max_cooldown: Duration) -> Self {
        Breaker {
            state: BreakerState::Closed,
            failures: 0,
            threshold: threshold.max(1),
            cooldown: min_cooldown,
            min_cooldown,
            max_cooldown,
        }
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// May a request go out now? An open breaker whose cool-down is over lets one probe through.
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.state {
            BreakerState::Closed => true,
            BreakerState::HalfOpen => false,
            BreakerState::Open { until } if now >= until => {
                self.state = BreakerState::HalfOpen;
                true
            }
            BreakerState::Open { .. } => false,
        }
    }

    /// When it will let a request through again (None: now).
    pub fn ready_at(&self) -> Option<Instant> {
        match self.state {
            BreakerState::Open { until } => Some(until),
            _ => None,
        }
    }

    pub fn success(&mut self) {
        self.state = BreakerState::Closed;
        self.failures = 0;
        self.cooldown = self.min_cooldown;
    }

    pub fn failure(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        match self.state {
            BreakerState::HalfOpen => {
                self.cooldown = (self.cooldown * 2).min(self.max_cooldown);
                self.state = BreakerState::Open {
                    until: now + self.cooldown,
                };
            }
            BreakerState::Closed if self.failures >= self.threshold => {
                self.state = BreakerState::Open {
                    until: now + self.cooldown,
                };
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn backoff_grows_jitters_and_caps() {
        let mut b = Backoff::new(100 * MS, 1000 * MS);
        assert_eq!(b.next_with(1.0), 100 * MS);
        assert_eq!(b.next_with(0.0), 100 * MS);
        assert_eq!(b.next_with(1.0), 400 * MS);
        for _ in 0..40 {
            let d = b.next_with(0.99);
            assert!(d <= 1000 * MS && d >= 490 * MS, "{d:?}");
        }
        b.reset();
        assert_eq!(b.next_with(1.0), 100 * MS);
    }

    #[test]
    fn breaker_opens_probes_half_open_and_closes() {
        let t0 = Instant::now();
        let mut br = Breaker::new(3, 1000 * MS, 4000 * MS);
        for _ in 0..2 {
            assert!(br.allow(t0));
            br.failure(t0);
        }
        assert_eq!(br.state(), BreakerState::Closed);
        br.failure(t0);
        assert!(!br.allow(t0 + 999 * MS), "open: no hammering");
        assert!(br.allow(t0 + 1000 * MS), "one probe");
        assert!(!br.allow(t0 + 1001 * MS), "only one probe at a time");
        br.failure(t0 + 1000 * MS);
        assert_eq!(br.ready_at(), Some(t0 + 3000 * MS), "cool-down doubled");
        assert!(br.allow(t0 + 3000 * MS));
        br.success();
        assert_eq!(br.state(), BreakerState::Closed);
        assert!(br.allow(t0 + 3000 * MS));
    }
}
