//! Discovery: which files match the configured globs right now.
//!
//! A periodic [`Discovery::scan`] walks the fixed directory prefix of each include glob and keeps
//! the paths that match an include and no exclude; it is the source of truth. [`Watcher`] turns
//! filesystem events into wake-ups so new lines and new files are seen promptly, but events may
//! be missed or coalesced, so nothing depends on them. Compressed rotated siblings (`.gz`,
//! `.zst`…) are skipped, their content having been read from the plain file, unless the source
//! asks for `.gz` and `.zst` ones ([`archive`](super::archive)).

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use notify::{RecursiveMode, Watcher as _};
use tracing::{debug, warn};

use super::archive::Codec;

const COMPRESSED: &[&str] = &["gz", "zst", "bz2", "xz", "lz4", "zip", "z"];

#[derive(Debug, thiserror::Error)]
#[error("bad glob {glob:?}: {source}")]
pub struct GlobError {
    glob: String,
    source: globset::Error,
}

/// The include/exclude globs of the shipper's sources.
pub struct Discovery {
    include: GlobSet,
    exclude: GlobSet,
    /// Match `.gz` and `.zst` files too.
    compressed: bool,
    /// (directory to walk, how deep; None = unlimited because of `**`)
    roots: Vec<(PathBuf, Option<usize>)>,
}

fn glob(pattern: &str) -> Result<Glob, GlobError> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|source| GlobError {
            glob: pattern.to_string(),
            source,
        })
}

fn is_magic(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

/// The directory prefix of a glob that has no glob syntax, and how deep below it matches go.
pub fn root_of(pattern: &str) -> (PathBuf, Option<usize>) {
    let mut root = PathBuf::new();
    let mut rest = Vec::new();
    for comp in Path::new(pattern).components() {
        let s = comp.as_os_str().to_string_lossy();
        if rest.is_empty() && !is_magic(&s) {
            root.push(comp);
        } else {
            rest.push(s.into_owned());
        }
    }
    if rest.is_empty() {
        // A plain path: watch its directory.
        let depth = Some(1);
        return match root.parent() {
            Some(p) if !p.as_os_str().is_empty() => (p.to_path_buf(), depth),
            _ => (PathBuf::from("."), depth),
        };
    }
    let depth = if rest.iter().any(|c| c.contains("**")) {
        None
    } else {
        Some(rest.len())
    };
    if root.as_os_str().is_empty() || root.components().all(|c| c == Component::CurDir) {
        root = PathBuf::from(".");
    }
    (root, depth)
}

impl Discovery {
    pub fn new(
        include: &[String],
        exclude: &[String],
        compressed: bool,
    ) -> Result<Self, GlobError> {
        let mut inc = GlobSetBuilder::new();
        let mut roots = Vec::new();
        for p in include {
            inc.add(glob(p)?);
            roots.push(root_of(p));
        }
        let mut exc = GlobSetBuilder::new();
        for p in exclude {
            exc.add(glob(p)?);
        }
        let build = |b: GlobSetBuilder, what: &[String]| {
            b.build().map_err(|source| GlobError {
                glob: what.join(", "),
                source,
            })
        };
        Ok(Discovery {
            include: build(inc, include)?,
            exclude: build(exc, exclude)?,
            compressed,
            roots,
        })
    }

    /// Does this path belong to the shipper's sources?
    pub fn matches(&self, path: &Path) -> bool {
        let compressed = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| COMPRESSED.contains(&e.to_ascii_lowercase().as_str()));
        let readable = !compressed || self.compressed && Codec::of(path).is_some();
        readable && self.include.is_match(path) && !self.exclude.is_match(path)
    }

    /// The directories to watch for events, and whether recursively.
    pub fn watch_roots(&self) -> impl Iterator<Item = (PathBuf, bool)> + '_ {
        self.roots.iter().map(|(p, d)| (p.clone(), d != &Some(1)))
    }

    /// Every regular file that matches now. Unreadable directories are logged and skipped.
    pub fn scan(&self) -> BTreeSet<PathBuf> {
        let mut found = BTreeSet::new();
        for (root, depth) in &self.roots {
            let mut walk = walkdir::WalkDir::new(root).min_depth(1);
            if let Some(d) = depth {
                walk = walk.max_depth(*d);
            }
            for entry in walk {
                match entry {
                    Ok(e) if e.file_type().is_file() && self.matches(e.path()) => {
                        found.insert(e.into_path());
                    }
                    Ok(_) => {}
                    Err(e)
                        if e.io_error().map(|io| io.kind())
                            == Some(std::io::ErrorKind::NotFound) => {}
                    Err(e) => warn!(error = %e, "scan skipped a path"),
                }
            }
        }
        found
    }
}

