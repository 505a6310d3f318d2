//! Raw lines to records, without configuration.
//!
//! A [`SourceParser`] holds what is known about one source (a file, a stream): whether its
//! RFC 3339 prefixes are docker's, whether it writes access logs, and the multiline events being
//! assembled (one per program and stream). Each line goes through three steps:
//!
//! 1. `prefix`: the prefix a runtime put in front of the program's output (CRI, syslog and
//!    journald, pm2, `docker logs --timestamps`, `aws logs tail`, `kubectl logs --prefix`) is
//!    taken off, CRI/docker partial lines joined;
//! 2. `multiline`: the line either continues a pending event (stack traces, crash reports,
//!    indented lines) or starts a new one, which completes the pending one of its context;
//! 3. the first line of an event is parsed (`event`): `json` (with docker json-file unwrapped),
//!    `logfmt`, `access` logs, AWS `lambda` runtime lines, or text with a leading timestamp
//!    (`time`) and a `level` word.
//!
//! Times without a zone are UTC. Nothing here panics on any input: invalid UTF-8 is replaced, and
//! lines longer than [`ParseOptions::max_line_bytes`] are cut and marked `truncated: true`.
//! [`parse_reader`] parses a whole reader, for offline tools.
//!
//! Everything is detected, but a source's configuration may say better: [`ParseOptions`] can
//! force a [`Format`], give the pattern that starts an event, and name the timestamp field or
//! format.

mod access;
mod event;
mod json;
mod lambda;
mod level;
mod logfmt;
mod multiline;
mod parser;
mod prefix;
mod reader;
mod time;
mod w3c;

use serde_json::{Map, Value};

use crate::record::{Level, Nanos};

/// How the first lines of a source's events are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Detected line by line: JSON, logfmt, access logs, text.
    #[default]
    Auto,
    /// JSON objects; a line that is not one is text (a stack trace printed between records).
    Json,
    /// logfmt pairs, whatever the first key.
    Logfmt,
    /// Text: the line is the message; only a leading timestamp and a level word are read.
    Text,
}

pub use parser::SourceParser;
pub use reader::{parse_reader, ParseReader};

/// What is fixed for one source of lines.
#[derive(Debug, Clone, Default)]
pub struct SourceInfo {
    /// File path, or `api`.
    pub source: String,
    /// Host the lines are read on.
    pub host: String,
    /// A service name configured for this source; overrides what the lines say.
    pub service: Option<String>,
    /// The source's fingerprint; record ids are `fingerprint:offset`.
    pub fingerprint: u64,
}

/// Limits and timeouts of parsing.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Longer lines are truncated and marked with the field `truncated: true`; a multiline event
    /// is cut into several records at this size too.
    pub max_line_bytes: usize,
    /// A pending multiline event is emitted after this long without a new line (nanoseconds of
    /// observed time).
    pub multiline_flush: Nanos,
    /// How event heads are read (a runtime's wrapper, CRI or docker json-file, is taken off
    /// whatever the format).
    pub format: Format,
    /// A line that matches (without a runtime's prefix: CRI, docker, syslog) starts a new event
    /// and any other line continues the pending one, instead of the built-in stack trace rules.
    pub multiline_start: Option<regex::Regex>,
    /// The field of JSON and logfmt records that holds the event's time, instead of the usual
    /// `ts`, `time`, `timestamp`, `@timestamp`, `t`.
    pub timestamp_field: Option<String>,
    /// A chrono format (`%d/%m/%Y %H:%M:%S%.f`) of the timestamp that starts text lines and of
    /// timestamp field values, tried before the built-in shapes. Without a zone it is UTC.
    pub timestamp_format: Option<String>,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            max_line_bytes: 1 << 20,
            multiline_flush: 1_000_000_000,
            format: Format::Auto,
            multiline_start: None,
            timestamp_field: None,
            timestamp_format: None,
        }
    }
}

/// What the configuration says about timestamps, for the parsers of event heads.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TimeHints<'a> {
    pub field: Option<&'a str>,
    pub format: Option<&'a str>,
}

impl TimeHints<'_> {
    /// A timestamp value: in the configured format, else any shape the parsers know.
    pub fn value(&self, s: &str, observed: Nanos) -> Option<Nanos> {
        self.format
            .and_then(|f| time::with_format(s, f).filter(|l| l.len == s.len()))
            .map(|l| l.nanos)
            .or_else(|| time::value(s, observed))
            .or_else(|| time::epoch_decimal(s))
    }
}

/// The parsed head of an event, before it becomes a record.
#[derive(Debug, Default)]
pub(crate) struct Parts {
    pub timestamp: Option<Nanos>,
    pub level: Option<(Level, String)>,
    pub message: String,
    pub service: Option<String>,
    pub fields: Map<String, Value>,
}

/// A line's place in its source.
#[derive(Debug, Clone, Copy)]
struct At {
    offset: u64,
    observed: Nanos,
    truncated: bool,
}

/// What a wrapper around the line (CRI, docker json-file) said about it.
#[derive(Debug, Default, Clone, Copy)]
struct Outer<'a> {
    time: Option<Nanos>,
    stream: Option<&'a str>,
}

#[cfg(test)]
mod hint_tests;
#[cfg(test)]
mod tests;
