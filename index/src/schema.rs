//! The tantivy schema of the record index, and records to tantivy documents.
//!
//! Nothing is *stored* in tantivy: the records live, compressed, in the segment archives, and
//! each document points into them (`segment`, `ord` fast fields). The index holds two kinds of
//! document:
//!
//! - a **record** document per record: time, level, service, host, source and message words,
//!   answered exactly from the index (counts, histograms and top values need no record read);
//! - a **chunk** document per run of up to [`CHUNK_RECORDS`] consecutive records of one source
//!   in one batch, for the structured field values common in the run. It has `chunk_ord` and
//!   `records` (where the run starts, its length) and no `ord`, which is how readers tell the
//!   kinds apart; searches pass over chunk documents. (Sharing `ord` cost 2.5 MB per million
//!   records: the column would no longer grow by one per document, and bit-packed it is 20
//!   bits each.) A chunk also carries its first record's time, level, service, host and
//!   source: columns that every document has are smaller, and read without looking up which
//!   documents have a value.
//!
//! A structured field value is a term of the records that have it when it is in at most half
//! the records of its run, else of the chunk only ([`documents`]). A value matched on a chunk
//! says that most records of the run have it; each record of the run that lacks it has the
//! value's term in `absent`, so a query for a value or a range is still answered exactly: the
//! chunks' records but those (see the query crate's plans). Field values are many per record
//! and often repeat within a run: one posting per chunk instead of per record took the index
//! of a mixed 1 M-line corpus from 21.5 to 13.1 MB (27.9 MB before variables left the terms,
//! see [`crate::words`]); keeping the values that are not common per record costs 3% of that
//! back, and `absent` terms 1.5%. Message words, the most searched text, are exact per record.
//!
//! | field | type | on | how it is indexed | for |
//! |---|---|---|---|---|
//! | `timestamp` | i64 ns, to the ms ([`indexed_time`]) | both | fast | time ranges, newest first, histograms |
//! | `level`, `service`, `host`, `source` | text, raw | both | term (docs only) + fast | filters, top values; `level:>=warn` is the union of its levels' terms |
//! | `message` | text, [`words`](crate::words) | record, unless it has `word_set` | docs only | full text |
//! | `word_set` | u64: the identity of the message's word set ([`WordSets`]) | record, when defined before | docs only | full text, with `defines_word_set` |
//! | `defines_word_set` | u64: the identity of the message's word set | record that defines it | fast | full text: a word's sets |
//! | `fields` | JSON, [`values`](crate::words::Values), numbers as [buckets](crate::numbers), dots expanded | both | docs only | `http.status:503` |
//! | `segment` | u64 | both | fast | the archive segment |
//! | `ord` | u64 | record | fast | the record's place in the archive |
//! | `chunk_ord`, `records` | u64 | chunk | fast | the chunk's first record and length |
//! | `absent` | bytes: a `fields` term | both | docs only | the chunk's common values a record lacks; a path with several |
//!
//! Message words are per record, but a record whose word set a document of its segment
//! already defines has only the set's identity ([`WordSets`]): on a 1 M-line corpus the
//! index went from 12.8–13.4 to 8.9 MB, node CPU unchanged.
//!
//! Record ids are not in the index: one unique term per record cost more than a tenth of it.
//! Idempotence and `id:` lookups use the archives' id tables ([`crate::ids`]). Words with a
//! digit and string values with one are left out of the terms (see [`crate::words`]).

use firewatch_ingest::{Level, LogRecord};
use tantivy::schema::{
    BytesOptions, Field, IndexRecordOption, JsonObjectOptions, NumericOptions, Schema,
    TextFieldIndexing, TextOptions,
};
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::{IndexSettings, TantivyDocument};

mod documents;
mod word_sets;
pub use documents::{documents, nothing_under, several_common};
pub use word_sets::{Place, WordSets, MAX_WORD_SETS};

