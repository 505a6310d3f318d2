//! [`Query`] → tantivy query over the node's index schema.
//!
//! A [`Plan`] is either *exact* (the tantivy query matches precisely what
//! [`matches`](crate::lang::matches) accepts) or a *candidate set*: a superset that every hit
//! must then be checked against with the evaluator. Time, level, service, host, source and
//! message words are on the record documents. The index keeps no word positions, so a phrase
//! is a candidate set: the records with all its words, each checked for the words in order.
//! A structured field value is a term of the records that have it, or, when common in its
//! chunk, of the chunk document only (see `firewatch_index::schema`): such a predicate runs on
//! the chunks first. The plan stays exact: the records it matches, plus the matching chunks'
//! records ([`RecordsIn`]) but those whose `absent` field says they lack the value (every
//! value of a range, when the chunk has one common value at the path; anything at or under
//! the path, for `path:*`). Chunks with several common values at the path (arrays) in a range
//! and indexes made before `absent` give candidates instead: exact when no chunk matches,
//! else those records plus the chunks' records, a candidate set. `/regex/` is a candidate
//! set too (everything), and a negated candidate set widens to everything, because the
//! complement of a superset is not a superset.
//!
//! Words and string values with a digit are not terms (see `firewatch_index::words`): a word
//! with one is looked up through its stem, a value with one through the empty term its path
//! gets, and both become [`Needles`] that rule out archive blocks and records before the
//! records are checked.
//!
//! Record ids are not indexed: `id:<value>` is looked up in the archives' id tables
//! ([`Locate`]) and becomes a query for that one record's pointer.
//!
//! Ranges over structured fields run on the inverted index: tantivy stores JSON numbers in a
//! canonical typed form (integral values as i64, larger as u64, the rest as f64) whose byte
//! encoding sorts like the numbers, so a numeric range is a union of three term ranges.

use std::ops::Bound as B;
use std::sync::Arc;

use firewatch_index::schema::{nothing_under, several_common, severity};
use firewatch_index::words::{self, STEM_MARK};
use firewatch_index::{Fields, RecordPtr, StoreError};
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, InvertedIndexRangeQuery, Occur, Query as TQuery,
    RangeQuery, TermQuery,
};
use tantivy::schema::{Field as TField, IndexRecordOption};
use tantivy::{DateTime, Term};

use super::chunks::{ChunkHits, Needles, RecordsIn};
use super::scan::{split, union_all, DocMaps, RecordSet};
use crate::lang::{tokens, Bound, Field, Predicate, Query, RangeBounds, Scalar, TextMatch};

/// A tantivy query, whether its hits need checking with the evaluator, and literals every
/// match contains.
pub struct Plan {
    pub query: Box<dyn TQuery>,
    pub exact: bool,
    pub needles: Needles,
}

impl Plan {
    fn exact(query: impl TQuery) -> Plan {
        Plan {
            query: Box::new(query),
            exact: true,
            needles: Needles::default(),
        }
    }

    fn exact_boxed(query: Box<dyn TQuery>) -> Plan {
        Plan {
            query,
            exact: true,
            needles: Needles::default(),
        }
    }

    fn candidates_all() -> Plan {
        Plan {
            query: Box::new(AllQuery),
            exact: false,
            needles: Needles::default(),
        }
    }
}

/// Where the record with an id is stored (the snapshot's [`locate`](firewatch_index::Snapshot::locate)).
pub type Locate<'a> = &'a dyn Fn(&str) -> Result<Option<RecordPtr>, StoreError>;

/// The records of the documents a query matches ([`ChunkHits`]); `None` when the search failed.
pub type Chunks<'a> = &'a dyn Fn(&dyn TQuery, ChunkHits) -> Option<RecordSet>;

/// What translating needs from the index besides its fields.
#[derive(Clone, Copy)]
pub struct Lookups<'a> {
    pub locate: Locate<'a>,
    pub chunks: Chunks<'a>,
    /// Where each tantivy segment's record documents point.
    pub maps: &'a DocMaps,
}

impl Lookups<'_> {
    fn records_in(&self, set: RecordSet) -> RecordsIn {
        RecordsIn {
            set: Arc::new(set),
            maps: self.maps.clone(),
        }
    }
}

