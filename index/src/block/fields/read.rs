//! Reading a layout-2 block body's fields and messages back (see the parent module for the
//! layout). Pure.

use serde_json::{Map, Value};

use super::super::stamps::Parts;
use super::super::{get_bytes, get_str, get_varint, unzigzag};
use super::{Form, Kind, TIME_REF};

/// A column being read.
struct Column<'a> {
    path: Vec<&'a str>,
    kind: Kind,
    values: &'a [u8],
    prev: i64,
    /// Layout 5: the values written out so far, which repeats refer to by number.
    seen: Option<Vec<&'a [u8]>>,
}

/// A value as read from its column, borrowing its text. Text is checked as UTF-8 only when a
/// record is built from it: `grep` searches bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Leaf<'a> {
    Null,
    Bool(bool),
    Int(i64),
    /// A float with this integer value.
    WholeFloat(i64),
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
            Leaf::WholeFloat(i) => Value::from(i as f64),
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
            Leaf::WholeFloat(i) => {
                out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
                out.extend_from_slice(b".0");
            }
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
            Kind::Int | Kind::WholeFloat => {
                self.prev = self.prev.wrapping_add(unzigzag(get_varint(b)?));
                match self.kind {
                    Kind::Int => Leaf::Int(self.prev),
                    _ if (self.prev as f64).abs() < super::WHOLE_BELOW => {
                        Leaf::WholeFloat(self.prev)
                    }
                    _ => return None,
                }
            }
            Kind::Number | Kind::Json => Leaf::Json(repeatable(b, &mut self.seen)?),
            Kind::Str => Leaf::Str(repeatable(b, &mut self.seen)?),
        })
    }

    fn skip(&mut self) -> Option<()> {
        self.read().map(|_| ())
    }
}

/// Reads bytes written out, or (when `seen` is kept, layout 5) the number of bytes written
/// out before, which it then keeps too.
fn repeatable<'a>(b: &mut &'a [u8], seen: &mut Option<Vec<&'a [u8]>>) -> Option<&'a [u8]> {
    let Some(seen) = seen else {
        return get_bytes(b);
    };
    match get_varint(b)? {
        0 => {
            let bytes = get_bytes(b)?;
            seen.push(bytes);
            Some(bytes)
        }
        k => seen.get(usize::try_from(k - 1).ok()?).copied(),
    }
}

/// Reads the layout-2 columns of a block, record after record.
pub(crate) struct Reader<'a> {
    form: Form,
    shape_of: Vec<usize>,
    templates: Vec<&'a [u8]>,
    columns: Vec<Column<'a>>,
    shapes: Vec<Vec<usize>>,
    leaves: Vec<Leaf<'a>>,
    /// The record the columns are at.
    next: usize,
}

impl<'a> Reader<'a> {
    /// Reads the columns of `n` records in `form` from `b`, which must hold nothing after them.
    pub(crate) fn new(b: &mut &'a [u8], n: usize, form: Form) -> Option<Reader<'a>> {
        let shape_of = (0..n)
            .map(|_| usize::try_from(get_varint(b)?).ok())
            .collect::<Option<Vec<usize>>>()?;
        let mut seen = (form == Form::Repeats).then(Vec::new);
        let templates = (0..n)
            .map(|_| repeatable(b, &mut seen))
            .collect::<Option<Vec<_>>>()?;
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
            let kind = *Kind::ALL
                .get(*kind as usize)
                .filter(|&&k| k != Kind::WholeFloat || form == Form::Repeats)?;
            lens.push(usize::try_from(get_varint(b)?).ok()?);
            columns.push(Column {
                path,
                kind,
                values: &[],
                prev: 0,
                seen: (form == Form::Repeats).then(Vec::new),
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
            form,
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

    /// Record `i`'s message and fields (see [`Reader::read_leaves`]); `time` is its timestamp.
    pub(crate) fn read(&mut self, i: usize, time: i64) -> Option<(String, Map<String, Value>)> {
        self.read_leaves(i)?;
        let shape = self.shape(i);
        let mut message = Vec::with_capacity(self.templates[i].len() + 32);
        self.expand_into(i, time, &mut message)?;
        let message = String::from_utf8(message).ok()?;
        let mut fields = Map::new();
        for (&c, leaf) in shape.iter().zip(&self.leaves) {
            insert(&mut fields, &self.columns[c].path, leaf.to_value()?)?;
        }
        Some((message, fields))
    }

    /// Appends record `i`'s message, its leaves read.
    fn expand_into(&self, i: usize, time: i64, out: &mut Vec<u8>) -> Option<()> {
        expand_into(self.templates[i], &self.leaves, self.form, time, out)
    }

    /// Moves past record `i`; `None` unless it is the next one (and exists).
    fn step(&mut self, i: usize) -> Option<()> {
        (i == self.next && i < self.shape_of.len()).then(|| self.next += 1)
    }

    /// Steps over record `i`.
    pub(crate) fn skip(&mut self, i: usize) -> Option<()> {
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
    /// from the columns, without building the record. `time` is its timestamp.
    pub(crate) fn write_text(&mut self, i: usize, time: i64, out: &mut Vec<u8>) -> Option<()> {
        self.read_leaves(i)?;
        self.expand_into(i, time, out)?;
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

/// Appends the message of a template in `form`, given its record's leaves and time.
fn expand_into(
    template: &[u8],
    leaves: &[Leaf],
    form: Form,
    time: i64,
    out: &mut Vec<u8>,
) -> Option<()> {
    let mut rest = template;
    while let Some(at) = memchr::memchr(0, rest) {
        out.extend_from_slice(&rest[..at]);
        let k = *rest.get(at + 1)?;
        rest = &rest[at + 2..];
        if k == TIME_REF && form == Form::Repeats {
            let (&f, after) = rest.split_first()?;
            Parts::of(time)?.render(f, out)?;
            rest = after;
            continue;
        }
        match (k, k.checked_sub(1).and_then(|k| leaves.get(k as usize))) {
            (0, _) => out.push(0),
            (_, Some(Leaf::Str(s))) => out.extend_from_slice(s),
            (_, Some(Leaf::Int(i) | Leaf::WholeFloat(i))) => {
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
        let t = |b: &'static str| {
            let mut out = Vec::new();
            expand_into(b.as_bytes(), &leaves, Form::Leaves, 0, &mut out)?;
            String::from_utf8(out).ok()
        };
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
}
