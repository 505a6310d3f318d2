//! What a [`Query`] means, decided on one record at a time.
//!
//! Message text is compared as tokens: maximal runs of alphanumeric characters, lowercased —
//! the same analysis the index applies, so index-backed search and this evaluator agree. Tokens
//! of [`MAX_TOKEN_BYTES`] or more keep their position but are not searchable (the index drops
//! them). Everything else (service, host, source, id, structured fields) is compared by whole
//! value, case-sensitively.

use std::cmp::Ordering;

use firewatch_ingest::record::LogRecord;
use serde_json::{Map, Value};

use super::ast::{Bound, Field, Predicate, Query, RangeBounds, Scalar, TextMatch};

/// Tokens this long (in bytes, as written) or longer are not searchable.
pub const MAX_TOKEN_BYTES: usize = 40;

/// The searchable tokens of a text, lowercased, in order; `None` for a token too long to search.
pub fn tokens(text: &str) -> impl Iterator<Item = Option<String>> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(|t| (t.len() < MAX_TOKEN_BYTES).then(|| t.to_lowercase()))
}

/// Does `record` match `query`?
pub fn matches(query: &Query, record: &LogRecord) -> bool {
    match query {
        Query::All => true,
        Query::And(items) => items.iter().all(|q| matches(q, record)),
        Query::Or(items) => items.iter().any(|q| matches(q, record)),
        Query::Not(inner) => !matches(inner, record),
        Query::Leaf(field, pred) => leaf(field, pred, record),
    }
}

fn leaf(field: &Field, pred: &Predicate, record: &LogRecord) -> bool {
    match field {
        Field::Message => message(pred, &record.message),
        Field::Level => match pred {
            Predicate::Exists => true,
            Predicate::Level(level) => record.level == *level,
            Predicate::Range(range) => in_range(range, |b| match b {
                Scalar::Level(l) => Some(record.level.cmp(l)),
                _ => None,
            }),
            Predicate::Text(_) | Predicate::Regex(_) => false,
        },
        Field::Service => keyword(pred, &record.service),
        Field::Host => keyword(pred, &record.host),
        Field::Source => keyword(pred, &record.source),
        Field::Id => keyword(pred, &record.id),
        Field::Path(path) => lookup(&record.fields, path).into_iter().any(|v| match v {
            Value::Array(items) => items.iter().any(|v| structured(pred, v)),
            value => structured(pred, value),
        }),
    }
}

fn message(pred: &Predicate, text: &str) -> bool {
    match pred {
        Predicate::Exists => true,
        Predicate::Regex(re) => re.is_match(text),
        Predicate::Text(m) => {
            let (query, prefix) = match m {
                TextMatch::Exact(q) => (q, false),
                TextMatch::Prefix(q) => (q, true),
            };
            let Some(wanted) = tokens(query).collect::<Option<Vec<String>>>() else {
                return false;
            };
            // The text's words as written: lowercasing each one cost an allocation per word
            // of every record checked.
            let have: Vec<&str> = text
                .split(|c: char| !c.is_alphanumeric())
                .filter(|t| !t.is_empty())
                .collect();
            have.windows(wanted.len()).any(|window| {
                window.iter().zip(&wanted).enumerate().all(|(i, (h, w))| {
                    h.len() < MAX_TOKEN_BYTES
                        && if prefix && i + 1 == wanted.len() {
                            lower_starts_with(h, w)
                        } else {
                            lower_eq(h, w)
                        }
                })
            })
        }
        Predicate::Level(_) | Predicate::Range(_) => false,
    }
}

/// Does `word` lowercased equal `lower` (lowercase)?
fn lower_eq(word: &str, lower: &str) -> bool {
    if word.is_ascii() {
        word.eq_ignore_ascii_case(lower)
    } else {
        word.to_lowercase() == lower
    }
}