/// The fields of the record index, resolved once.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub timestamp: Field,
    /// The level's place in [`Level`] order, as a fast field, in indexes made before
    /// 2026-11-24 15:00 only: level ranges read the `level` terms, which every index has (a
    /// second level column cost 0.15% of the raw size).
    pub severity: Option<Field>,
    pub level: Field,
    pub service: Field,
    pub host: Field,
    pub source: Field,
    pub message: Field,
    pub fields: Field,
    pub segment: Field,
    pub ord: Field,
    pub chunk_ord: Field,
    pub records: Field,
    /// `None` in indexes made before it existed: common values are then checked per record.
    pub absent: Option<Field>,
    /// `None` in indexes made before word sets (2026-11-25), where every record document
    /// has its message's words.
    pub word_sets: Option<WordSetFields>,
    /// Are numbers held as [buckets](crate::numbers)? Not in indexes made before them
    /// (2026-11-25), which hold every number exactly.
    pub number_buckets: bool,
}

/// The fields of [word sets](WordSets).
#[derive(Debug, Clone, Copy)]
pub struct WordSetFields {
    /// The identity of a record's word set, a term of the records that have no words of their own.
    pub set: Field,
    /// The identity of the set a document defines, a column.
    pub defines: Field,
}

/// The schema of a new index, and its fields.
pub fn build() -> (Schema, Fields) {
    schema(Version::NumberBuckets)
}

/// The schema of indexes made before numbers were held as buckets (2026-11-25), which still
/// open and answer.
pub fn exact_numbers() -> (Schema, Fields) {
    schema(Version::WordSets)
}

/// The schema of indexes made before word sets (2026-11-25), which still open and answer.
pub fn without_word_sets() -> (Schema, Fields) {
    schema(Version::WithoutSeverity)
}

/// The schema of indexes made with `absent` and before `severity` was dropped
/// (2026-11-24), which still open and answer.
pub fn with_severity() -> (Schema, Fields) {
    schema(Version::Absent)
}

/// The schema of indexes made before `absent` (2026-11-24), which still open and answer.
pub fn without_absent() -> (Schema, Fields) {
    schema(Version::First)
}

/// Every schema an index may have been made with, newest first.
pub fn every_version() -> [(Schema, Fields); 5] {
    [
        build(),
        exact_numbers(),
        without_word_sets(),
        with_severity(),
        without_absent(),
    ]
}

/// The versions of the schema, oldest first: what each added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Version {
    First,
    /// `absent`.
    Absent,
    /// No `severity` column.
    WithoutSeverity,
    /// `word_set`, `defines_word_set`.
    WordSets,
    /// Numbers as [buckets](crate::numbers), marked by a `number_buckets` field that holds
    /// nothing.
    NumberBuckets,
}