/// Translates a parsed query for the index with fields `f`.
pub fn translate(q: &Query, f: &Fields, at: Lookups<'_>) -> Plan {
    match q {
        Query::All => Plan::exact(AllQuery),
        Query::And(items) | Query::Or(items) => {
            let and = matches!(q, Query::And(_));
            let occur = if and { Occur::Must } else { Occur::Should };
            let plans: Vec<Plan> = items.iter().map(|i| translate(i, f, at)).collect();
            let exact = plans.iter().all(|p| p.exact);
            let mut needles = Needles::default();
            let mut parts = Vec::with_capacity(plans.len());
            for p in plans {
                // A match of an alternative need not contain another's needles.
                if and {
                    needles.extend(p.needles);
                }
                parts.push((occur, p.query));
            }
            Plan {
                query: Box::new(BooleanQuery::new(parts)),
                exact,
                needles,
            }
        }
        Query::Not(inner) => {
            let inner = translate(inner, f, at);
            if !inner.exact {
                return Plan::candidates_all();
            }
            Plan::exact(BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery)),
                (Occur::MustNot, inner.query),
            ]))
        }
        Query::Leaf(field, pred) => leaf(field, pred, f, at),
    }
}

fn leaf(field: &Field, pred: &Predicate, f: &Fields, at: Lookups<'_>) -> Plan {
    let keyword_field = match field {
        Field::Message => return message(pred, f.message),
        Field::Level => return level(pred, f),
        Field::Path(path) => return structured(path, pred, f.fields, f.absent, at),
        Field::Service => f.service,
        Field::Host => f.host,
        Field::Source => f.source,
        Field::Id => return id(pred, f, at.locate),
    };
    match pred {
        Predicate::Exists => bytes_range(keyword_field, B::Excluded(Vec::new()), B::Unbounded),
        Predicate::Text(TextMatch::Exact(v)) => term(Term::from_field_text(keyword_field, v)),
        Predicate::Text(TextMatch::Prefix(p)) => prefix(keyword_field, p.as_bytes().to_vec()),
        Predicate::Range(r) => {
            let text = |b: &Bound| match b {
                Bound::Unbounded => Some(B::Unbounded),
                Bound::Included(Scalar::Text(t)) => Some(B::Included(t.as_bytes().to_vec())),
                Bound::Excluded(Scalar::Text(t)) => Some(B::Excluded(t.as_bytes().to_vec())),
                _ => None,
            };
            match (text(&r.lower), text(&r.upper)) {
                (Some(B::Unbounded), Some(B::Unbounded)) => Plan::exact(AllQuery),
                (Some(lo), Some(hi)) => bytes_range(keyword_field, lo, hi),
                _ => Plan::exact(EmptyQuery),
            }
        }
        Predicate::Level(_) | Predicate::Regex(_) => Plan::exact(EmptyQuery),
    }
}

/// A structured predicate over the `fields` terms of one path: on record documents, `terms`,
/// `ranges` (of term bytes) and `exists` match precisely the records the predicate accepts,
/// and `loose` some that may; on chunk documents either only says that some record of the
/// chunk may.
struct Structured {
    /// The path's term bytes, end-of-path byte included.
    path: Vec<u8>,
    terms: Vec<Term>,
    ranges: Vec<ByteRange>,
    /// Any value at or under the path (`http:*` for `http.status`).
    exists: Option<ByteRange>,
    loose: Option<Box<dyn TQuery>>,
    needles: Needles,
}

/// Bounds of term bytes.
type ByteRange = (B<Vec<u8>>, B<Vec<u8>>);

