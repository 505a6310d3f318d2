//! The node's streaming detectors: every durable record goes through the detector engine, and
//! the alerts it raises go to the alert lifecycle and delivery.

use std::sync::Arc;
use std::time::Duration;

use firewatch_detectors::{AlertSender, Alerting, Engine};
use firewatch_index::Follower;
use firewatch_index::Store;
use firewatch_ingest::endpoint::{RecordSink, SinkError, Stored};
use firewatch_ingest::{Batch, Nanos};

/// How often quiet alerts are checked for resolution and counts refreshed.
const TICK: Duration = Duration::from_secs(5);

/// Feeds the detectors every record of `durable` until the store closes or `stop` fires (once
/// the server stopped), and then what was still queued. Records arrive after they are durable, so a detector never sees a
/// record the node could lose, and none is skipped: a backlog holds ingest back instead.
pub async fn run_detectors(
    mut durable: Follower,
    alerts: AlertSender,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut engine = Engine::default();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            rec = durable.recv() => match rec {
                Some(rec) => observe(&mut engine, &alerts, &rec),
                None => break,
            },
            _ = tick.tick() => {
                let now = wall_clock();
                let resolved = engine.tick(now);
                if !resolved.is_empty() {
                    alerts.send(resolved);
                }
                alerts.refresh(|a| engine.refresh(a));
                alerts.tick(now);
            }
            _ = stop.wait_for(|s| *s) => {
                // Acknowledged records are not left unseen: the queue is bounded, and the
                // server has stopped adding to it.
                while let Some(rec) = durable.try_recv() {
                    observe(&mut engine, &alerts, &rec);
                }
                break;
            }
        }
    }
}

fn observe(engine: &mut Engine, alerts: &AlertSender, rec: &firewatch_ingest::LogRecord) {
    let raised = engine.observe(rec);
    if !raised.is_empty() {
        alerts.send(raised);
    }
}

fn wall_clock() -> Nanos {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as Nanos)
        .unwrap_or(0)
}

/// The store as the ingest endpoint sees it, with alert delivery's metrics added to `/metrics`.
pub struct NodeSink {
    pub store: Store,
    pub alerting: Arc<Alerting>,
}

impl RecordSink for NodeSink {
    async fn append(&self, batch: Batch) -> Result<Stored, SinkError> {
        RecordSink::append(&self.store, batch).await
    }

    fn ready(&self) -> bool {
        RecordSink::ready(&self.store)
    }

    fn render_metrics(&self, out: &mut String) {
        RecordSink::render_metrics(&self.store, out);
        out.push_str(&self.alerting.metrics());
    }
}