fn schema(version: Version) -> (Schema, Fields) {
    let with_absent = version >= Version::Absent;
    let with_severity = version < Version::WithoutSeverity;
    let with_word_sets = version >= Version::WordSets;
    let mut b = Schema::builder();
    // No field norms: hits are ordered by time, not relevance, and norms cost a byte per
    // document and field.
    let raw_basic = TextFieldIndexing::default()
        .set_tokenizer("raw")
        .set_fieldnorms(false)
        .set_index_option(IndexRecordOption::Basic);
    let keyword = TextOptions::default()
        .set_indexing_options(raw_basic.clone())
        .set_fast("raw");
    let fast = NumericOptions::default().set_fast();
    let timestamp = b.add_i64_field("timestamp", fast.clone());
    let severity = with_severity.then(|| b.add_u64_field("severity", fast.clone()));
    let level = b.add_text_field("level", keyword.clone());
    let service = b.add_text_field("service", keyword.clone());
    let host = b.add_text_field("host", keyword.clone());
    let source = b.add_text_field("source", keyword);
    let message = b.add_text_field(
        "message",
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(crate::words::TOKENIZER)
                .set_fieldnorms(false)
                .set_index_option(IndexRecordOption::Basic),
        ),
    );
    let fields = b.add_json_field(
        "fields",
        JsonObjectOptions::default()
            .set_indexing_options(raw_basic.set_tokenizer(crate::words::VALUE_TOKENIZER))
            .set_expand_dots_enabled(),
    );
    let segment = b.add_u64_field("segment", fast.clone());
    let ord = b.add_u64_field("ord", fast.clone());
    let chunk_ord = b.add_u64_field("chunk_ord", fast.clone());
    let records = b.add_u64_field("records", fast);
    let absent =
        with_absent.then(|| b.add_bytes_field("absent", BytesOptions::default().set_indexed()));
    let word_sets = with_word_sets.then(|| WordSetFields {
        set: b.add_u64_field("word_set", NumericOptions::default().set_indexed()),
        defines: b.add_u64_field("defines_word_set", NumericOptions::default().set_fast()),
    });
    let number_buckets = version >= Version::NumberBuckets;
    if number_buckets {
        b.add_u64_field("number_buckets", NumericOptions::default());
    }
    let fields_ = Fields {
        timestamp,
        severity,
        level,
        service,
        host,
        source,
        message,
        fields,
        segment,
        ord,
        chunk_ord,
        records,
        absent,
        word_sets,
        number_buckets,
    };
    (b.build(), fields_)
}

/// Settings of a new index. Nothing is stored in tantivy's doc store (records live in the
/// archive), yet it keeps a 4-byte offset per document, 0, 1, 2, … for empty documents. Only
/// zstd's slowest levels see through that sequence: on a 1 M-line corpus the store took
/// 2.5 MB at levels 3 to 16 and 1.0 MB at level 18, for about 2% more node CPU end to end,
/// merges included (blocks hold about 100 k documents, compressed off the indexing threads),
/// though a perf profile of ingest puts the compression at 6% of node CPU. It is never read,
/// so it costs a query nothing.
pub fn index_settings() -> IndexSettings {
    IndexSettings {
        docstore_compression: Compressor::Zstd(ZstdCompressor {
            compression_level: Some(18),
        }),
        docstore_blocksize: 1 << 20,
        ..IndexSettings::default()
    }
}

/// The `severity` value of a level: its position in [`Level::ALL`] (trace 0 … fatal 5).
fn severity(level: Level) -> u64 {
    Level::ALL.iter().position(|l| *l == level).unwrap_or(2) as u64
}

/// How finely the index tells times apart: a millisecond, in nanoseconds.
pub const TIME_PRECISION: i64 = 1_000_000;

/// A record's time as indexed: floored to the millisecond (the archive keeps it exact).
///
/// tantivy stores a column in multiples of its values' common divisor. Times read from logs are
/// whole milliseconds or seconds, but one record stamped with the time it was read (a line
/// without a time of its own) has nanoseconds, and makes every time of its index segment cost
/// 20 bits more: the column took 32.1 MB on a 10 M-line corpus with 0.1% such lines, 3.3 bytes
/// per record. Queries see times to the millisecond: ranges are widened to whole milliseconds
/// ([`widen_range`]), and records of one millisecond come in the order they were stored.
pub fn indexed_time(t: i64) -> i64 {
    // Saturating: a hostile time near i64::MIN must not overflow.
    t.div_euclid(TIME_PRECISION).saturating_mul(TIME_PRECISION)
}

/// A time range (`start` inclusive, `end` exclusive) widened to whole milliseconds, the
/// precision of the index: an indexed time is in the widened range exactly when the record's
/// time is in it.
pub fn widen_range(start: Option<i64>, end: Option<i64>) -> (Option<i64>, Option<i64>) {
    // Past the last whole millisecond an i64 holds, the end bounds nothing.
    let up = |t: i64| {
        let floor = indexed_time(t);
        if floor == t {
            Some(t)
        } else {
            floor.checked_add(TIME_PRECISION)
        }
    };
    (start.map(indexed_time), end.and_then(up))
}

