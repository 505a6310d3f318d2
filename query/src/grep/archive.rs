//! `grep` over a node's archive segments: records, not lines.
//!
//! A record is searched as its text line — `TIMESTAMP LEVEL SERVICE MESSAGE` followed by its
//! fields as compact JSON when it has any — which is close to the raw line it came from, so the
//! same patterns find it (a multi-line message keeps its lines; a match in any selects the
//! record). Blocks are decoded and searched in parallel with rayon, a bounded group at a time,
//! and written in archive order. `--since/--until/--where` apply to the stored records directly,
//! without parsing. Output: `SOURCE:TEXT` (continuation lines of a multi-line record with `-`),
//! `ARCHIVE:COUNT` with `-c`, the archive's path with `-l`, and the stored record with `--json`.
//! Context and line numbers do not apply to records.

use firewatch_ingest::record::rfc3339_nanos;
use firewatch_ingest::LogRecord;
use rayon::prelude::*;

use crate::input::{Input, InputError};

use super::search::search;
use super::{GrepOptions, OutputMode};

/// What one block contributed: output bytes and selected records.
type BlockOutput = Result<(Vec<u8>, usize), InputError>;

/// Writes the text a record is searched as into `out` (no trailing newline).
pub fn record_text(rec: &LogRecord, out: &mut Vec<u8>) {
    out.extend_from_slice(rfc3339_nanos::format(rec.timestamp).as_bytes());
    out.push(b' ');
    out.extend_from_slice(rec.level.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(rec.service.as_bytes());
    out.push(b' ');
    out.extend_from_slice(rec.message.as_bytes());
    if !rec.fields.is_empty() {
        out.push(b' ');
        // Serializing a JSON map to memory cannot fail.
        let _ = serde_json::to_writer(&mut *out, &rec.fields);
    }
}

/// Searches one archive segment; returns its output and the number of selected records.
pub fn grep_archive(input: &Input, opts: &GrepOptions) -> Result<(Vec<u8>, usize), InputError> {
    let segment = input.open_segment()?;
    let group = rayon::current_num_threads().max(1) * 4;
    let blocks: Vec<usize> = (0..segment.blocks()).collect();
    let mut text = Vec::new();
    let mut selected = 0;
    for chunk in blocks.chunks(group) {
        let outputs: Vec<BlockOutput> = chunk
            .par_iter()
            .map(|&b| {
                let records = segment.block(b).map_err(|e| InputError {
                    path: input.path.clone(),
                    source: std::io::Error::other(format!("block {b}: {e}")),
                })?;
                Ok(grep_block(&records, opts))
            })
            .collect();
        for out in outputs {
            let (bytes, n) = out?;
            selected += n;
            if opts.mode != OutputMode::Count && opts.mode != OutputMode::FilesWithMatches {
                text.extend_from_slice(&bytes);
            }
        }
        if selected > 0 && opts.mode == OutputMode::FilesWithMatches {
            break;
        }
    }
    match opts.mode {
        OutputMode::Count if selected > 0 => {
            let path = input.path.to_string_lossy();
            if opts.with_filename {
                text.extend_from_slice(path.as_bytes());
                text.push(b':');
            }
            text.extend_from_slice(selected.to_string().as_bytes());
            text.push(b'\n');
        }
        OutputMode::FilesWithMatches if selected > 0 => {
            text.extend_from_slice(input.path.to_string_lossy().as_bytes());
            text.push(b'\n');
        }
        _ => {}
    }
    Ok((text, selected))
}

/// The selected records of one block, written as the mode says.
fn grep_block(records: &[LogRecord], opts: &GrepOptions) -> (Vec<u8>, usize) {
    // All records' texts in one buffer, so one automaton pass searches the whole block.
    let mut buf = Vec::with_capacity(records.len() * 160);
    let mut starts = Vec::with_capacity(records.len() + 1);
    for rec in records {
        starts.push(buf.len());
        record_text(rec, &mut buf);
        buf.push(b'\n');
    }
    starts.push(buf.len());
    let mut chosen: Vec<usize> = Vec::new();
    for hit in search(&opts.matcher, &buf, usize::MAX) {
        let i = starts.partition_point(|&s| s <= hit.start) - 1;
        if chosen.last() != Some(&i) && opts.filter.accepts(&records[i]) {
            chosen.push(i);
        }
    }
    let mut out = Vec::new();
    for &i in &chosen {
        match opts.mode {
            OutputMode::Json => {
                // Serializing a record to memory cannot fail.
                let _ = serde_json::to_writer(&mut out, &records[i]);
                out.push(b'\n');
            }
            OutputMode::Lines => {
                let text = &buf[starts[i]..starts[i + 1] - 1];
                for (n, line) in text.split(|&b| b == b'\n').enumerate() {
                    if opts.with_filename {
                        out.extend_from_slice(records[i].source.as_bytes());
                        out.push(if n == 0 { b':' } else { b'-' });
                    }
                    out.extend_from_slice(line);
                    out.push(b'\n');
                }
            }
            OutputMode::Count | OutputMode::FilesWithMatches => {}
        }
    }
    (out, chosen.len())
}
