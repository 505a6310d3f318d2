//! The read side: consistent snapshots of the index and the archives.
//!
//! A [`Snapshot`] pairs a tantivy [`Searcher`] with the segments its documents point into, taken
//! together, so every hit of the searcher can be fetched even if retention or sealing changes the
//! store meanwhile (removed archive files stay readable through their open maps).
//!
//! Records are read in batches ([`Snapshot::fetch_many`], [`Snapshot::scan_ords`]): each
//! archive block is decompressed once per batch, or not at all when the store's
//! [`BlockCache`] has it, and only the wanted records of it are decoded.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use firewatch_ingest::LogRecord;
use tantivy::columnar::Column;
use tantivy::{DocAddress, Searcher};

use crate::archive::{Pace, Prefilter, Unreadable};
use crate::cache::BlockCache;
use crate::catalog::{Segment, SegmentInfo};
use crate::error::StoreError;
use crate::schema::{Fields, RecordPtr};

pub(crate) type Segments = Arc<BTreeMap<u64, Arc<Segment>>>;

/// The searcher and segments published together after each commit.
#[derive(Clone)]
pub(crate) struct View {
    pub searcher: Searcher,
    pub segments: Segments,
}

/// A handle for reading the store: cheap to clone, always gives the latest committed state.
#[derive(Clone)]
pub struct Reader {
    pub(crate) view: Arc<RwLock<View>>,
    pub(crate) fields: Fields,
    pub(crate) cache: Arc<BlockCache>,
}

impl Reader {
    /// The latest committed state.
    pub fn snapshot(&self) -> Snapshot {
        let view = self.view.read().unwrap_or_else(|e| e.into_inner()).clone();
        Snapshot {
            view,
            fields: self.fields,
            cache: self.cache.clone(),
            unreadable: Arc::default(),
        }
    }

    /// The fields of the schema.
    pub fn fields(&self) -> Fields {
        self.fields
    }
}

/// A consistent, immutable view: search with [`Snapshot::searcher`], then [`Snapshot::fetch`].
#[derive(Clone)]
pub struct Snapshot {
    view: View,
    fields: Fields,
    cache: Arc<BlockCache>,
    /// Shared by the snapshot's clones: what one query could not read.
    unreadable: Arc<Unreadable>,
}

impl Snapshot {
    pub fn searcher(&self) -> &Searcher {
        &self.view.searcher
    }

    pub fn fields(&self) -> Fields {
        self.fields
    }

    /// The segments, oldest first, with their time ranges.
    pub fn segments(&self) -> Vec<SegmentInfo> {
        self.view.segments.values().map(|s| s.info()).collect()
    }

    /// How many records the index holds as record documents, and as parts of chunk
    /// documents: both equal the archived records when the index agrees with the archive.
    pub fn indexed_records(&self) -> Result<(u64, u64), StoreError> {
        let (mut documents, mut chunked) = (0, 0);
        for reader in self.view.searcher.segment_readers() {
            let ff = reader.fast_fields();
            let ords = ff.column_opt::<u64>("ord")?;
            let records = ff.column_opt::<u64>("records")?;
            for doc in reader.doc_ids_alive() {
                if ords.as_ref().is_some_and(|c| c.first(doc).is_some()) {
                    documents += 1;
                }
                chunked += records.as_ref().and_then(|c| c.first(doc)).unwrap_or(0);
            }
        }
        Ok((documents, chunked))
    }

    /// Where the record of a hit is stored (its `segment` and `ord` fast fields).
    pub fn pointer(&self, doc: DocAddress) -> Result<RecordPtr, StoreError> {
        let reader = self.view.searcher.segment_reader(doc.segment_ord);
        let column = |field| -> Result<Column<u64>, StoreError> {
            let name = self.view.searcher.schema().get_field_name(field);
            Ok(reader.fast_fields().u64(name)?)
        };
        let segment = column(self.fields.segment)?.first(doc.doc_id);
        let ord = column(self.fields.ord)?.first(doc.doc_id);
        match (segment, ord) {
            (Some(segment), Some(ord)) => Ok(RecordPtr { segment, ord }),
            _ => Err(StoreError::Corrupt {
                what: "document without a record pointer".into(),
            }),
        }
    }

    /// The record of a hit.
    pub fn fetch(&self, doc: DocAddress) -> Result<LogRecord, StoreError> {
        self.fetch_ptr(self.pointer(doc)?)
    }

    /// The record stored at `ptr`.
    pub fn fetch_ptr(&self, ptr: RecordPtr) -> Result<LogRecord, StoreError> {
        let mut one = self.fetch_many(&[ptr])?;
        one.pop().ok_or(StoreError::NotFound { ord: ptr.ord })
    }

