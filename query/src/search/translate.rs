//! [`Query`] → tantivy query over the node's index schema.
//!
//! A [`Plan`] is either *exact* (the tantivy query matches precisely what
//! [`matches`](crate::lang::matches) accepts) or a *candidate set*: a superset that every hit
//! must then be checked against with the evaluator. `/regex/` is inexact (tantivy's regex
//! dialect differs from ours and works on words, not the whole message), and so is a phrase
//! ending in a prefix; a negated inexact part widens to everything, because the complement of a
//! superset is not a superset. A single-word prefix is exact: a range over the term dictionary.
//! The index keeps no word positions, so a phrase is a candidate set too: the records with all
//! its words, each checked for the words in order.
//!
//! Record ids are not indexed: `id:<value>` is looked up in the archives' id tables
//! ([`Locate`]) and becomes a query for that one record's pointer.
//!
//! Ranges over structured fields run on the inverted index: tantivy stores JSON numbers in a
//! canonical typed form (integral values as i64, larger as u64, the rest as f64) whose byte
//! encoding sorts like the numbers, so a numeric range is a union of three term ranges.

use std::ops::Bound as B;

use firewatch_index::schema::severity;
use firewatch_index::{Fields, RecordPtr, StoreError};
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, InvertedIndexRangeQuery, Occur, Query as TQuery,
    RangeQuery, TermQuery,
};
use tantivy::schema::{Field as TField, IndexRecordOption};
use tantivy::Term;

use crate::lang::{tokens, Bound, Field, Predicate, Query, RangeBounds, Scalar, TextMatch};

/// A tantivy query and whether its hits need checking with the evaluator.
pub struct Plan {
    pub query: Box<dyn TQuery>,
    pub exact: bool,
}

impl Plan {
    fn exact(query: impl TQuery) -> Plan {
        Plan {
            query: Box::new(query),
            exact: true,
        }
    }

    fn candidates_all() -> Plan {
        Plan {
            query: Box::new(AllQuery),
            exact: false,
        }
    }
}

/// Where the record with an id is stored (the snapshot's [`locate`](firewatch_index::Snapshot::locate)).
pub type Locate<'a> = &'a dyn Fn(&str) -> Result<Option<RecordPtr>, StoreError>;

/// Translates a parsed query for the index with fields `f`; `locate` finds records by id.
pub fn translate(q: &Query, f: &Fields, locate: Locate<'_>) -> Plan {
    match q {
        Query::All => Plan::exact(AllQuery),
        Query::And(items) | Query::Or(items) => {
            let occur = if matches!(q, Query::And(_)) {
                Occur::Must
            } else {
                Occur::Should
            };
            let plans: Vec<Plan> = items.iter().map(|i| translate(i, f, locate)).collect();
            let exact = plans.iter().all(|p| p.exact);
            Plan {
                query: Box::new(BooleanQuery::new(
                    plans.into_iter().map(|p| (occur, p.query)).collect(),
                )),
                exact,
            }
        }
        Query::Not(inner) => {
            let inner = translate(inner, f, locate);
            if !inner.exact {
                return Plan::candidates_all();
            }
            Plan::exact(BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery)),
                (Occur::MustNot, inner.query),
            ]))
        }
        Query::Leaf(field, pred) => leaf(field, pred, f, locate),
    }
}

