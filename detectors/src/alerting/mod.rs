//! Alerting: the lifecycle store, one durable outbox and one delivery worker per destination,
//! wired together behind a non-blocking sender.
//!
//! The caller (the node's detector loop) hands alerts to an [`AlertSender`] with `try_send` on a
//! bounded queue: it never waits, a full queue drops and counts. A dispatcher thread applies
//! them to the [`AlertStore`], writes each transition to every destination's outbox (durably,
//! before the state is saved: a crash in between re-sends with the same idempotency key rather
//! than losing a notification) and wakes the workers, which deliver on the tokio runtime.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use firewatch_ingest::Nanos;
use tokio::sync::{watch, Notify};
use tracing::warn;

mod config;

pub use config::{AlertingConfig, Destination, DestinationKind};

use crate::alert::Alert;
use crate::delivery::alertmanager::Alertmanager;
use crate::delivery::metrics::{render, DestinationMetrics, InputMetrics};
use crate::delivery::webhook::Webhook;
use crate::delivery::{Encoder, Worker};
use crate::lifecycle::{AlertStore, Change, StateFilter, StoreError, TrackedAlert};
use crate::links::Links;
use crate::outbox::{Notification, Outbox, OutboxError};

/// Why alerting could not start.
#[derive(Debug, thiserror::Error)]
pub enum AlertingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error("alert destination {0:?} is not an http(s) URL")]
    BadUrl(String),
    #[error("two alert destinations are named {0:?}")]
    DuplicateName(String),
    #[error("http client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("alert dispatcher: {0}")]
    Thread(std::io::Error),
}

enum Input {
    Alerts(Vec<Alert>),
    Tick(Nanos),
    Stop,
}

struct Target {
    resend: bool,
    outbox: Arc<Mutex<Outbox>>,
    wake: Arc<Notify>,
    metrics: Arc<DestinationMetrics>,
}

/// State shared by the sender, the dispatcher, the API and the metrics.
pub(crate) struct Shared {
    pub(crate) store: Mutex<AlertStore>,
    pub(crate) input: InputMetrics,
    pub(crate) links: Links,
    dests: Vec<Arc<DestinationMetrics>>,
}

/// The running alerting machinery.
pub struct Alerting {
    sender: AlertSender,
    shared: Arc<Shared>,
    dispatcher: Option<JoinHandle<()>>,
    workers: Vec<tokio::task::JoinHandle<()>>,
    shutdown: watch::Sender<bool>,
}

/// Reads the alert state (what the HTTP list shows) without holding alerting itself, so a
/// caller can watch alerts while alerting still shuts down on its own. Cheap to clone.
#[derive(Clone)]
pub struct AlertReader {
    shared: Arc<Shared>,
}

impl AlertReader {
    /// Alerts in `filter` last seen at or after `since`, most recent first.
    pub fn list(&self, filter: StateFilter, since: Option<Nanos>) -> Vec<TrackedAlert> {
        match self.shared.store.lock() {
            Ok(store) => store.list(filter, since),
            Err(_) => Vec::new(),
        }
    }
}

/// Hands alerts to alerting without ever blocking. Cheap to clone.
#[derive(Clone)]
pub struct AlertSender {
    tx: SyncSender<Input>,
    shared: Arc<Shared>,
}

impl AlertSender {
    /// Queues the alerts the detectors raised; false (and counted) when the queue is full.
    pub fn send(&self, alerts: Vec<Alert>) -> bool {
        if alerts.is_empty() {
            return true;
        }
        let n = alerts.len() as u64;
        self.shared.input.received.fetch_add(n, Relaxed);
        match self.tx.try_send(Input::Alerts(alerts)) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.shared.input.dropped.fetch_add(n, Relaxed);
                false
            }
        }
    }

    /// Log time has reached `now`: alerts quiet for `resolve_after` resolve.
    pub fn tick(&self, now: Nanos) -> bool {
        self.tx.try_send(Input::Tick(now)).is_ok()
    }

    /// Brings firing alerts up to date (e.g. `|a| engine.refresh(a)`); skipped if the store is
    /// busy, so the caller never waits.
    pub fn refresh(&self, update: impl FnMut(&mut Alert)) {
        if let Ok(mut store) = self.shared.store.try_lock() {
            store.refresh(update);
        }
    }
}

