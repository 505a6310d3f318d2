//! Record filters of `grep`: `--since`, `--until` and `--where key=value`.
//!
//! They need parsed records, and parsing costs far more than searching, so only lines that
//! matched the patterns are parsed (with the same parser the shipper uses).

use firewatch_ingest::parse::{ParseOptions, SourceInfo, SourceParser};
use firewatch_ingest::record::Nanos;
use firewatch_ingest::LogRecord;
use serde_json::Value;

use super::GrepError;

/// `key=value`: `service`, `host`, `source`, `level`, or a (dotted) path into `fields`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldFilter {
    pub key: String,
    pub value: String,
}

impl std::str::FromStr for FieldFilter {
    type Err = GrepError;

    fn from_str(s: &str) -> Result<Self, GrepError> {
        match s.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => Ok(FieldFilter {
                key: key.trim().to_string(),
                value: value.to_string(),
            }),
            _ => Err(GrepError::BadFilter(s.to_string())),
        }
    }
}

impl FieldFilter {
    pub fn accepts(&self, rec: &LogRecord) -> bool {
        match self.key.as_str() {
            "service" => rec.service == self.value,
            "host" => rec.host == self.value,
            "source" => rec.source == self.value,
            "level" => rec.level.as_str().eq_ignore_ascii_case(&self.value),
            path => {
                let mut parts = path.split('.');
                let first = parts.next().and_then(|k| rec.fields.get(k));
                let found = parts.try_fold(first, |v, k| Some(v.and_then(|v| v.get(k))));
                match found.flatten() {
                    Some(Value::String(s)) => *s == self.value,
                    // Numbers and booleans compare as JSON: `http.status=503`.
                    Some(other) => {
                        serde_json::from_str::<Value>(&self.value).is_ok_and(|v| v == *other)
                    }
                    None => false,
                }
            }
        }
    }
}

/// Which records a match must belong to.
#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    pub since: Option<Nanos>,
    pub until: Option<Nanos>,
    pub fields: Vec<FieldFilter>,
}

impl RecordFilter {
    /// Are records needed at all?
    pub fn is_empty(&self) -> bool {
        self.since.is_none() && self.until.is_none() && self.fields.is_empty()
    }

    pub fn accepts(&self, rec: &LogRecord) -> bool {
        self.since.is_none_or(|t| rec.timestamp >= t)
            && self.until.is_none_or(|t| rec.timestamp < t)
            && self.fields.iter().all(|f| f.accepts(rec))
    }
}

/// Parses single matching lines of one input into records.
pub struct LineParser {
    parser: SourceParser,
    observed: Nanos,
    out: Vec<LogRecord>,
}

impl LineParser {
    pub fn new(source: String, observed: Nanos) -> Self {
        let info = SourceInfo {
            source,
            ..SourceInfo::default()
        };
        LineParser {
            parser: SourceParser::new(info, ParseOptions::default()),
            observed,
            out: Vec::new(),
        }
    }

    /// The record of one line starting at byte `offset`.
    pub fn parse(&mut self, line: &[u8], offset: u64) -> Option<LogRecord> {
        self.out.clear();
        self.parser
            .push_line(line, offset, self.observed, &mut self.out);
        self.parser.flush(&mut self.out);
        self.out.drain(..).next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_filters_look_into_records() {
        let rec: LogRecord = serde_json::from_str(
            r#"{"id":"x:1","timestamp":"2026-11-20T10:00:00Z","observed":0,"service":"checkout",
                "level":"error","message":"m","fields":{"http":{"status":503},"user":"u-1"}}"#,
        )
        .unwrap();
        let f = |s: &str| s.parse::<FieldFilter>().unwrap().accepts(&rec);
        assert!(f("service=checkout") && !f("service=users"));
        assert!(f("level=ERROR") && f("http.status=503") && f("user=u-1"));
        assert!(!f("http.status=200") && !f("missing.key=1"));
        assert!("novalue".parse::<FieldFilter>().is_err());
        let t = rec.timestamp;
        let window = |since, until| {
            RecordFilter {
                since,
                until,
                fields: vec![],
            }
            .accepts(&rec)
        };
        assert!(
            window(Some(t), Some(t + 1)) && !window(Some(t + 1), None) && !window(None, Some(t))
        );
    }
}
