//! What text an archive block may contain, answered without decompressing it.
//!
//! `grep` over a data directory used to decompress every block to look for its patterns; most
//! blocks held none. A [`BlockFilter`] is a small Bloom filter of the byte trigrams of a block's
//! searched text (service, message and fields, ASCII-lowercased), kept in the archive footer.
//! Every substring of that text of three bytes or more has all its trigrams in the filter, so a
//! needle with a trigram the filter lacks is in none of the block's records: the block is
//! skipped. The answer "maybe" costs a decompression, never a wrong result.
//!
//! Trigrams holding a space or a newline are left out: readers search for pieces of their
//! patterns cut at spaces and newlines (a piece then lies inside one part of a record's text),
//! and leaving them out keeps the filter smaller. Each trigram sets two bits; a filter is the
//! smallest power of two of bits (at least 64 bytes) with at most 40 % of them set, so about one
//! trigram in six that the block lacks tests present, and a needle is ruled out by any one of
//! its trigrams. A block with so many trigrams that even [`MAX_BYTES`] would be fuller than
//! that gets no filter, which reads as "maybe".
//!
//! ```
//! use firewatch_index::block_filter::{BlockFilter, FilterBuilder};
//!
//! let mut b = FilterBuilder::default();
//! let bytes = b.build([&b"connect ECONNREFUSED 10.0.0.7:5432"[..], b"checkout"]);
//! let f = BlockFilter::new(&bytes);
//! assert!(f.may_contain(b"econnrefused"));
//! assert!(f.may_contain(b"CHECK"));
//! assert!(!f.may_contain(b"UnhandledPromiseRejection"));
//! ```

use std::borrow::Borrow;

use firewatch_ingest::LogRecord;

#[cfg(any(doc, test))]
use crate::block_text::BlockText;

/// Largest filter written for one block; a block with so many trigrams that even this one
/// would be too full is left without a filter.
pub const MAX_BYTES: usize = 64 << 10;
const MAX_BITS: usize = MAX_BYTES * 8;
/// Smallest filter written.
const MIN_BITS: usize = 512;
/// Highest share of set bits a written filter has: with two probes, about one trigram in six
/// that the block lacks tests present.
const MAX_FILL: f64 = 0.4;

/// A block's filter, borrowed from the archive footer (or built in memory).
#[derive(Debug, Clone, Copy)]
pub struct BlockFilter<'a> {
    bits: &'a [u8],
}

