//! The fields and messages of a layout-2 block body, written here and read back in [`read`]. Pure.
//!
//! Parsed logs repeat themselves: an access log's message is the whole line, and its fields hold
//! the client, path, status and size again. Layout 2 stores each value once. A record's fields
//! are split into typed columns, one per (path, kind): integers as deltas, strings as they are.
//! Its message becomes a *template*, in which the text of a string or integer field found in the
//! message is replaced by a reference to that field. On a generated corpus this halves the
//! message and fields columns after zstd, because what is left of the messages repeats almost
//! verbatim from record to record.
//!
//! ```text
//! shape × count     (varint: 0 = no fields, k = shape k-1)
//! template × count  (string: the message; 0x00 0x00 is a NUL, 0x00 k (k ≥ 1) the text of the
//!                    record's leaf k-1)
//! columns           (varint c, then per column: varint depth, its keys as strings, the kind
//!                    byte, the varint byte length of its values)
//! shapes            (varint s, then per shape: varint leaf count, the leaves' column indices)
//! values            (the columns' values, column after column)
//! ```
//!
//! A leaf is a value that is not a non-empty object; the leaves of a record are its fields walked
//! in key order, so a shape and its columns rebuild exactly the same map.

use std::collections::HashMap;

use firewatch_ingest::LogRecord;
use serde_json::{Map, Value};

use super::{put_str, put_varint, zigzag};

mod read;
pub(crate) use read::Reader;

/// How a column stores its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// No bytes.
    Null,
    /// One byte, 0 or 1.
    Bool,
    /// Zigzag varint delta from the column's previous integer.
    Int,
    /// Any other number, as its JSON text (exact: serde_json's float round trip is on).
    Number,
    Str,
    /// Arrays and empty objects, as JSON text.
    Json,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::Null,
        Kind::Bool,
        Kind::Int,
        Kind::Number,
        Kind::Str,
        Kind::Json,
    ];

    fn of(v: &Value) -> Kind {
        match v {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(n) if n.is_i64() => Kind::Int,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::Str,
            Value::Array(_) | Value::Object(_) => Kind::Json,
        }
    }
}

/// Leaves past this many in a record are never referenced from its template: references stay
/// ASCII, so a template is valid UTF-8 exactly when its message is.
const MAX_REFS: usize = 127;

/// A column being written.
struct ColumnOut<'r> {
    path: Vec<&'r str>,
    kind: Kind,
    values: Vec<u8>,
    prev: i64,
}

/// How many shapes a block's encoder tries before looking a record's shape up by its paths:
/// records of one source share a few shapes, and comparing paths allocates nothing.
const RECENT_SHAPES: usize = 8;

