//! `firewatch analyze`: the streaming detectors over files, as live monitoring would have run.
//!
//! Inputs (files, directories, `.gz`, `.zst`, a node's data directory) are parsed per file —
//! archive segments give their records per source (`archive`), files are parsed ahead on all
//! cores ([`ReadAhead`]) — merged in log-time order and fed to a detector [`Engine`] and a
//! [`Summarizer`]. The alerts come back in the order they fired, brought up to date (count,
//! last_seen) at the end of the run; the [`Summary`] says how each service did over time.
//! [`render_text`], [`render_json`] and [`render_html`] write it.

mod archive;
mod html;
mod merge;
mod read_ahead;
mod report;
pub mod summary;

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use firewatch_detectors::engine::is_error;
use firewatch_detectors::status::http_status;
use firewatch_detectors::{Alert, Engine};
use firewatch_ingest::Nanos;

pub use archive::ArchiveStream;
pub use html::render_html;
pub use merge::{Merge, RecordStream, Records};
pub use read_ahead::ReadAhead;
pub use report::{render_json, render_text};
pub use summary::{Summarizer, Summary};

use crate::input::{expand, Compression, InputError};

/// Alerts are brought up to date at least this often (log time), well within the detectors'
/// idle eviction.
const REFRESH_EVERY: Nanos = 3_600_000_000_000;

/// Inputs parsed ahead on the rayon pool, at most 768 records each ([`ReadAhead`]).
const READ_AHEAD_INPUTS: usize = 64;

/// What an analysis found.
#[derive(Debug, Default)]
pub struct Analysis {
    pub alerts: Vec<Alert>,
    pub records: u64,
    pub inputs: usize,
    /// Inputs (or parts of inputs) that could not be read.
    pub errors: Vec<InputError>,
    /// Log time covered: first and last record.
    pub span: Option<(Nanos, Nanos)>,
    pub summary: Option<Summary>,
}

/// How far a run is: bytes of input read (compressed size), out of `total`.
#[derive(Debug, Default)]
pub struct Progress {
    pub total: AtomicU64,
    pub done: Arc<AtomicU64>,
}

/// Reads `paths` and runs `engine` over their records.
pub fn analyze<P: AsRef<Path>>(paths: &[P], engine: Engine) -> Analysis {
    analyze_with(paths, engine, &Progress::default())
}

/// [`analyze`], reporting how far it is in `progress`.
pub fn analyze_with<P: AsRef<Path>>(
    paths: &[P],
    mut engine: Engine,
    progress: &Progress,
) -> Analysis {
    let (inputs, mut errors) = expand(paths);
    let total: u64 = inputs
        .iter()
        .filter_map(|i| std::fs::metadata(&i.path).ok())
        .map(|m| m.len())
        .sum();
    progress
        .total
        .store(total, std::sync::atomic::Ordering::Relaxed);
    let (segments, files): (Vec<_>, Vec<_>) = inputs
        .into_iter()
        .partition(|i| i.compression == Compression::Archive);
    let mut streams: Vec<Box<dyn Records>> = Vec::new();
    let mut inputs = segments.len();
    if !segments.is_empty() {
        streams.push(Box::new(ArchiveStream::new(
            segments,
            Some(progress.done.clone()),
        )));
    }
    for input in &files {
        // Lines without a time of their own get the file's modification time.
        let observed = std::fs::metadata(&input.path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as Nanos);
        match RecordStream::open_counted(input, observed, Some(progress.done.clone())) {
            // Parsing is most of the work: files parse ahead on all cores. Past a number of
            // files the rest are read in the merge's thread, which bounds the records held.
            Ok(s) if streams.len() < READ_AHEAD_INPUTS => {
                streams.push(Box::new(ReadAhead::new(s)));
                inputs += 1;
            }
            Ok(s) => {
                streams.push(Box::new(s));
                inputs += 1;
            }
            Err(e) => errors.push(e),
        }
    }
    let mut analysis = Analysis {
        inputs,
        ..Analysis::default()
    };
    let mut summarizer = Summarizer::default();
    let mut merge = Merge::new(streams);
    let mut last = Nanos::MIN;
    let mut refreshed = Nanos::MIN;
    for rec in merge.by_ref() {
        // Detectors forget services idle for hours; bring the alerts up to date before time
        // moves far enough for that.
        if rec.timestamp >= refreshed.saturating_add(REFRESH_EVERY) {
            for alert in &mut analysis.alerts {
                engine.refresh(alert);
            }
            refreshed = rec.timestamp;
        }
        analysis.records += 1;
        let first = analysis.span.map_or(rec.timestamp, |s| s.0);
        last = last.max(rec.timestamp);
        analysis.span = Some((first.min(rec.timestamp), last));
        // Read once: finding a status may scan the message.
        let status = http_status(&rec);
        analysis
            .alerts
            .extend(engine.observe_with_status(&rec, status));
        summarizer.observe(&rec, is_error(rec.level, status));
    }
    // A banner still waiting for its error at end of input is reported as it stands.
    if last > Nanos::MIN {
        analysis.alerts.extend(engine.finish(last));
    }
    for alert in &mut analysis.alerts {
        engine.refresh(alert);
    }
    errors.extend(merge.take_errors());
    analysis.errors = errors;
    analysis.summary = Some(summarizer.finish(&analysis.alerts));
    analysis
}

#[cfg(test)]
mod tests;