impl Structured {
    /// The plan. A term matched on chunks stays exact where the index says which of their
    /// records lack it (`absent`): their records but those. So do ranges, but on chunks with
    /// several common values at the path, whose records are candidates (one may lack a value
    /// and hold another); and `path:*`, leaving out the records with nothing at or under the
    /// path. Other matches on chunks (indexes made before `absent`) and records `loose`
    /// matches are candidates. Exact unless there are candidates; everything (to be checked)
    /// when a lookup failed.
    fn plan(self, field: TField, absent: Option<TField>, at: Lookups<'_>) -> Plan {
        let everything = Plan {
            needles: self.needles.clone(),
            ..Plan::candidates_all()
        };
        let basic =
            |t| -> Box<dyn TQuery> { Box::new(TermQuery::new(t, IndexRecordOption::Basic)) };
        let on = |field: TField, ranges: &[ByteRange]| {
            should(
                ranges
                    .iter()
                    .map(|(lo, hi)| bytes_range(field, lo.clone(), hi.clone()).query)
                    .collect(),
            )
        };
        // The records of `records` but those lacking a value: those with an `absent` term
        // (`lacking`, when it is not just having nothing at the path), or with nothing at or
        // under the path or a path above it.
        let nothing: Vec<Vec<u8>> = path_and_above(&self.path)
            .map(|p| nothing_under(&p))
            .collect();
        let records_lacking = |absent, records, lacking: Option<Box<dyn TQuery>>| {
            let mut out: Vec<(Occur, Box<dyn TQuery>)> =
                vec![(Occur::Must, Box::new(at.records_in(records)))];
            out.extend(lacking.map(|q| (Occur::MustNot, q)));
            for term in &nothing {
                let term = Term::from_field_bytes(absent, term);
                out.push((Occur::MustNot, basic(term)));
            }
            Box::new(BooleanQuery::new(out)) as Box<dyn TQuery>
        };
        let chunk_records = |q: &dyn TQuery| (at.chunks)(q, ChunkHits { records_too: false });
        // Exact on record documents, and what to look up on chunks for candidates.
        let mut parts: Vec<Box<dyn TQuery>> = Vec::new();
        let mut lookups: Vec<(Box<dyn TQuery>, bool)> = Vec::new();
        let mut candidates = RecordSet::new();
        if let Some(q) = self.exists.and_then(|r| on(field, &[r])) {
            match absent {
                None => {
                    lookups.push((q.box_clone(), false));
                    parts.push(q);
                }
                Some(absent) => {
                    let Some(chunks) = chunk_records(q.as_ref()) else {
                        return everything;
                    };
                    if !chunks.is_empty() {
                        parts.push(records_lacking(absent, chunks, None));
                    }
                    parts.push(q);
                }
            }
        }
        for t in self.terms {
            let Some(absent) = absent else {
                lookups.push((basic(t.clone()), false));
                parts.push(basic(t));
                continue;
            };
            let Some(chunks) = chunk_records(basic(t.clone()).as_ref()) else {
                return everything;
            };
            if !chunks.is_empty() {
                let lacking = Term::from_field_bytes(absent, t.serialized_value_bytes());
                parts.push(records_lacking(absent, chunks, Some(basic(lacking))));
            }
            parts.push(basic(t));
        }
        if let Some(q) = on(field, &self.ranges) {
            match absent.zip(absent.and_then(|a| on(a, &self.ranges))) {
                None => {
                    lookups.push((q.box_clone(), false));
                    parts.push(q);
                }
                Some((absent, lacking)) => {
                    let Some(chunks) = chunk_records(q.as_ref()) else {
                        return everything;
                    };
                    if !chunks.is_empty() {
                        let several = Term::from_field_bytes(absent, &several_common(&self.path));
                        let Some(several) = chunk_records(basic(several).as_ref()) else {
                            return everything;
                        };
                        let (several, single) = split(chunks, &several);
                        candidates = union_all(vec![candidates, several]);
                        if !single.is_empty() {
                            parts.push(records_lacking(absent, single, Some(lacking)));
                        }
                    }
                    parts.push(q);
                }
            }
        }
        lookups.extend(self.loose.map(|q| (q, true)));
        for (q, records_too) in lookups {
            match (at.chunks)(q.as_ref(), ChunkHits { records_too }) {
                Some(records) => candidates = union_all(vec![candidates, records]),
                None => return everything,
            }
        }
        let exact = should(parts).unwrap_or_else(|| Box::new(EmptyQuery));
        if candidates.is_empty() {
            return Plan::exact_boxed(exact);
        }
        Plan {
            query: Box::new(BooleanQuery::new(vec![
                (Occur::Should, exact),
                (Occur::Should, Box::new(at.records_in(candidates))),
            ])),
            exact: false,
            needles: self.needles,
        }
    }
}

