//! Records to tantivy documents: one per record, one per chunk of records. Pure.
//!
//! A run of up to [`CHUNK_RECORDS`] consecutive records of one source is a chunk. Each field
//! value of the run (each leaf of the records' fields, as a term of the `fields` JSON field)
//! goes to one place:
//!
//! - a value in at most half the records of the run is a term of those records' own
//!   documents: a query for it is answered exactly, without reading a record;
//! - a value in more than half is a term of the chunk document only, once, and each record
//!   of the run that lacks it has its term in `absent` ([`nothing_under`] its path or a
//!   path above instead, when it has no value there at all): a query for the value takes
//!   the chunk's records but those, still exact. A range or a prefix takes the records of the
//!   chunks with a value in it but those with an `absent` term in it, which is exact when the
//!   chunk has one common value at the path; a chunk with several (arrays) says so
//!   ([`several_common`]), and its records are candidates, checked (more than half of them
//!   hold a value, so fewer than two checks per match). `path:*` leaves out the records with
//!   nothing under the path.
//!
//! Posting the common values once per chunk keeps the index small (an access log's
//! `status: 200` would otherwise cost a posting per record); posting the others per record
//! keeps the questions people ask of them (`status:502`, `duration_ms:>5000`) from checking
//! every record of every chunk that holds one. Which place a value takes only decides how it
//! is found: a query looks in both. On a mixed 1 M-line corpus, this split cost 3% more index
//! than chunk postings alone (0.46 MB) and took `http.status:502` from 110 to 4 ms; the
//! `absent` terms cost 1.5% more (0.19 MB) and took `http.method:GET` (305 k hits) from 522
//! to 29 ms, `http.status:[200 TO 299]` from 528 to 27 ms.

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};

use firewatch_ingest::LogRecord;
use serde_json::Value as JsonValue;
use tantivy::schema::document::{ReferenceValue, ReferenceValueLeaf, Value};
use tantivy::TantivyDocument;

use super::{document, record_fields, Fields, RecordPtr, WordSets, CHUNK_RECORDS};

mod leaves;
use leaves::{Canon, Leaf, Leaves, SEGMENT_SEP};

/// The `absent` term of a chunk with several common values at a path (`path` as tantivy
/// writes it, end-of-path byte included). No value term has it: `*` is no type's code.
pub fn several_common(path: &[u8]) -> Vec<u8> {
    let mut term = path.to_vec();
    term.push(b'*');
    term
}

/// The `absent` term of a record with no value at or under a path (`path` as tantivy writes
/// it, end-of-path byte included) where its chunk has a common value, the highest such path:
/// the record has none of the common values at or under any path below it either, and no
/// term for those. No value term has it.
pub fn nothing_under(path: &[u8]) -> Vec<u8> {
    let mut term = path.to_vec();
    term.push(b'>');
    term
}

/// A path as tantivy writes it in terms, with its end-of-path byte.
fn ended(path: &[u8]) -> Vec<u8> {
    let mut ended = path.to_vec();
    ended.push(0);
    ended
}

