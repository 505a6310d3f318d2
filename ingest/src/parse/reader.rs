//! Parsing a whole reader at once, for offline tools (`analyze`, tests, benchmarks): lines are cut
//! at `\n` (a `\r` before it dropped), each with its byte offset, and the pending event is flushed
//! at the end. Read errors end the iteration, after flushing what was read.

use std::collections::VecDeque;
use std::io::BufRead;

use super::{ParseOptions, SourceInfo, SourceParser};
use crate::record::{LogRecord, Nanos};

/// Iterator over the records of a reader. See [`parse_reader`].
pub struct ParseReader<R> {
    reader: R,
    parser: SourceParser,
    observed: Nanos,
    offset: u64,
    line: Vec<u8>,
    out: Vec<LogRecord>,
    ready: VecDeque<LogRecord>,
    done: bool,
    error: Option<std::io::Error>,
}

/// Parses every line of `reader` as one source; every line counts as read at `observed`.
pub fn parse_reader<R: BufRead>(
    reader: R,
    info: SourceInfo,
    opts: ParseOptions,
    observed: Nanos,
) -> ParseReader<R> {
    ParseReader {
        reader,
        parser: SourceParser::new(info, opts),
        observed,
        offset: 0,
        line: Vec::new(),
        out: Vec::new(),
        ready: VecDeque::new(),
        done: false,
        error: None,
    }
}

impl<R> ParseReader<R> {
    /// The read error that ended the iteration early, if one did.
    pub fn error(&self) -> Option<&std::io::Error> {
        self.error.as_ref()
    }
}

impl<R: BufRead> ParseReader<R> {
    /// Reads one line into `self.line`, keeping at most a little more than the parser's limit
    /// (the parser marks the cut) so that a huge line cannot exhaust memory. Returns the bytes the
    /// line took in the source.
    fn read_line(&mut self) -> std::io::Result<usize> {
        self.line.clear();
        let keep = self.parser.max_line_bytes().saturating_add(1);
        let mut taken = 0;
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                return Ok(taken);
            }
            let (n, end) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            let room = keep.saturating_sub(self.line.len());
            self.line.extend_from_slice(&buf[..n.min(room)]);
            if end && n > room {
                self.line.push(b'\n');
            }
            self.reader.consume(n);
            taken += n;
            if end {
                return Ok(taken);
            }
        }
    }
}

impl<R: BufRead> Iterator for ParseReader<R> {
    type Item = LogRecord;

    fn next(&mut self) -> Option<LogRecord> {
        loop {
            if let Some(rec) = self.ready.pop_front() {
                return Some(rec);
            }
            if self.done {
                return None;
            }
            match self.read_line() {
                Ok(0) => {
                    self.done = true;
                    self.parser.flush(&mut self.out);
                }
                Ok(n) => {
                    let mut end = self.line.len();
                    if self.line.last() == Some(&b'\n') {
                        end -= 1;
                        if end > 0 && self.line[end - 1] == b'\r' {
                            end -= 1;
                        }
                    }
                    self.parser.push_line(
                        &self.line[..end],
                        self.offset,
                        self.observed,
                        &mut self.out,
                    );
                    self.offset += n as u64;
                }
                Err(e) => {
                    // The start of a line read before the error is kept too.
                    if !self.line.is_empty() {
                        self.parser.push_line(
                            &self.line,
                            self.offset,
                            self.observed,
                            &mut self.out,
                        );
                    }
                    self.error = Some(e);
                    self.done = true;
                    self.parser.flush(&mut self.out);
                }
            }
            self.ready.extend(self.out.drain(..));
        }
    }
}
