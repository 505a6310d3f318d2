//! Which archive blocks of a segment can hold a record id. Pure.
//!
//! Idempotence asks "is this id stored?" for every incoming record. Indexing every id as its own
//! tantivy term answers it but costs more than a tenth of the whole index. Ids are cheaper to
//! narrow down: a file record's id is `<fingerprint>:<offset>` and a source is read front to
//! back, so per block and fingerprint the `[min, max]` span of offsets says which blocks can hold
//! an id — for a new record usually none (it lies past every span), for a resent one the block
//! it is in. That block's ids are then decoded to answer exactly. Other ids are kept as
//! (xxh3 hash, block) pairs, sorted once the segment is sealed.

use std::collections::{BTreeSet, HashMap};

use xxhash_rust::xxh3::xxh3_64;

/// An id, split the way [`IdTable`] looks it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKey {
    /// `<16 lowercase hex digits>:<decimal offset>` in canonical form.
    File { fingerprint: u64, offset: u64 },
    /// Any other id, by its hash.
    Other(u64),
}

impl IdKey {
    pub fn of(id: &str) -> IdKey {
        match parse_file_id(id) {
            Some((fingerprint, offset)) => IdKey::File {
                fingerprint,
                offset,
            },
            None => IdKey::Other(xxh3_64(id.as_bytes())),
        }
    }
}

/// `(fingerprint, offset)` of an id that `LogRecord::file_id` would write exactly so (the
/// round trip must give the same string back, so no leading zeros, no upper case).
pub fn parse_file_id(id: &str) -> Option<(u64, u64)> {
    let (fp, off) = id.split_at_checked(16)?;
    let off = off.strip_prefix(':')?;
    let hex_ok = fp
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let dec_ok = !off.is_empty()
        && off.len() <= 20
        && off.bytes().all(|b| b.is_ascii_digit())
        && (off == "0" || !off.starts_with('0'));
    if !hex_ok || !dec_ok {
        return None;
    }
    Some((u64::from_str_radix(fp, 16).ok()?, off.parse().ok()?))
}

/// The offsets of one fingerprint in one block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub min: u64,
    pub max: u64,
    pub block: u32,
}

/// The id summary of a segment's written blocks.
#[derive(Debug, Default, Clone)]
pub struct IdTable {
    pub(crate) files: HashMap<u64, Vec<Span>>,
    /// (hash, block) of ids that are not file ids.
    pub(crate) others: BTreeSet<(u64, u32)>,
}

impl IdTable {
    /// Records the ids of block number `block`.
    pub fn add_block<'a>(&mut self, block: u32, ids: impl Iterator<Item = &'a str>) {
        let mut spans: HashMap<u64, Span> = HashMap::new();
        for id in ids {
            match IdKey::of(id) {
                IdKey::File {
                    fingerprint,
                    offset,
                } => {
                    let s = spans.entry(fingerprint).or_insert(Span {
                        min: offset,
                        max: offset,
                        block,
                    });
                    s.min = s.min.min(offset);
                    s.max = s.max.max(offset);
                }
                IdKey::Other(h) => {
                    self.others.insert((h, block));
                }
            }
        }
        for (fp, span) in spans {
            self.files.entry(fp).or_default().push(span);
        }
    }

    /// Blocks that may hold `key` (pushed to `out`, possibly with repeats).
    pub fn candidates(&self, key: IdKey, out: &mut Vec<u32>) {
        match key {
            IdKey::File {
                fingerprint,
                offset,
            } => {
                if let Some(spans) = self.files.get(&fingerprint) {
                    out.extend(
                        spans
                            .iter()
                            .filter(|s| s.min <= offset && offset <= s.max)
                            .map(|s| s.block),
                    );
                }
            }
            IdKey::Other(h) => out.extend(self.others.range((h, 0)..=(h, u32::MAX)).map(|e| e.1)),
        }
    }

    /// Serialized: `n_fps u32 | (fp u64, n u32, (min u64, max u64, block u32) × n) × n_fps |
    /// n_others u64 | (hash u64, block u32) × n_others` (little endian, others sorted).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut fps: Vec<_> = self.files.iter().collect();
        fps.sort_by_key(|(fp, _)| **fp);
        out.extend_from_slice(&(fps.len() as u32).to_le_bytes());
        for (fp, spans) in fps {
            out.extend_from_slice(&fp.to_le_bytes());
            out.extend_from_slice(&(spans.len() as u32).to_le_bytes());
            for s in spans {
                out.extend_from_slice(&s.min.to_le_bytes());
                out.extend_from_slice(&s.max.to_le_bytes());
                out.extend_from_slice(&s.block.to_le_bytes());
            }
        }
        out.extend_from_slice(&(self.others.len() as u64).to_le_bytes());
        for (h, b) in &self.others {
            out.extend_from_slice(&h.to_le_bytes());
            out.extend_from_slice(&b.to_le_bytes());
        }
    }

    /// Reads what [`IdTable::encode`] wrote; `None` if malformed or if it names a block
    /// `blocks` or above.
    pub fn decode(mut b: &[u8], blocks: u32) -> Option<IdTable> {
        let b = &mut b;
        let mut t = IdTable::default();
        let n_fps = take_u32(b)?;
        for _ in 0..n_fps {
            let fp = take_u64(b)?;
            let n = take_u32(b)? as usize;
            if n.checked_mul(20)? > b.len() {
                return None;
            }
            let mut spans = Vec::with_capacity(n);
            for _ in 0..n {
                let span = Span {
                    min: take_u64(b)?,
                    max: take_u64(b)?,
                    block: take_u32(b)?,
                };
                if span.block >= blocks || span.min > span.max {
                    return None;
                }
                spans.push(span);
            }
            t.files.insert(fp, spans);
        }
        let n_others = take_u64(b)?;
        if n_others.checked_mul(12)? != b.len() as u64 {
            return None;
        }
        for _ in 0..n_others {
            let (h, block) = (take_u64(b)?, take_u32(b)?);
            if block >= blocks {
                return None;
            }
            t.others.insert((h, block));
        }
        Some(t)
    }
}