/// Hands `add` the documents of `records`, stored from `first` on at consecutive ordinals:
/// each run's record documents, then its chunk document. `sets` are the word sets the
/// segment's documents so far define; keep it from one call to the next of a segment.
pub fn documents<R: Borrow<LogRecord>>(
    f: &Fields,
    records: &[R],
    first: RecordPtr,
    sets: &mut WordSets,
    add: &mut dyn FnMut(TantivyDocument),
) {
    let mut leaves = Leaves::new(f.number_buckets);
    let mut start = 0;
    while start < records.len() {
        let source = &records[start].borrow().source;
        let len = records[start..]
            .iter()
            .map(Borrow::borrow)
            .take(CHUNK_RECORDS as usize)
            .take_while(|r: &&LogRecord| r.source == *source)
            .count();
        let run = &records[start..start + len];
        let ptr = |i: usize| RecordPtr {
            segment: first.segment,
            ord: first.ord + (start + i) as u64,
        };
        leaves.collect(run);
        let rare = (len / 2).max(1);
        let common: Vec<&Leaf> = leaves.common(rare);
        let lackable = if f.absent.is_some() { &common[..] } else { &[] };
        // The common values a record can lack, as terms (strings with a digit are all one
        // term, always checked: no use saying which records lack it).
        let markers: Vec<(&Leaf, Vec<u8>)> = lackable
            .iter()
            .filter(|l| !matches!(l.canon, Canon::Digits))
            .map(|l| (*l, leaves.term(l)))
            .collect();
        // The paths with a common value and the objects holding them, which a record can
        // have nothing under.
        let mut paths: Vec<&[u8]> = Vec::new();
        let mut seen_paths: HashSet<&[u8]> = HashSet::new();
        for leaf in lackable {
            let path = leaves.path_bytes(leaf);
            for end in segment_ends(path) {
                if seen_paths.insert(&path[..end]) {
                    paths.push(&path[..end]);
                }
            }
        }
        for (i, rec) in run.iter().map(Borrow::borrow).enumerate() {
            let mut doc = document(f, rec, ptr(i), sets);
            for leaf in leaves.of(i).filter(|l| l.count <= rare) {
                doc.add_field_value(
                    f.fields,
                    Path(leaves.path(leaf), leaf.value, bucket(f, leaf)),
                );
            }
            if let Some(absent) = f.absent {
                let holds = Holds::new(&leaves, i);
                // Nothing under a path says nothing under any path below it: only the
                // highest is a term.
                for path in &paths {
                    let parent = path.iter().rposition(|b| *b == SEGMENT_SEP);
                    if !holds.under(path) && parent.is_none_or(|end| holds.under(&path[..end])) {
                        doc.add_bytes(absent, nothing_under(&ended(path)).as_slice());
                    }
                }
                for (common, term) in &markers {
                    if !holds.term(common) && holds.under(leaves.path_bytes(common)) {
                        doc.add_bytes(absent, term.as_slice());
                    }
                }
            }
            add(doc);
        }
        // Chunks carry their first record's time, level, service, host and source: when every
        // document has a value, tantivy reads a column without first looking up which
        // documents have one. Searches leave chunk documents out (they have `records`).
        let mut chunk = record_fields(f, run[0].borrow());
        chunk.add_u64(f.segment, first.segment);
        chunk.add_u64(f.chunk_ord, ptr(0).ord);
        chunk.add_u64(f.records, len as u64);
        // A path with several common values: a record lacking one may have another, so a
        // range over them cannot leave out the records with any `absent` term in it.
        if let Some(absent) = f.absent {
            let mut at_path: HashMap<&[u8], usize> = HashMap::new();
            for (leaf, _) in &markers {
                *at_path.entry(leaves.path_bytes(leaf)).or_default() += 1;
            }
            for (path, _) in at_path.into_iter().filter(|(_, n)| *n > 1) {
                chunk.add_bytes(absent, several_common(&ended(path)).as_slice());
            }
        }
        for leaf in &common {
            chunk.add_field_value(
                f.fields,
                Path(leaves.path(leaf), leaf.value, bucket(f, leaf)),
            );
        }
        add(chunk);
        start += len;
    }
}

/// Where each segment of `path` ends (as tantivy writes paths), the whole path last.
fn segment_ends(path: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let seps = path.iter().enumerate().filter(|(_, b)| **b == SEGMENT_SEP);
    seps.map(|(n, _)| n).chain([path.len()])
}

/// Records with more leaves than this have theirs looked up through hash tables.
const SCAN_LEAVES: usize = 64;

/// What one record of a run holds, asked once per common value and per path. A record with
/// few leaves is scanned each time; one with many is indexed first (scans made a run of
/// records with 40 k fields each cost a minute of the apply thread).
struct Holds<'a, 'r> {
    leaves: &'a Leaves<'r>,
    i: usize,
    tables: Option<Tables<'a, 'r>>,
}

/// A record's leaves by key, and every path it has a value at or under.
struct Tables<'a, 'r> {
    by_key: HashMap<u64, Vec<&'a Leaf<'r>>>,
    under: HashSet<&'a [u8]>,
}

impl<'a, 'r> Holds<'a, 'r> {
    fn new(leaves: &'a Leaves<'r>, i: usize) -> Holds<'a, 'r> {
        Holds::with_tables(leaves, i, leaves.of(i).count() > SCAN_LEAVES)
    }

    fn with_tables(leaves: &'a Leaves<'r>, i: usize, tables: bool) -> Holds<'a, 'r> {
        let tables = tables.then(|| {
            let mut by_key: HashMap<u64, Vec<&Leaf>> = HashMap::new();
            let mut under = HashSet::new();
            for l in leaves.of(i) {
                by_key.entry(l.key).or_default().push(l);
                let path = leaves.path_bytes(l);
                under.extend(segment_ends(path).map(|end| &path[..end]));
            }
            Tables { by_key, under }
        });
        Holds { leaves, i, tables }
    }

