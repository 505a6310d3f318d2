//! The fields and messages of a layout-2 block body. Pure.
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

use super::{get_bytes, get_str, get_varint, put_str, put_varint, skip_str, unzigzag, zigzag};

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
    if let Some((start, _)) = message.match_indices(text).find(|(start, _)| free(*start)) {
        placed.push((start, start + text.len(), k));
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

/// A column being read.
struct Column<'a> {
    path: Vec<&'a str>,
    kind: Kind,
    values: &'a [u8],
    prev: i64,
}

/// A value as read from its column, borrowing its text. Text is checked as UTF-8 only when a
/// record is built from it: `grep` searches bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Leaf<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Str(&'a [u8]),
    /// JSON text: a non-integer number, an array or an empty object.
    Json(&'a [u8]),
}

impl Leaf<'_> {
    fn to_value(self) -> Option<Value> {
        Some(match self {
            Leaf::Null => Value::Null,
            Leaf::Bool(b) => Value::Bool(b),
            Leaf::Int(i) => Value::from(i),
            Leaf::Str(s) => Value::String(std::str::from_utf8(s).ok()?.to_string()),
            Leaf::Json(text) => serde_json::from_slice(text).ok()?,
        })
    }

    /// Appends the leaf as serde_json writes it.
    fn write_json(self, out: &mut Vec<u8>) {
        match self {
            Leaf::Null => out.extend_from_slice(b"null"),
            Leaf::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
            Leaf::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes()),
            Leaf::Str(s) => json_str(s, out),
            Leaf::Json(text) => out.extend_from_slice(text),
        }
    }
}

/// Appends `s` as the JSON string serde_json writes. It escapes only `"`, `\\` and control
/// characters, so most values are copied as they are; the others go through its escaper.
fn json_str(s: &[u8], out: &mut Vec<u8>) {
    if s.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20) {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &*String::from_utf8_lossy(s));
    } else {
        out.push(b'"');
        out.extend_from_slice(s);
        out.push(b'"');
    }
}

impl<'a> Column<'a> {
    fn read(&mut self) -> Option<Leaf<'a>> {
        let b = &mut self.values;
        Some(match self.kind {
            Kind::Null => Leaf::Null,
            Kind::Bool => {
                let (first, rest) = b.split_first()?;
                *b = rest;
                Leaf::Bool(*first != 0)
            }
            Kind::Int => {
                self.prev = self.prev.wrapping_add(unzigzag(get_varint(b)?));
                Leaf::Int(self.prev)
            }
            Kind::Number | Kind::Json => Leaf::Json(get_bytes(b)?),
            Kind::Str => Leaf::Str(get_bytes(b)?),
        })
    }

    fn skip(&mut self) -> Option<()> {
        let b = &mut self.values;
        match self.kind {
            Kind::Null => {}
            Kind::Bool => *b = b.get(1..)?,
            Kind::Int => self.prev = self.prev.wrapping_add(unzigzag(get_varint(b)?)),
            Kind::Number | Kind::Str | Kind::Json => skip_str(b)?,
        }
        Some(())
    }
}

/// Reads the layout-2 columns of a block, record after record.
pub(crate) struct Reader<'a> {
    shape_of: Vec<usize>,
    templates: Vec<&'a [u8]>,
    columns: Vec<Column<'a>>,
    shapes: Vec<Vec<usize>>,
    leaves: Vec<Leaf<'a>>,
    /// The record the columns are at.
    next: usize,
}