impl<'a> BlockFilter<'a> {
    /// The filter stored as `bits`; empty bits (no filter) contain everything.
    pub fn new(bits: &'a [u8]) -> BlockFilter<'a> {
        BlockFilter { bits }
    }

    /// Can the block's text hold `needle` (ASCII case-insensitively)? `true` for needles
    /// shorter than a trigram; windows holding a space or newline are not checked.
    pub fn may_contain(&self, needle: &[u8]) -> bool {
        if self.bits.is_empty() {
            return true;
        }
        let m = self.bits.len() as u64 * 8;
        needle.windows(3).all(|w| match trigram(w) {
            Some(code) => probes(code).iter().all(|&p| self.bit(p as u64 % m)),
            None => true,
        })
    }

    fn bit(&self, i: u64) -> bool {
        self.bits[(i / 8) as usize] & (1 << (i % 8)) != 0
    }
}

/// Builds filters in a reused 64 KiB bit set: every trigram is set at the largest size, then
/// the set is folded in halves (bit `i` of the half is bit `i` or `i + half` of the whole,
/// which is what probing modulo the smaller size reads) while at most 40 % of its bits are set.
/// No set of distinct trigrams is kept, so each byte of text costs a few instructions.
#[derive(Default)]
pub struct FilterBuilder {
    words: Vec<u64>,
}

impl FilterBuilder {
    /// The filter bits of the text made of `parts`; empty when even [`MAX_BYTES`] would be too
    /// full.
    pub fn build<P: AsRef<[u8]>>(&mut self, parts: impl IntoIterator<Item = P>) -> Vec<u8> {
        if self.words.is_empty() {
            self.words = vec![0; MAX_BITS / 64];
        }
        let words = &mut self.words[..];
        let mut any = false;
        for part in parts {
            let (mut code, mut run) = (0u32, 0);
            for &c in part.as_ref() {
                if c == b' ' || c == b'\n' {
                    run = 0;
                    continue;
                }
                code = (code << 8 | c.to_ascii_lowercase() as u32) & 0xFF_FFFF;
                run += 1;
                if run >= 3 {
                    for p in probes(code) {
                        let i = p as usize % MAX_BITS;
                        words[i / 64] |= 1 << (i % 64);
                    }
                    any = true;
                }
            }
        }
        let ones = |w: &[u64]| w.iter().map(|x| x.count_ones() as usize).sum::<usize>();
        let mut m = MAX_BITS;
        let too_full = |set: usize, m: usize| set as f64 > MAX_FILL * m as f64;
        if !any || too_full(ones(words), m) {
            words.fill(0);
            return Vec::new();
        }
        while m > MIN_BITS {
            let half = m / 2 / 64;
            let (low, high) = words[..2 * half].split_at_mut(half);
            let folded: usize = low
                .iter()
                .zip(&*high)
                .map(|(a, b)| (a | b).count_ones() as usize)
                .sum();
            if too_full(folded, m / 2) {
                break;
            }
            for (a, b) in low.iter_mut().zip(high.iter_mut()) {
                *a |= std::mem::take(b);
            }
            m /= 2;
        }
        let bits = words[..m / 64]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        words[..m / 64].fill(0);
        bits
    }

