//! Opening the store: the manifest, the index and the sealed segments made consistent with each
//! other after whatever stop came before (a crash, a merge half done, a damaged file), then a
//! new active segment.

use std::collections::BTreeMap;
use std::fs;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use firewatch_ingest::LogRecord;
use tantivy::query::RangeQuery;
use tantivy::{IndexReader, IndexWriter, ReloadPolicy, Term};
use tokio::sync::broadcast;
use tracing::{debug, error};

use super::{compaction, new_segment, reindex, Applier};
use crate::archive::Archive;
use crate::catalog::{archive_path, Manifest, Segment, MERGED_BASE};
use crate::config::StoreConfig;
use crate::error::StoreError;
use crate::metrics::StoreMetrics;
use crate::reader::View;
use crate::schema;
use crate::store::Shared;

impl Applier {
    /// Opens the index and the sealed segments, and starts a new active segment.
    pub fn open(
        cfg: StoreConfig,
        metrics: Arc<StoreMetrics>,
        durable: broadcast::Sender<Arc<LogRecord>>,
    ) -> Result<(Applier, Arc<Shared>), StoreError> {
        let seg_root = cfg.data_dir.join("segments");
        let index_dir = cfg.data_dir.join("index");
        fs::create_dir_all(&seg_root)?;
        let loaded = Manifest::load_or_rebuild(&seg_root)?;
        let mut manifest = loaded.manifest;
        let (index, fields) = reindex::open_or_replace(&cfg.data_dir, &index_dir)?;
        let mut writer = index.writer_with_num_threads(1, cfg.index_memory_bytes.max(15 << 20))?;
        // Documents of the segment that was active at a crash; the WAL brings them back.
        writer.delete_query(Box::new(RangeQuery::new(
            Bound::Included(Term::from_field_u64(fields.segment, manifest.next_segment)),
            Bound::Excluded(Term::from_field_u64(fields.segment, MERGED_BASE)),
        )))?;
        // Segments set aside when the manifest was made again.
        for id in loaded.dropped {
            let id = Term::from_field_u64(fields.segment, id);
            writer.delete_query(Box::new(RangeQuery::new(
                Bound::Included(id.clone()),
                Bound::Included(id),
            )))?;
        }
        writer.commit()?;
        let reader: IndexReader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        compaction::recover(&mut manifest, &seg_root, &reader.searcher(), fields)?;
        let leftovers = manifest.remove_leftovers(&seg_root)?;
        let mut segments = BTreeMap::new();
        let mut damaged = Vec::new();
        for info in &manifest.segments {
            let archive = match Archive::open_sealed(&archive_path(&seg_root, info.id)) {
                Ok(a) => a,
                // Damaged or gone: one segment must not keep the node from serving the rest.
                // Other errors (permissions, a failing disk, a newer format) stop the start:
                // nothing is set aside for what may be a mistake in how the node was started.
                Err(e @ StoreError::Corrupt { .. }) => {
                    damaged.push((info.id, e));
                    continue;
                }
                Err(StoreError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                    damaged.push((info.id, StoreError::Io(e)));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let seg = Segment {
                archive,
                info: RwLock::new(info.clone()),
            };
            segments.insert(info.id, Arc::new(seg));
        }
        if !damaged.is_empty() {
            set_aside(&mut manifest, &seg_root, &damaged, &mut writer, fields)?;
            reader.reload()?;
            metrics
                .segments_damaged
                .fetch_add(damaged.len() as u64, Relaxed);
        }
        let again = reindex::reindex_missing(
            &mut writer,
            fields,
            &manifest.segments,
            &reader.searcher(),
            |id| segments.get(&id).cloned(),
        )?;
        if again > 0 {
            reader.reload()?;
        }
        let active_id = manifest.next_segment;
        let active = new_segment(&seg_root, active_id, &cfg)?;
        segments.insert(active_id, active.clone());
        if leftovers > 0 {
            // Every run leaves its active segment unsealed, empty after a clean stop; what one
            // held after a crash is in the WAL, whose replay is logged with what it restored.
            debug!(leftovers, "unsealed segment removed");
        }
        let view = View {
            searcher: reader.searcher(),
            segments: Arc::new(segments.clone()),
        };
        let sh = Arc::new(Shared {
            wal_dir: cfg.data_dir.join("wal"),
            fields,
            view: Arc::new(RwLock::new(view)),
            pending: Mutex::new(Default::default()),
            durable,
            followers: Default::default(),
            metrics,
            healthy: AtomicBool::new(true),
            closing: AtomicBool::new(false),
            cfg,
        });
        let applier = Applier {
            wal_dir: sh.wal_dir.clone(),
            sh: sh.clone(),
            seg_root,
            index_dir,
            writer,
            reader,
            manifest,
            segments,
            active,
            active_id,
            active_since: Instant::now(),
            applied_seq: 0,
            apply_failed: false,
            uncommitted: Vec::new(),
            oldest_uncommitted: None,
            // Due at the first tick: a restart may leave segments to merge or retire.
            last_retention: Instant::now()
                .checked_sub(Duration::from_secs(10))
                .unwrap_or_else(Instant::now),
            unfinished_merge: None,
            word_sets: Default::default(),
        };
        applier.update_gauges();
        Ok((applier, sh))
    }
}

/// Takes segments whose archives cannot be read out of the store: their directories go to
/// `damaged/`, their documents out of the index (which would otherwise answer with records no
/// one can read), and they out of the manifest. Each step can be done again, so a crash
/// between them leaves nothing half done.
fn set_aside(
    manifest: &mut Manifest,
    seg_root: &std::path::Path,
    damaged: &[(u64, StoreError)],
    writer: &mut IndexWriter,
    fields: schema::Fields,
) -> Result<(), StoreError> {
    for (id, e) in damaged {
        let moved = Manifest::set_aside(seg_root, *id)?;
        let moved = moved.map_or("nothing to move".into(), |p| p.display().to_string());
        error!(segment = id, error = %e, moved_to = %moved, "segment unreadable; its records are set aside and the rest is served");
        writer.delete_query(Box::new(RangeQuery::new(
            Bound::Included(Term::from_field_u64(fields.segment, *id)),
            Bound::Excluded(Term::from_field_u64(fields.segment, id + 1)),
        )))?;
    }
    writer.commit()?;
    manifest
        .segments
        .retain(|s| !damaged.iter().any(|(id, _)| *id == s.id));
    manifest.save(seg_root)
}
