//! The read side: consistent snapshots of the index and the archives.
//!
//! A [`Snapshot`] pairs a tantivy [`Searcher`] with the segments its documents point into, taken
//! together, so every hit of the searcher can be fetched even if retention or sealing changes the
//! store meanwhile (removed archive files stay readable through their open maps).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use firewatch_ingest::LogRecord;
use tantivy::columnar::Column;
use tantivy::{DocAddress, Searcher};

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
}

impl Reader {
    /// The latest committed state.
    pub fn snapshot(&self) -> Snapshot {
        let view = self.view.read().unwrap_or_else(|e| e.into_inner()).clone();
        Snapshot {
            view,
            fields: self.fields,
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
        let segment = self
            .view
            .segments
            .get(&ptr.segment)
            .ok_or(StoreError::NoSegment {
                segment: ptr.segment,
            })?;
        segment.archive.get(ptr.ord)
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
        let segment = self
            .view
            .segments
            .get(&id)
            .ok_or(StoreError::NoSegment { segment: id })?;
        segment
            .archive
            .for_each(|ord, rec| f(RecordPtr { segment: id, ord }, rec))
    }
}
