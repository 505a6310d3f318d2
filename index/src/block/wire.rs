//! The byte-level encodings every column uses: LEB128 varints, zigzag for signed deltas, and
//! strings as a varint length followed by their bytes. Readers return `None` on a short or
//! malformed input rather than panicking.

/// Reads a string into `into`, or skips it when there is nowhere to put it.
pub(crate) fn string(b: &mut &[u8], into: Option<&mut String>) -> Option<()> {
    match into {
        Some(s) => *s = get_str(b)?.to_string(),
        None => skip_str(b)?,
    }
    Some(())
}

pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub(crate) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn get_varint(b: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (byte, rest) = b.split_first()?;
        *b = rest;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

pub(crate) fn skip_str(b: &mut &[u8]) -> Option<()> {
    let len = usize::try_from(get_varint(b)?).ok()?;
    *b = b.get(len..)?;
    Some(())
}

pub(crate) fn get_bytes<'a>(b: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = usize::try_from(get_varint(b)?).ok()?;
    let (s, rest) = b.split_at_checked(len)?;
    *b = rest;
    Some(s)
}

pub(crate) fn get_str<'a>(b: &mut &'a [u8]) -> Option<&'a str> {
    std::str::from_utf8(get_bytes(b)?).ok()
}