    /// The filter of a block of `records`: the parts of their text that `grep` searches
    /// verbatim (service, message, fields as compact JSON, as [`BlockText`] renders them).
    pub fn build_for_records<R: Borrow<LogRecord>>(&mut self, records: &[R]) -> Vec<u8> {
        let records = || records.iter().map(Borrow::borrow);
        // Every record's fields JSON, end to end in one buffer: one allocation per block.
        let mut json = Vec::new();
        let mut ends = Vec::with_capacity(records().len());
        for r in records() {
            if !r.fields.is_empty() {
                // Writing into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut json, &r.fields);
            }
            ends.push(json.len());
        }
        let mut start = 0;
        let parts = records().zip(ends).flat_map(|(r, end)| {
            let fields = &json[start..end];
            start = end;
            [r.service.as_bytes(), r.message.as_bytes(), fields]
        });
        self.build(parts)
    }
}

/// The 24-bit code of a window of three bytes, ASCII-lowercased; `None` if it holds a space or
/// a newline.
fn trigram(w: &[u8]) -> Option<u32> {
    let [a, b, c] = [w[0], w[1], w[2]];
    if [a, b, c].iter().any(|&x| x == b' ' || x == b'\n') {
        return None;
    }
    let l = |x: u8| x.to_ascii_lowercase() as u32;
    Some(l(a) << 16 | l(b) << 8 | l(c))
}

/// The two probes of a trigram, taken modulo the filter's size in bits (a power of two, so
/// folding keeps them). Multiplicative hashing: the high half of each product depends on
/// every bit of the code.
fn probes(code: u32) -> [u32; 2] {
    let c = code as u64;
    [
        (c.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32,
        (c.wrapping_mul(0xC2B2_AE3D_27D4_EB4F) >> 32) as u32,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn absent_trigrams_are_mostly_told_apart() {
        let text: Vec<String> = (0..2000)
            .map(|i| {
                format!(
                    "GET /api/orders/{i} status={} took={}ms",
                    200 + i % 7,
                    i * 3
                )
            })
            .collect();
        let bits = FilterBuilder::default().build(text.iter().map(|s| s.as_bytes()));
        let f = BlockFilter::new(&bits);
        // Needles made of trigrams the text lacks: at most a few false "maybe"s.
        let absent: Vec<String> = (0..1000).map(|i| format!("zq{i}xv")).collect();
        let maybe = absent
            .iter()
            .filter(|n| f.may_contain(n.as_bytes()))
            .count();
        assert!(maybe < 20, "{maybe} of 1000 absent needles passed");
        assert!(f.may_contain(b"orders/1999"));
        assert!(f.may_contain(b"STATUS=206"));
    }

    #[test]
    fn no_filter_and_short_needles_say_maybe() {
        assert!(BlockFilter::new(&[]).may_contain(b"anything"));
        let bits = FilterBuilder::default().build([&b"abcdef"[..]]);
        let f = BlockFilter::new(&bits);
        assert!(f.may_contain(b"zz"));
        assert!(!f.may_contain(b"zzz"));
    }

    #[test]
    fn too_many_trigrams_leave_the_block_without_a_filter() {
        // Random bytes: millions of distinct trigrams, far more than MAX_BYTES allows.
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let noise: Vec<u8> = (0..3_000_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        assert!(FilterBuilder::default().build([&noise[..]]).is_empty());
    }

    #[test]
    fn a_builder_forgets_the_previous_block() {
        let mut b = FilterBuilder::default();
        let first = b.build([&b"alpha beta"[..]]);
        let second = b.build([&b"gamma"[..]]);
        assert!(BlockFilter::new(&first).may_contain(b"alpha"));
        assert!(!BlockFilter::new(&second).may_contain(b"alpha"));
        assert_eq!(second, FilterBuilder::default().build([&b"gamma"[..]]));
    }

    #[test]
    fn a_records_filter_holds_the_text_grep_reads_from_their_block() {
        let records: Vec<LogRecord> = (0..50)
            .map(|i| {
                let fields =
                    serde_json::json!({"http": {"path": format!("/v1/u{i}"), "status": 500 + i}});
                LogRecord {
                    id: format!("x:{i}"),
                    timestamp: i,
                    observed: i,
                    service: "edge".into(),
                    host: "h".into(),
                    source: String::new(),
                    level: firewatch_ingest::Level::Warn,
                    level_raw: None,
                    message: format!("GET /v1/u{i} {}", 500 + i),
                    fields: fields.as_object().cloned().unwrap(),
                }
            })
            .collect();
        let bits = FilterBuilder::default().build_for_records(&records);
        let f = BlockFilter::new(&bits);
        let mut body = Vec::new();
        crate::block::encode(&records, &mut body);
        let mut text = BlockText::decode(&body).unwrap();
        for (i, r) in records.iter().enumerate() {
            // What grep searches: the message, a space, the fields (filtered as two parts).
            let mut line = Vec::new();
            text.write_text(i, &mut line).unwrap();
            let (message, fields) = line.split_at(r.message.len());
            for part in [message, &fields[1..]] {
                for w in part.windows(6) {
                    assert!(f.may_contain(w), "{:?}", String::from_utf8_lossy(w));
                }
            }
        }
        assert!(f.may_contain(br#"{"http":{"path":"/v1/u49","status":549}}"#));
    }

    proptest! {
        #[test]
        fn every_substring_of_a_part_may_be_contained(
            parts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..60), 1..6),
            pick in any::<(usize, usize, usize)>(),
        ) {
            let bits = FilterBuilder::default().build(parts.iter().map(|p| &p[..]));
            let f = BlockFilter::new(&bits);
            let part = &parts[pick.0 % parts.len()];
            let start = pick.1 % (part.len() + 1);
            let end = start + pick.2 % (part.len() - start + 1);
            let mut needle = part[start..end].to_vec();
            prop_assert!(f.may_contain(&needle));
            needle.make_ascii_uppercase();
            prop_assert!(f.may_contain(&needle));
        }
    }
}
