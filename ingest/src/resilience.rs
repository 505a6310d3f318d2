//! When to try again: exponential backoff with jitter, a circuit breaker per destination, and
//! the `Retry-After` header. The shipper's node client and the alert delivery workers both use
//! them, so a dead receiver is treated the same way everywhere.
//!
//! All three are pure: time and randomness are passed in (or drawn in one thin wrapper), so the
//! state machines are tested without waiting. The [`Breaker`] stops hammering a receiver that
//! keeps failing: after `failures_to_open` consecutive failures it opens for a cool-down
//! (doubling on each failed probe, up to `max_cooldown`), then lets one half-open probe
//! through; a success closes it, a failure opens it again.

use std::time::{Duration, Instant};

/// Exponential backoff with jitter: the n-th wait is uniform in `[c/2, c]` where
/// `c = min(base·2ⁿ, max)`. Half of the wait is jitter, so clients that failed together spread
/// out, and the other half guarantees that a retry never comes right away.
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

    /// The next wait; `unit` in `[0, 1]` is the random draw (the jitter).
    pub fn next_with(&mut self, unit: f64) -> Duration {
        let exp = self.base.saturating_mul(1u32 << self.attempt.min(20));
        let ceiling = exp.min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        ceiling.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
    }

    /// The next wait, with a random jitter.
    pub fn next_wait(&mut self) -> Duration {
        self.next_with(rand::random::<f64>())
    }

    /// Failures since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// After a success: the next failure waits `base` again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// Tuning of a [`Breaker`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker.
    pub failures_to_open: u32,
    /// How long it first stays open before a probe.
    pub cooldown: Duration,
    /// Each failed probe doubles the cool-down, up to this.
    pub max_cooldown: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failures_to_open: 5,
            cooldown: Duration::from_secs(30),
            max_cooldown: Duration::from_secs(300),
        }
    }
}

/// Where a breaker stands; the discriminant is what the metrics export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed = 0,
    Open = 1,
    /// Cool-down over: one probe may go (or is out).
    HalfOpen = 2,
}

/// A circuit breaker for one destination.
#[derive(Debug, Clone)]
pub struct Breaker {
    config: BreakerConfig,
    failures: u32,
    cooldown: Duration,
    open_until: Option<Instant>,
    probing: bool,
}

impl Breaker {
    pub fn new(config: BreakerConfig) -> Self {
        Breaker {
            failures: 0,
            cooldown: config.cooldown,
            open_until: None,
            probing: false,
            config: BreakerConfig {
                failures_to_open: config.failures_to_open.max(1),
                ..config
            },
        }
    }

    pub fn state(&self, now: Instant) -> BreakerState {
        match self.open_until {
            None => BreakerState::Closed,
            Some(_) if self.probing => BreakerState::HalfOpen,
            Some(until) if now < until => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }

    /// May a request go out now? After the cool-down one probe goes through; no other request
    /// does until its outcome is known.
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.state(now) {
            BreakerState::Closed => true,
            BreakerState::HalfOpen if !self.probing => {
                self.probing = true;
                true
            }
            _ => false,
        }
    }

    /// When a request may go out again (None: now, or once the probe out returns).
    pub fn ready_at(&self) -> Option<Instant> {
        self.open_until.filter(|_| !self.probing)
    }

    /// How long until a request may go out (zero: now).
    pub fn wait(&self, now: Instant) -> Duration {
        self.ready_at()
            .map_or(Duration::ZERO, |t| t.saturating_duration_since(now))
    }

    pub fn success(&mut self) {
        self.failures = 0;
        self.open_until = None;
        self.probing = false;
        self.cooldown = self.config.cooldown;
    }

    pub fn failure(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        if self.open_until.is_some() {
            // A failed probe (or a failure seen while open): open again, for longer.
            if self.probing {
                self.cooldown = (self.cooldown * 2).min(self.config.max_cooldown);
            }
            self.probing = false;
            self.open_until = Some(now + self.cooldown);
        } else if self.failures >= self.config.failures_to_open {
            self.open_until = Some(now + self.cooldown);
        }
    }
}