/// Where a record lives: its segment and its ordinal in the segment's archive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordPtr {
    pub segment: u64,
    pub ord: u64,
}

/// Most records one chunk document covers: fewer cost postings, more cost candidate checks.
pub const CHUNK_RECORDS: u64 = 64;

/// The record document of a record stored at `ptr`, without its fields.
fn document(f: &Fields, rec: &LogRecord, ptr: RecordPtr, sets: &mut WordSets) -> TantivyDocument {
    let mut doc = record_fields(f, rec);
    let place = match f.word_sets {
        Some(_) => sets.place_message(ptr.segment, &rec.message),
        None => Place::Words,
    };
    match (place, f.word_sets) {
        (Place::Refer(set), Some(w)) => doc.add_u64(w.set, set),
        (Place::Define(set), Some(w)) => {
            doc.add_text(f.message, &rec.message);
            doc.add_u64(w.defines, set);
        }
        _ => doc.add_text(f.message, &rec.message),
    }
    doc.add_u64(f.segment, ptr.segment);
    doc.add_u64(f.ord, ptr.ord);
    doc
}

/// A document with a record's time, level, service, host and source.
fn record_fields(f: &Fields, rec: &LogRecord) -> TantivyDocument {
    let mut doc = TantivyDocument::new();
    doc.add_i64(f.timestamp, indexed_time(rec.timestamp));
    if let Some(field) = f.severity {
        doc.add_u64(field, severity(rec.level));
    }
    doc.add_text(f.level, rec.level.as_str());
    doc.add_text(f.service, &rec.service);
    doc.add_text(f.host, &rec.host);
    doc.add_text(f.source, &rec.source);
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_follows_level_order() {
        assert_eq!(severity(Level::Trace), 0);
        assert_eq!(severity(Level::Info), 2);
        assert_eq!(severity(Level::Fatal), 5);
    }

    proptest::proptest! {
        #[test]
        fn a_widened_range_holds_an_indexed_time_exactly_when_it_holds_the_time(
            t in proptest::prelude::any::<i64>(),
            start in proptest::option::of(proptest::prelude::any::<i64>()),
            end in proptest::option::of(proptest::prelude::any::<i64>()),
        ) {
            let (s, e) = widen_range(start, end);
            let holds = |t: i64| s.is_none_or(|s| t >= s) && e.is_none_or(|e| t < e);
            proptest::prop_assert_eq!(holds(indexed_time(t)), holds(t));
            // Widening never drops a time the range held.
            let held = start.is_none_or(|s| t >= s) && end.is_none_or(|e| t < e);
            proptest::prop_assert!(!held || holds(t));
        }
    }

    #[test]
    fn indexed_times_are_whole_milliseconds() {
        assert_eq!(
            indexed_time(1_795_512_826_767_876_614),
            1_795_512_826_767_000_000
        );
        assert_eq!(indexed_time(-1), -TIME_PRECISION);
        assert_eq!(indexed_time(i64::MIN), i64::MIN);
        assert_eq!(indexed_time(i64::MAX), i64::MAX - i64::MAX % TIME_PRECISION);
        assert_eq!(
            widen_range(Some(1_500_000), Some(2_500_000)),
            (Some(1_000_000), Some(3_000_000))
        );
        assert_eq!(
            widen_range(Some(2_000_000), Some(3_000_000)),
            (Some(2_000_000), Some(3_000_000))
        );
        assert_eq!(widen_range(None, Some(i64::MAX)), (None, None));
    }

    #[test]
    fn nothing_is_stored() {
        let (schema, _) = build();
        for (_, entry) in schema.fields() {
            assert!(!entry.is_stored(), "{} is stored", entry.name());
        }
    }
}