/// `id:` predicates: an exact id is found through the archives' id tables; every record has
/// an id; prefixes and ranges of ids are checked record by record.
fn id(pred: &Predicate, f: &Fields, locate: Locate<'_>) -> Plan {
    match pred {
        Predicate::Exists => Plan::exact(AllQuery),
        Predicate::Text(TextMatch::Exact(v)) => match locate(v) {
            Ok(Some(ptr)) => {
                let eq = |field, v| -> Box<dyn TQuery> {
                    let t = Term::from_field_u64(field, v);
                    Box::new(RangeQuery::new(B::Included(t.clone()), B::Included(t)))
                };
                Plan::exact(BooleanQuery::new(vec![
                    (Occur::Must, eq(f.segment, ptr.segment)),
                    (Occur::Must, eq(f.ord, ptr.ord)),
                ]))
            }
            Ok(None) => Plan::exact(EmptyQuery),
            Err(_) => Plan::candidates_all(),
        },
        Predicate::Text(TextMatch::Prefix(_)) | Predicate::Range(_) => Plan::candidates_all(),
        Predicate::Level(_) | Predicate::Regex(_) => Plan::exact(EmptyQuery),
    }
}

fn term(t: Term) -> Plan {
    Plan::exact(TermQuery::new(t, IndexRecordOption::Basic))
}

fn message(pred: &Predicate, field: TField) -> Plan {
    let (text, is_prefix) = match pred {
        Predicate::Exists => return Plan::exact(AllQuery),
        Predicate::Regex(_) => return Plan::candidates_all(),
        Predicate::Text(TextMatch::Exact(t)) => (t, false),
        Predicate::Text(TextMatch::Prefix(t)) => (t, true),
        Predicate::Level(_) | Predicate::Range(_) => return Plan::exact(EmptyQuery),
    };
    let Some(mut words) = tokens(text).collect::<Option<Vec<String>>>() else {
        // A token too long to be indexed can never match.
        return Plan::exact(EmptyQuery);
    };
    let last = if is_prefix { words.pop() } else { None };
    if words.is_empty() && last.is_none() {
        return Plan::exact(EmptyQuery);
    }
    let term = |w: &str| -> Box<dyn TQuery> {
        Box::new(TermQuery::new(
            Term::from_field_text(field, w),
            IndexRecordOption::Basic,
        ))
    };
    let stem_of = |w: &str| {
        let stem = words::stem(w);
        (!stem.is_empty()).then(|| format!("{STEM_MARK}{stem}"))
    };
    // Exact while every part is: one indexed word, or one prefix without a digit. The index
    // keeps no positions, so a phrase is checked on each record; so is a variable, which the
    // index knows only by its stem.
    let mut exact = words.len() + usize::from(last.is_some()) == 1;
    let mut needles = Needles::default();
    let mut parts: Vec<(Occur, Box<dyn TQuery>)> = Vec::new();
    for w in &words {
        if words::is_indexed(w) {
            parts.push((Occur::Must, term(w)));
        } else {
            exact = false;
            needles.extend(Needles::of(w));
            if let Some(stem) = stem_of(w) {
                parts.push((Occur::Must, term(&stem)));
            }
        }
    }
    if let Some(p) = last {
        if words::is_indexed(&p) {
            // Words starting with `p`, and variables whose stem does: a single-word prefix is
            // exact, and unlike tantivy's phrase-prefix query not cut at a number of terms.
            let stems = format!("{STEM_MARK}{p}");
            let either = BooleanQuery::new(vec![
                (Occur::Should, prefix(field, p.into_bytes()).query),
                (Occur::Should, prefix(field, stems.into_bytes()).query),
            ]);
            parts.push((Occur::Must, Box::new(either)));
        } else {
            exact = false;
            needles.extend(Needles::of(&p));
            if let Some(stem) = stem_of(&p) {
                parts.push((Occur::Must, term(&stem)));
            }
        }
    }
    let query: Box<dyn TQuery> = match parts.len() {
        // Only variables that start with a digit: the block filters are all there is.
        0 => Box::new(AllQuery),
        1 => parts.remove(0).1,
        _ => Box::new(BooleanQuery::new(parts)),
    };
    Plan {
        query,
        exact,
        needles,
    }
}

