//! Raw lines to records, without configuration.
//!
//! A [`SourceParser`] holds what is known about one source (a file, a stream): whether its
//! RFC 3339 prefixes are docker's, whether it writes access logs, and the multiline events being
//! assembled (one per program and stream). Each line goes through three steps:
//!
//! 1. `prefix`: the prefix a runtime put in front of the program's output (CRI, syslog and
//!    journald, pm2, `docker logs --timestamps`) is taken off, CRI/docker partial lines joined;
//! 2. `multiline`: the line either continues a pending event (stack traces, crash reports,
//!    indented lines) or starts a new one, which completes the pending one of its context;
//! 3. the first line of an event is parsed (`event`): `json` (with docker json-file unwrapped),
//!    `logfmt`, `access` logs, or text with a leading timestamp (`time`) and a `level` word.
//!
//! Times without a zone are UTC. Nothing here panics on any input: invalid UTF-8 is replaced, and
//! lines longer than [`ParseOptions::max_line_bytes`] are cut and marked `truncated: true`.
//! [`parse_reader`] parses a whole reader, for offline tools.

mod access;
mod event;
mod json;
mod level;
mod logfmt;
mod multiline;
mod parser;
mod prefix;
mod reader;
mod time;

use serde_json::{Map, Value};

use crate::record::{Level, Nanos};

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
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            max_line_bytes: 1 << 20,
            multiline_flush: 1_000_000_000,
        }
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
mod tests;
