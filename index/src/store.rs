//! The store: the write path from a batch to a durable acknowledgement.
//!
//! [`Store::append`] decides which records are new (their ids are neither in the index nor
//! waiting to be indexed), hands them to the WAL thread and returns once they are fsynced.
//! The WAL thread gathers every batch waiting at that moment into one write and one fsync
//! (group commit), then publishes the records to followers and subscribers and passes them to the apply
//! thread (`applier`), which archives and indexes them and commits every
//! `commit_interval_ms`.
//!
//! Memory stays bounded: batches are refused with [`StoreError::Overloaded`] while more than
//! `max_queued_records` are durable but not yet indexed (or not yet read by a [`Follower`]),
//! and only the not yet indexed records' ids are held
//! in memory for idempotence — archived ids are looked up in the segments' id tables
//! ([`crate::ids`]).

use std::collections::HashSet;
use std::fs;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{mpsc as std_mpsc, Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Instant;

use firewatch_ingest::endpoint::body::parse_ndjson;
use firewatch_ingest::{Batch, Encoded, LogRecord};
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{info, warn};

use crate::applier::Applier;
use crate::cache::BlockCache;
use crate::config::StoreConfig;
use crate::error::StoreError;
use crate::metrics::StoreMetrics;
use crate::reader::{Reader, View};
use crate::schema::Fields;
use crate::wal::{self, WalWriter};

mod follow;
mod group_commit;
pub use follow::Follower;
use follow::Followers;
use group_commit::{wal_loop, WalBody, WalMsg};

/// What happened to the records of a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendOutcome {
    pub accepted: u64,
    pub duplicates: u64,
}

pub(crate) struct Shared {
    pub cfg: StoreConfig,
    pub wal_dir: std::path::PathBuf,
    pub fields: Fields,
    pub view: Arc<RwLock<View>>,
    /// Ids durable in the WAL (or on their way) but not yet in a committed index.
    pub pending: Mutex<HashSet<String>>,
    pub durable: broadcast::Sender<Arc<LogRecord>>,
    pub followers: Followers,
    pub metrics: Arc<StoreMetrics>,
    pub healthy: AtomicBool,
    pub closing: AtomicBool,
}

impl Shared {
    /// Splits `records` into new ones (reserved as pending) and the number of duplicates.
    pub fn reserve_new(
        &self,
        mut records: Vec<Encoded>,
    ) -> Result<(Vec<Encoded>, u64), StoreError> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        // Read the view only now: an id leaves `pending` after the segment that holds it is in
        // the view.
        let segments = self
            .view
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .segments
            .clone();
        let offered = records.len();
        let mut dup = vec![false; offered];
        let mut seen = HashSet::with_capacity(records.len());
        for (i, rec) in records.iter().enumerate() {
            let id = rec.record.id.as_str();
            dup[i] = pending.contains(id) || !seen.insert(id);
        }
        let (todo, ids): (Vec<usize>, Vec<&str>) = records
            .iter()
            .enumerate()
            .filter(|(i, _)| !dup[*i])
            .map(|(i, r)| (i, r.record.id.as_str()))
            .unzip();
        let mut found = vec![false; ids.len()];
        for seg in segments.values() {
            seg.archive.find_ids(&ids, &mut found)?;
        }
        for (i, f) in todo.into_iter().zip(found) {
            dup[i] |= f;
        }
        // In place: a batch without duplicates (the usual one) moves no record.
        let mut is_dup = dup.into_iter();
        records.retain(|rec| {
            let dup = is_dup.next().unwrap_or(true);
            if !dup {
                pending.insert(rec.record.id.clone());
            }
            !dup
        });
        let dups = (offered - records.len()) as u64;
        Ok((records, dups))
    }

    /// Is a record with this id stored (durable), or on its way?
    pub fn contains(&self, id: &str) -> Result<bool, StoreError> {
        let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.contains(id) {
            return Ok(true);
        }
        let segments = self
            .view
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .segments
            .clone();
        let mut found = [false];
        for seg in segments.values() {
            seg.archive.find_ids(&[id], &mut found)?;
        }
        Ok(found[0])
    }

    pub fn release(&self, ids: impl Iterator<Item = impl AsRef<str>>) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        for id in ids {
            pending.remove(id.as_ref());
        }
    }
}

/// The node's storage. Cheap to clone; [`Store::close`] stops it cleanly.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
    wal_tx: mpsc::Sender<WalMsg>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
    cache: Arc<BlockCache>,
}

