//! A segment's archive: its records as zstd-compressed columnar blocks.
//!
//! `archive.fwa` holds an 8-byte header (`FWARC`, a zero byte, version u16 LE), then blocks —
//! each an independent zstd frame of [`block`]-encoded records, so one record is
//! read back by decompressing one block — and, once the segment is sealed, a footer (`footer`): the
//! block index, the id table and each block's [`BlockFilter`], which tells readers looking for
//! text which blocks cannot hold it.
//!
//! A record's ordinal (`ord`) is its position in the segment. While a segment is active its last
//! block is still in memory, so fresh records can be fetched before they are compressed. Sealed
//! archives are read through a memory map. Writing is in `write`; reading hits in batches,
//! through the store's block cache, in `fetch`. The [`IdTable`] answers "is this id here?" with
//! at most a block decoded per candidate (`lookup`); version 1 archives (ids in the index) are
//! refused.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};

use firewatch_ingest::LogRecord;
use memmap2::Mmap;

use crate::block;
use crate::block_filter::{BlockFilter, FilterBuilder};
use crate::error::StoreError;
use crate::ids::IdTable;

mod fetch;
mod footer;
mod lookup;
mod write;

pub use fetch::{Everything, Pace, Prefilter, Unreadable};

const MAGIC: &[u8; 6] = b"FWARC\0";
const END: &[u8; 8] = b"FWAEND\0\0";
/// Written now; format 2 (no block filters) is still read.
const VERSION: u16 = 3;
const HEADER_LEN: u64 = 8;
const BLOCK_META: usize = 24;
/// Largest decompressed block accepted when reading: a block is `block_bytes` of records'
/// JSON plus at most one record, and its encoding is smaller than that JSON, so the node
/// refuses a config in which those two pass half of this.
pub const MAX_BLOCK: usize = 64 << 20;

/// Numbers every archive opened by this process, for block cache keys.
static NEXT_UID: AtomicU64 = AtomicU64::new(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    first_ord: u64,
    offset: u64,
    len: u32,
    count: u32,
}

enum Data {
    Active {
        file: File,
        end: u64,
        /// Shared with the subscribers of durable records, who may still hold them.
        pending: Vec<Arc<LogRecord>>,
        /// JSON bytes of the pending records after the last cut.
        pending_bytes: usize,
        /// Where full blocks end among the pending records (ascending), however many records
        /// arrive between flushes: a block is cut once its records' JSON passes
        /// `block_bytes`, or, past a quarter of that, where a run of one source ends. A block
        /// of one source compresses better, and its filter rules it out of more searches: a
        /// cut at 4 MiB regardless, across batches of two sources, made a 10 M-line archive 3%
        /// larger and `grep` over it up to 2.5× slower.
        cuts: Vec<usize>,
        /// The records after the last cut are of more than one source.
        open_mixed: bool,
        /// Ids of the pending records and their ordinals.
        pending_ids: HashMap<String, u64>,
        /// Each written block's filter, kept in memory until the footer is written.
        filters: Vec<Vec<u8>>,
    },
    Sealed {
        map: Mmap,
        /// Where each block's filter is in the map (none for format 2 archives).
        filters: Vec<Range<usize>>,
    },
}

struct State {
    data: Data,
    blocks: Vec<Block>,
    ids: IdTable,
    records: u64,
}

/// One segment's archive, shared by the writer and every reader.
pub struct Archive {
    state: RwLock<State>,
    /// Unique within the process: blocks in the cache are keyed by it.
    uid: u64,
    block_bytes: usize,
    level: i32,
    /// Held by whoever writes blocks, so one block is written at a time while `state` is free
    /// for readers; with the filter builder that writing reuses.
    flushing: Mutex<FilterBuilder>,
}

