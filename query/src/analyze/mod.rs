//! `firewatch analyze`: the streaming detectors over files, as live monitoring would have run.
//!
//! Inputs (files, directories, `.gz`, `.zst`) are parsed per file, merged in log-time order and
//! fed to a detector [`Engine`]. The alerts come back in the order they fired, brought up to date
//! (count, last_seen) at the end of the run.

mod merge;
mod report;

use std::path::Path;

use firewatch_detectors::{Alert, Engine};
use firewatch_ingest::Nanos;

pub use merge::{Merge, RecordStream};
pub use report::render_text;

use crate::input::{expand, InputError};

/// Alerts are brought up to date at least this often (log time), well within the detectors'
/// idle eviction.
const REFRESH_EVERY: Nanos = 3_600_000_000_000;

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
}

/// Reads `paths` and runs `engine` over their records.
pub fn analyze<P: AsRef<Path>>(paths: &[P], mut engine: Engine) -> Analysis {
    let (inputs, mut errors) = expand(paths);
    let mut streams = Vec::new();
    for input in &inputs {
        // Lines without a time of their own get the file's modification time.
        let observed = std::fs::metadata(&input.path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as Nanos);
        match RecordStream::open(input, observed) {
            Ok(s) => streams.push(s),
            Err(e) => errors.push(e),
        }
    }
    let mut analysis = Analysis {
        inputs: streams.len(),
        ..Analysis::default()
    };
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
        analysis.alerts.extend(engine.observe(&rec));
    }
    // A banner still waiting for its error at end of input is reported as it stands.
    if last > Nanos::MIN {
        analysis.alerts.extend(engine.finish(last));
    }
    for alert in &mut analysis.alerts {
        engine.refresh(alert);
    }
    for stream in merge.into_streams() {
        if let Some(source) = stream.error {
            errors.push(InputError {
                path: stream.path,
                source,
            });
        }
    }
    analysis.errors = errors;
    analysis
}
