//! The node's streaming detectors: every durable record goes through the detector engine, and
//! the alerts it raises go to the alert lifecycle and delivery.

use std::sync::Arc;
use std::time::Duration;

use firewatch_detectors::{AlertSender, Alerting, Engine};
use firewatch_index::store::Durable;
use firewatch_index::Store;
use firewatch_ingest::endpoint::{RecordSink, SinkError, Stored};
use firewatch_ingest::{Encoded, Nanos};

/// How often quiet alerts are checked for resolution and counts refreshed.
const TICK: Duration = Duration::from_secs(5);

/// Feeds the detectors from `durable` until the store closes or `stop` fires. Records arrive
/// after they are durable, so a detector never sees a record the node could lose.
pub async fn run_detectors(
    mut durable: Durable,
    alerts: AlertSender,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut engine = Engine::default();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            rec = durable.recv() => match rec {
                Some(rec) => {
                    let raised = engine.observe(&rec);
                    if !raised.is_empty() {
                        alerts.send(raised);
                    }
                }
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
            _ = stop.wait_for(|s| *s) => break,
        }
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
    async fn append(&self, records: Vec<Encoded>) -> Result<Stored, SinkError> {
        RecordSink::append(&self.store, records).await
    }

    fn ready(&self) -> bool {
        RecordSink::ready(&self.store)
    }

    fn render_metrics(&self, out: &mut String) {
        RecordSink::render_metrics(&self.store, out);
        out.push_str(&self.alerting.metrics());
    }
}