/// Does `word` lowercased start with `lower` (lowercase)?
fn lower_starts_with(word: &str, lower: &str) -> bool {
    if word.is_ascii() {
        word.as_bytes()
            .get(..lower.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(lower.as_bytes()))
    } else {
        word.to_lowercase().starts_with(lower)
    }
}

fn keyword(pred: &Predicate, value: &str) -> bool {
    match pred {
        Predicate::Exists => !value.is_empty(),
        Predicate::Text(TextMatch::Exact(q)) => value == q,
        Predicate::Text(TextMatch::Prefix(q)) => value.starts_with(q.as_str()),
        Predicate::Range(range) => in_range(range, |b| match b {
            Scalar::Text(t) => Some(value.cmp(t.as_str())),
            _ => None,
        }),
        Predicate::Level(_) | Predicate::Regex(_) => false,
    }
}

/// A structured value (never an array): numbers compare with numbers, strings with text; a
/// bound of the other kind does not match.
fn structured(pred: &Predicate, value: &Value) -> bool {
    match pred {
        Predicate::Exists => has_scalar(value),
        Predicate::Text(TextMatch::Exact(q)) => match value {
            Value::String(s) => s == q,
            Value::Number(n) => {
                n.to_string() == *q
                    || q.parse::<f64>()
                        .ok()
                        .zip(n.as_f64())
                        .is_some_and(|(a, b)| a == b)
            }
            Value::Bool(b) => q == if *b { "true" } else { "false" },
            _ => false,
        },
        Predicate::Text(TextMatch::Prefix(q)) => match value {
            Value::String(s) => s.starts_with(q.as_str()),
            _ => false,
        },
        Predicate::Range(range) => match value {
            Value::Number(n) => n.as_f64().is_some_and(|v| {
                in_range(range, |b| match b {
                    Scalar::Number(x) => v.partial_cmp(x),
                    _ => None,
                })
            }),
            Value::String(s) => in_range(range, |b| match b {
                Scalar::Text(t) => Some(s.as_str().cmp(t.as_str())),
                _ => None,
            }),
            _ => false,
        },
        Predicate::Level(_) | Predicate::Regex(_) => false,
    }
}

/// Is the value inside the range? `cmp` orders the value against a bound, or `None` when the
/// bound is of another kind (which fails the match).
fn in_range(range: &RangeBounds, cmp: impl Fn(&Scalar) -> Option<Ordering>) -> bool {
    let lower = match &range.lower {
        Bound::Unbounded => true,
        Bound::Included(b) => cmp(b).is_some_and(|o| o != Ordering::Less),
        Bound::Excluded(b) => cmp(b) == Some(Ordering::Greater),
    };
    let upper = match &range.upper {
        Bound::Unbounded => true,
        Bound::Included(b) => cmp(b).is_some_and(|o| o != Ordering::Greater),
        Bound::Excluded(b) => cmp(b) == Some(Ordering::Less),
    };
    lower && upper
}

/// Every value a dotted path reaches: a key spelled with the dots, nested objects, and objects
/// inside arrays (`items.id` in `{"items":[{"id":1}]}`) — the paths the index flattens to.
pub fn lookup<'a>(fields: &'a Map<String, Value>, path: &str) -> Vec<&'a Value> {
    let mut found = Vec::new();
    collect(fields, path, &mut found);
    found
}

fn collect<'a>(fields: &'a Map<String, Value>, path: &str, found: &mut Vec<&'a Value>) {
    if let Some(v) = fields.get(path) {
        found.push(v);
    }
    for (i, _) in path.match_indices('.') {
        let rest = &path[i + 1..];
        match fields.get(&path[..i]) {
            Some(Value::Object(inner)) => collect(inner, rest, found),
            Some(Value::Array(items)) => {
                for item in items {
                    if let Value::Object(inner) = item {
                        collect(inner, rest, found);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Does a value hold anything the index keeps (a non-null scalar, at any depth)?
fn has_scalar(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(items) => items.iter().any(has_scalar),
        Value::Object(m) => m.values().any(has_scalar),
        _ => true,
    }
}