fn level(pred: &Predicate, f: &Fields) -> Plan {
    match pred {
        Predicate::Exists => Plan::exact(AllQuery),
        Predicate::Level(l) => term(Term::from_field_text(f.level, l.as_str())),
        Predicate::Range(r) => {
            let sev = |b: &Bound| match b {
                Bound::Unbounded => Some(B::Unbounded),
                Bound::Included(Scalar::Level(l)) => {
                    Some(B::Included(Term::from_field_u64(f.severity, severity(*l))))
                }
                Bound::Excluded(Scalar::Level(l)) => {
                    Some(B::Excluded(Term::from_field_u64(f.severity, severity(*l))))
                }
                _ => None,
            };
            match (sev(&r.lower), sev(&r.upper)) {
                (Some(B::Unbounded), Some(B::Unbounded)) => Plan::exact(AllQuery),
                (Some(lo), Some(hi)) => Plan::exact(RangeQuery::new(lo, hi)),
                _ => Plan::exact(EmptyQuery),
            }
        }
        Predicate::Text(_) | Predicate::Regex(_) => Plan::exact(EmptyQuery),
    }
}

/// A term range on raw value bytes (the inverted index compares terms bytewise).
fn bytes_range(field: TField, lo: B<Vec<u8>>, hi: B<Vec<u8>>) -> Plan {
    let t = |b: Vec<u8>| Term::from_field_bytes(field, &b);
    Plan::exact(InvertedIndexRangeQuery::new(lo.map(t), hi.map(t)))
}

/// Every term starting with `bytes`.
fn prefix(field: TField, bytes: Vec<u8>) -> Plan {
    let (lo, hi) = prefix_range(bytes);
    bytes_range(field, lo, hi)
}

/// The bounds of every term starting with `bytes`.
fn prefix_range(bytes: Vec<u8>) -> ByteRange {
    let end = prefix_end(&bytes);
    (B::Included(bytes), end.map_or(B::Unbounded, B::Excluded))
}

/// The smallest byte string greater than every string starting with `prefix`.
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The bytes every term of a JSON path starts with: the path, then its end marker.
fn json_path_bytes(field: TField, path: &str) -> Vec<u8> {
    Term::from_field_json_path(field, path, true)
        .serialized_value_bytes()
        .to_vec()
}

fn structured(
    path: &str,
    pred: &Predicate,
    field: TField,
    absent: Option<TField>,
    at: Lookups<'_>,
) -> Plan {
    let json = || Term::from_field_json_path(field, path, true);
    // String values with a digit are all the empty string term (`words::Values`); strings
    // tantivy reads as dates are date terms.
    let digit_strings = || -> Box<dyn TQuery> {
        let mut empty = json();
        empty.append_type_and_str("");
        let date = |d: i64| {
            let mut t = json();
            t.append_type_and_fast_value(DateTime::from_timestamp_nanos(d));
            t
        };
        Box::new(BooleanQuery::new(vec![
            (
                Occur::Should,
                Box::new(TermQuery::new(empty, IndexRecordOption::Basic)),
            ),
            (
                Occur::Should,
                Box::new(InvertedIndexRangeQuery::new(
                    B::Included(date(i64::MIN)),
                    B::Included(date(i64::MAX)),
                )),
            ),
        ]))
    };
    // The empty string is also the term of every string with a digit: only ever loose.
    let loose_string = |v: &str| v.is_empty() || v.chars().any(char::is_numeric);
    let mut s = Structured {
        path: json_path_bytes(field, path),
        terms: Vec::new(),
        ranges: Vec::new(),
        exists: None,
        loose: None,
        needles: Needles::default(),
    };
    match pred {
        Predicate::Exists => {
            // The path itself (…\0…) or anything under it (…\1…).
            let mut lo = s.path.clone();
            let Some(end) = lo.pop() else {
                return Plan::exact(EmptyQuery);
            };
            let mut hi = lo.clone();
            lo.push(end);
            hi.push(end + 2);
            s.exists = Some((B::Included(lo), B::Excluded(hi)));
        }
        Predicate::Text(TextMatch::Exact(v)) => {
            s.loose = loose_string(v).then(digit_strings);
            if s.loose.is_none() {
                let mut t = json();
                t.append_type_and_str(v);
                s.terms.push(t);
            }
            let number = number_term(json(), v);
            let boolean = v.parse::<bool>().ok();
            s.terms.extend(number.clone());
            if let Some(b) = boolean {
                let mut t = json();
                t.append_type_and_fast_value(b);
                s.terms.push(t);
            }
            // A number or a boolean may be written otherwise in the record's JSON, except an
            // integer written as serde_json writes it (`400`, or `400.0` for a float).
            let canonical_int = v.parse::<i64>().is_ok_and(|i| i.to_string() == *v);
            if canonical_int || (number.is_none() && boolean.is_none()) {
                s.needles = json_needle(v);
            }
        }
        Predicate::Text(TextMatch::Prefix(p)) => {
            if !loose_string(p) {
                let mut t = json();
                t.append_type_and_str(p);
                s.ranges
                    .push(prefix_range(t.serialized_value_bytes().to_vec()));
            }
            s.loose = Some(digit_strings());
            s.needles = json_needle(p);
        }
        Predicate::Range(r) => {
            s.loose = text_bounded(r).then(digit_strings);
            s.ranges = structured_range(r, json);
        }
        Predicate::Level(_) | Predicate::Regex(_) => return Plan::exact(EmptyQuery),
    }
    s.plan(field, absent, at)
}

