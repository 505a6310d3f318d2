//! Running a search over many inputs: plain files are memory-mapped and searched whole;
//! `.gz`/`.zst` are decompressed as a stream and searched in windows of [`WINDOW`] bytes cut at
//! line ends (so memory stays bounded whatever their size; context lines carry over between
//! windows); archive segments are searched block by block ([`super::archive`]). Inputs are
//! searched in parallel and their output is written in input order.
//!
//! An input that cannot be read is reported through the caller's error callback and the others
//! are still searched, so one corrupt archive never hides the matches in the rest.

use std::fs::File;
use std::io::{self, Read, Write};

use rayon::prelude::*;

use crate::input::{Compression, Input, InputError};

use super::archive::grep_archive;
use super::filter::LineParser;
use super::search::{search, Hit};
use super::{GrepOptions, OutputMode};

/// Decompressed bytes searched at a time (more when a single line is longer).
pub const WINDOW: usize = 16 << 20;

/// The longest line of a compressed input that is searched; a longer one (a decompression bomb
/// of NULs is one line) ends the input's search with an error instead of taking all memory.
pub const MAX_LINE: usize = 64 << 20;

/// The outcome of a run, for the exit status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Inputs with at least one selected line.
    pub matched_inputs: usize,
    /// Inputs that could not be read.
    pub errors: usize,
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
        let results: Vec<Result<Searched, InputError>> = group
            .par_iter()
            .map(|input| grep_one(input, opts))
            .collect();
        for result in results {
            match result {
                Ok(searched) => {
                    out.write_all(&searched.text)?;
                    summary.matched_inputs += usize::from(searched.matched);
                    for e in &searched.damaged {
                        summary.errors += 1;
                        on_error(e);
                    }
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

/// What searching one input gave.
struct Searched {
    text: Vec<u8>,
    /// Whether anything was selected.
    matched: bool,
    /// Parts of the input that could not be read (an archive's damaged blocks).
    damaged: Vec<InputError>,
}

/// Searches one input; an error is one that stopped it from being read at all.
fn grep_one(input: &Input, opts: &GrepOptions) -> Result<Searched, InputError> {
    let err = |source| InputError {
        path: input.path.clone(),
        source,
    };
    if input.compression == Compression::Archive {
        return grep_archive(input, opts).map(|(text, n, damaged)| Searched {
            text,
            matched: n > 0,
            damaged,
        });
    }
    let mut g = InputGrep::new(input, opts);
    match input.compression {
        Compression::Archive => {}
        Compression::None => {
            let file = File::open(&input.path).map_err(err)?;
            if file.metadata().map_err(err)?.len() > 0 {
                // SAFETY: the map is only read. A file truncated by another process while we
                // read it can fault, the accepted trade-off of every mmap-based grep (ripgrep
                // included) for its speed.
                let map = unsafe { memmap2::Mmap::map(&file) }.map_err(err)?;
                g.window(&map, 0);
            }
        }
        Compression::Gzip | Compression::Zstd => {
            let mut reader = input.open()?;
            let mut buf = Vec::new();
            let mut fresh = 0;
            loop {
                let eof = fill(&mut reader, &mut buf, opts.window.max(1)).map_err(err)?;
                let cut = if eof {
                    buf.len()
                } else {
                    match memchr::memrchr(b'\n', &buf[fresh..]) {
                        Some(i) => fresh + i + 1,
                        // One line longer than the window: read on until it ends.
                        None if buf.len() - fresh <= MAX_LINE => continue,
                        None => {
                            let msg = format!("a line longer than {} MiB", MAX_LINE >> 20);
                            return Err(err(io::Error::new(io::ErrorKind::InvalidData, msg)));
                        }
                    }
                };
                g.window(&buf[..cut], fresh);
                if eof || (g.selected > 0 && opts.mode == OutputMode::FilesWithMatches) {
                    break;
                }
                // Keep the last `before` lines for the context of the next window's first hits.
                let mut keep = cut;
                for _ in 0..opts.before {
                    if keep == 0 {
                        break;
                    }
                    keep = memchr::memrchr(b'\n', &buf[..keep - 1]).map_or(0, |i| i + 1);
                }
                g.advance(&buf[..keep]);
                buf.drain(..keep);
                fresh = cut - keep;
            }
        }
    }
    let (text, matched) = g.finish();
    Ok(Searched {
        text,
        matched,
        damaged: Vec::new(),
    })
}

/// Reads until `buf` has grown by `more` bytes or the input ends; `true` at the end.
fn fill(reader: &mut dyn Read, buf: &mut Vec<u8>, more: usize) -> io::Result<bool> {
    let target = buf.len() + more;
    while buf.len() < target {
        let n = (&mut *reader)
            .take((target - buf.len()) as u64)
            .read_to_end(buf)?;
        if n == 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The search of one line-oriented input, fed window by window.
struct InputGrep<'a> {
    opts: &'a GrepOptions,
    path: String,
    parser: Option<LineParser>,
    /// Line number of the current window's first byte, and its offset in the input.
    base: u64,
    offset: u64,
    /// Last line printed, and the last line after-context still owes (across windows).
    printed: u64,
    after_until: u64,
    selected: usize,
    text: Vec<u8>,
}

impl<'a> InputGrep<'a> {
    fn new(input: &Input, opts: &'a GrepOptions) -> Self {
        let needs_records = opts.mode == OutputMode::Json || !opts.filter.is_empty();
        InputGrep {
            opts,
            path: input.path.to_string_lossy().into_owned(),
            parser: needs_records.then(|| LineParser::new(input.source_name(), now())),
            base: 1,
            offset: 0,
            printed: 0,
            after_until: 0,
            selected: 0,
            text: Vec::new(),
        }
    }

    /// Searches `buf[fresh..]` (whole lines); `buf[..fresh]` was searched already and is there
    /// for context only.
    fn window(&mut self, buf: &[u8], fresh: usize) {
        let opts = self.opts;
        let mut hits: Vec<Hit> = search(&opts.matcher, buf, opts.chunk)
            .into_iter()
            .filter(|h| h.start >= fresh)
            .map(|h| Hit {
                line: h.line + self.base - 1,
                ..h
            })
            .collect();
        if let Some(parser) = &mut self.parser {
            let mut records = Vec::new();
            let offset = self.offset;
            hits.retain(
                |h| match parser.parse(&buf[h.start..h.end], offset + h.start as u64) {
                    Some(rec) if opts.filter.accepts(&rec) => {
                        records.push(rec);
                        true
                    }
                    _ => false,
                },
            );
            if opts.mode == OutputMode::Json {
                for rec in &records {
                    // Serializing a record to memory cannot fail.
                    let _ = serde_json::to_writer(&mut self.text, rec);
                    self.text.push(b'\n');
                }
            }
        }
        self.selected += hits.len();
        if opts.mode == OutputMode::Lines {
            self.write_lines(buf, fresh, &hits);
        }
    }

    /// The bytes `buf` are done with: the next window starts after them.
    fn advance(&mut self, buf: &[u8]) {
        self.base += memchr::memchr_iter(b'\n', buf).count() as u64;
        self.offset += buf.len() as u64;
    }

    fn finish(mut self) -> (Vec<u8>, bool) {
        let n = self.selected;
        let mut text = std::mem::take(&mut self.text);
        match self.opts.mode {
            OutputMode::Count if n > 0 => {
                if self.opts.with_filename {
                    text.extend_from_slice(self.path.as_bytes());
                    text.push(b':');
                }
                text.extend_from_slice(n.to_string().as_bytes());
                text.push(b'\n');
            }
            OutputMode::FilesWithMatches if n > 0 => {
                text.extend_from_slice(self.path.as_bytes());
                text.push(b'\n');
            }
            _ => {}
        }
        (text, n > 0)
    }

    /// ripgrep's layout: `path:line:text` for matches, `path-line-text` for context, `--`
    /// between groups of lines that are not contiguous.
    fn write_lines(&mut self, buf: &[u8], fresh: usize, hits: &[Hit]) {
        let opts = self.opts;
        let context = opts.before > 0 || opts.after > 0;
        // After-context a hit of the previous window still owes.
        let first_hit = hits.first().map(|h| h.line);
        let mut at = fresh;
        let mut line = self.base + memchr::memchr_iter(b'\n', &buf[..fresh]).count() as u64;
        while self.printed < self.after_until
            && at < buf.len()
            && first_hit != Some(line)
            && line == self.printed + 1
        {
            let end = line_end(buf, at);
            write_line(&mut self.text, opts, &self.path, line, b'-', &buf[at..end]);
            self.printed = line;
            line += 1;
            at = end + 1;
        }
        for (i, hit) in hits.iter().enumerate() {
            let mut start = hit.start;
            let mut first = hit.line;
            while first > self.printed + 1 && hit.line - first < opts.before as u64 && start > 0 {
                start = line_start(buf, start - 1);
                first -= 1;
            }
            if context && self.printed > 0 && first > self.printed + 1 {
                self.text.extend_from_slice(b"--\n");
            }
            let mut at = start;
            for n in first..hit.line {
                let end = line_end(buf, at);
                write_line(&mut self.text, opts, &self.path, n, b'-', &buf[at..end]);
                at = end + 1;
            }
            write_line(
                &mut self.text,
                opts,
                &self.path,
                hit.line,
                b':',
                &buf[hit.start..hit.end],
            );
            self.printed = hit.line;
            self.after_until = hit.line + opts.after as u64;
            let next = hits.get(i + 1).map(|h| h.line);
            let mut at = hit.end + 1;
            for _ in 0..opts.after {
                if at >= buf.len() || next == Some(self.printed + 1) {
                    break;
                }
                let end = line_end(buf, at);
                let n = self.printed + 1;
                write_line(&mut self.text, opts, &self.path, n, b'-', &buf[at..end]);
                self.printed = n;
                at = end + 1;
            }
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
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
