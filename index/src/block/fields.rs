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
//!
//! Layout 5 ([`Form::Repeats`]) adds two things. A template may refer to its record's time
//! (`0x00 0x7f f`: the time in [format](super::stamps::FORMATS) `f`), so leaves are 126 at
//! most. And a template, or a string, non-integer number or JSON value, that its column has
//! held before in the block is written as the varint number of that first occurrence
//! (`k ≥ 1`: the k-th distinct one), a new one as 0 and then the value as before: access
//! paths, user agents and constant messages repeat all through a block, and a number is
//! cheaper for zstd than another copy.

use std::collections::HashMap;
use std::ops::Range;

use firewatch_ingest::LogRecord;
use serde_json::{Map, Value};

use super::stamps;
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
    /// Layout 5: a float with an integer value (`105.0`, as an access log's duration in
    /// milliseconds), as an `Int` is stored. A template refers to it by its integer digits.
    WholeFloat,
}

/// Whole floats below this in magnitude are exact integers, and serde_json writes them as
/// the integer and `.0`.
const WHOLE_BELOW: f64 = 9_007_199_254_740_992.0;

impl Kind {
    const ALL: [Kind; 7] = [
        Kind::Null,
        Kind::Bool,
        Kind::Int,
        Kind::Number,
        Kind::Str,
        Kind::Json,
        Kind::WholeFloat,
    ];

    fn of(v: &Value, form: Form) -> Kind {
        match v {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(n) if n.is_i64() => Kind::Int,
            Value::Number(n) if form == Form::Repeats && whole(n).is_some() => Kind::WholeFloat,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::Str,
            Value::Array(_) | Value::Object(_) => Kind::Json,
        }
    }
}

/// The integer value of a float that has one (and is not -0.0), below [`WHOLE_BELOW`].
fn whole(n: &serde_json::Number) -> Option<i64> {
    let x = n.as_f64().filter(|_| n.is_f64())?;
    (x.fract() == 0.0 && x.abs() < WHOLE_BELOW && (x != 0.0 || x.is_sign_positive()))
        .then_some(x as i64)
}

/// What a layout's templates and columns may refer back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// Layouts 2–4: templates refer to leaves; every value and template is written out.
    Leaves,
    /// Layout 5: templates also refer to their record's time, and repeated values and
    /// templates are written as the number of their first occurrence.
    Repeats,
}

impl Form {
    /// Leaves past this many in a record are never referenced from its template: references
    /// stay ASCII, so a template is valid UTF-8 exactly when its message is.
    fn max_refs(self) -> usize {
        match self {
            Form::Leaves => 127,
            Form::Repeats => 126,
        }
    }
}

/// The code of a reference to the record's time (layout 5), followed by the format's number.
const TIME_REF: u8 = 127;

/// What a part of a message is replaced by in its template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ref {
    /// The text of the record's leaf at this index.
    Leaf(usize),
    /// The record's time in this format.
    Time(u8),
}

/// The columns and shapes of a block being written.
struct Columns<'r> {
    form: Form,
    columns: Vec<ColumnOut<'r>>,
    column_of: HashMap<(Vec<&'r str>, Kind), usize>,
    shapes: Vec<Vec<usize>>,
    shape_of: HashMap<Vec<usize>, usize>,
    /// The shapes used last, most recent first.
    recent: Vec<usize>,
}

/// A column being written.
struct ColumnOut<'r> {
    path: Vec<&'r str>,
    kind: Kind,
    values: Vec<u8>,
    prev: i64,
    /// Layout 5: the values written out so far, and their numbers.
    seen: Repeats<'r>,
}

/// Values written out so far, by the number a repeat is written as.
#[derive(Default)]
struct Repeats<'r> {
    borrowed: HashMap<&'r [u8], u64>,
    owned: HashMap<Vec<u8>, u64>,
}

impl<'r> Repeats<'r> {
    /// Writes `text` (borrowed from the record, or scratch space) as its number if seen
    /// before, else as 0 and the text.
    fn put(&mut self, text: Result<&'r [u8], &[u8]>, out: &mut Vec<u8>) {
        let next = (self.borrowed.len() + self.owned.len()) as u64 + 1;
        let known = match text {
            Ok(t) => self.borrowed.get(t),
            Err(t) => self.owned.get(t),
        };
        if let Some(&k) = known {
            put_varint(out, k);
            return;
        }
        put_varint(out, 0);
        let bytes = match text {
            Ok(t) => {
                self.borrowed.insert(t, next);
                t
            }
            Err(t) => {
                self.owned.insert(t.to_vec(), next);
                t
            }
        };
        put_bytes(out, bytes);
    }
}

/// How many shapes a block's encoder tries before looking a record's shape up by its paths:
/// records of one source share a few shapes, and comparing paths allocates nothing.
const RECENT_SHAPES: usize = 8;

