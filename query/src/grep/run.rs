//! Running a search over many inputs: load each (memory map for plain files, decompression for
//! `.gz`/`.zst`), search inputs in parallel, write their output in input order.
//!
//! An input that cannot be read is reported through the caller's error callback and the others
//! are still searched, so one corrupt archive never hides the matches in the rest.

use std::fs::File;
use std::io::{self, Read, Write};

use rayon::prelude::*;

use crate::input::{Compression, Input, InputError};

use super::filter::LineParser;
use super::search::{search, Hit};
use super::{GrepOptions, OutputMode};

/// The outcome of a run, for the exit status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Inputs with at least one selected line.
    pub matched_inputs: usize,
    /// Inputs that could not be read.
    pub errors: usize,
}

/// A whole input in memory: mapped when plain, decompressed otherwise.
enum Buffer {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Buffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Buffer::Mapped(m) => m,
            Buffer::Owned(v) => v,
        }
    }
}

fn load(input: &Input) -> Result<Buffer, InputError> {
    let err = |source| InputError {
        path: input.path.clone(),
        source,
    };
    if input.compression != Compression::None {
        let mut data = Vec::new();
        input.open()?.read_to_end(&mut data).map_err(err)?;
        return Ok(Buffer::Owned(data));
    }
    let file = File::open(&input.path).map_err(err)?;
    if file.metadata().map_err(err)?.len() == 0 {
        return Ok(Buffer::Owned(Vec::new()));
    }
    // SAFETY: the map is only read. A file truncated by another process while we read it can
    // fault, the accepted trade-off of every mmap-based grep (ripgrep included) for its speed.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(err)?;
    Ok(Buffer::Mapped(map))
}

/// Searches `inputs` and writes the output to `out` in input order. Inputs are processed in
/// parallel batches, so memory holds a bounded number of inputs' output at a time.
pub fn grep(
    inputs: &[Input],
    opts: &GrepOptions,
    out: &mut dyn Write,
    on_error: &mut dyn FnMut(&InputError),
) -> io::Result<Summary> {
    let mut summary = Summary::default();
    let batch = rayon::current_num_threads().max(1) * 2;
    for group in inputs.chunks(batch) {
        let results: Vec<Result<(Vec<u8>, bool), InputError>> = group
            .par_iter()
            .map(|input| grep_one(input, opts))
            .collect();
        for result in results {
            match result {
                Ok((text, matched)) => {
                    out.write_all(&text)?;
                    summary.matched_inputs += usize::from(matched);
                }
                Err(e) => {
                    summary.errors += 1;
                    on_error(&e);
                }
            }
        }
    }
    out.flush()?;
    Ok(summary)
}

/// The output of one input and whether anything was selected.
fn grep_one(input: &Input, opts: &GrepOptions) -> Result<(Vec<u8>, bool), InputError> {
    let buf = load(input)?;
    let mut hits = search(&opts.matcher, &buf, opts.chunk);
    let needs_records = opts.mode == OutputMode::Json || !opts.filter.is_empty();
    let mut records = Vec::new();
    if needs_records {
        let observed = now();
        let mut parser = LineParser::new(input.source_name(), observed);
        hits.retain(
            |h| match parser.parse(&buf[h.start..h.end], h.start as u64) {
                Some(rec) if opts.filter.accepts(&rec) => {
                    records.push(rec);
                    true
                }
                _ => false,
            },
        );
    }
    let mut text = Vec::new();
    let path = input.path.to_string_lossy();
    match opts.mode {
        OutputMode::Count if !hits.is_empty() => {
            if opts.with_filename {
                text.extend_from_slice(path.as_bytes());
                text.push(b':');
            }
            text.extend_from_slice(hits.len().to_string().as_bytes());
            text.push(b'\n');
        }
        OutputMode::FilesWithMatches if !hits.is_empty() => {
            text.extend_from_slice(path.as_bytes());
            text.push(b'\n');
        }
        OutputMode::Json => {
            for rec in &records {
                // Serializing a record to memory cannot fail.
                let _ = serde_json::to_writer(&mut text, rec);
                text.push(b'\n');
            }
        }
        OutputMode::Lines => write_lines(&buf, &hits, opts, &path, &mut text),
        _ => {}
    }
    Ok((text, !hits.is_empty()))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// ripgrep's layout: `path:line:text` for matches, `path-line-text` for context, `--` between
/// groups of lines that are not contiguous.
fn write_lines(buf: &[u8], hits: &[Hit], opts: &GrepOptions, path: &str, out: &mut Vec<u8>) {
    let context = opts.before > 0 || opts.after > 0;
    let mut printed: u64 = 0; // last line number written
    for (i, hit) in hits.iter().enumerate() {
        let mut start = hit.start;
        let mut first = hit.line;
        while first > printed + 1 && hit.line - first < opts.before as u64 && start > 0 {
            start = line_start(buf, start - 1);
            first -= 1;
        }
        if context && printed > 0 && first > printed + 1 {
            out.extend_from_slice(b"--\n");
        }
        let mut at = start;
        for n in first..hit.line {
            let end = line_end(buf, at);
            write_line(out, opts, path, n, b'-', &buf[at..end]);
            at = end + 1;
        }
        write_line(out, opts, path, hit.line, b':', &buf[hit.start..hit.end]);
        printed = hit.line;
        let next = hits.get(i + 1).map(|h| h.line);
        let mut at = hit.end + 1;
        for _ in 0..opts.after {
            if at >= buf.len() || next == Some(printed + 1) {
                break;
            }
            let end = line_end(buf, at);
            write_line(out, opts, path, printed + 1, b'-', &buf[at..end]);
            printed += 1;
            at = end + 1;
        }
    }
}

fn line_start(buf: &[u8], newline: usize) -> usize {
    memchr::memrchr(b'\n', &buf[..newline]).map_or(0, |i| i + 1)
}

fn line_end(buf: &[u8], at: usize) -> usize {
    memchr::memchr(b'\n', &buf[at..]).map_or(buf.len(), |i| at + i)
}

fn write_line(out: &mut Vec<u8>, opts: &GrepOptions, path: &str, n: u64, sep: u8, line: &[u8]) {
    if opts.with_filename {
        out.extend_from_slice(path.as_bytes());
        out.push(sep);
    }
    if opts.line_numbers {
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        out.push(sep);
    }
    out.extend_from_slice(line);
    out.push(b'\n');
}
