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
}

impl BatchBuilder {
    pub fn new(zstd_level: i32) -> Self {
        BatchBuilder {
            ndjson: Vec::new(),
            records: 0,
            first_id: None,
            ranges: BTreeMap::new(),
            opened: None,
            level: zstd_level,
        }
    }

    pub fn push(&mut self, rec: &LogRecord, now: Instant) {
        let mark = self.ndjson.len();
        if let Err(e) = serde_json::to_writer(&mut self.ndjson, rec) {
            // Cannot happen for a LogRecord; never leave half a line behind if it does.
            self.ndjson.truncate(mark);
            tracing::error!(id = %rec.id, error = %e, "cannot encode record");
            return;
        }
        self.ndjson.push(b'\n');
        self.records += 1;
        self.first_id.get_or_insert_with(|| rec.id.clone());
        self.opened.get_or_insert(now);
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
        let mut b = BatchBuilder::new(3);
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
}