/// Appends the columns of `records` (the part after `level_raw`) in `form`.
pub(super) fn encode<'r>(
    records: impl Iterator<Item = &'r LogRecord>,
    out: &mut Vec<u8>,
    form: Form,
) {
    let mut columns = Columns {
        form,
        columns: Vec::new(),
        column_of: HashMap::new(),
        shapes: Vec::new(),
        shape_of: HashMap::new(),
        recent: Vec::new(),
    };
    let mut leaves = Leaves::default();
    let mut templates = Vec::new();
    let mut template = Vec::new();
    let mut seen_templates = Repeats::default();
    let mut placed: Vec<(usize, usize, Ref)> = Vec::new();
    let mut texts = String::new();
    let mut spans: Vec<(usize, Range<usize>)> = Vec::new();
    let mut json = Vec::new();
    let mut rendered = Vec::new();
    for r in records {
        placed.clear();
        if form == Form::Repeats {
            if let Some((start, end, f)) = stamps::find(&r.message, r.timestamp, &mut rendered) {
                placed.push((start, end, Ref::Time(f)));
            }
        }
        leaves.clear();
        leaves.walk(&r.fields);
        if leaves.is_empty() {
            put_varint(out, 0);
        } else {
            let shape = columns.shape(&leaves);
            put_varint(out, shape as u64 + 1);
            let Columns {
                columns, shapes, ..
            } = &mut columns;
            texts.clear();
            spans.clear();
            for (k, (&c, (_, value))) in shapes[shape].iter().zip(leaves.iter()).enumerate() {
                columns[c].put(value, form, &mut json);
                let start = texts.len();
                if k < form.max_refs() && leaf_text(value, form, &mut texts) {
                    spans.push((k, start..texts.len()));
                }
            }
            // Longer texts first: a short one (a status `200`) found inside a longer one (a
            // path `/api/200`) would keep the longer from being referred to.
            spans.sort_by_key(|(_, span)| std::cmp::Reverse(span.len()));
            for (k, span) in &spans {
                place(&r.message, &texts[span.clone()], Ref::Leaf(*k), &mut placed);
            }
        }
        template.clear();
        put_template(&r.message, &mut placed, &mut template);
        match form {
            Form::Leaves => put_bytes(&mut templates, &template),
            Form::Repeats => seen_templates.put(Err(&template), &mut templates),
        }
    }
    out.extend_from_slice(&templates);
    let Columns {
        columns, shapes, ..
    } = columns;
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

impl<'r> Columns<'r> {
    /// The shape of a record's `leaves`, made (with any new columns) if the block has none.
    fn shape(&mut self, leaves: &Leaves<'r>) -> usize {
        let Columns {
            form,
            columns,
            column_of,
            shapes,
            shape_of,
            recent,
        } = self;
        let form = *form;
        let s = match recent
            .iter()
            .position(|&s| leaves.fit(&shapes[s], columns, form))
        {
            Some(at) => recent.remove(at),
            None => {
                let shape: Vec<usize> = leaves
                    .iter()
                    .map(|(path, value)| {
                        let key = (path.to_vec(), Kind::of(value, form));
                        *column_of.entry(key).or_insert_with(|| {
                            columns.push(ColumnOut {
                                path: path.to_vec(),
                                kind: Kind::of(value, form),
                                values: Vec::new(),
                                prev: 0,
                                seen: Repeats::default(),
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
        s
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
    fn fit(&self, shape: &[usize], columns: &[ColumnOut], form: Form) -> bool {
        shape.len() == self.leaves.len()
            && shape.iter().zip(self.iter()).all(|(&c, (path, value))| {
                columns[c].kind == Kind::of(value, form) && columns[c].path == path
            })
    }
}

impl<'r> ColumnOut<'r> {
    /// Appends `v` in `form`; `json` is scratch space for values stored as JSON text.
    fn put(&mut self, v: &'r Value, form: Form, json: &mut Vec<u8>) {
        let out = &mut self.values;
        let text = match v {
            Value::Null => return,
            Value::Bool(b) => return out.push(u8::from(*b)),
            Value::Number(n) if self.kind == Kind::Int || self.kind == Kind::WholeFloat => {
                let i = n.as_i64().or_else(|| whole(n)).unwrap_or_default();
                put_varint(out, zigzag(i.wrapping_sub(self.prev)));
                self.prev = i;
                return;
            }
            Value::String(s) => Ok(s.as_bytes()),
            Value::Number(_) | Value::Array(_) | Value::Object(_) => {
                json.clear();
                // Writing into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut *json, v);
                Err(&json[..])
            }
        };
        match form {
            Form::Leaves => put_bytes(out, text.unwrap_or_else(|t| t)),
            Form::Repeats => self.seen.put(text, out),
        }
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends the text a message may hold for a leaf, if it has one: strings of two bytes or more,
/// integers and (in `form` 5) whole floats' integer digits.
fn leaf_text(v: &Value, form: Form, out: &mut String) -> bool {
    match v {
        Value::String(s) if s.len() >= 2 => out.push_str(s),
        Value::Number(n) => match n.as_i64() {
            Some(i) => out.push_str(itoa::Buffer::new().format(i)),
            None => match whole(n).filter(|_| form == Form::Repeats) {
                Some(i) => out.push_str(itoa::Buffer::new().format(i)),
                None => return false,
            },
        },
        _ => return false,
    }
    true
}

/// Places `text` (leaf `k`'s) at its first occurrence in `message` that overlaps nothing placed
/// before, if there is one.
fn place(message: &str, text: &str, k: Ref, placed: &mut Vec<(usize, usize, Ref)>) {
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

/// Writes `message` as a template over the `placed` references (sorted here).
fn put_template(message: &str, placed: &mut [(usize, usize, Ref)], out: &mut Vec<u8>) {
    placed.sort_unstable();
    let escaped = |s: &str, out: &mut Vec<u8>| {
        for part in s.as_bytes().split_inclusive(|&b| b == 0) {
            out.extend_from_slice(part);
            if part.last() == Some(&0) {
                out.push(0);
            }
        }
    };
    let mut at = 0;
    for &(start, end, r) in placed.iter() {
        escaped(&message[at..start], out);
        match r {
            Ref::Leaf(k) => out.extend_from_slice(&[0, k as u8 + 1]),
            Ref::Time(f) => out.extend_from_slice(&[0, TIME_REF, f]),
        }
        at = end;
    }
    escaped(&message[at..], out);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record at time 0 with only a message and fields.
    fn record(message: String, fields: Value) -> LogRecord {
        LogRecord {
            id: String::new(),
            timestamp: 0,
            observed: 0,
            service: String::new(),
            host: String::new(),
            source: String::new(),
            level: firewatch_ingest::Level::Info,
            level_raw: None,
            message,
            fields: fields.as_object().cloned().unwrap(),
        }
    }

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
                let fields = serde_json::json!({
                    s.to_string(): {"int": i, "str": s, "x\0": [s]},
                    "float": i as f64, "half": 2.5, "zero": -0.0, "huge": 1e300,
                });
                record(format!("{i} {s} 1970-01-01T00:00:00Z"), fields)
            })
            .collect();
        for form in [Form::Leaves, Form::Repeats] {
            let mut out = Vec::new();
            encode(records.iter().chain(&records), &mut out, form);
            let n = 2 * records.len();
            let mut reader = Reader::new(&mut &out[..], n, form).unwrap();
            for (i, r) in records.iter().chain(&records).enumerate() {
                let mut text = Vec::new();
                reader.write_text(i, 0, &mut text).unwrap();
                let want = format!(
                    "{} {}",
                    r.message,
                    serde_json::to_string(&r.fields).unwrap()
                );
                assert_eq!(String::from_utf8(text).unwrap(), want);
            }
            assert!(reader.write_text(n, 0, &mut Vec::new()).is_none());
            let mut again = Reader::new(&mut &out[..], n, form).unwrap();
            assert!(
                again.write_text(1, 0, &mut Vec::new()).is_none(),
                "records are read in order"
            );
        }
    }

    #[test]
    fn a_longer_leaf_is_placed_before_a_shorter_one_inside_it() {
        let record = record(
            "GET /api/200 200".into(),
            serde_json::json!({"code": 200, "url": "/api/200"}),
        );
        let mut out = Vec::new();
        encode([&record].into_iter(), &mut out, Form::Repeats);
        let urls = memchr::memmem::find_iter(&out, b"/api/").count();
        assert_eq!(urls, 1, "the url is in its column only");
        let mut reader = Reader::new(&mut &out[..], 1, Form::Repeats).unwrap();
        assert_eq!(reader.read(0, 0).unwrap().0, record.message);
    }

    #[test]
    fn leaves_are_placed_where_no_other_leaf_is() {
        let mut placed = Vec::new();
        place("500 of 5000", "500", Ref::Leaf(0), &mut placed);
        place("500 of 5000", "500", Ref::Leaf(1), &mut placed);
        place("500 of 5000", "zzz", Ref::Leaf(2), &mut placed);
        assert_eq!(placed, vec![(0, 3, Ref::Leaf(0)), (7, 10, Ref::Leaf(1))]);
        let mut out = Vec::new();
        put_template("500 of 5000", &mut placed, &mut out);
        assert_eq!(out, b"\0\x01 of \0\x020");
    }
}
