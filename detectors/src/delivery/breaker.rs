//! A circuit breaker per destination: after a run of failures it stops sending for a cooldown,
//! then lets one probe through (half-open); the probe's outcome closes or reopens it. A dead
//! receiver then costs one request per cooldown instead of a retry storm.

use std::time::{Duration, Instant};

/// Tuning of the breaker.
#[derive(Debug, Clone)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker.
    pub failures_to_open: u32,
    /// How long it stays open before a probe.
    pub cooldown: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failures_to_open: 5,
            cooldown: Duration::from_secs(30),
        }
    }
}

/// Where the breaker stands (exported as a metric: 0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed = 0,
    Open = 1,
    HalfOpen = 2,
}

/// The breaker itself: pure, time is passed in.
#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    failures: u32,
    open_until: Option<Instant>,
}

impl Breaker {
    pub fn new(config: BreakerConfig) -> Self {
        Breaker {
            config,
            failures: 0,
            open_until: None,
        }
    }

    pub fn state(&self, now: Instant) -> BreakerState {
        match self.open_until {
            None => BreakerState::Closed,
            Some(t) if now < t => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }

    /// How long to wait before the next request may go out (zero: now).
    pub fn wait(&self, now: Instant) -> Duration {
        self.open_until
            .map_or(Duration::ZERO, |t| t.saturating_duration_since(now))
    }

    pub fn on_success(&mut self) {
        self.failures = 0;
        self.open_until = None;
    }

    pub fn on_failure(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        // A failed probe reopens at once; a closed breaker opens after the run of failures.
        if self.open_until.is_some() || self.failures >= self.config.failures_to_open {
            self.open_until = Some(now + self.config.cooldown);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_probes_and_closes() {
        let cfg = BreakerConfig {
            failures_to_open: 3,
            cooldown: Duration::from_secs(10),
        };
        let mut b = Breaker::new(cfg);
        let t0 = Instant::now();
        b.on_failure(t0);
        b.on_failure(t0);
        assert_eq!(b.state(t0), BreakerState::Closed);
        assert_eq!(b.wait(t0), Duration::ZERO);
        b.on_failure(t0);
        assert_eq!(b.state(t0), BreakerState::Open);
        assert_eq!(b.wait(t0), Duration::from_secs(10));

        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(b.state(t1), BreakerState::HalfOpen);
        b.on_failure(t1);
        assert_eq!(b.state(t1), BreakerState::Open, "a failed probe reopens");

        let t2 = t1 + Duration::from_secs(10);
        assert_eq!(b.state(t2), BreakerState::HalfOpen);
        b.on_success();
        assert_eq!(b.state(t2), BreakerState::Closed);
        b.on_failure(t2);
        assert_eq!(b.state(t2), BreakerState::Closed, "failure count was reset");
    }
}
