//! Delivery: one worker per destination drains its outbox over HTTP.
//!
//! A worker waits for notifications, lets a burst gather for `group_wait`, and POSTs up to
//! `max_batch` of them at once (500 services failing together make a handful of requests),
//! at most one request per `min_interval`. Every request has a timeout. A failed attempt
//! (connection, timeout, 408, 429, 5xx) is retried after an exponential backoff with full
//! jitter, or after the receiver's `Retry-After` if longer; a run of failures opens the
//! [`breaker`]. Notifications leave the outbox only when acknowledged (2xx) or refused for
//! good (another 4xx, counted as rejected). The payload formats are [`Encoder`]s.

pub mod alertmanager;
pub mod breaker;
pub mod metrics;
pub mod webhook;

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use firewatch_ingest::Nanos;
use rand::Rng;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::{watch, Notify};
use tracing::{debug, warn};

use crate::links::Links;
use crate::outbox::{Notification, Outbox};
use breaker::{Breaker, BreakerConfig};
use metrics::DestinationMetrics;

/// A payload format: where to POST and what.
pub trait Encoder: Send + Sync + 'static {
    fn endpoint(&self) -> &str;
    fn encode(&self, batch: &[Notification], links: &Links, now: Nanos) -> Value;
}

/// Tuning of delivery, shared by all destinations.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Whole-request timeout.
    pub timeout: Duration,
    /// First retry waits up to this long; each further one doubles it, up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A receiver's Retry-After is honoured up to this long.
    pub retry_after_max: Duration,
    /// A burst gathers this long before it is sent as one group.
    pub group_wait: Duration,
    /// At most one request per destination per this interval.
    pub min_interval: Duration,
    /// At most this many notifications per request.
    pub max_batch: usize,
    pub breaker: BreakerConfig,
    /// Alertmanager keeps a firing alert this long unless we re-send or resolve it.
    pub alertmanager_hold: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            timeout: Duration::from_secs(10),
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(60),
            retry_after_max: Duration::from_secs(600),
            group_wait: Duration::from_millis(500),
            min_interval: Duration::from_millis(200),
            max_batch: 200,
            breaker: BreakerConfig::default(),
            alertmanager_hold: Duration::from_secs(3600),
        }
    }
}

/// Full jitter: a uniform wait in [0, min(max, base·2^attempt)].
pub fn backoff(config: &DeliveryConfig, attempt: u32) -> Duration {
    let cap = config
        .backoff_base
        .saturating_mul(1u32 << attempt.min(20))
        .min(config.backoff_max);
    let ms = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::rng().random_range(0..=ms))
}

/// A Retry-After header: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (at.with_timezone(&chrono::Utc) - now).to_std().ok()
}

/// One key for a whole request, stable for the same group of notifications.
pub fn group_key(batch: &[Notification]) -> String {
    if let [one] = batch {
        return one.idempotency_key.clone();
    }
    let mut h = DefaultHasher::new();
    for n in batch {
        n.idempotency_key.hash(&mut h);
    }
    format!("group-{:016x}", h.finish())
}

enum Outcome {
    Delivered,
    Rejected(StatusCode),
    Failed {
        retry_after: Option<Duration>,
        reason: String,
    },
}

/// Drains one destination's outbox.
pub struct Worker {
    pub encoder: Box<dyn Encoder>,
    pub outbox: Arc<Mutex<Outbox>>,
    pub wake: Arc<Notify>,
    pub metrics: Arc<DestinationMetrics>,
    pub client: reqwest::Client,
    pub config: DeliveryConfig,
    pub links: Links,
}