/// Appends the layout-2 columns of `records` (the part after `level_raw`).
pub(super) fn encode<'r>(records: impl Iterator<Item = &'r LogRecord>, out: &mut Vec<u8>) {
    let mut columns: Vec<ColumnOut<'r>> = Vec::new();
    let mut column_of: HashMap<(Vec<&'r str>, Kind), usize> = HashMap::new();
    let mut shapes: Vec<Vec<usize>> = Vec::new();
    let mut shape_of: HashMap<Vec<usize>, usize> = HashMap::new();
    let mut recent: Vec<usize> = Vec::new();
    let mut leaves = Leaves::default();
    let mut templates = Vec::new();
    let mut placed: Vec<(usize, usize, usize)> = Vec::new();
    let mut text = String::new();
    let mut json = Vec::new();
    for r in records {
        leaves.clear();
        leaves.walk(&r.fields);
        if leaves.is_empty() {
            put_varint(out, 0);
            put_template(&r.message, &mut [], &mut templates);
            continue;
        }
        let s = match recent
            .iter()
            .position(|&s| leaves.fit(&shapes[s], &columns))
        {
            Some(at) => recent.remove(at),
            None => {
                let shape: Vec<usize> = leaves
                    .iter()
                    .map(|(path, value)| {
                        let key = (path.to_vec(), Kind::of(value));
                        *column_of.entry(key).or_insert_with(|| {
                            columns.push(ColumnOut {
                                path: path.to_vec(),
                                kind: Kind::of(value),
                                values: Vec::new(),
                                prev: 0,
                            });
                            columns.len() - 1
                        })
                    })
                    .collect();
                *shape_of.entry(shape).or_insert_with_key(|shape| {
                    shapes.push(shape.clone());
                    shapes.len() - 1
                })
            }
        };
        recent.insert(0, s);
        recent.truncate(RECENT_SHAPES);
        put_varint(out, s as u64 + 1);
        placed.clear();
        for (k, (&c, (_, value))) in shapes[s].iter().zip(leaves.iter()).enumerate() {
            let column = &mut columns[c];
            put_value(value, &mut column.values, &mut column.prev, &mut json);
            if k < MAX_REFS && leaf_text(value, &mut text) {
                place(&r.message, &text, k, &mut placed);
            }
        }
        put_template(&r.message, &mut placed, &mut templates);
    }
    out.extend_from_slice(&templates);
    put_varint(out, columns.len() as u64);
    for c in &columns {
        put_varint(out, c.path.len() as u64);
        for key in &c.path {
            put_str(out, key);
        }
        out.push(Kind::ALL.iter().position(|k| *k == c.kind).unwrap_or(0) as u8);
        put_varint(out, c.values.len() as u64);
    }
    put_varint(out, shapes.len() as u64);
    for s in &shapes {
        put_varint(out, s.len() as u64);
        for c in s {
            put_varint(out, *c as u64);
        }
    }
    for c in &columns {
        out.extend_from_slice(&c.values);
    }
}

/// A record's leaves in key order, their paths kept end to end in one reused buffer.
#[derive(Default)]
struct Leaves<'r> {
    keys: Vec<&'r str>,
    leaves: Vec<(usize, usize, &'r Value)>,
    path: Vec<&'r str>,
}

impl<'r> Leaves<'r> {
    fn clear(&mut self) {
        self.keys.clear();
        self.leaves.clear();
    }

    fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    fn walk(&mut self, map: &'r Map<String, Value>) {
        for (key, value) in map {
            self.path.push(key);
            match value {
                Value::Object(inner) if !inner.is_empty() => self.walk(inner),
                _ => {
                    let start = self.keys.len();
                    self.keys.extend_from_slice(&self.path);
                    self.leaves.push((start, self.keys.len(), value));
                }
            }
            self.path.pop();
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&[&'r str], &'r Value)> + '_ {
        self.leaves
            .iter()
            .map(|&(a, b, value)| (&self.keys[a..b], value))
    }

    /// Are these leaves, path for path and kind for kind, the columns of `shape`?
    fn fit(&self, shape: &[usize], columns: &[ColumnOut]) -> bool {
        shape.len() == self.leaves.len()
            && shape.iter().zip(self.iter()).all(|(&c, (path, value))| {
                columns[c].kind == Kind::of(value) && columns[c].path == path
            })
    }
}

/// Appends `v` to its column; `json` is scratch space for values stored as JSON text.
fn put_value(v: &Value, out: &mut Vec<u8>, prev: &mut i64, json: &mut Vec<u8>) {
    match v {
        Value::Null => {}
        Value::Bool(b) => out.push(u8::from(*b)),
        Value::Number(n) if n.is_i64() => {
            let i = n.as_i64().unwrap_or_default();
            put_varint(out, zigzag(i.wrapping_sub(*prev)));
            *prev = i;
        }
        Value::String(s) => put_str(out, s),
        Value::Number(_) | Value::Array(_) | Value::Object(_) => {
            json.clear();
            // Writing into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *json, v);
            put_varint(out, json.len() as u64);
            out.extend_from_slice(json);
        }
    }
}

/// The text a message may hold for a leaf: strings of two bytes or more and integers.
fn leaf_text(v: &Value, out: &mut String) -> bool {
    out.clear();
    match v {
        Value::String(s) if s.len() >= 2 => out.push_str(s),
        Value::Number(n) => match n.as_i64() {
            Some(i) => out.push_str(itoa::Buffer::new().format(i)),
            None => return false,
        },
        _ => return false,
    }
    true
}

/// Places leaf `k`'s `text` at its first occurrence in `message` that overlaps no leaf placed
/// before, if there is one.
fn place(message: &str, text: &str, k: usize, placed: &mut Vec<(usize, usize, usize)>) {
    let free = |start: usize| {
        let end = start + text.len();
        placed.iter().all(|&(s, e, _)| end <= s || start >= e)
    };
    // By the first byte, then the rest: `str::match_indices` sets up a searcher per call, which
    // cost 1% of the node's CPU for needles this short. A valid UTF-8 needle found in valid
    // UTF-8 starts on a character boundary, as a `str` search's would.
    let (m, t) = (message.as_bytes(), text.as_bytes());
    let Some(&first) = t.first() else { return };
    let mut from = 0;
    while let Some(i) = memchr::memchr(first, &m[from..]) {
        let start = from + i;
        if m[start..].starts_with(t) && free(start) {
            placed.push((start, start + t.len(), k));
            return;
        }
        from = start + 1;
    }
}

/// Writes `message` as a template over the `placed` leaves (sorted here).
fn put_template(message: &str, placed: &mut [(usize, usize, usize)], out: &mut Vec<u8>) {
    placed.sort_unstable();
    let escaped_len = |s: &str| s.len() + s.bytes().filter(|&b| b == 0).count();
    let mut len = 0;
    let mut at = 0;
    for &(start, end, _) in placed.iter() {
        len += escaped_len(&message[at..start]) + 2;
        at = end;
    }
    len += escaped_len(&message[at..]);
    put_varint(out, len as u64);
    let escaped = |s: &str, out: &mut Vec<u8>| {
        for part in s.as_bytes().split_inclusive(|&b| b == 0) {
            out.extend_from_slice(part);
            if part.last() == Some(&0) {
                out.push(0);
            }
        }
    };
    let mut at = 0;
    for &(start, end, k) in placed.iter() {
        escaped(&message[at..start], out);
        out.extend_from_slice(&[0, k as u8 + 1]);
        at = end;
    }
    escaped(&message[at..], out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_fields_are_what_serde_json_writes() {
        let all: String = (0u32..0x300).filter_map(char::from_u32).collect();
        let nasty = [
            "",
            "plain",
            "q\"b\\n\nt\te\u{7f}\u{1f}ü",
            "\u{2028}",
            all.as_str(),
        ];
        let records: Vec<LogRecord> = nasty
            .iter()
            .zip([0, 7, -7, i64::MIN, i64::MAX])
            .map(|(s, i)| {
                let fields = serde_json::json!({s.to_string(): {"int": i, "str": s, "x\0": [s]}});
                LogRecord {
                    id: String::new(),
                    timestamp: 0,
                    observed: 0,
                    service: String::new(),
                    host: String::new(),
                    source: String::new(),
                    level: firewatch_ingest::Level::Info,
                    level_raw: None,
                    message: format!("{i} {s}"),
                    fields: fields.as_object().cloned().unwrap(),
                }
            })
            .collect();
        let mut out = Vec::new();
        encode(records.iter(), &mut out);
        let mut reader = Reader::new(&mut &out[..], records.len()).unwrap();
        for (i, r) in records.iter().enumerate() {
            let mut text = Vec::new();
            reader.write_text(i, &mut text).unwrap();
            let want = format!(
                "{} {}",
                r.message,
                serde_json::to_string(&r.fields).unwrap()
            );
            assert_eq!(String::from_utf8(text).unwrap(), want);
        }
        assert!(reader.write_text(records.len(), &mut Vec::new()).is_none());
        let mut again = Reader::new(&mut &out[..], records.len()).unwrap();
        assert!(
            again.write_text(1, &mut Vec::new()).is_none(),
            "records are read in order"
        );
    }

    #[test]
    fn leaves_are_placed_where_no_other_leaf_is() {
        let mut placed = Vec::new();
        place("500 of 5000", "500", 0, &mut placed);
        place("500 of 5000", "500", 1, &mut placed);
        place("500 of 5000", "zzz", 2, &mut placed);
        assert_eq!(placed, vec![(0, 3, 0), (7, 10, 1)]);
        let mut out = Vec::new();
        put_template("500 of 5000", &mut placed, &mut out);
        assert_eq!(out, b"\x09\0\x01 of \0\x020");
    }
}
