//! Delivering one batch to the node: failover across URLs, backoff, Retry-After, breakers.
//!
//! [`NodeClient::deliver`] keeps trying until the node acknowledges the batch, refuses it for
//! good (a 4xx other than 429), or shutdown is asked for. Every request has a timeout; after each
//! round of failures over all URLs it waits with exponential backoff and jitter, and at least as
//! long as the node's `Retry-After`. 429 means "busy", not "down", so it does not trip the
//! breaker.

use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
use tokio::sync::watch;
use tracing::{info, warn};

use super::batch::Batch;
use super::metrics::Metrics;
use crate::protocol::{IngestResponse, BATCH_ID_HEADER, INGEST_PATH};
use crate::resilience::{parse_retry_after, Backoff, Breaker, BreakerConfig};

/// Longest `Retry-After` honoured, so a confused node cannot park the shipper for days.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub timeout: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub breaker_threshold: u32,
    pub breaker_cooldown: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(10),
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(30),
            breaker_threshold: 3,
            breaker_cooldown: Duration::from_secs(2),
        }
    }
}

/// How one attempt ended.
#[derive(Debug)]
enum Attempt {
    Acked(IngestResponse),
    /// Busy (429) or unavailable (503), with the node's Retry-After.
    Throttled {
        down: bool,
        after: Option<Duration>,
    },
    Failed(String),
    Refused(String),
}

/// How a delivery ended.
#[derive(Debug)]
pub enum Delivery {
    Acked(IngestResponse),
    /// The node refuses this batch for good; retrying cannot help.
    Refused(String),
    Shutdown,
}

pub struct NodeClient {
    http: reqwest::Client,
    urls: Vec<String>,
    breakers: Vec<Breaker>,
    current: usize,
    opts: ClientOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no node url given")]
    NoUrl,
    #[error("http client: {0}")]
    Http(#[from] reqwest::Error),
}

impl NodeClient {
    pub fn new(urls: &[String], opts: ClientOptions) -> Result<Self, ClientError> {
        if urls.is_empty() {
            return Err(ClientError::NoUrl);
        }
        let http = reqwest::Client::builder()
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout.min(Duration::from_secs(5)))
            // The node closes a connection idle for its header timeout (30 s by default):
            // reusing one it is closing would fail a batch for nothing.
            .pool_idle_timeout(Duration::from_secs(20))
            .build()?;
        let breaker = BreakerConfig {
            failures_to_open: opts.breaker_threshold,
            cooldown: opts.breaker_cooldown,
            max_cooldown: opts.breaker_cooldown * 16,
        };
        Ok(NodeClient {
            http,
            urls: urls
                .iter()
                .map(|u| format!("{}{INGEST_PATH}", u.trim_end_matches('/')))
                .collect(),
            breakers: urls.iter().map(|_| Breaker::new(breaker.clone())).collect(),
            current: 0,
            opts,
        })
    }

    async fn attempt(&self, url: &str, batch: &Batch) -> Attempt {
        let res = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/x-ndjson")
            .header(CONTENT_ENCODING, "zstd")
            .header(BATCH_ID_HEADER, truncate_id(&batch.meta.id))
            .body(batch.body.clone())
            .send()
            .await;
        let res = match res {
            Ok(r) => r,
            Err(e) => return Attempt::Failed(e.to_string()),
        };
        let status = res.status();
        let after = res
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()))
            .map(|d| d.min(MAX_RETRY_AFTER));
        if status.is_success() {
            return match res.json::<IngestResponse>().await {
                Ok(r) => Attempt::Acked(r),
                Err(e) => Attempt::Failed(format!("bad ingest response: {e}")),
            };
        }
        let text = res.text().await.unwrap_or_default();
        match status {
            StatusCode::TOO_MANY_REQUESTS => Attempt::Throttled { down: false, after },
            StatusCode::SERVICE_UNAVAILABLE => Attempt::Throttled { down: true, after },
            s if s.is_client_error() && s != StatusCode::REQUEST_TIMEOUT => Attempt::Refused(
                format!("{s}: {}", text.chars().take(300).collect::<String>()),
            ),
            s => Attempt::Failed(format!("{s}")),
        }
    }

    /// Sends `batch` until it is acknowledged or refused for good, or `shutdown` turns true.
    pub async fn deliver(
        &mut self,
        batch: &Batch,
        metrics: &Metrics,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Delivery {
        let mut backoff = Backoff::new(self.opts.backoff_base, self.opts.backoff_max);
        let mut failed_in_round = 0;
        loop {
            if *shutdown.borrow() {
                return Delivery::Shutdown;
            }
            let now = Instant::now();
            let n = self.urls.len();
            let pick = (0..n)
                .map(|i| (self.current + i) % n)
                .find(|&i| self.breakers[i].allow(now));
            let Some(i) = pick else {
                let until = self
                    .breakers
                    .iter()
                    .filter_map(|b| b.ready_at())
                    .min()
                    .unwrap_or(now + self.opts.breaker_cooldown);
                if sleep_or_shutdown(until.saturating_duration_since(now), shutdown).await {
                    return Delivery::Shutdown;
                }
                continue;
            };
            self.current = i;
            let url = self.urls[i].clone();
            let mut wait = None;
            let outcome = tokio::select! {
                a = self.attempt(&url, batch) => a,
                _ = shutdown.changed() => return Delivery::Shutdown,
            };
            match outcome {
                Attempt::Acked(r) => {
                    self.breakers[i].success();
                    return Delivery::Acked(r);
                }
                Attempt::Refused(why) => {
                    self.breakers[i].success();
                    return Delivery::Refused(why);
                }
                Attempt::Throttled { down, after } => {
                    // A busy node answered: it is up, and a probe it answered is over.
                    if down {
                        self.breakers[i].failure(Instant::now());
                    } else {
                        self.breakers[i].success();
                    }
                    info!(url = %url, retry_after = ?after, "node busy; backing off");
                    wait = Some(after.unwrap_or_default().max(backoff.next_wait()));
                }
                Attempt::Failed(why) => {
                    self.breakers[i].failure(Instant::now());
                    warn!(url = %url, batch = %batch.meta.id, error = %why, "send failed");
                    self.current = (i + 1) % n;
                    failed_in_round += 1;
                    if failed_in_round >= n {
                        failed_in_round = 0;
                        wait = Some(backoff.next_wait());
                    }
                }
            }
            Metrics::add(&metrics.retries, 1);
            if let Some(w) = wait {
                if sleep_or_shutdown(w, shutdown).await {
                    return Delivery::Shutdown;
                }
            }
        }
    }
}

/// Sleeps; true if shutdown was asked for meanwhile.
async fn sleep_or_shutdown(d: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => *shutdown.borrow(),
        _ = shutdown.changed() => true,
    }
}

fn truncate_id(id: &str) -> &str {
    let mut end = id.len().min(128);
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    &id[..end]
}