/// Filesystem events as wake-ups: the paths that changed. Bounded: when the reader is behind,
/// events are dropped and `overflowed` tells it to poll everything.
pub struct Watcher {
    /// Keeps the OS watch alive; events stop when it is dropped.
    pub guard: Option<notify::RecommendedWatcher>,
    pub events: Receiver<PathBuf>,
}

impl Watcher {
    pub fn start(roots: Vec<(PathBuf, bool)>, capacity: usize) -> Self {
        let (tx, events): (SyncSender<PathBuf>, _) = sync_channel(capacity);
        let inner = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(ev) = res {
                for p in ev.paths {
                    // A full channel means the reader will poll everything anyway.
                    let _ = tx.try_send(p);
                }
            }
        });
        let inner = match inner {
            Ok(mut w) => {
                for (root, recursive) in roots {
                    let mode = if recursive {
                        RecursiveMode::Recursive
                    } else {
                        RecursiveMode::NonRecursive
                    };
                    if let Err(e) = w.watch(&root, mode) {
                        debug!(dir = %root.display(), error = %e, "not watching; periodic scan only");
                    }
                }
                Some(w)
            }
            Err(e) => {
                warn!(error = %e, "file events unavailable; periodic scan only");
                None
            }
        };
        Watcher {
            guard: inner,
            events,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn roots_are_the_literal_prefix() {
        assert_eq!(root_of("/var/log/*.log"), ("/var/log".into(), Some(1)));
        assert_eq!(root_of("/var/log/**/*.log"), ("/var/log".into(), None));
        assert_eq!(root_of("/var/*/app/*.log"), ("/var".into(), Some(3)));
        assert_eq!(root_of("/var/log/app.log"), ("/var/log".into(), Some(1)));
        assert_eq!(root_of("*.log"), (".".into(), Some(1)));
    }

    #[test]
    fn scan_applies_include_exclude_doublestar_and_skips_compressed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir_all(d.join("a/b/c")).unwrap();
        for f in [
            "top.log",
            "top.log.1",
            "top.log.2.gz",
            "a/x.log",
            "a/b/c/deep.log",
            "a/b/skip.log",
            "a/notes.txt",
        ] {
            fs::write(d.join(f), "x").unwrap();
        }
        let inc = vec![
            format!("{}/**/*.log", d.display()),
            format!("{}/top.log*", d.display()),
        ];
        let exc = vec![format!("{}/**/skip.log", d.display())];
        let disc = Discovery::new(&inc, &exc, false).unwrap();
        let found: Vec<_> = disc
            .scan()
            .into_iter()
            .map(|p| p.strip_prefix(d).unwrap().display().to_string())
            .collect();
        assert_eq!(found, ["a/b/c/deep.log", "a/x.log", "top.log", "top.log.1"]);
        fs::write(d.join("top.log.3.zst"), "x").unwrap();
        fs::write(d.join("top.log.4.xz"), "x").unwrap();
        let disc = Discovery::new(&inc, &exc, true).unwrap();
        let found = disc
            .scan()
            .into_iter()
            .filter(|p| p.to_string_lossy().contains("top.log"))
            .count();
        assert_eq!(found, 4, "with compressed: .gz and .zst, never .xz");
    }

    #[test]
    fn star_does_not_cross_directories_and_bad_globs_are_errors() {
        let disc = Discovery::new(&["/l/*.log".into()], &[], false).unwrap();
        assert!(disc.matches(Path::new("/l/a.log")));
        assert!(!disc.matches(Path::new("/l/sub/a.log")));
        let err = Discovery::new(&["/l/[.log".into()], &[], false)
            .err()
            .unwrap();
        assert!(err.to_string().contains("bad glob"), "{err}");
    }

    #[test]
    fn missing_roots_scan_empty() {
        let disc = Discovery::new(&["/nonexistent-dir-for-test/*.log".into()], &[], false).unwrap();
        assert!(disc.scan().is_empty());
    }
}
