//! Records of many inputs, merged in log-time order.
//!
//! Each input is read line by line through its own [`SourceParser`] (so multiline events and
//! format detection work per file); the streams — those files, and the records of archive
//! segments ([`super::archive`]) — are merged by the timestamp of their next record. Within one
//! input the order of the file is kept, so a record without a time of its own never jumps ahead
//! of the event it follows.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::BufRead;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use firewatch_ingest::parse::{ParseOptions, SourceInfo, SourceParser};
use firewatch_ingest::{LogRecord, Nanos};

use crate::input::{Input, InputError};

/// A stream of records that can say when its next record happened.
pub trait Records: Iterator<Item = LogRecord> + Send {
    /// The time of the next record, reading ahead as needed.
    fn peek_time(&mut self) -> Option<Nanos>;
    /// The read errors met so far (inputs or parts of inputs lost).
    fn take_errors(&mut self) -> Vec<InputError>;
}

/// One input as a stream of records.
pub struct RecordStream {
    reader: Box<dyn BufRead + Send>,
    parser: SourceParser,
    pending: VecDeque<LogRecord>,
    line: Vec<u8>,
    offset: u64,
    observed: Nanos,
    done: bool,
    /// The input read.
    pub path: std::path::PathBuf,
    /// The read error that ended this stream early, if any.
    pub error: Option<std::io::Error>,
}

impl RecordStream {
    /// Opens an input; `observed` is the read time given to records without their own time.
    pub fn open(input: &Input, observed: Nanos) -> Result<Self, InputError> {
        RecordStream::open_counted(input, observed, None)
    }

    /// Like [`RecordStream::open`], counting the file's bytes read into `progress`.
    pub fn open_counted(
        input: &Input,
        observed: Nanos,
        progress: Option<Arc<AtomicU64>>,
    ) -> Result<Self, InputError> {
        let reader = input.open_counted(progress)?;
        let source = input.source_name();
        let info = SourceInfo {
            fingerprint: source_fingerprint(&source),
            source,
            host: String::new(),
            service: None,
        };
        Ok(RecordStream {
            reader,
            parser: SourceParser::new(info, ParseOptions::default()),
            pending: VecDeque::new(),
            line: Vec::new(),
            offset: 0,
            observed,
            done: false,
            path: input.path.clone(),
            error: None,
        })
    }

    fn fill(&mut self) {
        let mut out = Vec::new();
        while self.pending.is_empty() && !self.done {
            self.line.clear();
            // Kept to one byte past the parser's limit: it cuts the line there and marks it.
            let cap = self.parser.max_line_bytes().saturating_add(1);
            match read_line_capped(&mut *self.reader, &mut self.line, cap) {
                Ok(0) => {
                    self.parser.flush(&mut out);
                    self.done = true;
                }
                Ok(n) => {
                    let mut line = &self.line[..];
                    if line.ends_with(b"\n") {
                        line = &line[..line.len() - 1];
                    }
                    if line.ends_with(b"\r") {
                        line = &line[..line.len() - 1];
                    }
                    self.parser
                        .push_line(line, self.offset, self.observed, &mut out);
                    self.offset += n as u64;
                }
                Err(e) => {
                    self.parser.flush(&mut out);
                    self.error = Some(e);
                    self.done = true;
                }
            }
            self.pending.extend(out.drain(..));
        }
    }
}

impl Iterator for RecordStream {
    type Item = LogRecord;
    fn next(&mut self) -> Option<LogRecord> {
        self.fill();
        self.pending.pop_front()
    }
}

impl Records for RecordStream {
    fn peek_time(&mut self) -> Option<Nanos> {
        self.fill();
        self.pending.front().map(|r| r.timestamp)
    }

    fn take_errors(&mut self) -> Vec<InputError> {
        self.error
            .take()
            .map(|source| InputError {
                path: self.path.clone(),
                source,
            })
            .into_iter()
            .collect()
    }
}

/// Reads one line (with its newline) into `line`, keeping at most `cap` bytes of it and
/// skipping the rest; the bytes read from `reader`, 0 at its end. A line of gigabytes (a sparse
/// file, a stream of NULs) costs `cap` bytes of memory, not its size.
fn read_line_capped(
    reader: &mut dyn BufRead,
    line: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<usize> {
    let mut read = 0;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(read);
        }
        let (chunk, ends) = match memchr::memchr(b'\n', available) {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let room = cap.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let n = chunk.len();
        reader.consume(n);
        read += n;
        if ends {
            return Ok(read);
        }
    }
}

/// A stable identity for a source name (record ids are `fingerprint:offset`).
fn source_fingerprint(source: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in source.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Merges streams by the time of their next record; ties go to the earlier input.
pub struct Merge {
    streams: Vec<Box<dyn Records>>,
    heap: BinaryHeap<Reverse<(Nanos, usize)>>,
}

impl Merge {
    pub fn new(mut streams: Vec<Box<dyn Records>>) -> Self {
        let mut heap = BinaryHeap::new();
        for (i, s) in streams.iter_mut().enumerate() {
            if let Some(t) = s.peek_time() {
                heap.push(Reverse((t, i)));
            }
        }
        Merge { streams, heap }
    }

    /// The read errors of all streams.
    pub fn take_errors(&mut self) -> Vec<InputError> {
        self.streams
            .iter_mut()
            .flat_map(|s| s.take_errors())
            .collect()
    }
}

impl Iterator for Merge {
    type Item = LogRecord;
    fn next(&mut self) -> Option<LogRecord> {
        let Reverse((_, i)) = self.heap.pop()?;
        let stream = &mut self.streams[i];
        let rec = stream.next();
        if let Some(t) = stream.peek_time() {
            self.heap.push(Reverse((t, i)));
        }
        rec
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_by_time_and_keeps_file_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.log"), "a1\na2\n").unwrap();
        std::fs::write(dir.path().join("b.log"), "b1\n").unwrap();
        let (inputs, _) = crate::input::expand(&[dir.path()]);
        let streams: Vec<_> = inputs
            .iter()
            .enumerate()
            .map(|(i, input)| {
                Box::new(RecordStream::open(input, 10 - i as Nanos).unwrap()) as Box<dyn Records>
            })
            .collect();
        let msgs: Vec<String> = Merge::new(streams).map(|r| r.message).collect();
        // b's records carry the earlier read time, so they come first.
        assert_eq!(msgs, vec!["b1", "a1", "a2"]);
    }

    #[test]
    fn a_line_of_gigabytes_is_read_in_bounded_memory_and_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.log");
        // 64 MiB of NULs and no newline, as a sparse file reads, then two ordinary lines.
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(64 << 20).unwrap();
        drop(file);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::io::Write::write_all(&mut f, b"\nafter 1\nafter 2\n").unwrap();
        let (inputs, _) = crate::input::expand(&[path.as_path()]);
        let mut stream = RecordStream::open(&inputs[0], 0).unwrap();
        let cut = stream.next().unwrap();
        assert_eq!(
            cut.fields.get("truncated"),
            Some(&serde_json::Value::Bool(true))
        );
        assert!(
            stream.line.capacity() < 4 << 20,
            "{}",
            stream.line.capacity()
        );
        let next = stream.next().unwrap();
        assert_eq!(next.message, "after 1");
        // Offsets count every byte read, cut or not.
        assert!(
            next.id.ends_with(&format!(":{}", (64 << 20) + 1)),
            "{}",
            next.id
        );
        assert_eq!(stream.next().unwrap().message, "after 2");
        assert!(stream.next().is_none());
    }
}