/// A path's term bytes (end-of-path byte included), then those of each path above it.
fn path_and_above(path: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    let path = path.strip_suffix(&[0]).unwrap_or(path);
    let above = path.iter().enumerate().filter(|(_, b)| **b == 1);
    let ends = [path.len()].into_iter().chain(above.map(|(n, _)| n));
    ends.map(|end| [&path[..end], &[0]].concat())
}

/// Any of `alternatives`; `None` when there are none.
fn should(alternatives: Vec<Box<dyn TQuery>>) -> Option<Box<dyn TQuery>> {
    match alternatives.len() {
        0 => None,
        1 => alternatives.into_iter().next(),
        _ => Some(Box::new(BooleanQuery::new(
            alternatives
                .into_iter()
                .map(|q| (Occur::Should, q))
                .collect(),
        ))),
    }
}

/// A needle for a string value, when the record's JSON holds it as written (no escapes).
fn json_needle(v: &str) -> Needles {
    if v.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
        return Needles::default();
    }
    Needles::of(v)
}

/// Does a range include strings (bounded by text, or unbounded on both sides)?
fn text_bounded(r: &RangeBounds) -> bool {
    let text_or_open = |b: &Bound| {
        matches!(
            b,
            Bound::Unbounded | Bound::Included(Scalar::Text(_)) | Bound::Excluded(Scalar::Text(_))
        )
    };
    text_or_open(&r.lower) && text_or_open(&r.upper)
}

/// A JSON number term in tantivy's canonical form, when `v` reads as a number.
fn number_term(mut t: Term, v: &str) -> Option<Term> {
    if let Ok(i) = v.parse::<i64>() {
        t.append_type_and_fast_value(i);
    } else if let Ok(u) = v.parse::<u64>() {
        t.append_type_and_fast_value(u);
    } else {
        let x = v.parse::<f64>().ok().filter(|x| x.is_finite())?;
        if x.fract() == 0.0 && x >= i64::MIN as f64 && x < i64::MAX as f64 {
            t.append_type_and_fast_value(x as i64);
        } else if x.fract() == 0.0 && x >= 0.0 && x < u64::MAX as f64 {
            t.append_type_and_fast_value(x as u64);
        } else {
            t.append_type_and_fast_value(x);
        }
    }
    Some(t)
}

/// The term bytes of the values at a path within bounds.
fn structured_range(r: &RangeBounds, json: impl Fn() -> Term) -> Vec<ByteRange> {
    let kind = |b: &Bound| match b {
        Bound::Unbounded => 0,
        Bound::Included(Scalar::Number(_)) | Bound::Excluded(Scalar::Number(_)) => 1,
        Bound::Included(Scalar::Text(_)) | Bound::Excluded(Scalar::Text(_)) => 2,
        _ => 3,
    };
    let mut ranges = Vec::new();
    let (lower, upper) = (kind(&r.lower), kind(&r.upper));
    if lower <= 1 && upper <= 1 {
        numeric_ranges(num(&r.lower), num(&r.upper), &json, &mut ranges);
    }
    if matches!(lower, 0 | 2) && matches!(upper, 0 | 2) {
        ranges.push(string_range(r, &json));
    }
    ranges
}