impl Archive {
    /// Opens a sealed archive.
    pub fn open_sealed(path: &Path) -> Result<Archive, StoreError> {
        let file = File::open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        // SAFETY: sealed archives are never written again; they are only removed, which
        // leaves existing maps valid.
        let map = unsafe { Mmap::map(&file)? };
        let mut version = VERSION;
        if map.len() >= HEADER_LEN as usize && &map[..6] == MAGIC {
            version = u16::from_le_bytes([map[6], map[7]]);
            if !(2..=VERSION).contains(&version) {
                return Err(StoreError::Unsupported {
                    what: format!("archive format {version} of {}", path.display()),
                });
            }
        }
        let footer::Footer {
            blocks,
            ids,
            filters,
        } = footer::parse(&map, version).ok_or_else(|| StoreError::Corrupt {
            what: match map.ends_with(END) || !map.starts_with(MAGIC) {
                true => format!("archive footer of {}", path.display()),
                // An active segment's archive (or one a crash left before its seal), or a
                // sealed one cut short.
                false => format!(
                    "archive {}: no footer: not sealed (an active segment's records are in its node's write-ahead log) or cut short",
                    path.display()
                ),
            },
        })?;
        let records = blocks.last().map_or(0, |b| b.first_ord + b.count as u64);
        Ok(Archive {
            state: RwLock::new(State {
                data: Data::Sealed { map, filters },
                blocks,
                ids,
                records,
            }),
            uid: NEXT_UID.fetch_add(1, Relaxed),
            block_bytes: 0,
            level: 0,
            flushing: Mutex::default(),
        })
    }

    /// Number of records.
    pub fn len(&self) -> u64 {
        self.state.read().unwrap_or_else(|e| e.into_inner()).records
    }

