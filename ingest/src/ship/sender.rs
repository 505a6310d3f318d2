//! The sender task: spool → node → checkpoints.
//!
//! It delivers the oldest spooled batch until the node acknowledges it, then advances the
//! checkpoints of the ranges the batch covers and removes it from the spool — in that order, so
//! a crash in between only sends the batch again (the node drops the repeats by record id).
//! Checkpoints are written at most every `checkpoint_interval` and once more on the way out.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tracing::{error, warn};

use super::batch::Batch;
use super::checkpoint::Checkpoints;
use super::client::{Delivery, NodeClient};
use super::fingerprint::Fingerprint;
use super::metrics::Metrics;
use super::spool::Spool;

pub struct Sender {
    pub spool: Arc<Spool>,
    pub client: NodeClient,
    pub checkpoints: Arc<Mutex<Checkpoints>>,
    pub checkpoint_path: PathBuf,
    pub checkpoint_interval: Duration,
    pub metrics: Arc<Metrics>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Sender {
    /// Runs until `stop` turns true.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut dirty = false;
        let mut saved = Instant::now();
        loop {
            if *stop.borrow() {
                break;
            }
            let Some((seq, batch)) = self.spool.front() else {
                if dirty {
                    self.save();
                    dirty = false;
                    saved = Instant::now();
                }
                tokio::select! {
                    _ = self.spool.arrived.notified() => {}
                    _ = stop.changed() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            };
            match self.client.deliver(&batch, &self.metrics, &mut stop).await {
                Delivery::Acked(r) => {
                    let m = &self.metrics;
                    Metrics::add(&m.batches_acked, 1);
                    Metrics::add(&m.records_acked, r.accepted + r.duplicates);
                    Metrics::add(&m.records_duplicate, r.duplicates);
                    if !r.rejected.is_empty() {
                        Metrics::add(&m.records_rejected, r.rejected.len() as u64);
                        let first = &r.rejected[0];
                        warn!(batch = %batch.meta.id, rejected = r.rejected.len(),
                            line = first.line, error = %first.error, "node rejected records");
                    }
                    let counted = r.accepted + r.duplicates + r.rejected.len() as u64;
                    if counted != batch.meta.records {
                        warn!(batch = %batch.meta.id, sent = batch.meta.records, counted, "node answer does not account for every record");
                    }
                    self.advance(&batch);
                    dirty = true;
                    if let Err(e) = self.spool.pop(seq) {
                        warn!(error = %e, "cannot remove acknowledged batch from spool");
                    }
                }
                Delivery::Refused(why) => {
                    Metrics::add(&self.metrics.batches_rejected, 1);
                    match self.spool.set_aside(seq) {
                        Ok(kept) => {
                            error!(batch = %batch.meta.id, error = %why, kept = %kept.display(),
                                "node refused batch for good; kept it aside for inspection");
                            self.advance(&batch);
                            dirty = true;
                        }
                        Err(e) => {
                            error!(batch = %batch.meta.id, error = %e, "cannot set refused batch aside; retrying later");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
                Delivery::Shutdown => break,
            }
            let (batches, bytes) = self.spool.usage();
            Metrics::set(&self.metrics.spool_batches, batches);
            Metrics::set(&self.metrics.spool_bytes, bytes);
            if dirty && saved.elapsed() >= self.checkpoint_interval {
                self.save();
                dirty = false;
                saved = Instant::now();
            }
        }
        if dirty {
            self.save();
        }
    }

    fn advance(&self, batch: &Batch) {
        let now = unix_now();
        let mut cps = self.checkpoints.lock().unwrap_or_else(|p| p.into_inner());
        for r in &batch.meta.ranges {
            cps.advance(Fingerprint(r.fingerprint), r.start, r.end, &r.path, now);
        }
    }

    fn save(&self) {
        let cps = self
            .checkpoints
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Err(e) = cps.save(&self.checkpoint_path) {
            Metrics::add(&self.metrics.checkpoint_errors, 1);
            error!(error = %e, "checkpoint write failed");
        }
    }
}
