//! The id column of a block: file ids (`fingerprint:offset`) as an index into the block's
//! fingerprints and an offset delta, other ids as strings. Pure.

use firewatch_ingest::LogRecord;

use super::{get_str, get_varint, put_str, put_varint, skip_header, skip_str, unzigzag, zigzag};
use crate::ids::parse_file_id;

/// The ids of a block body, without decoding the other columns; `None` if malformed.
pub fn decode_ids(mut b: &[u8]) -> Option<Vec<String>> {
    let b = &mut b;
    let n = skip_header(b)?;
    if n > b.len() {
        return None;
    }
    decode_ids_from(b, n, None)
}

pub(super) fn encode_ids<'r>(
    records: impl ExactSizeIterator<Item = &'r LogRecord> + Clone,
    out: &mut Vec<u8>,
) {
    let keys: Vec<Option<(u64, u64)>> = records.clone().map(|r| parse_file_id(&r.id)).collect();
    // Fingerprint → (its index + 1, the last offset seen); few per block.
    let mut fps: Vec<(u64, u64)> = Vec::new();
    for (fp, _) in keys.iter().flatten() {
        if !fps.iter().any(|(f, _)| f == fp) {
            fps.push((*fp, 0));
        }
    }
    put_varint(out, fps.len() as u64);
    for (fp, _) in &fps {
        out.extend_from_slice(&fp.to_le_bytes());
    }
    for (r, key) in records.zip(&keys) {
        match key {
            Some((fp, off)) => {
                let k = fps.iter().position(|(f, _)| f == fp).unwrap_or(0);
                let prev = &mut fps[k].1;
                put_varint(out, k as u64 + 1);
                put_varint(out, zigzag(off.wrapping_sub(*prev) as i64));
                *prev = *off;
            }
            None => {
                put_varint(out, 0);
                put_str(out, &r.id);
            }
        }
    }
}

/// Moves `b` past the id column of `n` records without building the ids.
pub(crate) fn skip_ids(b: &mut &[u8], n: usize) -> Option<()> {
    let n_fps = get_varint(b)?;
    *b = b.get(usize::try_from(n_fps).ok()?.checked_mul(8)?..)?;
    for _ in 0..n {
        match get_varint(b)? {
            0 => skip_str(b)?,
            k if k <= n_fps => {
                get_varint(b)?;
            }
            _ => return None,
        }
    }
    Some(())
}

/// The ids of the records at `rows` (ascending; `None`: all), reading past the whole id column:
/// offsets are deltas, so every row is stepped through, but only the wanted ids are built
/// (formatting an id costs more than reading its delta, and a fetch usually wants a few rows of
/// thousands).
pub(super) fn decode_ids_from(
    b: &mut &[u8],
    n: usize,
    rows: Option<&[usize]>,
) -> Option<Vec<String>> {
    let n_fps = usize::try_from(get_varint(b)?).ok()?;
    if n_fps.checked_mul(8)? > b.len() {
        return None;
    }
    let mut fps: Vec<(u64, u64)> = Vec::with_capacity(n_fps);
    for _ in 0..n_fps {
        let (head, rest) = b.split_first_chunk::<8>()?;
        fps.push((u64::from_le_bytes(*head), 0));
        *b = rest;
    }
    let mut ids = Vec::with_capacity(rows.map_or(n, <[usize]>::len));
    let mut wanted = rows.map(|r| r.iter().peekable());
    for i in 0..n {
        let keep = wanted.as_mut().is_none_or(|w| w.next_if_eq(&&i).is_some());
        let k = usize::try_from(get_varint(b)?).ok()?;
        if k == 0 {
            let id = get_str(b)?;
            if keep {
                ids.push(id.to_string());
            }
            continue;
        }
        let (fp, prev) = fps.get_mut(k - 1)?;
        *prev = prev.wrapping_add(unzigzag(get_varint(b)?) as u64);
        if keep {
            ids.push(LogRecord::file_id(*fp, *prev));
        }
    }
    Some(ids)
}
