//! `firewatch grep`: fast pattern search over raw log files (plain, `.gz`, `.zst`, directories)
//! and a node's archive segments.
//!
//! - [`search`]: the pure core — matching lines of one buffer, searched whole with one automaton.
//! - [`filter`]: `--since/--until/--where`, applied to parsed records of matching lines only.
//! - [`run`]: the moving parts — reading inputs (memory maps for plain files, streamed windows
//!   for compressed ones), spreading inputs and chunks over cores with rayon, and writing
//!   ripgrep-like or JSON output in input order.
//! - [`archive`]: archive segments, searched record by record, blocks in parallel; blocks
//!   that cannot match are skipped undecoded ([`prefilter`]).

pub mod archive;
pub mod filter;
pub mod prefilter;
pub mod run;
pub mod search;
mod stamp;

pub use filter::{FieldFilter, RecordFilter};
pub use run::{grep, Summary, WINDOW};
pub use search::{Hit, Matcher, PatternKind, CHUNK};

/// What is printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OutputMode {
    /// `path:line:text`, with context lines if asked.
    #[default]
    Lines,
    /// `path:count` for inputs with matches.
    Count,
    /// `path` of inputs with matches.
    FilesWithMatches,
    /// One `LogRecord` per matching line, as JSON lines.
    Json,
}

/// Everything `grep` needs besides its inputs.
#[derive(Debug, Clone)]
pub struct GrepOptions {
    pub matcher: Matcher,
    pub mode: OutputMode,
    /// Prefix lines with the input's path.
    pub with_filename: bool,
    /// Prefix lines with their number.
    pub line_numbers: bool,
    /// Context lines before / after each match.
    pub before: usize,
    pub after: usize,
    pub filter: RecordFilter,
    /// Plain buffers larger than this are searched in parallel chunks.
    pub chunk: usize,
    /// Compressed inputs are searched this many decompressed bytes at a time.
    pub window: usize,
}

impl GrepOptions {
    pub fn new(matcher: Matcher) -> Self {
        GrepOptions {
            matcher,
            mode: OutputMode::Lines,
            with_filename: true,
            line_numbers: true,
            before: 0,
            after: 0,
            filter: RecordFilter::default(),
            chunk: CHUNK,
            window: WINDOW,
        }
    }
}

/// Why a search could not start.
#[derive(Debug, thiserror::Error)]
pub enum GrepError {
    #[error("no pattern given")]
    NoPattern,
    #[error("invalid pattern: {0}")]
    Pattern(String),
    #[error("invalid filter {0:?} (expected key=value)")]
    BadFilter(String),
}

#[cfg(test)]
mod archive_tests;
#[cfg(test)]
mod tests;
