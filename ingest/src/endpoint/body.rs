//! Turning a request body into records: decoding, limits, per-line validation. Pure.

use std::io::Read;

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

/// The records of an NDJSON body, each with its line, and the lines refused, by 0-based line
/// number. Blank lines are skipped.
pub fn parse_ndjson(body: &[u8], max_record_bytes: usize) -> (Vec<Encoded>, Vec<Rejection>) {
    let mut records = Vec::new();
    let mut rejected = Vec::new();
    for (n, line) in body.split(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_line(line, max_record_bytes) {
            Ok(record) => records.push(Encoded {
                record,
                json: line.to_vec(),
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
        let (records, rejected) = parse_ndjson(body.as_bytes(), 1 << 20);
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
        let (records, rejected) = parse_ndjson(&body, 1 << 20);
        assert_eq!(records.len(), 1);
        assert!(rejected[0].error.starts_with("invalid utf-8"));
        let (_, rejected) = parse_ndjson(GOOD.as_bytes(), 10);
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
}
