//! Batches: records on their way to the node, with the file ranges they cover.
//!
//! A [`BatchBuilder`] collects records as NDJSON until the batch is big or old enough, then seals
//! it into a [`Batch`]: a zstd body and, for each file it read from, the byte [`Range`] whose
//! events it holds. When the node acknowledges the batch, each range's end becomes the file's
//! checkpoint. The batch id is the id of its first record (`fingerprint:offset`) and its size,
//! so a batch sent again is recognizable in the node's logs; the records' own ids are what make
//! redelivery idempotent.

use std::collections::BTreeMap;
use std::io;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::fingerprint::Fingerprint;
use crate::record::LogRecord;

/// The bytes `[start, end)` of one file whose events are all in a batch (or earlier batches).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub fingerprint: u64,
    pub start: u64,
    pub end: u64,
    pub path: String,
}

/// A sealed batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchMeta {
    pub id: String,
    pub records: u64,
    /// Size of the NDJSON before compression.
    pub raw_bytes: u64,
    pub ranges: Vec<Range>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub meta: BatchMeta,
    /// zstd-compressed NDJSON.
    pub body: Vec<u8>,
}

/// Collects records into the next batch.
pub struct BatchBuilder {
    ndjson: Vec<u8>,
    records: u64,
    first_id: Option<String>,
    ranges: BTreeMap<Fingerprint, Range>,
    opened: Option<Instant>,
    level: i32,
    max_record_bytes: usize,
}

impl BatchBuilder {
    /// A builder whose records' JSON is at most `max_record_bytes` long (the node refuses longer
    /// ones): longer records are cut to fit, message first, and marked `truncated`.
    pub fn new(zstd_level: i32, max_record_bytes: usize) -> Self {
        BatchBuilder {
            ndjson: Vec::new(),
            records: 0,
            first_id: None,
            ranges: BTreeMap::new(),
            opened: None,
            level: zstd_level,
            max_record_bytes,
        }
    }

    pub fn push(&mut self, rec: &LogRecord, now: Instant) {
        let mark = self.ndjson.len();
        if !self.encode(rec) {
            return;
        }
        let len = self.ndjson.len() - mark;
        if len > self.max_record_bytes {
            self.ndjson.truncate(mark);
            let Some(cut) = fit(rec, self.max_record_bytes) else {
                tracing::error!(id = %rec.id, bytes = len, "record too large even without its message and fields; dropped");
                return;
            };
            tracing::warn!(id = %rec.id, bytes = len, limit = self.max_record_bytes, "record too large; cut to fit");
            if !self.encode(&cut) {
                return;
            }
        }
        self.ndjson.push(b'\n');
        self.records += 1;
        self.first_id.get_or_insert_with(|| rec.id.clone());
        self.opened.get_or_insert(now);
    }

    /// Appends `rec`'s JSON; false (and nothing appended) if it cannot be encoded.
    fn encode(&mut self, rec: &LogRecord) -> bool {
        let mark = self.ndjson.len();
        match serde_json::to_writer(&mut self.ndjson, rec) {
            Ok(()) => true,
            Err(e) => {
                // Cannot happen for a LogRecord; never leave half a line behind if it does.
                self.ndjson.truncate(mark);
                tracing::error!(id = %rec.id, error = %e, "cannot encode record");
                false
            }
        }
    }

    /// Notes that this batch covers `[start, end)` of a file.
    pub fn cover(&mut self, fp: Fingerprint, start: u64, end: u64, path: &str) {
        let r = self.ranges.entry(fp).or_insert_with(|| Range {
            fingerprint: fp.0,
            start,
            end,
            path: path.to_string(),
        });
        r.end = r.end.max(end);
    }

    pub fn raw_bytes(&self) -> usize {
        self.ndjson.len()
    }

    pub fn records(&self) -> u64 {
        self.records
    }

    /// Is it time to seal: big enough, or holding records older than `max_age`?
    pub fn due(&self, now: Instant, max_bytes: usize, max_age: std::time::Duration) -> bool {
        self.records > 0
            && (self.ndjson.len() >= max_bytes
                || self
                    .opened
                    .is_some_and(|t| now.duration_since(t) >= max_age))
    }

    /// Seals the batch (None if it holds no records) and starts an empty one.
    pub fn seal(&mut self) -> io::Result<Option<Batch>> {
        if self.records == 0 {
            return Ok(None);
        }
        let body = zstd::bulk::compress(&self.ndjson, self.level)?;
        let first = self.first_id.take().unwrap_or_default();
        let meta = BatchMeta {
            id: format!("{first}+{}", self.records),
            records: self.records,
            raw_bytes: self.ndjson.len() as u64,
            ranges: std::mem::take(&mut self.ranges).into_values().collect(),
        };
        self.ndjson.clear();
        if self.ndjson.capacity() > 4 << 20 {
            self.ndjson.shrink_to(1 << 20);
        }
        self.records = 0;
        self.opened = None;
        Ok(Some(Batch { meta, body }))
    }
}

