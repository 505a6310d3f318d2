//! Structured-field predicates (`http.status:503`, `duration_ms:>5000`, `http:*`) → tantivy
//! queries over the `fields` JSON field, through chunk documents.
//!
//! A structured field value is a term of the records that have it, or, when common in its
//! chunk, of the chunk document only (see `firewatch_index::schema`): such a predicate runs on
//! the chunks first. The plan stays exact: the records it matches, plus the matching chunks'
//! records ([`RecordsIn`](super::chunks::RecordsIn)) but those whose `absent` field says they
//! lack the value (every value of a range, when the chunk has one common value at the path;
//! anything at or under the path, for `path:*`). Chunks with several common values at the
//! path (arrays) in a range and indexes made before `absent` give candidates instead: exact
//! when no chunk matches, else those records plus the chunks' records, a candidate set.
//!
//! String values with a digit are not terms (see `firewatch_index::words`): a value with one
//! is looked up through the empty term its path gets, and becomes [`Needles`] that rule out
//! archive blocks and records before the records are checked.
//!
//! Numbers with more digits than the index keeps are terms of their bucket
//! (`firewatch_index::numbers`): a query for one is loose, and so is the bucket of a range's
//! bound that is inside one; the terms between are exact.
//!
//! Values and ranges become term bytes in [`value_terms`](super::value_terms).

use std::ops::Bound as B;

use firewatch_index::schema::{nothing_under, several_common};
use firewatch_index::Fields;
use tantivy::query::{
    BooleanQuery, EmptyQuery, InvertedIndexRangeQuery, Occur, Query as TQuery, TermQuery,
};
use tantivy::schema::{Field as TField, IndexRecordOption};
use tantivy::{DateTime, Term};

use super::chunks::{ChunkHits, Needles};
use super::scan::{split, union_all, RecordSet};
use super::translate::{bytes_range, prefix_range, ByteRange, Lookups, Plan};
use super::value_terms::{number_term, structured_range, NumberTerm};
use crate::lang::{Bound, Predicate, RangeBounds, Scalar, TextMatch};

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

/// What an alternative of a structured predicate asks for.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Anything at or under the path: a record lacks it when it has nothing there.
    Exists,
    /// One value.
    Value,
    /// Values within bounds, of which a chunk may hold several in common.
    Range,
}

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
        // Each alternative, as bounds of `fields` terms; in `absent` the same bounds are the
        // values a record of a matching chunk lacks.
        let mut alternatives: Vec<(Vec<ByteRange>, Kind)> = Vec::new();
        alternatives.extend(self.exists.map(|r| (vec![r], Kind::Exists)));
        for t in &self.terms {
            let bytes = t.serialized_value_bytes().to_vec();
            let one = (B::Included(bytes.clone()), B::Included(bytes));
            alternatives.push((vec![one], Kind::Value));
        }
        if !self.ranges.is_empty() {
            alternatives.push((self.ranges, Kind::Range));
        }
        // Exact on record documents, and what to look up on chunks for candidates.
        let mut parts: Vec<Box<dyn TQuery>> = Vec::new();
        let mut lookups: Vec<(Box<dyn TQuery>, bool)> = Vec::new();
        let mut candidates = RecordSet::new();
        for (ranges, kind) in alternatives {
            let Some(q) = on(field, &ranges) else {
                continue;
            };
            let Some(absent) = absent else {
                lookups.push((q.box_clone(), false));
                parts.push(q);
                continue;
            };
            let Some(chunks) = chunk_records(q.as_ref()) else {
                return everything;
            };
            parts.push(q);
            if chunks.is_empty() {
                continue;
            }
            // A chunk with several common values in a range: a record lacking one may hold
            // another, so its records are candidates.
            let chunks = if kind == Kind::Range {
                let several = Term::from_field_bytes(absent, &several_common(&self.path));
                let Some(several) = chunk_records(basic(several).as_ref()) else {
                    return everything;
                };
                let (several, single) = split(chunks, &several);
                candidates = union_all(vec![candidates, several]);
                single
            } else {
                chunks
            };
            if !chunks.is_empty() {
                let lacking = (kind != Kind::Exists)
                    .then(|| on(absent, &ranges))
                    .flatten();
                parts.push(records_lacking(absent, chunks, lacking));
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

/// The bytes every term of a JSON path starts with: the path, then its end marker.
fn json_path_bytes(field: TField, path: &str) -> Vec<u8> {
    Term::from_field_json_path(field, path, true)
        .serialized_value_bytes()
        .to_vec()
}

pub(super) fn structured(path: &str, pred: &Predicate, f: &Fields, at: Lookups<'_>) -> Plan {
    let (field, absent) = (f.fields, f.absent);
    let json = || Term::from_field_json_path(field, path, true);
    let bucket_query = |terms: Vec<Term>| -> Vec<Box<dyn TQuery>> {
        let query = |t| Box::new(TermQuery::new(t, IndexRecordOption::Basic)) as Box<dyn TQuery>;
        terms.into_iter().map(query).collect()
    };
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
            let mut loose: Vec<Box<dyn TQuery>> = Vec::new();
            if loose_string(v) {
                loose.push(digit_strings());
            } else {
                let mut t = json();
                t.append_type_and_str(v);
                s.terms.push(t);
            }
            let number = number_term(json(), v, f.number_buckets);
            let boolean = v.parse::<bool>().ok();
            match number.clone() {
                Some(NumberTerm::Exact(t)) => s.terms.push(t),
                Some(NumberTerm::Bucket(t)) => loose.extend(bucket_query(vec![t])),
                None => {}
            }
            s.loose = should(loose);
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
            let (ranges, buckets) = structured_range(r, json, f.number_buckets);
            let mut loose = bucket_query(buckets);
            loose.extend(text_bounded(r).then(digit_strings));
            s.loose = should(loose);
            s.ranges = ranges;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_followed_by_the_paths_above_it() {
        let paths: Vec<Vec<u8>> = path_and_above(b"a\x01bc\x01d\0").collect();
        assert_eq!(paths, [&b"a\x01bc\x01d\0"[..], b"a\0", b"a\x01bc\0"]);
    }
}