    pub fn is_sealed(&self) -> bool {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        matches!(st.data, Data::Sealed { .. })
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The record at `ord` (for many, see [`Archive::get_many`]).
    pub fn get(&self, ord: u64) -> Result<LogRecord, StoreError> {
        let mut one = self.get_many(&[ord], None)?;
        one.pop().ok_or(StoreError::NotFound { ord })
    }

    /// Number of written blocks (a sealed archive's records are all in blocks).
    pub fn block_count(&self) -> usize {
        self.state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .blocks
            .len()
    }

    /// The records of written block `i`, in order: one decompression, for readers that split
    /// an archive's blocks across threads.
    pub fn block_records(&self, i: usize) -> Result<Vec<LogRecord>, StoreError> {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        let block = *st.blocks.get(i).ok_or(StoreError::Corrupt {
            what: format!("archive block {i} does not exist"),
        })?;
        read_block(&st.data, block)
    }

    /// The decompressed body of written block `i`, for readers that look at its columns
    /// themselves ([`crate::block_text::BlockText`]) instead of decoding every record.
    pub fn block_body(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        let block = *st.blocks.get(i).ok_or(StoreError::Corrupt {
            what: format!("archive block {i} does not exist"),
        })?;
        let plain = decompress(&st.data, block)?;
        if block::count(&plain) != Some(block.count as usize) {
            return Err(corrupt("archive block with a wrong record count"));
        }
        Ok(plain)
    }

    /// Whether written block `i` may hold text for which its filter passes `test`; blocks
    /// without a filter always may.
    pub fn block_may_hold(&self, i: usize, test: impl FnOnce(BlockFilter) -> bool) -> bool {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        let bits = match &st.data {
            Data::Active { filters, .. } => filters.get(i).map(Vec::as_slice),
            Data::Sealed { map, filters } => filters.get(i).and_then(|s| map.get(s.clone())),
        };
        test(BlockFilter::new(bits.unwrap_or_default()))
    }

    /// Calls `f` with every record and its ordinal, in order.
    pub fn for_each(&self, mut f: impl FnMut(u64, LogRecord)) -> Result<(), StoreError> {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        let mut ord = 0;
        for block in &st.blocks {
            for rec in read_block(&st.data, *block)? {
                f(ord, rec);
                ord += 1;
            }
        }
        if let Data::Active { pending, .. } = &st.data {
            for rec in pending {
                f(ord, LogRecord::clone(rec));
                ord += 1;
            }
        }
        Ok(())
    }
}

fn read_block(data: &Data, b: Block) -> Result<Vec<LogRecord>, StoreError> {
    read_block_with(data, b, block::decode)
}

/// Block `b` decompressed and decoded with `decode` (its records, or only their ids), one
/// item per record.
fn read_block_with<T>(
    data: &Data,
    b: Block,
    decode: fn(&[u8]) -> Option<Vec<T>>,
) -> Result<Vec<T>, StoreError> {
    let plain = decompress(data, b)?;
    let items = decode(&plain).ok_or_else(|| corrupt("archive block does not decode"))?;
    if items.len() != b.count as usize {
        return Err(corrupt("archive block with a wrong record count"));
    }
    Ok(items)
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt { what: what.into() }
}

/// The body of block `b`, decompressed.
fn decompress(data: &Data, b: Block) -> Result<Vec<u8>, StoreError> {
    let read;
    let frame = match data {
        Data::Sealed { map, .. } => map
            .get(b.offset as usize..(b.offset + b.len as u64) as usize)
            .ok_or_else(|| corrupt("archive block out of bounds"))?,
        Data::Active { file, .. } => {
            let mut buf = vec![0u8; b.len as usize];
            file.read_exact_at(&mut buf, b.offset)?;
            read = buf;
            &read
        }
    };
    decompress_frame(frame)
}

/// A block's zstd frame, decompressed.
fn decompress_frame(frame: &[u8]) -> Result<Vec<u8>, StoreError> {
    // Allocate what the frame says it holds: asking for MAX_BLOCK made every block a fresh
    // 64 MiB mapping, and its page faults cost readers more than decompressing.
    let capacity = match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(n)) if n <= MAX_BLOCK as u64 => n as usize,
        Ok(Some(_)) => return Err(corrupt("archive block larger than the largest block")),
        _ => MAX_BLOCK,
    };
    zstd::bulk::decompress(frame, capacity)
        .map_err(|_| corrupt("archive block does not decompress"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_decompress_by_their_declared_size_within_the_limit() {
        let body = b"a block body, a block body".repeat(100);
        let frame = zstd::bulk::compress(&body, 3).unwrap();
        assert_eq!(decompress_frame(&frame).unwrap(), body);
        // Without a declared size, the limit is the capacity.
        let mut enc = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
        enc.include_contentsize(false).unwrap();
        std::io::Write::write_all(&mut enc, &body).unwrap();
        let frame = enc.finish().unwrap();
        assert_eq!(
            zstd::zstd_safe::get_frame_content_size(&frame)
                .ok()
                .flatten(),
            None
        );
        assert_eq!(decompress_frame(&frame).unwrap(), body);
        // A frame declaring more than the largest block is refused before allocating it.
        let huge = zstd::bulk::compress(&vec![0u8; MAX_BLOCK + 1], 1).unwrap();
        assert!(matches!(
            decompress_frame(&huge),
            Err(StoreError::Corrupt { .. })
        ));
        assert!(decompress_frame(&frame[..frame.len() / 2]).is_err());
    }

    fn rec(i: u64) -> LogRecord {
        serde_json::from_str(&format!(
            r#"{{"id":"r{i}","timestamp":{i},"observed":0,"message":"line number {i}"}}"#
        ))
        .unwrap()
    }

    /// A block is cut where its records pass `block_bytes`, however many records arrived
    /// since the last flush, and the rest stay pending (found by id) until the next cut.
    #[test]
    fn blocks_are_cut_at_block_bytes_whenever_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let a = Archive::create(&dir.path().join("archive.fwa"), 600, 3).unwrap();
        for i in 0..95 {
            a.append(rec(i), 60);
        }
        a.flush_full().unwrap();
        let counts = |a: &Archive| -> Vec<u32> {
            a.state
                .read()
                .unwrap()
                .blocks
                .iter()
                .map(|b| b.count)
                .collect()
        };
        assert_eq!(counts(&a), vec![10; 9]);
        assert_eq!(a.ord_of("r94").unwrap(), Some(94));
        assert_eq!(a.ord_of("r93").unwrap(), Some(93));
        assert_eq!(a.ord_of("r12").unwrap(), Some(12));
        assert_eq!(a.get(91).unwrap(), rec(91));
        for i in 95..100 {
            a.append(rec(i), 60);
        }
        a.flush_full().unwrap();
        assert_eq!(counts(&a), vec![10; 10]);
        a.append(rec(100), 60);
        a.seal().unwrap();
        assert_eq!(counts(&a), [vec![10; 10], vec![1]].concat());
        assert_eq!(a.ord_of("r100").unwrap(), Some(100));
        assert_eq!(a.get(100).unwrap(), rec(100));
    }

    fn from(source: &str, i: u64) -> LogRecord {
        LogRecord {
            source: source.into(),
            ..rec(i)
        }
    }

    /// Past a quarter of `block_bytes`, a block of one source ends where the source does; a
    /// block already mixed, or still small, goes on to `block_bytes`.
    #[test]
    fn a_run_of_one_source_ends_its_block() {
        let dir = tempfile::tempdir().unwrap();
        let a = Archive::create(&dir.path().join("archive.fwa"), 1000, 3).unwrap();
        let sources = [("a", 6), ("b", 2), ("c", 30), ("a", 3), ("b", 1), ("a", 1)];
        let mut i = 0;
        for (source, n) in sources {
            for _ in 0..n {
                a.append(from(source, i), 100);
                i += 1;
            }
        }
        a.seal().unwrap();
        let counts: Vec<u32> = a
            .state
            .read()
            .unwrap()
            .blocks
            .iter()
            .map(|b| b.count)
            .collect();
        // a×6: 600 bytes ≥ 250, cut where b starts. b×2 is 200 < 250 when c starts: mixed,
        // cut at 1000 (b×2 c×8). c×20: two blocks of one source at 1000. c×2 is 200 < 250
        // when a starts: mixed, to the seal (c×2 a×3 b a).
        assert_eq!(counts, vec![6, 10, 10, 10, 7]);
        assert_eq!(a.get(41).unwrap(), from("b", 41));
    }

    #[test]
    fn reads_back_before_and_after_sealing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("archive.fwa");
        let a = Archive::create(&path, 200, 3).unwrap();
        for i in 0..50 {
            assert_eq!(a.append(rec(i), 60), i);
            a.flush_full().unwrap();
        }
        // Some records are in written blocks, the last ones still pending.
        assert_eq!(a.get(0).unwrap(), rec(0));
        assert_eq!(a.get(49).unwrap(), rec(49));
        a.seal().unwrap();
        assert_eq!(a.get(17).unwrap(), rec(17));
        let reopened = Archive::open_sealed(&path).unwrap();
        assert_eq!(reopened.len(), 50);
        let mut all = Vec::new();
        reopened
            .for_each(|ord, json| all.push((ord, json)))
            .unwrap();
        assert_eq!(all, (0..50).map(|i| (i, rec(i))).collect::<Vec<_>>());
        assert!(matches!(reopened.get(50), Err(StoreError::NotFound { .. })));
    }

    fn file_rec(fp: u64, offset: u64) -> LogRecord {
        LogRecord {
            id: LogRecord::file_id(fp, offset),
            ..rec(offset)
        }
    }

    #[test]
    fn ids_are_found_in_pending_written_and_sealed_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("archive.fwa");
        let a = Archive::create(&path, 300, 3).unwrap();
        // Two sources; the second's offsets arrive out of order, as interleaved streams do.
        let mut stored = Vec::new();
        for i in 0..40u64 {
            let r = match i % 3 {
                0 => file_rec(1, i * 100),
                1 => file_rec(2, 4000 - i * 50),
                _ => rec(i),
            };
            stored.push(r.id.clone());
            a.append(r, 60);
            a.flush_full().unwrap();
        }
        let absent = [
            LogRecord::file_id(1, 150), // inside a span of source 1: a block is decoded
            LogRecord::file_id(1, 99_999), // past every span
            LogRecord::file_id(3, 0),   // unknown source
            "r999".to_string(),
        ];
        let check = |a: &Archive| {
            let mut ids: Vec<&str> = stored.iter().map(String::as_str).collect();
            ids.extend(absent.iter().map(String::as_str));
            let mut found = vec![false; ids.len()];
            a.find_ids(&ids, &mut found).unwrap();
            assert!(found[..stored.len()].iter().all(|f| *f), "{found:?}");
            assert!(found[stored.len()..].iter().all(|f| !*f), "{found:?}");
            for (ord, id) in stored.iter().enumerate() {
                assert_eq!(a.ord_of(id).unwrap(), Some(ord as u64), "{id}");
            }
            assert_eq!(a.ord_of(&absent[0]).unwrap(), None);
        };
        assert!(
            a.state.read().unwrap().blocks.len() > 2,
            "several blocks written"
        );
        check(&a);
        a.seal().unwrap();
        check(&a);
        check(&Archive::open_sealed(&path).unwrap());
    }

    fn word_rec(i: u64) -> LogRecord {
        serde_json::from_str(&format!(
            r#"{{"id":"w{i}","timestamp":{i},"observed":0,"service":"svc{}","message":"event {}"}}"#,
            i / 10,
            ["alpha", "bravo", "charlie", "delta"][(i / 10) as usize % 4]
        ))
        .unwrap()
    }

    /// Which blocks' filters may hold `needle`.
    fn may_hold(a: &Archive, needle: &str) -> Vec<usize> {
        (0..a.block_count())
            .filter(|&i| a.block_may_hold(i, |f| f.may_contain(needle.as_bytes())))
            .collect()
    }

    /// An active archive of 40 records, ten a block: block k holds service svc{k} and one word.
    fn word_archive(path: &Path) -> Archive {
        let a = Archive::create(path, 10 * 60, 3).unwrap();
        for i in 0..40 {
            a.append(word_rec(i), 60);
            a.flush_full().unwrap();
        }
        a
    }

    #[test]
    fn block_filters_rule_out_blocks_before_and_after_sealing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("archive.fwa");
        let a = word_archive(&path);
        let check = |a: &Archive| {
            assert_eq!(a.block_count(), 4);
            assert_eq!(may_hold(a, "CHARLIE"), vec![2]);
            assert_eq!(may_hold(a, "svc3"), vec![3]);
            assert_eq!(may_hold(a, "event"), vec![0, 1, 2, 3]);
            assert!(may_hold(a, "foxtrot").is_empty());
        };
        check(&a);
        a.seal().unwrap();
        check(&a);
        check(&Archive::open_sealed(&path).unwrap());
    }

    /// Rewrites a sealed archive as format 2: the same blocks, a footer without filters.
    fn downgrade_to_format_2(path: &Path) {
        let bytes = std::fs::read(path).unwrap();
        let f = footer::parse(&bytes, 3).unwrap();
        let end = f
            .blocks
            .last()
            .map_or(HEADER_LEN, |b| b.offset + b.len as u64) as usize;
        let mut out = bytes[..end].to_vec();
        out[6..8].copy_from_slice(&2u16.to_le_bytes());
        let mut footer = Vec::new();
        footer::put_block_index(&f.blocks, &mut footer);
        let ids_start = footer.len();
        f.ids.encode(&mut footer);
        let ids_len = (footer.len() - ids_start) as u64;
        footer.extend_from_slice(&(f.blocks.len() as u32).to_le_bytes());
        footer.extend_from_slice(&ids_len.to_le_bytes());
        let crc = crc32fast::hash(&footer);
        footer.extend_from_slice(&crc.to_le_bytes());
        footer.extend_from_slice(END);
        out.extend_from_slice(&footer);
        std::fs::write(path, out).unwrap();
    }

    #[test]
    fn format_2_archives_read_as_blocks_without_filters() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("archive.fwa");
        word_archive(&path).seal().unwrap();
        downgrade_to_format_2(&path);
        let old = Archive::open_sealed(&path).unwrap();
        assert_eq!(old.len(), 40);
        assert_eq!(old.get(25).unwrap(), word_rec(25));
        assert_eq!(old.ord_of("w31").unwrap(), Some(31));
        // Without filters every block may hold anything.
        assert_eq!(may_hold(&old, "foxtrot"), vec![0, 1, 2, 3]);
    }

    #[test]
    fn archives_of_an_older_format_are_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("archive.fwa");
        let a = Archive::create(&path, 100, 3).unwrap();
        a.append(rec(1), 60);
        a.seal().unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[6..8].copy_from_slice(&1u16.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let err = Archive::open_sealed(&path).err().unwrap();
        assert!(matches!(err, StoreError::Unsupported { .. }), "{err}");
        assert!(err.to_string().contains("format 1"), "{err}");
    }

    #[test]
    fn corrupt_footer_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("archive.fwa");
        let a = Archive::create(&path, 100, 3).unwrap();
        a.append(rec(1), 60);
        a.seal().unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 20] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            Archive::open_sealed(&path),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
