//! The one record type every part of firewatch speaks.
//!
//! A [`LogRecord`] is one log *event*: a single line, or a whole multiline event such as a stack
//! trace. Its JSON shape is part of firewatch's public contract (the shipper's wire format, the
//! node's archive, the query API's hits, `--json` outputs) and is documented in the README.

use bytes::Bytes;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Nanoseconds since the Unix epoch, UTC.
pub type Nanos = i64;

/// One log event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Stable identity that makes redelivery idempotent. For files: `<fingerprint>:<offset>`,
    /// the source's fingerprint (16 hex digits) and the byte offset where the event starts.
    pub id: String,
    /// When the event happened: the time the line carries, else the time it was read.
    #[serde(with = "rfc3339_nanos")]
    pub timestamp: Nanos,
    /// When firewatch read the line.
    #[serde(with = "rfc3339_nanos")]
    pub observed: Nanos,
    /// The service that wrote the event: its own service field, else the source's file stem.
    #[serde(default)]
    pub service: String,
    /// The host the event was read on.
    #[serde(default)]
    pub host: String,
    /// Where the event came from: a file path, or `api` for records posted to the node.
    #[serde(default)]
    pub source: String,
    /// Normalized severity.
    #[serde(default)]
    pub level: Level,
    /// The severity exactly as the line spelled it (`ERR`, `50`, `E1120`…), when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level_raw: Option<String>,
    /// The message; for multiline events the whole event, lines joined with `\n`.
    pub message: String,
    /// Structured fields (JSON keys, logfmt pairs, access-log parts…).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub fields: Map<String, Value>,
}

impl LogRecord {
    /// The id of an event read from a file: the file's fingerprint and the event's byte offset.
    pub fn file_id(fingerprint: u64, offset: u64) -> String {
        format!("{fingerprint:016x}:{offset}")
    }

    /// Is this an error event: level error or worse, or an access log with status ≥ 500?
    pub fn is_error(&self) -> bool {
        self.level >= Level::Error
    }
}

/// A record with its JSON text. The node writes the text to its write-ahead log as is: for a
/// record received as an NDJSON line that is the line itself, so that it is not serialized
/// again (that cost 6% of the node's CPU).
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub record: LogRecord,
    /// One line of JSON (no newline) that parses back to `record`; for a record parsed from a
    /// request body, a view of that body (no copy per record).
    pub json: Bytes,
}

impl Encoded {
    /// A record and its serialization.
    pub fn new(record: LogRecord) -> Result<Encoded, serde_json::Error> {
        let json = serde_json::to_vec(&record)?.into();
        Ok(Encoded { record, json })
    }
}

/// Records offered to the store together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub records: Vec<Encoded>,
    /// The zstd-compressed body the records were parsed from, when it holds exactly them: each
    /// line that is not blank is the `json` of the next record. The node's write-ahead log keeps
    /// this frame instead of the lines (a tenth of the bytes, no compression work of its own).
    pub zstd_body: Option<Bytes>,
}

impl Batch {
    /// A batch of records without a body to stand for them.
    pub fn of(records: Vec<Encoded>) -> Batch {
        Batch {
            records,
            zstd_body: None,
        }
    }
}

/// Normalized severity, ordered from least to most severe.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Trace,
    Debug,
    /// Also the level of lines that carry none.
    #[default]
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    pub const ALL: [Level; 6] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
        Level::Fatal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a level name firewatch does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown level {0:?} (expected trace, debug, info, warn, error or fatal)")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;

    /// Parses the normalized names and their common spellings (`WARNING`, `ERR`, `CRITICAL`…).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        Ok(match lower.as_str() {
            "trace" | "trc" | "finest" | "finer" => Level::Trace,
            "debug" | "dbg" | "fine" | "verbose" => Level::Debug,
            "info" | "inf" | "information" | "notice" | "informational" => Level::Info,
            "warn" | "warning" | "wrn" => Level::Warn,
            "error" | "err" | "severe" => Level::Error,
            "fatal" | "critical" | "crit" | "emerg" | "emergency" | "alert" | "panic" => {
                Level::Fatal
            }
            _ => return Err(UnknownLevel(s.to_string())),
        })
    }
}

/// RFC 3339 with nanoseconds on output (`2026-11-20T10:00:00.123456789Z`); on input an RFC 3339
/// string or an integer number of nanoseconds.
pub mod rfc3339_nanos {
    use super::Nanos;
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{de, Deserializer, Serializer};

    pub fn format(ns: Nanos) -> String {
        DateTime::<Utc>::from_timestamp_nanos(ns).to_rfc3339_opts(SecondsFormat::Nanos, true)
    }

    pub fn parse(s: &str) -> Option<Nanos> {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .and_then(|t| t.timestamp_nanos_opt())
    }

    pub fn serialize<S: Serializer>(ns: &Nanos, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*ns))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Nanos, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Nanos;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an RFC 3339 timestamp or integer nanoseconds")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Nanos, E> {
                parse(v).ok_or_else(|| E::custom(format_args!("invalid RFC 3339 timestamp {v:?}")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Nanos, E> {
                Ok(v)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Nanos, E> {
                i64::try_from(v).map_err(|_| E::custom("timestamp out of range"))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> LogRecord {
        LogRecord {
            id: LogRecord::file_id(0x9f2c, 1024),
            timestamp: 1_763_632_800_123_456_789,
            observed: 1_763_632_800_200_000_000,
            service: "checkout".into(),
            host: "web-1".into(),
            source: "/var/log/checkout.log".into(),
            level: Level::Error,
            level_raw: Some("ERR".into()),
            message: "payment failed".into(),
            fields: serde_json::json!({"http": {"status": 503}})
                .as_object()
                .unwrap()
                .clone(),
        }
    }

    #[test]
    fn json_shape_is_stable() {
        let json = serde_json::to_value(sample()).unwrap();
        assert_eq!(json["id"], "0000000000009f2c:1024");
        assert_eq!(json["timestamp"], "2025-11-20T10:00:00.123456789Z");
        assert_eq!(json["level"], "error");
        assert_eq!(json["level_raw"], "ERR");
        assert_eq!(json["fields"]["http"]["status"], 503);
    }

    #[test]
    fn round_trips_through_json() {
        let rec = sample();
        let text = serde_json::to_string(&rec).unwrap();
        assert_eq!(serde_json::from_str::<LogRecord>(&text).unwrap(), rec);
    }

    #[test]
    fn accepts_integer_nanoseconds_and_defaults() {
        let rec: LogRecord = serde_json::from_str(
            r#"{"id":"a","timestamp":5,"observed":"1970-01-01T00:00:00Z","message":"m"}"#,
        )
        .unwrap();
        assert_eq!(rec.timestamp, 5);
        assert_eq!(rec.level, Level::Info);
        assert!(rec.fields.is_empty());
    }

    #[test]
    fn rejects_bad_timestamp_with_clear_error() {
        let err = serde_json::from_str::<LogRecord>(
            r#"{"id":"a","timestamp":"yesterday","observed":0,"message":"m"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("invalid RFC 3339"), "{err}");
    }

    #[test]
    fn levels_parse_common_spellings_and_order() {
        assert_eq!("WARNING".parse::<Level>().unwrap(), Level::Warn);
        assert_eq!("crit".parse::<Level>().unwrap(), Level::Fatal);
        assert!("loud".parse::<Level>().is_err());
        assert!(Level::Error > Level::Warn && Level::Trace < Level::Debug);
    }
}