/// A `Retry-After` value: delay-seconds or an HTTP date (a date in the past is no delay given).
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (at.with_timezone(&chrono::Utc) - now).to_std().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn backoff_grows_jitters_caps_and_resets() {
        let mut b = Backoff::new(100 * MS, 1000 * MS);
        assert_eq!(b.next_with(1.0), 100 * MS);
        assert_eq!(b.next_with(0.0), 100 * MS, "at least half the ceiling");
        assert_eq!(b.next_with(1.0), 400 * MS);
        for _ in 0..40 {
            let d = b.next_with(0.99);
            assert!(d <= 1000 * MS && d >= 490 * MS, "{d:?}");
        }
        assert_eq!(b.attempts(), 43);
        b.reset();
        assert_eq!(b.next_with(1.0), 100 * MS);
        let waits: std::collections::BTreeSet<_> = (0..50)
            .map(|_| Backoff::new(100 * MS, 1000 * MS).next_wait())
            .collect();
        assert!(waits.len() > 5, "jitter spreads waits: {waits:?}");
        assert!(waits.iter().all(|w| *w >= 50 * MS && *w <= 100 * MS));
    }

    fn config(failures_to_open: u32) -> BreakerConfig {
        BreakerConfig {
            failures_to_open,
            cooldown: 1000 * MS,
            max_cooldown: 4000 * MS,
        }
    }

    #[test]
    fn breaker_opens_probes_once_and_closes() {
        let t0 = Instant::now();
        let mut br = Breaker::new(config(3));
        for _ in 0..2 {
            assert!(br.allow(t0));
            br.failure(t0);
        }
        assert_eq!(br.state(t0), BreakerState::Closed);
        assert_eq!(br.wait(t0), Duration::ZERO);
        br.failure(t0);
        assert_eq!(br.state(t0), BreakerState::Open);
        assert_eq!(br.wait(t0), 1000 * MS);
        assert!(!br.allow(t0 + 999 * MS), "open: no hammering");
        assert_eq!(br.state(t0 + 1000 * MS), BreakerState::HalfOpen);
        assert!(br.allow(t0 + 1000 * MS), "one probe");
        assert!(!br.allow(t0 + 1001 * MS), "only one probe at a time");
        assert_eq!(br.ready_at(), None, "waiting for the probe, not for a time");
        br.success();
        assert_eq!(br.state(t0 + 1001 * MS), BreakerState::Closed);
        assert!(br.allow(t0 + 1001 * MS));
        br.failure(t0);
        assert_eq!(
            br.state(t0),
            BreakerState::Closed,
            "failure count was reset"
        );
    }

    #[test]
    fn failed_probes_double_the_cooldown_up_to_the_max() {
        let t0 = Instant::now();
        let mut br = Breaker::new(config(1));
        br.failure(t0);
        let mut at = t0 + 1000 * MS;
        for expected in [2000, 4000, 4000] {
            assert!(br.allow(at));
            br.failure(at);
            assert_eq!(br.state(at), BreakerState::Open, "a failed probe reopens");
            assert_eq!(br.ready_at(), Some(at + expected * MS));
            at += expected * MS;
        }
        br.success();
        br.failure(at);
        assert_eq!(br.wait(at), 1000 * MS, "success resets the cool-down");
    }

    #[test]
    fn zero_threshold_means_one() {
        let t0 = Instant::now();
        let mut br = Breaker::new(config(0));
        assert!(br.allow(t0));
        br.failure(t0);
        assert_eq!(br.state(t0), BreakerState::Open);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-23T06:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Mon, 23 Nov 2026 06:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
        assert_eq!(
            parse_retry_after("Mon, 23 Nov 2026 05:00:00 GMT", now),
            None
        );
    }
}