fn take_u32(b: &mut &[u8]) -> Option<u32> {
    let (head, rest) = b.split_first_chunk::<4>()?;
    *b = rest;
    Some(u32::from_le_bytes(*head))
}

fn take_u64(b: &mut &[u8]) -> Option<u64> {
    let (head, rest) = b.split_first_chunk::<8>()?;
    *b = rest;
    Some(u64::from_le_bytes(*head))
}

#[cfg(test)]
mod tests {
    use super::*;
    use firewatch_ingest::LogRecord;
    use proptest::prelude::*;

    #[test]
    fn only_canonical_file_ids_are_split() {
        assert_eq!(
            parse_file_id("9f2c4e1a7b3d5e60:1024"),
            Some((0x9f2c_4e1a_7b3d_5e60, 1024))
        );
        assert_eq!(parse_file_id("0000000000000000:0"), Some((0, 0)));
        for other in [
            "9F2C4E1A7B3D5E60:1024",
            "9f2c4e1a7b3d5e60:01",
            "9f2c4e1a7b3d5e60:",
            "9f2c4e1a7b3d5e6:10",
            "9f2c4e1a7b3d5e60:99999999999999999999",
            "9f2c4e1a7b3d5e60-10",
            "é2c4e1a7b3d5e60:10",
            "a:1",
        ] {
            assert_eq!(parse_file_id(other), None, "{other}");
        }
    }

    #[test]
    fn candidates_are_the_blocks_whose_span_covers_the_offset() {
        let mut t = IdTable::default();
        let a = |o| LogRecord::file_id(7, o);
        let block0 = [a(0), a(100), a(200), "api-1".to_string()];
        let block1 = [a(300), a(400), LogRecord::file_id(8, 5)];
        t.add_block(0, block0.iter().map(String::as_str));
        t.add_block(1, block1.iter().map(String::as_str));
        let cands = |id: &str| {
            let mut out = Vec::new();
            t.candidates(IdKey::of(id), &mut out);
            out
        };
        assert_eq!(cands(&a(100)), vec![0]);
        assert_eq!(cands(&a(150)), vec![0], "inside a span: must be checked");
        assert_eq!(cands(&a(350)), vec![1]);
        assert!(cands(&a(500)).is_empty(), "past every span");
        assert!(cands(&LogRecord::file_id(9, 5)).is_empty());
        assert_eq!(cands("api-1"), vec![0]);
        assert!(cands("api-2").is_empty());
        let mut bytes = Vec::new();
        t.encode(&mut bytes);
        let back = IdTable::decode(&bytes, 2).unwrap();
        assert_eq!(back.files.len(), 2);
        assert_eq!(back.others, t.others);
        assert!(
            IdTable::decode(&bytes, 1).is_none(),
            "names a missing block"
        );
        for cut in 0..bytes.len() {
            assert!(IdTable::decode(&bytes[..cut], 2).is_none(), "cut at {cut}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn file_ids_round_trip(fp in any::<u64>(), off in any::<u64>()) {
            let id = LogRecord::file_id(fp, off);
            prop_assert_eq!(parse_file_id(&id), Some((fp, off)));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = IdTable::decode(&bytes, 4);
        }
    }
}