/// The numbers at a path within bounds: one term range per canonical number type.
fn numeric_ranges(lo: B<f64>, hi: B<f64>, json: &impl Fn() -> Term, ranges: &mut Vec<ByteRange>) {
    let typed = |v: &dyn Fn(&mut Term)| {
        let mut t = json();
        v(&mut t);
        t.serialized_value_bytes().to_vec()
    };
    let mut push = |lo, hi| ranges.push((lo, hi));
    if let Some((a, b)) = int_bounds(lo, hi, i64::MIN as f64, i64::MAX as f64) {
        push(
            B::Included(typed(&|t| t.append_type_and_fast_value(a as i64))),
            B::Included(typed(&|t| t.append_type_and_fast_value(b as i64))),
        );
    }
    if let Some((a, b)) = int_bounds(lo, hi, 9_223_372_036_854_775_808.0, u64::MAX as f64) {
        push(
            B::Included(typed(&|t| t.append_type_and_fast_value(a as u64))),
            B::Included(typed(&|t| t.append_type_and_fast_value(b as u64))),
        );
    }
    let float = |b: B<f64>, edge: f64| {
        let b = match b {
            B::Unbounded => B::Included(edge),
            other => other,
        };
        b.map(|x| typed(&|t| t.append_type_and_fast_value(x)))
    };
    push(float(lo, f64::NEG_INFINITY), float(hi, f64::INFINITY));
}

/// The strings at a path within text bounds, compared bytewise.
fn string_range(r: &RangeBounds, json: &impl Fn() -> Term) -> ByteRange {
    let string = |s: &str| {
        let mut t = json();
        t.append_type_and_str(s);
        t.serialized_value_bytes().to_vec()
    };
    let all_start = string("");
    let bound = |b: &Bound, edge: B<Vec<u8>>| match b {
        Bound::Included(Scalar::Text(s)) => B::Included(string(s)),
        Bound::Excluded(Scalar::Text(s)) => B::Excluded(string(s)),
        _ => edge,
    };
    let end = prefix_end(&all_start).map_or(B::Unbounded, B::Excluded);
    // Not the empty string, which is also the term of every string with a digit: those are
    // the caller's to check.
    let lower = match bound(&r.lower, B::Excluded(all_start.clone())) {
        B::Included(b) if b == all_start => B::Excluded(b),
        b => b,
    };
    (lower, bound(&r.upper, end))
}

fn num(b: &Bound) -> B<f64> {
    match b {
        Bound::Included(Scalar::Number(x)) => B::Included(*x),
        Bound::Excluded(Scalar::Number(x)) => B::Excluded(*x),
        _ => B::Unbounded,
    }
}

/// The integers in `[min, max]` that satisfy both bounds, as an inclusive pair.
fn int_bounds(lo: B<f64>, hi: B<f64>, min: f64, max: f64) -> Option<(f64, f64)> {
    let a = match lo {
        B::Included(x) => x.ceil(),
        B::Excluded(x) => x.floor() + 1.0,
        B::Unbounded => min,
    }
    .max(min);
    let b = match hi {
        B::Included(x) => x.floor(),
        B::Excluded(x) => x.ceil() - 1.0,
        B::Unbounded => max,
    }
    .min(max);
    (a <= b).then_some((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_followed_by_the_paths_above_it() {
        let paths: Vec<Vec<u8>> = path_and_above(b"a\x01bc\x01d\0").collect();
        assert_eq!(paths, [&b"a\x01bc\x01d\0"[..], b"a\0", b"a\x01bc\0"]);
    }

    #[test]
    fn prefix_end_is_the_first_string_past_the_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }

    #[test]
    fn integer_bounds_round_inwards() {
        let (min, max) = (i64::MIN as f64, i64::MAX as f64);
        assert_eq!(
            int_bounds(B::Included(1.5), B::Included(4.5), min, max),
            Some((2.0, 4.0))
        );
        assert_eq!(
            int_bounds(B::Excluded(2.0), B::Excluded(5.0), min, max),
            Some((3.0, 4.0))
        );
        assert_eq!(
            int_bounds(B::Excluded(2.5), B::Excluded(3.0), min, max),
            None
        );
        assert_eq!(
            int_bounds(B::Unbounded, B::Included(-1.0), min, max),
            Some((min, -1.0))
        );
        // Only values above i64::MAX are stored as u64.
        let u = 9_223_372_036_854_775_808.0;
        assert_eq!(
            int_bounds(B::Included(0.0), B::Included(10.0), u, u64::MAX as f64),
            None
        );
    }
}
