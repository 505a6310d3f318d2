//! [`Query`] → tantivy query over the node's index schema.
//!
//! A [`Plan`] is either *exact* (the tantivy query matches precisely what
//! [`matches`](crate::lang::matches) accepts) or a *candidate set*: a superset that every hit
//! must then be checked against with the evaluator. Time, level, service, host, source and
//! message words are on the record documents. The index keeps no word positions, so a phrase
//! is a candidate set: the records with all its words, each checked for the words in order.
//! Structured fields (the `structured` module) are looked up on chunk documents first, and
//! are exact but for a few cases. `/regex/` is a candidate set (everything), and a negated
//! candidate set widens to everything, because the complement of a superset is not a superset.
//!
//! Words and string values with a digit are not terms (see `firewatch_index::words`): a word
//! with one is looked up through its stem, a value with one through the empty term its path
//! gets, and both become `Needles` that rule out archive blocks and records before the
//! records are checked.
//!
//! Record ids are not indexed: `id:<value>` is looked up in the archives' id tables
//! ([`Locate`]) and becomes a query for that one record's pointer.

use std::collections::BTreeSet;
use std::ops::Bound as B;
use std::sync::Arc;

use firewatch_index::words::{self, STEM_MARK};
use firewatch_index::{Fields, RecordPtr, StoreError};
use firewatch_ingest::Level;
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, InvertedIndexRangeQuery, Occur, Query as TQuery,
    RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{Field as TField, IndexRecordOption};
use tantivy::Term;

use super::chunks::{ChunkHits, Needles, RecordsIn};
use super::scan::{DocMaps, RecordSet};
use super::structured::structured;
use super::word_sets::with_word_sets;
use crate::lang::{tokens, Bound, Field, Predicate, Query, Scalar, TextMatch};

/// A tantivy query, whether its hits need checking with the evaluator, and literals every
/// match contains.
pub struct Plan {
    pub query: Box<dyn TQuery>,
    pub exact: bool,
    pub needles: Needles,
}

impl Plan {
    pub(super) fn exact(query: impl TQuery) -> Plan {
        Plan {
            query: Box::new(query),
            exact: true,
            needles: Needles::default(),
        }
    }

    pub(super) fn exact_boxed(query: Box<dyn TQuery>) -> Plan {
        Plan {
            query,
            exact: true,
            needles: Needles::default(),
        }
    }

    pub(super) fn candidates_all() -> Plan {
        Plan {
            query: Box::new(AllQuery),
            exact: false,
            needles: Needles::default(),
        }
    }
}

/// Where the record with an id is stored (the snapshot's [`locate`](firewatch_index::Snapshot::locate)).
pub type Locate<'a> = &'a dyn Fn(&str) -> Result<Option<RecordPtr>, StoreError>;

/// The records of the documents a query matches (`ChunkHits`); `None` when the search failed.
pub type Chunks<'a> = &'a dyn Fn(&dyn TQuery, ChunkHits) -> Option<RecordSet>;

/// The word sets the documents a query matches define (`DefinedSets`); `None` when the search
/// failed.
pub type WordSets<'a> = &'a dyn Fn(&dyn TQuery) -> Option<BTreeSet<u64>>;

/// What translating needs from the index besides its fields.
#[derive(Clone, Copy)]
pub struct Lookups<'a> {
    pub locate: Locate<'a>,
    pub chunks: Chunks<'a>,
    pub word_sets: WordSets<'a>,
    /// Where each tantivy segment's record documents point.
    pub maps: &'a DocMaps,
}

impl Lookups<'_> {
    pub(super) fn records_in(&self, set: RecordSet) -> RecordsIn {
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
        Field::Message => return message(pred, f, at),
        Field::Level => return level(pred, f),
        Field::Path(path) => return structured(path, pred, f, at),
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

fn message(pred: &Predicate, f: &Fields, at: Lookups<'_>) -> Plan {
    let field = f.message;
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
    // Each part takes the records of the word sets with its words too; a part whose sets
    // cannot be read leaves every record a candidate.
    let mut unread = false;
    let mut with_sets = |q: Box<dyn TQuery>| -> Box<dyn TQuery> {
        with_word_sets(q, f, at).unwrap_or_else(|| {
            unread = true;
            Box::new(AllQuery)
        })
    };
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
            parts.push((Occur::Must, with_sets(term(w))));
        } else {
            exact = false;
            needles.extend(Needles::of(w));
            if let Some(stem) = stem_of(w) {
                parts.push((Occur::Must, with_sets(term(&stem))));
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
            parts.push((Occur::Must, with_sets(Box::new(either))));
        } else {
            exact = false;
            needles.extend(Needles::of(&p));
            if let Some(stem) = stem_of(&p) {
                parts.push((Occur::Must, with_sets(term(&stem))));
            }
        }
    }
    if unread {
        exact = false;
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
            // The union of the levels in the range: six terms at most, and postings instead of
            // a column scan for the usual `>=warn`.
            let within = |l: &Level| {
                let above = match &r.lower {
                    Bound::Unbounded => true,
                    Bound::Included(Scalar::Level(lo)) => l >= lo,
                    Bound::Excluded(Scalar::Level(lo)) => l > lo,
                    _ => false,
                };
                let below = match &r.upper {
                    Bound::Unbounded => true,
                    Bound::Included(Scalar::Level(hi)) => l <= hi,
                    Bound::Excluded(Scalar::Level(hi)) => l < hi,
                    _ => false,
                };
                above && below
            };
            let terms: Vec<Term> = Level::ALL
                .iter()
                .filter(|l| within(l))
                .map(|l| Term::from_field_text(f.level, l.as_str()))
                .collect();
            match terms.len() {
                0 => Plan::exact(EmptyQuery),
                n if n == Level::ALL.len() => Plan::exact(AllQuery),
                _ => Plan::exact(TermSetQuery::new(terms)),
            }
        }
        Predicate::Text(_) | Predicate::Regex(_) => Plan::exact(EmptyQuery),
    }
}

/// A term range on raw value bytes (the inverted index compares terms bytewise).
pub(super) fn bytes_range(field: TField, lo: B<Vec<u8>>, hi: B<Vec<u8>>) -> Plan {
    let t = |b: Vec<u8>| Term::from_field_bytes(field, &b);
    Plan::exact(InvertedIndexRangeQuery::new(lo.map(t), hi.map(t)))
}

/// Bounds of term bytes.
pub(super) type ByteRange = (B<Vec<u8>>, B<Vec<u8>>);

/// Every term starting with `bytes`.
fn prefix(field: TField, bytes: Vec<u8>) -> Plan {
    let (lo, hi) = prefix_range(bytes);
    bytes_range(field, lo, hi)
}

/// The bounds of every term starting with `bytes`.
pub(super) fn prefix_range(bytes: Vec<u8>) -> ByteRange {
    let end = prefix_end(&bytes);
    (B::Included(bytes), end.map_or(B::Unbounded, B::Excluded))
}

/// The smallest byte string greater than every string starting with `prefix`.
pub(super) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_first_string_past_the_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }
}