    /// The records stored at `ptrs` (a page of hits), in the order given.
    pub fn fetch_many(&self, ptrs: &[RecordPtr]) -> Result<Vec<LogRecord>, StoreError> {
        self.fetch_some(ptrs, None)?
            .into_iter()
            .zip(ptrs)
            .map(|(rec, ptr)| rec.ok_or(StoreError::NotFound { ord: ptr.ord }))
            .collect()
    }

    /// [`fetch_many`](Self::fetch_many), but a record of a damaged archive block is `None`
    /// and counted in [`unreadable`](Self::unreadable) rather than failing the page.
    pub fn fetch_readable(&self, ptrs: &[RecordPtr]) -> Result<Vec<Option<LogRecord>>, StoreError> {
        self.fetch_some(ptrs, Some(&self.unreadable))
    }

    fn fetch_some(
        &self,
        ptrs: &[RecordPtr],
        unreadable: Option<&Unreadable>,
    ) -> Result<Vec<Option<LogRecord>>, StoreError> {
        let mut by_segment: BTreeMap<u64, (Vec<usize>, Vec<u64>)> = BTreeMap::new();
        for (i, ptr) in ptrs.iter().enumerate() {
            let (at, ords) = by_segment.entry(ptr.segment).or_default();
            at.push(i);
            ords.push(ptr.ord);
        }
        let mut out: Vec<Option<LogRecord>> = vec![None; ptrs.len()];
        for (segment, (at, ords)) in by_segment {
            let archive = &self.segment(segment)?.archive;
            let records = match unreadable {
                Some(u) => self.noting_damage(segment, u, || {
                    archive.get_readable(&ords, Some(&self.cache), u)
                })?,
                None => archive
                    .get_many(&ords, Some(&self.cache))?
                    .into_iter()
                    .map(Some)
                    .collect(),
            };
            for (i, rec) in at.into_iter().zip(records) {
                out[i] = rec;
            }
        }
        Ok(out)
    }

    /// Calls `f` with the records of segment `id` at `ords` (ascending), until it returns
    /// `false`, passing over those `pre` rules out. Each block is read once and only the
    /// wanted records are decoded. Records of a damaged block are passed over and counted
    /// in [`unreadable`](Self::unreadable).
    pub fn scan_ords(
        &self,
        id: u64,
        ords: impl IntoIterator<Item = u64>,
        pre: &dyn Prefilter,
        mut f: impl FnMut(RecordPtr, LogRecord) -> bool,
    ) -> Result<(), StoreError> {
        let archive = &self.segment(id)?.archive;
        let u = &*self.unreadable;
        self.noting_damage(id, u, || {
            archive.for_each_of_where(
                ords,
                Some(&self.cache),
                pre,
                Some(u),
                Pace::Ahead,
                |ord, rec| f(RecordPtr { segment: id, ord }, rec),
            )
        })
    }

    /// Records this snapshot's reads passed over because their archive block is damaged.
    pub fn unreadable(&self) -> u64 {
        self.unreadable.records()
    }

    /// Runs `read`, and warns when it passed over records of segment `id`.
    fn noting_damage<T>(
        &self,
        id: u64,
        u: &Unreadable,
        read: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let before = u.records();
        let out = read();
        let lost = u.records() - before;
        if lost > 0 {
            tracing::warn!(
                segment = id,
                records = lost,
                "damaged archive block, records passed over"
            );
        }
        out
    }

    fn segment(&self, id: u64) -> Result<&Segment, StoreError> {
        self.view
            .segments
            .get(&id)
            .map(|s| &**s)
            .ok_or(StoreError::NoSegment { segment: id })
    }

    /// Where the record with this id is archived, if it is in this snapshot's segments. (A
    /// record of the active segment may be found before its document is searchable.)
    pub fn locate(&self, id: &str) -> Result<Option<RecordPtr>, StoreError> {
        for (segment, seg) in self.view.segments.iter() {
            if let Some(ord) = seg.archive.ord_of(id)? {
                return Ok(Some(RecordPtr {
                    segment: *segment,
                    ord,
                }));
            }
        }
        Ok(None)
    }

    /// Calls `f` with every archived record of segment `id`, in archive order.
    pub fn scan_segment(
        &self,
        id: u64,
        mut f: impl FnMut(RecordPtr, LogRecord),
    ) -> Result<(), StoreError> {
        self.segment(id)?
            .archive
            .for_each(|ord, rec| f(RecordPtr { segment: id, ord }, rec))
    }
}
