//! Raw lines to records, without configuration.
//!
//! INTERFACE PINNED FOR PARALLEL WORK — the signatures below are what the shipper, the node and
//! the detectors call. The body is a minimal one-line-one-record version, to be replaced by the
//! real format detection and multiline assembly.

use crate::record::{Level, LogRecord, Nanos};
use serde_json::Map;

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
    /// Longer lines are truncated and marked with the field `truncated: true`.
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

/// Per-source parsing state: the detected format and the event being assembled.
pub struct SourceParser {
    info: SourceInfo,
    opts: ParseOptions,
}

impl SourceParser {
    pub fn new(info: SourceInfo, opts: ParseOptions) -> Self {
        SourceParser { info, opts }
    }

    /// Feeds one line (without its line terminator) that starts at byte `offset` of the source
    /// and was read at `observed`. Completed events are appended to `out`.
    pub fn push_line(
        &mut self,
        line: &[u8],
        offset: u64,
        observed: Nanos,
        out: &mut Vec<LogRecord>,
    ) {
        let line = &line[..line.len().min(self.opts.max_line_bytes)];
        out.push(LogRecord {
            id: LogRecord::file_id(self.info.fingerprint, offset),
            timestamp: observed,
            observed,
            service: self.info.service.clone().unwrap_or_default(),
            host: self.info.host.clone(),
            source: self.info.source.clone(),
            level: Level::Info,
            level_raw: None,
            message: String::from_utf8_lossy(line).into_owned(),
            fields: Map::new(),
        });
    }

    /// Emits the pending event, if any: at end of input, or when
    /// [`pending_since`](Self::pending_since) is older than the flush timeout.
    pub fn flush(&mut self, _out: &mut Vec<LogRecord>) {}

    /// Byte offset where the pending (not yet emitted) event starts, if one is pending. A
    /// checkpoint must not advance past it.
    pub fn pending_offset(&self) -> Option<u64> {
        None
    }

    /// Observed time of the last line added to the pending event.
    pub fn pending_since(&self) -> Option<Nanos> {
        None
    }
}
