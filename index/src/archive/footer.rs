//! The footer a sealed archive ends with: where its blocks are, its id table and, from format
//! 3 on, each block's [`crate::block_filter`].
//!
//! ```text
//! format 3: block index (first_ord u64, offset u64, len u32, count u32) × n | id table
//!           | filters (len u32, bits) × n
//!           | n u32 | id table length u64 | filters length u64 | crc32 u32 | "FWAEND\0\0"
//! format 2: the same without the filters and their length
//! ```
//!
//! The crc covers everything from the block index to the last length. Format 2 archives are
//! read as archives whose blocks have no filter.

use std::ops::Range;

use super::{Block, BLOCK_META, END, HEADER_LEN, MAGIC};
use crate::ids::IdTable;

/// What a footer holds; `filters` are byte ranges of the archive, one per block.
pub(super) struct Footer {
    pub blocks: Vec<Block>,
    pub ids: IdTable,
    pub filters: Vec<Range<usize>>,
}

/// Writes a format 3 footer for an archive whose footer starts at byte `at`; returns it and the
/// ranges its filters will have in the file.
pub(super) fn encode(
    blocks: &[Block],
    ids: &IdTable,
    filters: &[Vec<u8>],
    at: u64,
) -> (Vec<u8>, Vec<Range<usize>>) {
    let mut footer = Vec::with_capacity(blocks.len() * BLOCK_META + 32);
    put_block_index(blocks, &mut footer);
    let ids_start = footer.len();
    ids.encode(&mut footer);
    let ids_len = (footer.len() - ids_start) as u64;
    let filters_start = footer.len();
    let mut spans = Vec::with_capacity(filters.len());
    for f in filters {
        footer.extend_from_slice(&(f.len() as u32).to_le_bytes());
        let start = at as usize + footer.len();
        spans.push(start..start + f.len());
        footer.extend_from_slice(f);
    }
    let filters_len = (footer.len() - filters_start) as u64;
    footer.extend_from_slice(&(blocks.len() as u32).to_le_bytes());
    footer.extend_from_slice(&ids_len.to_le_bytes());
    footer.extend_from_slice(&filters_len.to_le_bytes());
    let crc = crc32fast::hash(&footer);
    footer.extend_from_slice(&crc.to_le_bytes());
    footer.extend_from_slice(END);
    (footer, spans)
}

/// Appends the block index: first_ord, offset, len and count of each block.
pub(super) fn put_block_index(blocks: &[Block], out: &mut Vec<u8>) {
    for b in blocks {
        out.extend_from_slice(&b.first_ord.to_le_bytes());
        out.extend_from_slice(&b.offset.to_le_bytes());
        out.extend_from_slice(&b.len.to_le_bytes());
        out.extend_from_slice(&b.count.to_le_bytes());
    }
}

/// Reads the footer of a whole archive of `version` (2 or 3); `None` if it is malformed.
pub(super) fn parse(map: &[u8], version: u16) -> Option<Footer> {
    let n = map.len();
    // count u32 | id table length u64 | [filters length u64] | crc32 u32 | END
    let lens = if version >= 3 { 16 } else { 8 };
    let tail = 4 + lens + 4 + 8;
    if n < HEADER_LEN as usize + tail || &map[..6] != MAGIC || &map[n - 8..] != END {
        return None;
    }
    let u32_at = |at: usize| {
        map.get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .map(u32::from_le_bytes)
    };
    let u64_at = |at: usize| {
        map.get(at..at + 8)
            .and_then(|s| s.try_into().ok())
            .map(u64::from_le_bytes)
    };
    let crc = u32_at(n - 12)?;
    let count = u32_at(n - tail)? as usize;
    let ids_len = usize::try_from(u64_at(n - tail + 4)?).ok()?;
    let filters_len = match version >= 3 {
        true => usize::try_from(u64_at(n - tail + 12)?).ok()?,
        false => 0,
    };
    let filters_start = (n - tail).checked_sub(filters_len)?;
    let ids_start = filters_start.checked_sub(ids_len)?;
    let start = ids_start.checked_sub(count.checked_mul(BLOCK_META)?)?;
    if start < HEADER_LEN as usize || crc32fast::hash(&map[start..n - 12]) != crc {
        return None;
    }
    let blocks = (0..count)
        .map(|i| {
            let at = start + i * BLOCK_META;
            Some(Block {
                first_ord: u64_at(at)?,
                offset: u64_at(at + 8)?,
                len: u32_at(at + 16)?,
                count: u32_at(at + 20)?,
            })
        })
        .collect::<Option<Vec<Block>>>()?;
    let ids = IdTable::decode(&map[ids_start..filters_start], count as u32)?;
    let mut filters = Vec::new();
    if version >= 3 {
        let mut at = filters_start;
        for _ in 0..count {
            let len = u32_at(at)? as usize;
            let span = at + 4..(at + 4).checked_add(len)?;
            if span.end > n - tail {
                return None;
            }
            at = span.end;
            filters.push(span);
        }
        if at != n - tail {
            return None;
        }
    }
    Some(Footer {
        blocks,
        ids,
        filters,
    })
}