/// `rec`, whose JSON is longer than `max`, cut to fit: its message first, then its fields, and
/// marked `truncated`. Lines are cut at `max_line_bytes` already, but escaping (a control byte
/// takes 6) and fields parsed from the line can make a record longer than the line.
fn fit(rec: &LogRecord, max: usize) -> Option<LogRecord> {
    let size = |r: &LogRecord| serde_json::to_vec(r).map_or(usize::MAX, |v| v.len());
    let mut cut = rec.clone();
    let message = std::mem::take(&mut cut.message);
    cut.fields
        .insert("truncated".into(), serde_json::Value::Bool(true));
    if size(&cut) > max {
        cut.fields.clear();
        cut.fields
            .insert("truncated".into(), serde_json::Value::Bool(true));
    }
    let mut room = max.checked_sub(size(&cut))?;
    let mut keep = 0;
    for c in message.chars() {
        let takes = json_len(c);
        if takes > room {
            break;
        }
        room -= takes;
        keep += c.len_utf8();
    }
    cut.message = message;
    cut.message.truncate(keep);
    Some(cut)
}

/// Bytes a character takes in a JSON string as serde_json writes it.
fn json_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\t' | '\r' | '\u{8}' | '\u{c}' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn rec(id: &str) -> LogRecord {
        serde_json::from_value(serde_json::json!({
            "id": id, "timestamp": 0, "observed": 0, "message": "m"
        }))
        .unwrap()
    }

    #[test]
    fn seals_ndjson_zstd_with_ranges_and_id() {
        let mut b = BatchBuilder::new(3, 1 << 20);
        let now = Instant::now();
        assert!(b.seal().unwrap().is_none());
        b.push(&rec("00000000000000aa:0"), now);
        b.push(&rec("00000000000000aa:2"), now);
        b.cover(Fingerprint(0xaa), 0, 2, "a");
        b.cover(Fingerprint(0xaa), 0, 4, "a");
        assert!(!b.due(now, 1 << 20, Duration::from_secs(1)));
        assert!(b.due(
            now + Duration::from_secs(1),
            1 << 20,
            Duration::from_secs(1)
        ));
        assert!(b.due(now, 10, Duration::from_secs(1)));
        let batch = b.seal().unwrap().unwrap();
        assert_eq!(batch.meta.id, "00000000000000aa:0+2");
        assert_eq!(batch.meta.ranges.len(), 1);
        assert_eq!(
            (batch.meta.ranges[0].start, batch.meta.ranges[0].end),
            (0, 4)
        );
        let raw = zstd::decode_all(&batch.body[..]).unwrap();
        let lines: Vec<LogRecord> = raw
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(b.records(), 0);
    }

    #[test]
    fn records_longer_than_the_limit_are_cut_to_fit_and_marked() {
        let max = 4096;
        let mut b = BatchBuilder::new(3, max);
        let now = Instant::now();
        // Control bytes take 6 bytes of JSON each: a 3000-byte message makes 18 kB.
        let mut escaped = rec("00000000000000aa:0");
        escaped.message = "start ".to_string() + &"\u{1}".repeat(3000);
        // Fields too big to keep whatever the message.
        let mut wide = rec("00000000000000aa:9000");
        wide.message = "wide".into();
        wide.fields
            .insert("blob".into(), serde_json::Value::String("x".repeat(10_000)));
        let ok = rec("00000000000000aa:20000");
        for r in [&escaped, &wide, &ok] {
            b.push(r, now);
        }
        let batch = b.seal().unwrap().unwrap();
        let raw = zstd::decode_all(&batch.body[..]).unwrap();
        let lines: Vec<&[u8]> = raw
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(lines.len(), 3, "every record kept");
        assert!(
            lines.iter().all(|l| l.len() <= max),
            "a record over the limit"
        );
        let got: Vec<LogRecord> = lines
            .iter()
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert!(
            got[0].message.starts_with("start \u{1}"),
            "the message's start kept"
        );
        assert!(
            got[0].message.len() > 500,
            "cut more than needed: {}",
            got[0].message.len()
        );
        assert_eq!(
            got[0].fields.get("truncated"),
            Some(&serde_json::Value::Bool(true))
        );
        assert_eq!(got[1].message, "wide");
        assert!(got[1].fields.get("blob").is_none());
        assert_eq!(
            got[1].fields.get("truncated"),
            Some(&serde_json::Value::Bool(true))
        );
        assert_eq!(got[2], ok, "a record within the limit is untouched");
        // Every kind of character serde_json writes its own way: the cut is exact.
        let mut mixed = rec("00000000000000bb:0");
        mixed.message = "a\"\\\n\t\r\u{8}\u{c}\u{1}\u{7f}é€😀/".repeat(400);
        b.push(&mixed, now);
        let raw = zstd::decode_all(&b.seal().unwrap().unwrap().body[..]).unwrap();
        let line = raw.strip_suffix(b"\n").unwrap();
        assert!(line.len() <= max && line.len() > max - 6, "{}", line.len());
    }
}