impl<'a> Reader<'a> {
    /// Reads the columns of `n` records from `b`, which must hold nothing after them.
    pub(super) fn new(b: &mut &'a [u8], n: usize) -> Option<Reader<'a>> {
        let shape_of = (0..n)
            .map(|_| usize::try_from(get_varint(b)?).ok())
            .collect::<Option<Vec<usize>>>()?;
        let templates = (0..n).map(|_| get_bytes(b)).collect::<Option<Vec<_>>>()?;
        let count = bounded(b)?;
        let mut columns = Vec::with_capacity(count);
        let mut lens = Vec::with_capacity(count);
        for _ in 0..count {
            let depth = bounded(b)?;
            let path = (0..depth)
                .map(|_| get_str(b))
                .collect::<Option<Vec<&str>>>()?;
            let (kind, rest) = b.split_first()?;
            *b = rest;
            let kind = *Kind::ALL.get(*kind as usize)?;
            lens.push(usize::try_from(get_varint(b)?).ok()?);
            columns.push(Column {
                path,
                kind,
                values: &[],
                prev: 0,
            });
        }
        let count = bounded(b)?;
        let mut shapes = Vec::with_capacity(count);
        for _ in 0..count {
            let leaves = bounded(b)?;
            let shape = (0..leaves)
                .map(|_| {
                    usize::try_from(get_varint(b)?)
                        .ok()
                        .filter(|&c| c < columns.len())
                })
                .collect::<Option<Vec<usize>>>()?;
            // A path twice, or a path through another leaf, would not rebuild one object. In
            // sorted order a path is followed by the paths it is a prefix of.
            let mut paths: Vec<&[&str]> = shape.iter().map(|&c| &columns[c].path[..]).collect();
            paths.sort_unstable();
            let clash = paths.windows(2).any(|w| w[1].starts_with(w[0]));
            if clash || paths.first().is_some_and(|p| p.is_empty()) {
                return None;
            }
            shapes.push(shape);
        }
        for (column, len) in columns.iter_mut().zip(lens) {
            let (values, rest) = b.split_at_checked(len)?;
            column.values = values;
            *b = rest;
        }
        if !b.is_empty() || shape_of.iter().any(|&s| s > shapes.len()) {
            return None;
        }
        Some(Reader {
            shape_of,
            templates,
            columns,
            shapes,
            leaves: Vec::new(),
            next: 0,
        })
    }

    /// Reads record `i`'s leaves; records must be read in order, each exactly once
    /// ([`Reader::skip`] for those not wanted).
    fn read_leaves(&mut self, i: usize) -> Option<()> {
        self.step(i)?;
        self.leaves.clear();
        let shape = self.shape_of[i]
            .checked_sub(1)
            .map_or(&[][..], |s| &self.shapes[s]);
        for &c in shape {
            self.leaves.push(self.columns[c].read()?);
        }
        Some(())
    }

    /// The columns of record `i`'s leaves.
    fn shape(&self, i: usize) -> &[usize] {
        self.shape_of[i]
            .checked_sub(1)
            .map_or(&[][..], |s| &self.shapes[s])
    }

    /// Record `i`'s message and fields (see [`Reader::read_leaves`]).
    pub(super) fn read(&mut self, i: usize) -> Option<(String, Map<String, Value>)> {
        self.read_leaves(i)?;
        let shape = self.shape(i);
        let message = expand(self.templates[i], &self.leaves)?;
        let mut fields = Map::new();
        for (&c, leaf) in shape.iter().zip(&self.leaves) {
            insert(&mut fields, &self.columns[c].path, leaf.to_value()?)?;
        }
        Some((message, fields))
    }

    /// Moves past record `i`; `None` unless it is the next one (and exists).
    fn step(&mut self, i: usize) -> Option<()> {
        (i == self.next && i < self.shape_of.len()).then(|| self.next += 1)
    }

    /// Steps over record `i`.
    pub(super) fn skip(&mut self, i: usize) -> Option<()> {
        self.step(i)?;
        if let Some(shape) = self.shape_of[i].checked_sub(1) {
            for &c in &self.shapes[shape] {
                self.columns[c].skip()?;
            }
        }
        Some(())
    }

    /// Appends record `i`'s message, then a space and its fields as the compact JSON text
    /// serde_json writes for them when it has any, as `grep` searches them: written straight
    /// from the columns, without building the record.
    pub(super) fn write_text(&mut self, i: usize, out: &mut Vec<u8>) -> Option<()> {
        self.read_leaves(i)?;
        expand_into(self.templates[i], &self.leaves, out)?;
        let shape = self.shape(i);
        if shape.is_empty() {
            return Some(());
        }
        out.push(b' ');
        let mut open: Option<&[&str]> = None;
        for (&c, leaf) in shape.iter().zip(&self.leaves) {
            let path = &self.columns[c].path[..];
            let (parents, key) = path.split_at(path.len() - 1);
            let common = match open {
                None => {
                    out.push(b'{');
                    0
                }
                Some(open) => {
                    let common = open.iter().zip(parents).take_while(|(a, b)| a == b).count();
                    out.extend(std::iter::repeat_n(b'}', open.len() - common));
                    out.push(b',');
                    common
                }
            };
            for (j, k) in parents[common..].iter().enumerate() {
                if j > 0 {
                    out.push(b'{');
                }
                json_str(k.as_bytes(), out);
                out.push(b':');
            }
            if parents.len() > common {
                out.push(b'{');
            }
            json_str(key[0].as_bytes(), out);
            out.push(b':');
            leaf.write_json(out);
            open = Some(parents);
        }
        out.extend(std::iter::repeat_n(b'}', open.map_or(0, <[_]>::len) + 1));
        Some(())
    }
}

/// Reads a count that cannot exceed the bytes left (each item takes at least one byte).
fn bounded(b: &mut &[u8]) -> Option<usize> {
    usize::try_from(get_varint(b)?)
        .ok()
        .filter(|&n| n <= b.len())
}

/// Inserts `value` at `path` into `map`; `None` if the path runs through a non-object or the
/// leaf is already there (a malformed shape).
fn insert(map: &mut Map<String, Value>, path: &[&str], value: Value) -> Option<()> {
    let (last, parents) = path.split_last()?;
    let mut at = map;
    for key in parents {
        at = match at
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()))
        {
            Value::Object(inner) => inner,
            _ => return None,
        };
    }
    match at.insert(last.to_string(), value) {
        None => Some(()),
        Some(_) => None,
    }
}