impl Alerting {
    /// Opens the state and outboxes in `config.dir` and starts delivery; must be called inside
    /// a tokio runtime. Undelivered notifications from a previous run are sent first.
    pub fn start(config: AlertingConfig) -> Result<Alerting, AlertingError> {
        let store = AlertStore::open(&config.dir, config.lifecycle.clone())?;
        let links = Links::new(&config.node_url);
        let client = reqwest::Client::builder()
            .connect_timeout(config.delivery.timeout)
            .timeout(config.delivery.timeout)
            .build()?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut targets = Vec::new();
        let mut workers = Vec::new();
        // Check every destination before any worker starts.
        let mut names = std::collections::BTreeSet::new();
        for (i, dest) in config.destinations.iter().enumerate() {
            if !(dest.url.starts_with("http://") || dest.url.starts_with("https://")) {
                return Err(AlertingError::BadUrl(dest.url.clone()));
            }
            if !names.insert(safe_name(&dest.name_or_default(i))) {
                return Err(AlertingError::DuplicateName(dest.name_or_default(i)));
            }
        }
        for (i, dest) in config.destinations.iter().enumerate() {
            let encoder: Box<dyn Encoder> = match dest.kind {
                DestinationKind::Webhook => Box::new(Webhook::new(&dest.url)),
                DestinationKind::Alertmanager => Box::new(Alertmanager::new(
                    &dest.url,
                    config.delivery.alertmanager_hold,
                )),
            };
            let name = dest.name_or_default(i);
            let dir = config.dir.join("outbox").join(safe_name(&name));
            let outbox = Outbox::open(&dir, config.outbox_capacity)?;
            let metrics = Arc::new(DestinationMetrics::new(&name));
            metrics.depth.store(outbox.len() as u64, Relaxed);
            let target = Target {
                resend: dest.kind == DestinationKind::Alertmanager,
                outbox: Arc::new(Mutex::new(outbox)),
                wake: Arc::new(Notify::new()),
                metrics,
            };
            let worker = Worker {
                encoder,
                outbox: target.outbox.clone(),
                wake: target.wake.clone(),
                metrics: target.metrics.clone(),
                client: client.clone(),
                config: config.delivery.clone(),
                links: links.clone(),
            };
            workers.push(tokio::spawn(worker.run(shutdown_rx.clone())));
            targets.push(target);
        }
        let shared = Arc::new(Shared {
            input: InputMetrics::default(),
            links,
            dests: targets.iter().map(|t| t.metrics.clone()).collect(),
            store: Mutex::new(store),
        });
        let (tx, rx) = sync_channel(config.queue.max(1));
        let resend = config.alertmanager_resend;
        let dispatcher = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("alert-dispatch".into())
                .spawn(move || dispatch(rx, &shared, &targets, resend))
                .map_err(AlertingError::Thread)?
        };
        Ok(Alerting {
            sender: AlertSender {
                tx,
                shared: shared.clone(),
            },
            shared,
            dispatcher: Some(dispatcher),
            workers,
            shutdown,
        })
    }

    /// The handle the detector loop feeds.
    pub fn sender(&self) -> AlertSender {
        self.sender.clone()
    }

    /// A read-only handle on the alert state.
    pub fn reader(&self) -> AlertReader {
        AlertReader {
            shared: self.shared.clone(),
        }
    }

    /// Delivery metrics in the Prometheus text format.
    pub fn metrics(&self) -> String {
        let dests: Vec<&DestinationMetrics> = self.shared.dests.iter().map(|d| &**d).collect();
        render(&self.shared.input, &dests)
    }

    pub(crate) fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Applies what is queued, saves the state, and stops delivery within `grace`; what is not
    /// delivered by then stays in the outboxes for the next start.
    pub async fn shutdown(mut self, grace: Duration) {
        let tx = self.sender.tx.clone();
        let dispatcher = self.dispatcher.take();
        // The queue may be full: hand the stop over from a blocking thread.
        let _ = tokio::task::spawn_blocking(move || {
            let _ = tx.send(Input::Stop);
            if let Some(d) = dispatcher {
                let _ = d.join();
            }
        })
        .await;
        let _ = tokio::time::timeout(grace, async {
            while self.shared.dests.iter().any(|d| d.depth.load(Relaxed) > 0) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        let _ = self.shutdown.send(true);
        for w in self.workers.drain(..) {
            let _ = w.await;
        }
    }
}

fn dispatch(rx: Receiver<Input>, shared: &Shared, targets: &[Target], resend: Duration) {
    let mut last_resend = Instant::now();
    while let Ok(first) = rx.recv() {
        // Take what else is queued too: one outbox sync and one state save per burst.
        let mut inputs = vec![first];
        while inputs.len() < MAX_BURST {
            match rx.try_recv() {
                Ok(input) => inputs.push(input),
                Err(_) => break,
            }
        }
        let mut stop = false;
        let changes: Vec<Change> = {
            let Ok(mut store) = shared.store.lock() else {
                return;
            };
            let mut changes = Vec::new();
            for input in inputs {
                match input {
                    Input::Alerts(alerts) => {
                        changes.extend(alerts.into_iter().flat_map(|a| store.apply(a)))
                    }
                    Input::Tick(now) => changes.extend(store.expire(now)),
                    Input::Stop => stop = true,
                }
            }
            changes
        };
        deliver(&changes, targets, |_| true);
        if last_resend.elapsed() >= resend {
            last_resend = Instant::now();
            let firing: Vec<Change> = match shared.store.lock() {
                Ok(store) => store.list(StateFilter::Firing, None),
                Err(_) => return,
            }
            .into_iter()
            .map(Change::Fired)
            .collect();
            deliver(&firing, targets, |t| t.resend);
        }
        let Ok(mut store) = shared.store.lock() else {
            return;
        };
        if let Err(error) = store.save() {
            warn!(%error, "alert state save failed");
        }
        shared.input.firing.store(store.firing() as u64, Relaxed);
        if stop {
            return;
        }
    }
}

/// At most this many queued inputs are applied together.
const MAX_BURST: usize = 1_024;

fn deliver(changes: &[Change], targets: &[Target], to: impl Fn(&Target) -> bool) {
    if changes.is_empty() {
        return;
    }
    let notes: Vec<Notification> = changes
        .iter()
        .map(|c| Notification::from(c.tracked()))
        .collect();
    for t in targets.iter().filter(|t| to(t)) {
        let Ok(mut ob) = t.outbox.lock() else {
            continue;
        };
        match ob.push(&notes) {
            Ok(o) => {
                t.metrics.coalesced.fetch_add(o.coalesced, Relaxed);
                t.metrics.dropped.fetch_add(o.dropped, Relaxed);
            }
            Err(error) => {
                // The burst did not reach the disk: count it as lost, loudly.
                t.metrics.dropped.fetch_add(notes.len() as u64, Relaxed);
                warn!(destination = %t.metrics.name, %error, "outbox write failed");
            }
        }
        t.metrics.depth.store(ob.len() as u64, Relaxed);
        t.wake.notify_one();
    }
}

/// A destination name usable as a directory name.
fn safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