impl Store {
    /// Opens (or creates) the store in `cfg.data_dir`: drops the unsealed segment left by a crash,
    /// replays the WAL into a new one, and starts the WAL and apply threads.
    pub fn open(cfg: StoreConfig) -> Result<Store, StoreError> {
        let wal_dir = cfg.data_dir.join("wal");
        fs::create_dir_all(&wal_dir)?;
        let metrics = Arc::new(StoreMetrics::default());
        let (durable, _) = broadcast::channel(cfg.broadcast_capacity.max(1));
        let (mut applier, shared) = Applier::open(cfg, metrics, durable)?;
        let started = Instant::now();
        let mut restored = 0;
        let mut failed = None;
        // Each entry is applied as it is read: a WAL of compressed batches can hold far more
        // records than memory.
        let report = wal::replay(&wal_dir, |seq, body| {
            if failed.is_some() {
                return;
            }
            // Read as the endpoint read it: a logged request body has its blank lines.
            let (records, rejected) = parse_ndjson(body, usize::MAX);
            if let Some(r) = rejected.first() {
                failed = Some(StoreError::Corrupt {
                    what: format!(
                        "wal entry with a valid checksum: line {}: {}",
                        r.line, r.error
                    ),
                });
                return;
            }
            match replay_entry(&shared, &mut applier, seq, records) {
                Ok(n) => restored += n,
                Err(e) => failed = Some(e),
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        applier.commit()?;
        shared
            .metrics
            .wal_damaged_bytes
            .store(report.damaged_bytes, Relaxed);
        info!(
            entries = report.entries,
            restored,
            cut_bytes = report.cut_bytes,
            damaged_bytes = report.damaged_bytes,
            ms = started.elapsed().as_millis() as u64,
            "wal replayed"
        );
        let wal = WalWriter::create(&wal_dir, report.last_seq + 1)?;
        let (wal_tx, wal_rx) = mpsc::channel(1024);
        // Needs no bound of its own: what it carries is durable but not yet indexed, and
        // `append` refuses (429) past `max_queued_records` of that.
        let (apply_tx, apply_rx) = std_mpsc::channel();
        let mut threads = Vec::new();
        let sh = shared.clone();
        let next_seq = report.last_seq + 1;
        threads.push(
            std::thread::Builder::new()
                .name("firewatch-wal".into())
                .spawn(move || wal_loop(wal_rx, wal, next_seq, apply_tx, sh))?,
        );
        threads.push(
            std::thread::Builder::new()
                .name("firewatch-apply".into())
                .spawn(move || applier.run(apply_rx))?,
        );
        let cache = Arc::new(BlockCache::new(
            shared.cfg.block_cache_bytes,
            shared.metrics.clone(),
        ));
        Ok(Store {
            shared,
            wal_tx,
            threads: Arc::new(Mutex::new(threads)),
            cache,
        })
    }

    /// Stores the new records of a batch; returns once they are durable.
    pub async fn append(&self, records: Vec<LogRecord>) -> Result<AppendOutcome, StoreError> {
        let encoded = records
            .into_iter()
            .map(Encoded::new)
            .collect::<Result<_, _>>()?;
        self.append_encoded(encoded).await
    }

    /// [`Store::append`] for records that come with their JSON text, written to the WAL as is.
    pub async fn append_encoded(&self, records: Vec<Encoded>) -> Result<AppendOutcome, StoreError> {
        self.append_batch(Batch::of(records)).await
    }

    /// [`Store::append_encoded`] for a batch that may come with the compressed body it was
    /// parsed from: when none of its records is a duplicate, the WAL keeps that body rather than
    /// the lines. It must hold exactly the records (see [`Batch::zstd_body`]): it is what a
    /// restart replays.
    pub async fn append_batch(&self, batch: Batch) -> Result<AppendOutcome, StoreError> {
        let Batch { records, zstd_body } = batch;
        let sh = &self.shared;
        if sh.closing.load(SeqCst) {
            return Err(StoreError::ShuttingDown);
        }
        let m = &sh.metrics;
        let queued = m.queue_records.load(Relaxed);
        let overloaded = if queued + records.len() as u64 > sh.cfg.max_queued_records {
            Some("indexing queue full")
        } else if sh.followers.backlog() + records.len() as u64 > sh.cfg.max_queued_records {
            Some("detectors behind")
        } else if m.wal_bytes.load(Relaxed) > sh.cfg.max_wal_bytes {
            Some("write-ahead log over its size limit")
        } else {
            None
        };
        if let Some(reason) = overloaded {
            m.batches_overloaded.fetch_add(1, Relaxed);
            return Err(StoreError::Overloaded { reason });
        }
        let (fresh, duplicates) = sh.reserve_new(records)?;
        m.records_duplicate.fetch_add(duplicates, Relaxed);
        let accepted = fresh.len() as u64;
        if fresh.is_empty() {
            return Ok(AppendOutcome {
                accepted,
                duplicates,
            });
        }
        let sizes: Vec<usize> = fresh.iter().map(|e| e.json.len()).collect();
        let (fresh, jsons): (Vec<_>, Vec<_>) = fresh
            .into_iter()
            .map(|e| (Arc::new(e.record), e.json))
            .unzip();
        // With a record left out as a duplicate, the body no longer stands for the rest.
        let body = match zstd_body {
            Some(frame) if duplicates == 0 => WalBody::Zstd(frame),
            _ => WalBody::Lines(jsons),
        };
        // To release their ids if the write fails.
        let held = fresh.clone();
        // Past this the entry would read back as corruption: refused here, not only where the
        // node's config meets the endpoint's limits.
        if body.len() > wal::MAX_BATCH_BYTES {
            sh.release(held.iter().map(|r| &r.id));
            return Err(StoreError::TooLarge {
                bytes: body.len(),
                most: wal::MAX_BATCH_BYTES,
            });
        }
        m.queue_records.fetch_add(accepted, Relaxed);
        let (reply, answer) = oneshot::channel();
        let msg = WalMsg::Batch {
            records: fresh,
            body,
            sizes,
            reply,
        };
        let result = match self.wal_tx.send(msg).await {
            Ok(()) => answer
                .await
                .unwrap_or_else(|_| Err("wal thread stopped".into())),
            Err(_) => Err("wal thread stopped".into()),
        };
        match result {
            Ok(()) => {
                sh.healthy.store(true, Relaxed);
                Ok(AppendOutcome {
                    accepted,
                    duplicates,
                })
            }
            Err(e) => {
                m.queue_records.fetch_sub(accepted, Relaxed);
                m.write_errors.fetch_add(1, Relaxed);
                sh.healthy.store(false, Relaxed);
                sh.release(held.iter().map(|r| &r.id));
                Err(if sh.closing.load(SeqCst) {
                    StoreError::ShuttingDown
                } else {
                    StoreError::Unavailable(e)
                })
            }
        }
    }

    /// A handle for searching and fetching records.
    pub fn reader(&self) -> Reader {
        Reader {
            view: self.shared.view.clone(),
            fields: self.shared.fields,
            cache: self.cache.clone(),
        }
    }

    /// Every record from now on, as it becomes durable; ingest is refused while more than
    /// `max_queued_records` wait for this follower (see [`Follower`]). For the detectors.
    pub fn follow(&self) -> Follower {
        self.shared.followers.add()
    }

    /// Records as they become durable, for a live tail. A subscriber that falls more than
    /// `broadcast_capacity` records behind loses the oldest (counted in
    /// `firewatch_broadcast_lagged_total`).
    pub fn subscribe(&self) -> Durable {
        Durable {
            rx: self.shared.durable.subscribe(),
            metrics: self.shared.metrics.clone(),
        }
    }

    /// Is a record with this id stored (or acknowledged and on its way to the archive)?
    pub fn contains_id(&self, id: &str) -> Result<bool, StoreError> {
        self.shared.contains(id)
    }

    /// Did the last durable write succeed?
    pub fn is_healthy(&self) -> bool {
        self.shared.healthy.load(Relaxed) && !self.shared.closing.load(SeqCst)
    }

    pub fn metrics(&self) -> &StoreMetrics {
        &self.shared.metrics
    }

    /// Sets the gauges read from elsewhere than the metrics, before they are rendered.
    pub fn refresh_gauges(&self) {
        let backlog = self.shared.followers.backlog();
        self.shared.metrics.follower_backlog.store(backlog, Relaxed);
    }

    /// Refuses new batches, lets queued ones finish, commits, seals the active segment and
    /// stops the threads. Blocking: from async code, call it in `spawn_blocking`.
    pub fn close(&self) {
        self.shared.closing.store(true, SeqCst);
        let _ = self.wal_tx.blocking_send(WalMsg::Stop);
        let threads: Vec<_> =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for t in threads {
            if t.join().is_err() {
                warn!("store thread panicked");
            }
        }
        self.shared.followers.close();
    }
}

/// Applies the records of a replayed WAL entry that are not stored yet; returns how many.
fn replay_entry(
    shared: &Shared,
    applier: &mut Applier,
    seq: u64,
    records: Vec<Encoded>,
) -> Result<usize, StoreError> {
    let (fresh, _) = shared.reserve_new(records)?;
    let restored = fresh.len();
    // Counted as queued like any acknowledged batch; the commit after the replay uncounts them.
    shared
        .metrics
        .queue_records
        .fetch_add(restored as u64, Relaxed);
    let (records, sizes) = fresh
        .into_iter()
        .map(|e| (Arc::new(e.record), e.json.len()))
        .unzip();
    applier.apply(seq, records, sizes, Instant::now())?;
    Ok(restored)
}

/// Records just made durable, for detectors and the live tail.
pub struct Durable {
    rx: broadcast::Receiver<Arc<LogRecord>>,
    metrics: Arc<StoreMetrics>,
}

impl Durable {
    /// The next durable record; `None` once the store is closed. Records missed because this
    /// subscriber was too slow are skipped and counted.
    pub async fn recv(&mut self) -> Option<Arc<LogRecord>> {
        loop {
            match self.rx.recv().await {
                Ok(rec) => return Some(rec),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    self.metrics.broadcast_lagged.fetch_add(n, Relaxed);
                    warn!(missed = n, "durable-record subscriber lagging");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}
