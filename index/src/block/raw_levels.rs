//! The `level_raw` column of layout 4: each record's level as its line spelled it, predicted
//! from its normalized level.
//!
//! A source spells each level one way (`30` for info in pino, `INFO` in Java, `info` in
//! logfmt), so the spelling repeats what the level column already says. Written out per record
//! it was 3% of a compressed block of the benchmark corpus: zstd cannot see that it follows
//! from the level. The column opens with a table, one spelling per level (the block's most
//! common), and each record is then a 0 when it matches its level's entry.
//!
//! ```text
//! table × 6      (one per Level::ALL: varint 0 = no spelling, k ≥ 1 = k-1 bytes follow)
//! raw × count    (varint 0 = the table's entry for the record's level, 1 = no spelling,
//!                 k ≥ 2 = k-2 bytes follow)
//! ```

use firewatch_ingest::{Level, LogRecord};

use super::{get_varint, level_index, put_varint};

/// Writes the column for `records`.
pub(super) fn encode<'a>(records: impl Iterator<Item = &'a LogRecord> + Clone, out: &mut Vec<u8>) {
    let table = most_common(records.clone());
    for raw in &table {
        match raw {
            None => put_varint(out, 0),
            Some(s) => put_bytes(out, s, 1),
        }
    }
    for r in records {
        let raw = r.level_raw.as_deref();
        if table[level_index(r.level)] == raw {
            put_varint(out, 0);
        } else {
            match raw {
                None => put_varint(out, 1),
                Some(s) => put_bytes(out, s, 2),
            }
        }
    }
}

/// Each level's most common spelling in `records` (the first seen of equally common ones).
fn most_common<'a>(records: impl Iterator<Item = &'a LogRecord>) -> [Option<&'a str>; 6] {
    let mut counts: [Vec<(Option<&str>, usize)>; 6] = Default::default();
    for r in records {
        let seen = &mut counts[level_index(r.level)];
        let raw = r.level_raw.as_deref();
        match seen.iter().position(|(s, _)| *s == raw) {
            Some(i) => seen[i].1 += 1,
            // A hostile block could spell every record differently: a few candidates suffice.
            None if seen.len() < 8 => seen.push((raw, 1)),
            None => {}
        }
    }
    counts.map(|seen| {
        let mut best: Option<(Option<&str>, usize)> = None;
        for (raw, n) in seen {
            if best.is_none_or(|(_, m)| n > m) {
                best = Some((raw, n));
            }
        }
        best.and_then(|(raw, _)| raw)
    })
}

fn put_bytes(out: &mut Vec<u8>, s: &str, offset: u64) {
    put_varint(out, s.len() as u64 + offset);
    out.extend_from_slice(s.as_bytes());
}

/// Reads `len` bytes of UTF-8.
fn get_text<'a>(b: &mut &'a [u8], len: u64) -> Option<&'a str> {
    let (s, rest) = b.split_at_checked(usize::try_from(len).ok()?)?;
    *b = rest;
    std::str::from_utf8(s).ok()
}

/// A reader of the column, after its table.
pub(crate) struct RawLevels<'a> {
    table: [Option<&'a str>; 6],
}

impl<'a> RawLevels<'a> {
    /// Reads the table; `None` if it is malformed.
    pub(crate) fn new(b: &mut &'a [u8]) -> Option<RawLevels<'a>> {
        let mut table = [None; 6];
        for entry in &mut table {
            *entry = match get_varint(b)? {
                0 => None,
                k => Some(get_text(b, k - 1)?),
            };
        }
        Some(RawLevels { table })
    }

    /// The next record's spelling, given its level.
    pub(crate) fn read(&self, b: &mut &[u8], level: Level) -> Option<Option<String>> {
        Some(match get_varint(b)? {
            0 => self.table[level_index(level)].map(str::to_string),
            1 => None,
            k => Some(get_text(b, k - 2)?.to_string()),
        })
    }

    /// Steps over the next record's spelling.
    pub(crate) fn skip(b: &mut &[u8]) -> Option<()> {
        match get_varint(b)? {
            0 | 1 => {}
            k => {
                let len = usize::try_from(k - 2).ok()?;
                *b = b.get(len..)?;
            }
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(level: Level, raw: Option<&str>) -> LogRecord {
        LogRecord {
            id: "a:1".into(),
            timestamp: 0,
            observed: 0,
            service: String::new(),
            host: String::new(),
            source: String::new(),
            level,
            level_raw: raw.map(str::to_string),
            message: String::new(),
            fields: Default::default(),
        }
    }

    fn round_trip(records: &[LogRecord]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(records.iter(), &mut out);
        let mut b = &out[..];
        let reader = RawLevels::new(&mut b).unwrap();
        for r in records {
            assert_eq!(reader.read(&mut b, r.level).unwrap(), r.level_raw);
        }
        assert!(b.is_empty());
        out
    }

    #[test]
    fn spellings_that_follow_from_the_level_take_a_byte_each() {
        let records: Vec<_> = (0..100)
            .map(|i| match i % 3 {
                0 => rec(Level::Info, Some("30")),
                1 => rec(Level::Warn, Some("40")),
                _ => rec(Level::Error, Some("50")),
            })
            .collect();
        let out = round_trip(&records);
        // The table (three 3-byte entries, three empty ones), then a 0 per record.
        assert_eq!(out.len(), 9 + 3 + 100);
        assert!(out[12..].iter().all(|&b| b == 0));
    }

    #[test]
    fn other_spellings_absent_ones_and_empty_ones_survive() {
        let records = vec![
            rec(Level::Info, Some("INFO")),
            rec(Level::Info, None),
            rec(Level::Info, Some("")),
            rec(Level::Info, Some("INFO")),
            rec(Level::Info, Some("info")),
            rec(Level::Error, Some("")),
            rec(Level::Error, Some("")),
            rec(Level::Fatal, None),
            rec(Level::Debug, Some("débug")),
        ];
        round_trip(&records);
        let mut out = Vec::new();
        encode(records.iter(), &mut out);
        let mut b = &out[..];
        RawLevels::new(&mut b).unwrap();
        for _ in &records {
            RawLevels::skip(&mut b).unwrap();
        }
        assert!(b.is_empty());
    }

    #[test]
    fn truncated_or_invalid_columns_are_refused() {
        let mut out = Vec::new();
        encode([rec(Level::Info, Some("x"))].iter(), &mut out);
        // A record's spelling that runs past the end.
        let mut bad = out[..6 + 1].to_vec();
        bad.extend_from_slice(&[9, b'a']);
        let mut b = &bad[..];
        let reader = RawLevels::new(&mut b).unwrap();
        assert!(reader.read(&mut b, Level::Info).is_none());
        let mut b = &bad[7..];
        assert!(RawLevels::skip(&mut b).is_none());
        // A table entry that is not UTF-8.
        let mut b: &[u8] = &[2, 0xff, 0, 0, 0, 0, 0];
        assert!(RawLevels::new(&mut b).is_none());
    }
}
