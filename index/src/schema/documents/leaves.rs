//! The leaves of a run of records' fields, counted by the term each becomes. Pure.

use std::borrow::Borrow;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::ops::Range;
use std::sync::OnceLock;

use firewatch_ingest::LogRecord;
use serde_json::{Map, Value as JsonValue};
use tantivy::columnar::NumericalValue;
use tantivy::schema::Field;
use tantivy::Term;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// What separates a JSON path's segments in tantivy's terms (not exported by tantivy; the
/// tests compare [`Leaves::term`] with the terms tantivy writes).
pub(super) const SEGMENT_SEP: u8 = 1;

/// A leaf of a record's fields: a value that is not an object or an array.
pub(super) struct Leaf<'r> {
    pub(super) path: Range<usize>,
    /// Its path as tantivy writes it in terms (dots expanded), in [`Leaves::paths`].
    pub(super) bytes: Range<usize>,
    pub(super) value: &'r JsonValue,
    /// The term it becomes.
    pub(super) canon: Canon<'r>,
    /// A hash of its path and term (two terms sharing one only makes both look more common,
    /// which costs candidates, never results).
    pub(super) key: u64,
    /// How many leaves of the run share its key.
    pub(super) count: usize,
}

/// The leaves of one run, and how many times each term occurs in it.
#[derive(Default)]
pub(super) struct Leaves<'r> {
    /// The paths of all leaves, back to back.
    segments: Vec<&'r str>,
    /// The same as tantivy writes them, back to back.
    paths: Vec<u8>,
    all: Vec<Leaf<'r>>,
    /// Where each record's leaves start in `all`.
    starts: Vec<usize>,
    /// Every leaf's key, sorted, kept to reuse its memory: a key's count is its run's length.
    sorted: Vec<u64>,
    buf: Vec<u8>,
    /// Are numbers [buckets](crate::numbers)?
    buckets: bool,
}

