//! Turning a request body into records: decoding, limits, per-line validation. Pure.

use std::io::Read;

use bytes::Bytes;

use crate::protocol::Rejection;
use crate::record::{Encoded, LogRecord};

/// Record ids longer than this are refused.
pub const MAX_ID_BYTES: usize = 256;

/// Why a whole body is refused (each maps to one 4xx answer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("body decompresses to more than {limit} bytes")]
    DecodedTooLarge { limit: usize },
    #[error("zstd body does not decompress: {0}")]
    BadEncoding(String),
}

/// Decompresses a zstd body, refusing to produce more than `limit` bytes (bombs).
pub fn decode_zstd(body: &[u8], limit: usize) -> Result<Vec<u8>, BodyError> {
    // A frame that declares its size (the shipper's do) is decoded in one call straight into a
    // buffer of that size: streaming copied every byte out of zstd's window and grew the
    // buffer from a guess. A claim past the limit or far past any real ratio is not believed,
    // and one that is short of the truth (or a body of several frames) fails here and is
    // streamed instead.
    let declared = zstd::zstd_safe::get_frame_content_size(body).ok().flatten();
    let believable = |n: u64| n <= limit as u64 && n <= (body.len() as u64).saturating_mul(64);
    if let Some(n) = declared.filter(|&n| believable(n)) {
        if let Ok(out) = zstd::bulk::decompress(body, n as usize) {
            return Ok(out);
        }
    }
    let decoder = zstd::stream::read::Decoder::new(body)
        .map_err(|e| BodyError::BadEncoding(e.to_string()))?;
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    decoder
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| BodyError::BadEncoding(e.to_string()))?;
    if out.len() > limit {
        return Err(BodyError::DecodedTooLarge { limit });
    }
    Ok(out)
}

/// The records of an NDJSON body, each with its line (a view of `body`, not a copy), and the
/// lines refused, by 0-based line number. Blank lines are skipped.
pub fn parse_ndjson(
    body: impl Into<Bytes>,
    max_record_bytes: usize,
) -> (Vec<Encoded>, Vec<Rejection>) {
    let body: Bytes = body.into();
    // Sized once: a record is a few hundred bytes to move each time the vector grows.
    let mut records = Vec::with_capacity(memchr::memchr_iter(b'\n', &body).count() + 1);
    let mut rejected = Vec::new();
    for (n, line) in body.split(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_line(line, max_record_bytes) {
            Ok(record) => records.push(Encoded {
                record,
                json: body.slice_ref(line),
            }),
            Err(error) => rejected.push(Rejection {
                line: n as u64,
                error,
            }),
        }
    }
    (records, rejected)
}

fn parse_line(line: &[u8], max_record_bytes: usize) -> Result<LogRecord, String> {
    if line.len() > max_record_bytes {
        return Err(format!(
            "record of {} bytes exceeds the limit of {max_record_bytes}",
            line.len()
        ));
    }
    let text = std::str::from_utf8(line).map_err(|e| format!("invalid utf-8: {e}"))?;
    let rec: LogRecord = serde_json::from_str(text).map_err(|e| format!("invalid record: {e}"))?;
    if rec.id.is_empty() {
        return Err("empty id".into());
    }
    if rec.id.len() > MAX_ID_BYTES {
        return Err(format!("id longer than {MAX_ID_BYTES} bytes"));
    }
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"id":"a:1","timestamp":0,"observed":0,"message":"m"}"#;

    #[test]
    fn keeps_valid_lines_and_reports_bad_ones() {
        let body = format!(
            "{GOOD}\n\n{{not json\n{}\n{GOOD}\r\n",
            r#"{"id":"","timestamp":0,"observed":0,"message":"m"}"#
        );
        let (records, rejected) = parse_ndjson(body, 1 << 20);
        assert_eq!(records.len(), 2);
        // Each record keeps its line, without the line end, for the node's log.
        for r in &records {
            assert_eq!(r.json, GOOD.as_bytes());
            assert_eq!(
                serde_json::from_slice::<LogRecord>(&r.json).unwrap(),
                r.record
            );
        }
        assert_eq!(
            rejected.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![2, 3]
        );
        assert!(
            rejected[0].error.starts_with("invalid record"),
            "{:?}",
            rejected[0]
        );
        assert_eq!(rejected[1].error, "empty id");
    }

    #[test]
    fn invalid_utf8_and_oversized_lines_are_rejected() {
        let mut body = b"{\"id\":\"\xff\"}\n".to_vec();
        body.extend_from_slice(GOOD.as_bytes());
        let (records, rejected) = parse_ndjson(body, 1 << 20);
        assert_eq!(records.len(), 1);
        assert!(rejected[0].error.starts_with("invalid utf-8"));
        let (_, rejected) = parse_ndjson(GOOD, 10);
        assert!(rejected[0].error.contains("exceeds the limit"));
    }

    #[test]
    fn zstd_bombs_and_truncation_are_refused() {
        let big = vec![b'a'; 1 << 20];
        let packed = zstd::encode_all(&big[..], 3).unwrap();
        assert!(packed.len() < 1000);
        assert_eq!(decode_zstd(&packed, 1 << 20).unwrap().len(), 1 << 20);
        assert_eq!(
            decode_zstd(&packed, 1000),
            Err(BodyError::DecodedTooLarge { limit: 1000 })
        );
        let truncated = &packed[..packed.len() / 2];
        assert!(matches!(
            decode_zstd(truncated, 1 << 20),
            Err(BodyError::BadEncoding(_))
        ));
        assert!(matches!(
            decode_zstd(b"plain text", 1 << 20),
            Err(BodyError::BadEncoding(_))
        ));
    }

    #[test]
    fn frames_that_declare_their_size_decode_the_same_within_the_limit() {
        let text: Vec<u8> = (0..5000)
            .flat_map(|i| format!("{{\"id\":\"a:{i}\",\"n\":{}}}\n", i * 7919 % 1000).into_bytes())
            .collect();
        // The shipper's frames declare their size.
        let one = zstd::bulk::compress(&text, 3).unwrap();
        assert_eq!(
            zstd::zstd_safe::get_frame_content_size(&one).ok().flatten(),
            Some(text.len() as u64)
        );
        assert_eq!(decode_zstd(&one, 1 << 20).unwrap(), text);
        assert_eq!(
            decode_zstd(&one, text.len() - 1),
            Err(BodyError::DecodedTooLarge {
                limit: text.len() - 1
            })
        );
        // Two frames: the first one's size is not the body's.
        let mut two = one.clone();
        two.extend_from_slice(&one);
        assert_eq!(
            decode_zstd(&two, 1 << 20).unwrap(),
            [&text[..], &text[..]].concat()
        );
        assert_eq!(
            decode_zstd(&two, text.len() + 10),
            Err(BodyError::DecodedTooLarge {
                limit: text.len() + 10
            })
        );
    }
}
