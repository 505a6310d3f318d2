//! Followers: subscribers that see every durable record, the detectors among them.
//!
//! A live tail may skip records when it falls behind ([`super::Durable`]); a detector must not,
//! or a burst could hide the very errors it is there to see. A follower's records wait in its
//! own queue instead, never blocking the WAL thread, and [`super::Store::append`] refuses
//! batches (429) while the slowest follower has more than `max_queued_records` waiting: a slow
//! detector pushes back on the shippers like a slow index does, and memory stays bounded.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use firewatch_ingest::LogRecord;
use tokio::sync::mpsc;

type Batch = Arc<[Arc<LogRecord>]>;

/// The store's side: one queue per follower.
#[derive(Default)]
pub(crate) struct Followers {
    queues: Mutex<Vec<Queue>>,
}

struct Queue {
    tx: mpsc::UnboundedSender<Batch>,
    backlog: Arc<AtomicU64>,
}

impl Followers {
    pub fn add(&self) -> Follower {
        let (tx, rx) = mpsc::unbounded_channel();
        let backlog = Arc::new(AtomicU64::new(0));
        self.lock().push(Queue {
            tx,
            backlog: backlog.clone(),
        });
        Follower {
            rx,
            batch: Arc::from(Vec::new()),
            next: 0,
            backlog,
        }
    }

    /// Queues durable records for every follower; forgets followers that were dropped.
    pub fn publish(&self, records: &[Arc<LogRecord>]) {
        let mut queues = self.lock();
        if queues.is_empty() || records.is_empty() {
            return;
        }
        let batch: Batch = Arc::from(records);
        queues.retain(|q| {
            // Counted before it is sent, so the follower never counts below zero.
            q.backlog.fetch_add(batch.len() as u64, Relaxed);
            q.tx.send(batch.clone()).is_ok()
        });
    }

    /// Ends every queue: followers read what is queued, then get `None`.
    pub fn close(&self) {
        self.lock().clear();
    }

    /// Records queued for the slowest follower.
    pub fn backlog(&self) -> u64 {
        self.lock()
            .iter()
            .map(|q| q.backlog.load(Relaxed))
            .max()
            .unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Queue>> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Every record that becomes durable after [`super::Store::follow`], in the order they became
/// durable. Dropping it stops its queue from holding ingest back.
pub struct Follower {
    rx: mpsc::UnboundedReceiver<Batch>,
    batch: Batch,
    next: usize,
    backlog: Arc<AtomicU64>,
}

impl Follower {
    /// The next durable record; `None` once the store is closed and every record was read.
    pub async fn recv(&mut self) -> Option<Arc<LogRecord>> {
        if self.next == self.batch.len() {
            let batch = self.rx.recv().await?;
            self.start(batch);
        }
        self.take()
    }

    /// The next record already queued, without waiting: to finish the queue at a stop.
    pub fn try_recv(&mut self) -> Option<Arc<LogRecord>> {
        if self.next == self.batch.len() {
            let batch = self.rx.try_recv().ok()?;
            self.start(batch);
        }
        self.take()
    }

    /// Records queued and not yet read.
    pub fn backlog(&self) -> u64 {
        self.backlog.load(Relaxed)
    }

    fn start(&mut self, batch: Batch) {
        self.batch = batch;
        self.next = 0;
    }

    fn take(&mut self) -> Option<Arc<LogRecord>> {
        let rec = self.batch.get(self.next)?.clone();
        self.next += 1;
        self.backlog.fetch_sub(1, Relaxed);
        Some(rec)
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        // What it will never read must not hold ingest back until the next publish drops its
        // queue (no publish comes while ingest is refused). Closed first: a publish after this
        // fails and drops the queue, one before it is counted before the reset.
        self.rx.close();
        self.backlog.store(0, Relaxed);
    }
}