    /// Has the record a value at or under `path` (a path as tantivy writes it)?
    fn under(&self, path: &[u8]) -> bool {
        match &self.tables {
            Some(t) => t.under.contains(path),
            None => self.leaves.of(self.i).any(|l| {
                let p = self.leaves.path_bytes(l);
                p.starts_with(path) && p.get(path.len()).is_none_or(|b| *b == SEGMENT_SEP)
            }),
        }
    }

    /// Has the record the term of `leaf`?
    fn term(&self, leaf: &Leaf) -> bool {
        match &self.tables {
            Some(t) => t
                .by_key
                .get(&leaf.key)
                .is_some_and(|same| same.iter().any(|l| self.leaves.same_term(l, leaf))),
            None => self
                .leaves
                .of(self.i)
                .any(|l| self.leaves.same_term(l, leaf)),
        }
    }
}

/// The term a numeric leaf is indexed as, in an index of [number buckets](crate::numbers):
/// the one [`Leaves`] worked out already.
fn bucket<'r>(f: &Fields, leaf: &Leaf<'r>) -> Option<Canon<'r>> {
    (f.number_buckets && leaf.value.is_number()).then_some(leaf.canon)
}

/// A leaf of a record's fields as tantivy reads a document value, under its path and
/// borrowed: `{"http": {"status": 503}}` for `(["http", "status"], 503)`; a number as its
/// [bucket](crate::numbers)'s term when one is given. (Converting fields into tantivy's owned
/// value meant cloning every key and string.)
#[derive(Debug, Clone, Copy)]
struct Path<'a>(&'a [&'a str], &'a JsonValue, Option<Canon<'a>>);

impl<'a> Value<'a> for Path<'a> {
    type ArrayIter = std::iter::Empty<Path<'a>>;
    type ObjectIter = std::iter::Once<(&'a str, Path<'a>)>;

    fn as_value(&self) -> ReferenceValue<'a, Self> {
        match *self {
            Path([first, rest @ ..], v, bucket) => {
                ReferenceValue::Object(std::iter::once((*first, Path(rest, v, bucket))))
            }
            Path([], _, Some(bucket)) => ReferenceValue::Leaf(match bucket {
                Canon::I64(i) => ReferenceValueLeaf::I64(i),
                Canon::U64(u) => ReferenceValueLeaf::U64(u),
                Canon::F64(x) => ReferenceValueLeaf::F64(x),
                _ => ReferenceValueLeaf::Null,
            }),
            // Leaves exactly as tantivy reads serde_json values (numbers, RFC 3339 dates).
            Path([], v, None) => match v.as_value() {
                ReferenceValue::Leaf(leaf) => ReferenceValue::Leaf(leaf),
                _ => ReferenceValue::Leaf(ReferenceValueLeaf::Null),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use firewatch_ingest::Level;
    use tantivy::schema::OwnedValue;
    use tantivy::{DocSet, Index, TERMINATED};

    use super::*;
    use crate::schema::build;

    fn rec(i: usize, source: &str, fields: JsonValue) -> LogRecord {
        LogRecord {
            id: format!("r{i}"),
            timestamp: i as i64,
            observed: i as i64,
            service: "api".into(),
            host: "h".into(),
            source: source.into(),
            level: Level::Info,
            level_raw: None,
            message: format!("m {i}"),
            fields: fields.as_object().cloned().unwrap(),
        }
    }

    type Postings = BTreeMap<Vec<u8>, Vec<u32>>;

    /// Each term of the `fields` and the `absent` field in a one-segment index of `docs`,
    /// and the documents that have it.
    fn terms(docs: Vec<TantivyDocument>) -> (Postings, Postings) {
        let (schema, f) = build();
        let index = Index::create_in_ram(schema);
        crate::words::register(&index);
        let mut writer = index.writer_with_num_threads(1, 15_000_000).unwrap();
        for doc in docs {
            writer.add_document(doc).unwrap();
        }
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        let [segment] = searcher.segment_readers() else {
            panic!("one segment")
        };
        let postings = |field| {
            let inverted = segment.inverted_index(field).unwrap();
            let mut stream = inverted.terms().stream().unwrap();
            let mut out = BTreeMap::new();
            while stream.advance() {
                let mut postings = inverted
                    .read_postings_from_terminfo(stream.value(), Default::default())
                    .unwrap();
                let mut docs = Vec::new();
                while postings.doc() != TERMINATED {
                    docs.push(postings.doc());
                    postings.advance();
                }
                out.insert(stream.key().to_vec(), docs);
            }
            out
        };
        (postings(f.fields), postings(f.absent.unwrap()))
    }

    /// `v` with each number replaced by its bucket's term.
    fn bucketed(v: &JsonValue) -> JsonValue {
        use tantivy::columnar::NumericalValue as N;
        match v {
            JsonValue::Object(m) => {
                JsonValue::Object(m.iter().map(|(k, v)| (k.clone(), bucketed(v))).collect())
            }
            JsonValue::Array(items) => JsonValue::Array(items.iter().map(bucketed).collect()),
            JsonValue::Number(n) => {
                let value = match (n.as_i64(), n.as_u64()) {
                    (Some(i), _) => N::I64(i),
                    (_, Some(u)) => N::U64(u),
                    _ => N::F64(n.as_f64().unwrap()),
                };
                match crate::numbers::indexed(value).term() {
                    N::I64(i) => i.into(),
                    N::U64(u) => u.into(),
                    N::F64(x) => x.into(),
                }
            }
            other => other.clone(),
        }
    }

    /// Is a `fields` term the one of strings with a digit, or a date (both found loosely)?
    fn loose(term: &[u8]) -> bool {
        let end = term.iter().position(|b| *b == 0).unwrap();
        matches!(&term[end + 1..], [b's'] | [b'd', ..])
    }

    #[test]
    fn rare_values_are_terms_of_their_records_and_common_ones_of_the_chunk() {
        let (_, f) = build();
        let records: Vec<LogRecord> = (0..20)
            .map(|i| {
                rec(
                    i,
                    "/var/log/a.log",
                    serde_json::json!({
                        "http": {"status": if i == 7 { 502 } else { 200 }, "ms": i as f64 + 0.5},
                        "tags": ["a", {"b": i % 2 == 0}, [format!("t{i}")]],
                        "at": "2026-11-23T10:00:00Z",
                        "big": u64::MAX,
                        "path": if i < 3 { "/api/rare" } else { "/api/common" },
                        // One term: tantivy makes integral floats integers.
                        "n": if i % 3 == 0 { serde_json::json!(200.0) } else { serde_json::json!(200) },
                        "dotted.key": if i < 15 { "v" } else { "w" },
                        "flag": i < 12,
                        // Two common values at one path.
                        "multi": if i == 0 { vec!["x"] } else { vec!["x", "y"] },
                        "code": if i < 16 { serde_json::json!(format!("E{i}")) } else { JsonValue::Null },
                        "obj": if i < 15 { serde_json::json!({"a": "q"}) } else { serde_json::json!({}) },
                        // One path, written two ways: nobody lacks `k.j: z`.
                        "k": if i % 2 == 0 { serde_json::json!({"j": "z"}) } else { JsonValue::Null },
                        "k.j": if i % 2 == 1 { "z" } else { "" },
                        "none": null,
                        "empty": {},
                    }),
                )
            })
            .collect();
        // Each record alone, its whole fields as tantivy reads them owned, numbers as their
        // buckets.
        let (reference, _) = terms(
            records
                .iter()
                .map(|r| {
                    let mut doc = TantivyDocument::new();
                    let fields = bucketed(&JsonValue::Object(r.fields.clone()));
                    doc.add_field_value(f.fields, &OwnedValue::from(fields));
                    doc
                })
                .collect(),
        );
        let mut docs = Vec::new();
        let first = RecordPtr {
            segment: 3,
            ord: 100,
        };
        documents(&f, &records, first, &mut WordSets::default(), &mut |d| {
            docs.push(d)
        });
        assert_eq!(docs.len(), 21, "20 records and their chunk");
        let chunk = 20;
        let (got, absent) = terms(docs);
        assert!(reference.len() > 10);
        let mut lacking = BTreeMap::new();
        for (term, holders) in &reference {
            let want = if holders.len() * 2 <= records.len() {
                holders.clone()
            } else {
                if !loose(term) {
                    let others = (0..chunk).filter(|d| !holders.contains(d)).collect();
                    lacking.insert(term.clone(), others);
                }
                vec![chunk]
            };
            assert_eq!(got.get(term), Some(&want), "term {term:?}");
        }
        assert_eq!(got.len(), reference.len(), "no term of its own");
        // Records lacking a common value say so; those with none to say have no term.
        lacking.retain(|_, docs: &mut Vec<u32>| !docs.is_empty());
        // Records with nothing at a path with a common value say so (here strings with a
        // digit, which have no term of their own in `absent`).
        lacking.insert(nothing_under(b"code\0"), vec![16, 17, 18, 19]);
        // Only the highest path a record has nothing under, and no value term below it.
        lacking.insert(nothing_under(b"obj\0"), vec![15, 16, 17, 18, 19]);
        assert!(lacking.remove(b"obj\x01a\0sq".as_slice()).is_some());
        // And the chunk says `multi` has several (not `tags`: `a`, and strings with a digit).
        lacking.insert(several_common(b"multi\0"), vec![chunk]);
        assert_eq!(absent, lacking);
        // `http.status`, `path`, `dotted.key`, `flag`, `multi` (`y`), nothing at `code` and
        // `obj`, and the chunk; not `n` (200 and 200.0 are one term), nor `tags` (all have
        // "a"), nor `k.j`.
        assert_eq!(lacking.len(), 8, "{lacking:?}");
    }

    #[test]
    fn a_chunk_ends_at_its_size_and_at_a_change_of_source() {
        let (_, f) = build();
        let mut records: Vec<LogRecord> = (0..70)
            .map(|i| rec(i, "a", serde_json::json!({"k": 1})))
            .collect();
        records.extend((70..73).map(|i| rec(i, "b", serde_json::json!({}))));
        let mut chunks = Vec::new();
        let mut ords = Vec::new();
        let first = RecordPtr { segment: 1, ord: 5 };
        documents(&f, &records, first, &mut WordSets::default(), &mut |d| {
            let get = |field| d.get_first(field).and_then(|v| v.as_u64());
            match get(f.records) {
                Some(n) => chunks.push((get(f.chunk_ord).unwrap(), n)),
                None => ords.push(get(f.ord).unwrap()),
            }
        });
        assert_eq!(chunks, [(5, 64), (69, 6), (75, 3)]);
        assert_eq!(ords, (5..78).collect::<Vec<u64>>());
    }

    #[test]
    fn a_record_with_many_leaves_is_looked_up_as_it_is_scanned() {
        let wide = |i: usize| {
            let mut fields = serde_json::Map::new();
            for k in 0..150 {
                // Common, rare, and missing values; nested paths; dotted keys; arrays.
                let v = match (k + i) % 7 {
                    0 => JsonValue::Null,
                    1 => serde_json::json!(format!("v{}", k % 3)),
                    2 => serde_json::json!({"in": k, "deep": {"x": i % 2 == 0}}),
                    3 => serde_json::json!(["a", k, {"b": "c"}]),
                    _ => serde_json::json!(k * 10 + i % 2),
                };
                fields.insert(format!("f{k}"), v);
            }
            fields.insert("g.h".into(), serde_json::json!(i));
            rec(i, "a", JsonValue::Object(fields))
        };
        let records: Vec<LogRecord> = (0..6).map(wide).collect();
        let mut leaves = Leaves::default();
        leaves.collect(&records);
        let mut paths: Vec<Vec<u8>> = vec![b"nowhere".to_vec(), b"f1\x01in".to_vec()];
        let all: Vec<&Leaf> = (0..records.len()).flat_map(|i| leaves.of(i)).collect();
        for l in &all {
            let p = leaves.path_bytes(l);
            paths.extend(segment_ends(p).map(|end| p[..end].to_vec()));
            paths.push([p, b"\x01below"].concat());
        }
        for i in 0..records.len() {
            assert!(leaves.of(i).count() > SCAN_LEAVES);
            let (scan, tables) = (
                Holds::with_tables(&leaves, i, false),
                Holds::with_tables(&leaves, i, true),
            );
            for p in &paths {
                assert_eq!(scan.under(p), tables.under(p), "record {i} under {p:?}");
            }
            for l in &all {
                assert_eq!(scan.term(l), tables.term(l), "record {i}, {:?}", l.value);
            }
            // Each record holds its own leaves' terms, and something under their paths.
            assert!(leaves
                .of(i)
                .all(|l| tables.term(l) && tables.under(leaves.path_bytes(l))));
        }
    }
}