fn leaf(field: &Field, pred: &Predicate, f: &Fields, locate: Locate<'_>) -> Plan {
    let keyword_field = match field {
        Field::Message => return message(pred, f.message),
        Field::Level => return level(pred, f),
        Field::Path(path) => return structured(path, pred, f.fields),
        Field::Service => f.service,
        Field::Host => f.host,
        Field::Source => f.source,
        Field::Id => return id(pred, f, locate),
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

fn message(pred: &Predicate, field: TField) -> Plan {
    let (text, is_prefix) = match pred {
        Predicate::Exists => return Plan::exact(AllQuery),
        Predicate::Regex(_) => return Plan::candidates_all(),
        Predicate::Text(TextMatch::Exact(t)) => (t, false),
        Predicate::Text(TextMatch::Prefix(t)) => (t, true),
        Predicate::Level(_) | Predicate::Range(_) => return Plan::exact(EmptyQuery),
    };
    let Some(words) = tokens(text).collect::<Option<Vec<String>>>() else {
        // A token too long to be indexed can never match.
        return Plan::exact(EmptyQuery);
    };
    let mut terms: Vec<Term> = words
        .iter()
        .map(|w| Term::from_field_text(field, w))
        .collect();
    // A single-word prefix is a term range: exact, and unlike tantivy's phrase-prefix query not
    // cut at a number of expansions.
    let prefix_range = |t: &Term| prefix(field, t.serialized_value_bytes().to_vec());
    match (terms.len(), is_prefix) {
        (0, _) => Plan::exact(EmptyQuery),
        (1, false) => term(terms.remove(0)),
        (1, true) => prefix_range(&terms[0]),
        (_, _) => {
            // Records with every word (the last as a prefix); the order is checked on each.
            let last = if is_prefix { terms.pop() } else { None };
            let mut parts: Vec<(Occur, Box<dyn TQuery>)> = terms
                .into_iter()
                .map(|t| -> (Occur, Box<dyn TQuery>) {
                    (
                        Occur::Must,
                        Box::new(TermQuery::new(t, IndexRecordOption::Basic)),
                    )
                })
                .collect();
            if let Some(last) = last {
                parts.push((Occur::Must, prefix_range(&last).query));
            }
            Plan {
                query: Box::new(BooleanQuery::new(parts)),
                exact: false,
            }
        }
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
    let end = prefix_end(&bytes);
    bytes_range(
        field,
        B::Included(bytes),
        end.map_or(B::Unbounded, B::Excluded),
    )
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

fn structured(path: &str, pred: &Predicate, field: TField) -> Plan {
    let json = || Term::from_field_json_path(field, path, true);
    match pred {
        Predicate::Exists => {
            // The path itself (…\0) or anything under it (…\1…).
            let mut lo = json_path_bytes(field, path);
            let Some(end) = lo.pop() else {
                return Plan::exact(EmptyQuery);
            };
            let mut hi = lo.clone();
            lo.push(end);
            hi.push(end + 2);
            bytes_range(field, B::Included(lo), B::Excluded(hi))
        }
        Predicate::Text(TextMatch::Exact(v)) => {
            let mut s = json();
            s.append_type_and_str(v);
            let mut alternatives = vec![s];
            if let Some(n) = number_term(json(), v) {
                alternatives.push(n);
            }
            if let Ok(b) = v.parse::<bool>() {
                let mut t = json();
                t.append_type_and_fast_value(b);
                alternatives.push(t);
            }
            Plan::exact(BooleanQuery::new_multiterms_query(alternatives))
        }
        Predicate::Text(TextMatch::Prefix(p)) => {
            let mut s = json();
            s.append_type_and_str(p);
            prefix(field, s.serialized_value_bytes().to_vec())
        }
        Predicate::Range(r) => structured_range(r, json),
        Predicate::Level(_) | Predicate::Regex(_) => Plan::exact(EmptyQuery),
    }
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

fn structured_range(r: &RangeBounds, json: impl Fn() -> Term) -> Plan {
    let kind = |b: &Bound| match b {
        Bound::Unbounded => 0,
        Bound::Included(Scalar::Number(_)) | Bound::Excluded(Scalar::Number(_)) => 1,
        Bound::Included(Scalar::Text(_)) | Bound::Excluded(Scalar::Text(_)) => 2,
        _ => 3,
    };
    let mut parts: Vec<(Occur, Box<dyn TQuery>)> = Vec::new();
    let (lower, upper) = (kind(&r.lower), kind(&r.upper));
    if lower <= 1 && upper <= 1 {
        numeric_ranges(num(&r.lower), num(&r.upper), &json, &mut parts);
    }
    if matches!(lower, 0 | 2) && matches!(upper, 0 | 2) {
        parts.push((Occur::Should, string_range(r, &json).query));
    }
    Plan::exact(BooleanQuery::new(parts))
}

/// The numbers at a path within bounds: one term range per canonical number type.
fn numeric_ranges(
    lo: B<f64>,
    hi: B<f64>,
    json: &impl Fn() -> Term,
    parts: &mut Vec<(Occur, Box<dyn TQuery>)>,
) {
    let typed = |v: &dyn Fn(&mut Term)| {
        let mut t = json();
        v(&mut t);
        t
    };
    let mut push = |lo: B<Term>, hi: B<Term>| {
        parts.push((
            Occur::Should,
            Box::new(InvertedIndexRangeQuery::new(lo, hi)),
        ))
    };
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
fn string_range(r: &RangeBounds, json: &impl Fn() -> Term) -> Plan {
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
    bytes_range(
        json().field(),
        bound(&r.lower, B::Included(all_start.clone())),
        bound(&r.upper, end),
    )
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
