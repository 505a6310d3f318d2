//! `grep` over a node's archive segments: records, not lines.
//!
//! A record is searched as its text line — `TIMESTAMP LEVEL SERVICE MESSAGE` followed by its
//! fields as compact JSON when it has any — which is close to the raw line it came from, so the
//! same patterns find it (a multi-line message keeps its lines; a match in any selects the
//! record). Blocks are searched in parallel with rayon, a bounded group at a time, and written
//! in archive order. Blocks whose filter says they cannot hold a match are skipped unread; the
//! others are decompressed and, unless the [`super::prefilter`] rules them out after all, their
//! text columns are read in place ([`BlockText`]) and rendered into one buffer searched in
//! one pass; only the selected records are decoded, and only when the output or a `--where`
//! filter needs them. `--since/--until` apply to the timestamp column. Output: `SOURCE:TEXT`
//! (continuation lines of a multi-line record with `-`), `ARCHIVE:COUNT` with `-c`, the
//! archive's path with `-l`, and the stored record with `--json`. Context and line numbers do
//! not apply to records.

use firewatch_index::{block, BlockText, StoreError};
use rayon::prelude::*;

use crate::input::{Input, InputError};

use super::search::search;
use super::stamp::StampWriter;
use super::{GrepOptions, OutputMode};

/// What one block contributed: output bytes and selected records.
type BlockOutput = Result<(Vec<u8>, usize), InputError>;

/// Searches one archive segment; returns its output and the number of selected records.
/// Searches a sealed archive: its output, its selected records, and the errors of damaged
/// blocks, which are passed over (the rest of the archive is still searched).
pub fn grep_archive(
    input: &Input,
    opts: &GrepOptions,
) -> Result<(Vec<u8>, usize, Vec<InputError>), InputError> {
    let segment = input.open_segment()?;
    let group = rayon::current_num_threads().max(1) * 4;
    let prefilter = opts.matcher.prefilter();
    let blocks: Vec<usize> = (0..segment.blocks())
        .filter(|&b| prefilter.is_none_or(|p| segment.block_may_hold(b, |f| p.may_pass(f))))
        .collect();
    let mut text = Vec::new();
    let mut selected = 0;
    let mut damaged = Vec::new();
    for chunk in blocks.chunks(group) {
        let outputs: Vec<BlockOutput> = chunk
            .par_iter()
            .map_init(Scratch::default, |scratch, &b| {
                segment
                    .block_body(b)
                    .and_then(|body| grep_body(&body, opts, scratch))
                    .map_err(|e| InputError {
                        path: input.path.clone(),
                        source: std::io::Error::other(format!(
                            "block {b}: {e}; its records are left out"
                        )),
                    })
            })
            .collect();
        for out in outputs {
            let (bytes, n) = match out {
                Ok(out) => out,
                Err(e) => {
                    damaged.push(e);
                    continue;
                }
            };
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
    Ok((text, selected, damaged))
}

/// Buffers one thread reuses from block to block.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    /// The block's record texts, one line each (more for multi-line messages).
    text: Vec<u8>,
    /// Where each record's text starts in `text`, plus its end.
    starts: Vec<usize>,
    stamps: StampWriter,
}

/// Writes record `i` of `view` as the text it is searched as (no trailing newline).
fn record_text(
    view: &mut BlockText,
    i: usize,
    stamps: &mut StampWriter,
    out: &mut Vec<u8>,
) -> Option<()> {
    stamps.write(view.timestamps[i], out);
    out.push(b' ');
    out.extend_from_slice(view.levels[i].as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(view.services[i].as_bytes());
    out.push(b' ');
    view.write_text(i, out)
}

/// The selected records of one decompressed block body, written as the mode says.
pub(super) fn grep_body(
    body: &[u8],
    opts: &GrepOptions,
    scratch: &mut Scratch,
) -> Result<(Vec<u8>, usize), StoreError> {
    // Only a body holding its text verbatim rules a literal out by lacking it; layout-2 bodies
    // are ruled out, if at all, by their block filter before they are read.
    if block::text_is_verbatim(body) && opts.matcher.prefilter().is_some_and(|p| !p.may_match(body))
    {
        return Ok((Vec::new(), 0));
    }
    let corrupt = || StoreError::Corrupt {
        what: "archive block does not decode".into(),
    };
    let mut view = BlockText::decode(body).ok_or_else(corrupt)?;
    let Scratch {
        text,
        starts,
        stamps,
    } = scratch;
    text.clear();
    starts.clear();
    for i in 0..view.len() {
        starts.push(text.len());
        record_text(&mut view, i, stamps, text).ok_or_else(corrupt)?;
        text.push(b'\n');
    }
    starts.push(text.len());
    let filter = &opts.filter;
    let mut chosen: Vec<usize> = Vec::new();
    for hit in search(&opts.matcher, text, usize::MAX) {
        let i = starts.partition_point(|&s| s <= hit.start) - 1;
        let ts = view.timestamps[i];
        if chosen.last() != Some(&i)
            && filter.since.is_none_or(|t| ts >= t)
            && filter.until.is_none_or(|t| ts < t)
        {
            chosen.push(i);
        }
    }
    let needs_records = opts.mode == OutputMode::Json || !filter.fields.is_empty();
    let mut records = Vec::new();
    if needs_records && !chosen.is_empty() {
        let decoded = block::decode_rows(body, &chosen).ok_or_else(corrupt)?;
        (chosen, records) = chosen
            .into_iter()
            .zip(decoded)
            .filter(|(_, r)| filter.accepts(r))
            .unzip();
    }
    let mut out = Vec::new();
    match opts.mode {
        OutputMode::Json => {
            for rec in &records {
                // Serializing a record to memory cannot fail.
                let _ = serde_json::to_writer(&mut out, rec);
                out.push(b'\n');
            }
        }
        OutputMode::Lines => {
            for &i in &chosen {
                let lines = &text[starts[i]..starts[i + 1] - 1];
                for (n, line) in lines.split(|&b| b == b'\n').enumerate() {
                    if opts.with_filename {
                        out.extend_from_slice(view.sources[i].as_bytes());
                        out.push(if n == 0 { b':' } else { b'-' });
                    }
                    out.extend_from_slice(line);
                    out.push(b'\n');
                }
            }
        }
        OutputMode::Count | OutputMode::FilesWithMatches => {}
    }
    Ok((out, chosen.len()))
}