/// The message of a template, given its record's leaves.
fn expand(template: &[u8], leaves: &[Leaf]) -> Option<String> {
    let mut out = Vec::with_capacity(template.len() + 32);
    expand_into(template, leaves, &mut out)?;
    String::from_utf8(out).ok()
}

/// Appends the message of a template, given its record's leaves.
fn expand_into(template: &[u8], leaves: &[Leaf], out: &mut Vec<u8>) -> Option<()> {
    let mut rest = template;
    while let Some(at) = memchr::memchr(0, rest) {
        out.extend_from_slice(&rest[..at]);
        let k = *rest.get(at + 1)?;
        rest = &rest[at + 2..];
        match (k, k.checked_sub(1).and_then(|k| leaves.get(k as usize))) {
            (0, _) => out.push(0),
            (_, Some(Leaf::Str(s))) => out.extend_from_slice(s),
            (_, Some(Leaf::Int(i))) => {
                out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes())
            }
            _ => return None,
        }
    }
    out.extend_from_slice(rest);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_expand_only_over_text_leaves() {
        let leaves = [Leaf::Str(b"db-1"), Leaf::Int(-42), Leaf::Bool(true)];
        let t = |b: &'static str| expand(b.as_bytes(), &leaves);
        assert_eq!(t("plain").as_deref(), Some("plain"));
        assert_eq!(
            t("host \0\x01 code \0\x02").as_deref(),
            Some("host db-1 code -42")
        );
        assert_eq!(t("nul \0\0 kept").as_deref(), Some("nul \0 kept"));
        assert_eq!(t("bool \0\x03"), None, "a bool is never referenced");
        assert_eq!(t("past \0\x04"), None, "no such leaf");
        assert_eq!(t("cut \0"), None);
        assert_eq!(t("\0é"), None, "a reference is one ASCII byte");
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
