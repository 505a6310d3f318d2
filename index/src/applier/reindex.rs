//! The index rebuilt from the archives.
//!
//! The index is derived data: each document is made from an archived record and where it is
//! stored. So a node whose index is lost (the directory deleted, `meta.json` unreadable, a file
//! it lists gone, cut short or failing its footer checksum) does not refuse to start or serve
//! nothing: the old index is moved to
//! `damaged/index`, a new one is made, and every sealed segment without documents is indexed
//! again from its archive before the node serves.

use std::fs;
use std::path::{Path, PathBuf};

use tantivy::directory::error::OpenReadError;
use tantivy::directory::MmapDirectory;
use tantivy::error::DataCorruption;
use tantivy::{Index, IndexWriter, TantivyDocument, TantivyError};
use tracing::{error, warn};

use super::compaction::docs_of;
use crate::archive::{Archive, Everything, Pace, Unreadable};
use crate::catalog::SegmentInfo;
use crate::error::StoreError;
use crate::schema::{self, Fields, RecordPtr, WordSets, CHUNK_RECORDS};
use firewatch_ingest::LogRecord;

/// Records held before their documents are made: a whole number of chunks.
const RUN: usize = 64 * CHUNK_RECORDS as usize;

/// Opens the index in `index_dir` (created if absent), or, when it is damaged, sets it aside
/// in `damaged/` and makes a new one.
pub(super) fn open_or_replace(
    data_dir: &Path,
    index_dir: &Path,
) -> Result<(Index, Fields), StoreError> {
    match open(index_dir) {
        Err(StoreError::Index(e)) if damaged(&e) => {
            let to = set_aside(data_dir, index_dir)?;
            error!(error = %e, to = %to.display(), "index unreadable, set aside; indexing the archives again");
            open(index_dir)
        }
        opened => opened,
    }
}

/// Whether an error opening the index says its files are damaged or missing (rather than, say,
/// the disk failing or a permission missing, which stop the start).
fn damaged(e: &TantivyError) -> bool {
    use std::io::ErrorKind::{InvalidData, UnexpectedEof};
    match e {
        TantivyError::DataCorruption(_) => true,
        TantivyError::OpenReadError(OpenReadError::FileDoesNotExist(_)) => true,
        // A file cut short or overwritten: its footer does not check.
        TantivyError::OpenReadError(OpenReadError::IoError { io_error, .. }) => {
            matches!(io_error.kind(), InvalidData | UnexpectedEof)
        }
        _ => false,
    }
}

/// Opens the index with the newest schema that fits it, creating it if absent.
fn open(index_dir: &Path) -> Result<(Index, Fields), StoreError> {
    fs::create_dir_all(index_dir)?;
    let dir = MmapDirectory::open(index_dir).map_err(TantivyError::from)?;
    let open = |(schema, fields)| {
        Index::builder()
            .schema(schema)
            .settings(schema::index_settings())
            .open_or_create(dir.clone())
            .map(|index| (index, fields))
    };
    // An index keeps the schema it was made with: the newest that opens it.
    let [newest, older @ ..] = schema::every_version();
    let mut opened = open(newest);
    for version in older {
        if let Err(TantivyError::SchemaError(_)) = opened {
            opened = open(version);
        }
    }
    let (index, fields) = opened.map_err(|e| match e {
        // The index of an older format (ids and positions indexed).
        TantivyError::SchemaError(m) => StoreError::Unsupported {
            what: format!("index: {m}"),
        },
        e => e.into(),
    })?;
    crate::words::register(&index);
    // Every file's footer checksum: a flipped byte in postings or a column would otherwise
    // surface only when a query, or this start's first commit, reads it.
    let mut bad: Vec<String> = index
        .validate_checksum()?
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    if !bad.is_empty() {
        bad.sort();
        let what = format!("files failing their checksum: {}", bad.join(", "));
        return Err(TantivyError::DataCorruption(DataCorruption::comment_only(what)).into());
    }
    // Every file the index lists must be there: a reader opens them all.
    let _: tantivy::IndexReader = index
        .reader_builder()
        .reload_policy(tantivy::ReloadPolicy::Manual)
        .try_into()?;
    Ok((index, fields))
}

/// Moves `index_dir` to `damaged/index` (`index-2`… when taken) and returns where.
fn set_aside(data_dir: &Path, index_dir: &Path) -> Result<PathBuf, StoreError> {
    let damaged = data_dir.join("damaged");
    fs::create_dir_all(&damaged)?;
    let mut to = damaged.join("index");
    let mut n = 1;
    while to.exists() {
        n += 1;
        to = damaged.join(format!("index-{n}"));
    }
    fs::rename(index_dir, &to)?;
    Ok(to)
}

/// Sealed segments that hold records but have no document in the index.
pub(super) fn unindexed(
    segments: &[SegmentInfo],
    searcher: &tantivy::Searcher,
    f: Fields,
) -> Result<Vec<u64>, StoreError> {
    let mut missing = Vec::new();
    for s in segments {
        if s.records > 0 && docs_of(searcher, f, s.id)? == 0 {
            missing.push(s.id);
        }
    }
    Ok(missing)
}

/// Adds the documents of every readable record of `archive` (segment `id`) to the writer, a run
/// of records at a time as `apply` builds a batch's; returns the records of damaged blocks,
/// which get none.
pub(super) fn index_archive(
    writer: &mut IndexWriter<TantivyDocument>,
    f: Fields,
    id: u64,
    archive: &Archive,
) -> Result<u64, StoreError> {
    let mut add_err = None;
    let mut run: Vec<LogRecord> = Vec::with_capacity(RUN);
    let mut first = RecordPtr {
        segment: id,
        ord: 0,
    };
    let mut add = |doc| {
        if let Err(e) = writer.add_document(doc) {
            add_err.get_or_insert(e);
        }
    };
    let lost = Unreadable::default();
    let mut sets = WordSets::default();
    archive.for_each_of_where(
        0..archive.len(),
        None,
        &Everything,
        Some(&lost),
        // Merges index their result while the node takes writes.
        Pace::InTurn,
        |ord, rec| {
            if run.len() == RUN || first.ord + run.len() as u64 != ord {
                schema::documents(&f, &run, first, &mut sets, &mut add);
                run.clear();
            }
            if run.is_empty() {
                first.ord = ord;
            }
            run.push(rec);
            true
        },
    )?;
    schema::documents(&f, &run, first, &mut sets, &mut add);
    if let Some(e) = add_err {
        return Err(e.into());
    }
    if lost.records() > 0 {
        warn!(
            segment = id,
            records = lost.records(),
            "damaged archive blocks not indexed"
        );
    }
    Ok(lost.records())
}

/// Indexes again the sealed segments [`unindexed`] finds; returns how many there were.
pub(super) fn reindex_missing(
    writer: &mut IndexWriter<TantivyDocument>,
    f: Fields,
    segments: &[SegmentInfo],
    searcher: &tantivy::Searcher,
    archive_of: impl Fn(u64) -> Option<std::sync::Arc<crate::catalog::Segment>>,
) -> Result<usize, StoreError> {
    let missing = unindexed(segments, searcher, f)?;
    for id in &missing {
        let Some(seg) = archive_of(*id) else { continue };
        index_archive(writer, f, *id, &seg.archive)?;
        warn!(
            segment = id,
            records = seg.archive.len(),
            "segment had no documents, indexed again from its archive"
        );
    }
    if !missing.is_empty() {
        writer.commit()?;
    }
    Ok(missing.len())
}