impl Worker {
    /// Runs until `shutdown` turns true; what is not delivered stays in the outbox.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut breaker = Breaker::new(self.config.breaker.clone());
        let mut attempt: u32 = 0;
        loop {
            let batch = match self.outbox.lock() {
                Ok(ob) => ob.peek(self.config.max_batch.max(1)),
                Err(_) => return,
            };
            if batch.is_empty() {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = shutdown.wait_for(|s| *s) => return,
                }
                // Let the rest of a burst arrive so it goes out as one group.
                if pause(self.config.group_wait, &mut shutdown).await {
                    return;
                }
                continue;
            }
            if attempt > 0 {
                self.metrics.retries.fetch_add(1, RELAXED);
            }
            let outcome = self.post(&batch).await;
            let now = Instant::now();
            let wait = match outcome {
                Outcome::Delivered | Outcome::Rejected(_) => {
                    if let Outcome::Rejected(status) = outcome {
                        warn!(destination = %self.metrics.name, %status, count = batch.len(), "notifications rejected");
                        self.metrics.rejected.fetch_add(batch.len() as u64, RELAXED);
                    } else {
                        debug!(destination = %self.metrics.name, count = batch.len(), "notifications delivered");
                        self.metrics.sent.fetch_add(batch.len() as u64, RELAXED);
                        self.metrics.requests.fetch_add(1, RELAXED);
                    }
                    breaker.on_success();
                    attempt = 0;
                    self.ack(&batch).await;
                    self.config.min_interval
                }
                Outcome::Failed {
                    retry_after,
                    reason,
                } => {
                    self.metrics.failed.fetch_add(1, RELAXED);
                    breaker.on_failure(now);
                    attempt = attempt.saturating_add(1);
                    let hint = retry_after
                        .unwrap_or_default()
                        .min(self.config.retry_after_max);
                    let wait = backoff(&self.config, attempt - 1)
                        .max(hint)
                        .max(breaker.wait(now));
                    warn!(destination = %self.metrics.name, reason, attempt, wait_ms = wait.as_millis() as u64, "delivery failed");
                    wait
                }
            };
            self.metrics
                .breaker
                .store(breaker.state(now) as u64, RELAXED);
            if pause(wait, &mut shutdown).await {
                return;
            }
            self.metrics
                .breaker
                .store(breaker.state(Instant::now()) as u64, RELAXED);
        }
    }

    async fn post(&self, batch: &[(u64, Notification)]) -> Outcome {
        let notes: Vec<Notification> = batch.iter().map(|(_, n)| n.clone()).collect();
        let now = chrono::Utc::now();
        let body = self.encoder.encode(
            &notes,
            &self.links,
            now.timestamp_nanos_opt().unwrap_or(i64::MAX),
        );
        let sent = self
            .client
            .post(self.encoder.endpoint())
            .timeout(self.config.timeout)
            .header("Idempotency-Key", group_key(&notes))
            .json(&body)
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                return Outcome::Failed {
                    retry_after: None,
                    reason: e.to_string(),
                }
            }
        };
        let status = resp.status();
        if status.is_success() {
            return Outcome::Delivered;
        }
        let retryable = status.is_server_error()
            || status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT;
        if !retryable {
            return Outcome::Rejected(status);
        }
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, now));
        Outcome::Failed {
            retry_after,
            reason: format!("status {status}"),
        }
    }

    async fn ack(&self, batch: &[(u64, Notification)]) {
        let seqs: Vec<u64> = batch.iter().map(|(s, _)| *s).collect();
        let outbox = self.outbox.clone();
        let metrics = self.metrics.clone();
        let done = tokio::task::spawn_blocking(move || {
            let mut ob = outbox
                .lock()
                .map_err(|_| "outbox lock poisoned".to_string())?;
            let r = ob.ack(&seqs).map_err(|e| e.to_string());
            metrics.depth.store(ob.len() as u64, RELAXED);
            r
        })
        .await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(error)) => warn!(destination = %self.metrics.name, error, "outbox ack failed"),
            Err(error) => warn!(destination = %self.metrics.name, %error, "outbox ack failed"),
        }
    }
}

const RELAXED: std::sync::atomic::Ordering = std::sync::atomic::Ordering::Relaxed;

/// Sleeps for `d` unless shutdown comes first; true when shutting down.
async fn pause(d: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = shutdown.wait_for(|s| *s) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_jittered_and_capped() {
        let cfg = DeliveryConfig {
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(1000),
            ..DeliveryConfig::default()
        };
        for attempt in 0..40 {
            let cap = (100u64 << attempt.min(20)).min(1000);
            assert!(backoff(&cfg, attempt) <= Duration::from_millis(cap));
        }
        let waits: std::collections::BTreeSet<_> = (0..50).map(|_| backoff(&cfg, 5)).collect();
        assert!(waits.len() > 5, "full jitter spreads waits: {waits:?}");
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
        assert_eq!(
            parse_retry_after("Mon, 23 Nov 2026 05:00:00 GMT", now),
            None
        );
    }
}