impl<'r> Leaves<'r> {
    pub(super) fn new(buckets: bool) -> Leaves<'r> {
        Leaves {
            buckets,
            ..Leaves::default()
        }
    }

    pub(super) fn collect<R: Borrow<LogRecord>>(&mut self, run: &'r [R]) {
        self.segments.clear();
        self.paths.clear();
        self.all.clear();
        self.starts.clear();
        let mut path = Vec::new();
        for rec in run {
            self.starts.push(self.all.len());
            self.object(&rec.borrow().fields, &mut path);
        }
        self.starts.push(self.all.len());
        self.sorted.clear();
        self.sorted.extend(self.all.iter().map(|l| l.key));
        self.sorted.sort_unstable();
        for leaf in &mut self.all {
            let from = self.sorted.partition_point(|k| *k < leaf.key);
            leaf.count = self.sorted[from..].partition_point(|k| *k == leaf.key);
        }
    }

    pub(super) fn object(&mut self, map: &'r Map<String, JsonValue>, path: &mut Vec<&'r str>) {
        for (k, v) in map {
            path.push(k);
            self.value(v, path);
            path.pop();
        }
    }

    pub(super) fn value(&mut self, v: &'r JsonValue, path: &mut Vec<&'r str>) {
        match v {
            JsonValue::Object(m) => self.object(m, path),
            JsonValue::Array(items) => {
                for item in items {
                    self.value(item, path);
                }
            }
            // No term.
            JsonValue::Null => {}
            JsonValue::String(_) | JsonValue::Number(_) | JsonValue::Bool(_) => {
                let canon = Canon::of(v, self.buckets);
                let from = self.paths.len();
                for (n, key) in path.iter().enumerate() {
                    if n > 0 {
                        self.paths.push(SEGMENT_SEP);
                    }
                    let key = key.bytes().map(|b| if b == b'.' { SEGMENT_SEP } else { b });
                    self.paths.extend(key);
                }
                let bytes = from..self.paths.len();
                let key = self.key(bytes.clone(), canon);
                let from = self.segments.len();
                self.segments.extend_from_slice(path);
                self.all.push(Leaf {
                    path: from..self.segments.len(),
                    bytes,
                    value: v,
                    canon,
                    key,
                    count: 0,
                });
            }
        }
    }

    /// A hash of a leaf's path (in `paths`) and term.
    pub(super) fn key(&mut self, path: Range<usize>, canon: Canon) -> u64 {
        let buf = &mut self.buf;
        buf.clear();
        buf.extend_from_slice(&self.paths[path]);
        // Never in UTF-8.
        buf.push(0xff);
        match canon {
            Canon::Digits => buf.push(b'd'),
            Canon::Str(s) => {
                buf.push(b's');
                buf.extend_from_slice(str::as_bytes(s));
            }
            Canon::I64(i) => {
                buf.push(b'i');
                buf.extend_from_slice(&i.to_le_bytes());
            }
            Canon::U64(u) => {
                buf.push(b'u');
                buf.extend_from_slice(&u.to_le_bytes());
            }
            Canon::F64(x) => {
                buf.push(b'f');
                buf.extend_from_slice(&x.to_bits().to_le_bytes());
            }
            Canon::Bool(b) => buf.extend_from_slice(&[b'b', u8::from(b)]),
        }
        xxh3_64_with_seed(buf, seed())
    }

    /// Do two leaves become the same term?
    pub(super) fn same_term(&self, a: &Leaf, b: &Leaf) -> bool {
        a.key == b.key && a.canon == b.canon && self.path_bytes(a) == self.path_bytes(b)
    }

    /// A leaf's term of the `fields` field, as tantivy writes it: the path, then the typed
    /// value.
    pub(super) fn term(&self, leaf: &Leaf) -> Vec<u8> {
        // An empty path segment list, so the value bytes follow the end-of-path byte.
        let mut value = Term::from_field_json_path(Field::from_field_id(0), "", false);
        match leaf.canon {
            Canon::Digits => value.append_type_and_str(""),
            Canon::Str(s) => value.append_type_and_str(s),
            Canon::I64(i) => value.append_type_and_fast_value(i),
            Canon::U64(u) => value.append_type_and_fast_value(u),
            Canon::F64(x) => value.append_type_and_fast_value(x),
            Canon::Bool(b) => value.append_type_and_fast_value(b),
        }
        let mut bytes = self.path_bytes(leaf).to_vec();
        bytes.extend_from_slice(value.serialized_value_bytes());
        bytes
    }

    /// A leaf's path as tantivy writes it in its terms, without the end-of-path byte.
    pub(super) fn path_bytes(&self, leaf: &Leaf) -> &[u8] {
        &self.paths[leaf.bytes.clone()]
    }

    /// The leaves of the run's record `i`.
    pub(super) fn of(&self, i: usize) -> impl Iterator<Item = &Leaf<'r>> {
        self.all[self.starts[i]..self.starts[i + 1]].iter()
    }

    /// One leaf of each term in more than `rare` of the run's leaves, in the order they come.
    pub(super) fn common(&self, rare: usize) -> Vec<&Leaf<'r>> {
        // By key, then compared: keys are hashes, and a leaf is a repeat only if its path and
        // value are too. (Comparing with every earlier one was quadratic: a run of records
        // with 40 k fields each took minutes.)
        let mut seen: HashMap<u64, Vec<&Leaf<'r>>> = HashMap::new();
        let mut out = Vec::new();
        for l in self.all.iter().filter(|l| l.count > rare) {
            let same = seen.entry(l.key).or_default();
            if !same.iter().any(|s| self.same_term(s, l)) {
                same.push(l);
                out.push(l);
            }
        }
        out
    }

    pub(super) fn path(&self, leaf: &Leaf) -> &[&'r str] {
        &self.segments[leaf.path.clone()]
    }
}

/// The keys' seed, new in every process: leaves whose keys collide are compared one by one, so
/// keys an input could be built to collide on would make a run's leaves quadratic again.
fn seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| RandomState::new().hash_one(0x6669_7265u32))
}

/// The term a leaf becomes, as the `values` tokenizer and tantivy's JSON indexing make it:
/// strings with a digit are all one term per path (the empty string's; tantivy makes dates of
/// some, found the same way), and a number is an i64 when it can be, then a u64, then an f64.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Canon<'r> {
    Digits,
    Str(&'r str),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

impl<'r> Canon<'r> {
    /// The term of a string, number or boolean; of a number's bucket with `buckets`.
    pub(super) fn of(v: &'r JsonValue, buckets: bool) -> Canon<'r> {
        match v {
            // The empty string has that term too.
            JsonValue::String(s) if s.is_empty() || s.chars().any(char::is_numeric) => {
                Canon::Digits
            }
            JsonValue::String(s) => Canon::Str(s),
            JsonValue::Bool(b) => Canon::Bool(*b),
            JsonValue::Number(n) => {
                let value = if let Some(i) = n.as_i64() {
                    NumericalValue::I64(i)
                } else if let Some(u) = n.as_u64() {
                    NumericalValue::U64(u)
                } else {
                    NumericalValue::F64(n.as_f64().unwrap_or(f64::NAN))
                };
                let value = if buckets {
                    crate::numbers::indexed(value).term()
                } else {
                    value.normalize()
                };
                match value {
                    NumericalValue::I64(i) => Canon::I64(i),
                    NumericalValue::U64(u) => Canon::U64(u),
                    NumericalValue::F64(x) => Canon::F64(x),
                }
            }
            // Never a leaf.
            JsonValue::Null | JsonValue::Array(_) | JsonValue::Object(_) => Canon::Digits,
        }
    }
}
