//! Delivery: one worker per destination drains its outbox over HTTP.
//!
//! A worker waits for notifications, lets a burst gather for `group_wait`, and POSTs up to
//! `max_batch` of them at once (500 services failing together make a handful of requests),
//! at most one request per `min_interval`. Every request has a timeout. A failed attempt
//! (connection, timeout, 408, 429, 5xx) is retried after an exponential backoff with jitter,
//! or after the receiver's `Retry-After` if longer; a run of failures opens the circuit
//! breaker. Backoff, breaker and `Retry-After` are the ones the shipper uses
//! ([`firewatch_ingest::resilience`]). Notifications leave the outbox only when acknowledged
//! (2xx) or refused for good (another 4xx, counted as rejected). The payload formats are
//! [`Encoder`]s.

pub mod alertmanager;
pub mod metrics;
pub mod webhook;

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use firewatch_ingest::resilience::BreakerConfig;
use firewatch_ingest::resilience::{parse_retry_after, Backoff, Breaker};
use firewatch_ingest::Nanos;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::{watch, Notify};
use tracing::{debug, warn};

use crate::links::Links;
use crate::outbox::{Notification, Outbox};
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
    /// First retry waits about this long; each further one doubles it, up to `backoff_max`.
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
        let mut backoff = Backoff::new(self.config.backoff_base, self.config.backoff_max);
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
            let now = Instant::now();
            if !breaker.allow(now) {
                // Open: sit out the cool-down (never spin, even with a probe still out).
                let wait = breaker.wait(now).max(Duration::from_millis(50));
                if pause(wait, &mut shutdown).await {
                    return;
                }
                continue;
            }
            if backoff.attempts() > 0 {
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
                    breaker.success();
                    backoff.reset();
                    self.ack(&batch).await;
                    self.config.min_interval
                }
                Outcome::Failed {
                    retry_after,
                    reason,
                } => {
                    self.metrics.failed.fetch_add(1, RELAXED);
                    breaker.failure(now);
                    let attempt = backoff.attempts() + 1;
                    let hint = retry_after
                        .unwrap_or_default()
                        .min(self.config.retry_after_max);
                    let wait = backoff.next_wait().max(hint).max(breaker.wait(now));
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
