//! Inputs of the offline tools: files, directories (recursive), `.gz`, `.zst` and node data
//! directories.
//!
//! [`expand`] turns the paths a user named into a sorted, de-duplicated list of [`Input`]s, and
//! [`Input::open`] gives a buffered reader that decompresses by file name, as a stream (memory
//! stays bounded whatever the input's size). A directory holding `segments/manifest.json` is a
//! node's data directory: its sealed archive segments (`archive.fwa`) are the inputs, read in
//! place and read-only (see [`firewatch_index::DataDir`]); its WAL and index are never read. A
//! `.fwa` file named directly is one segment. Problems with one input are that input's error;
//! the caller reports it and goes on with the rest.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use firewatch_index::{DataDir, SealedSegment};

/// How an input's bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    /// A sealed archive segment of a node: zstd blocks of records, not lines.
    Archive,
}

/// One file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub path: PathBuf,
    pub compression: Compression,
    /// The time of the oldest record, when known beforehand (archive segments, from the
    /// manifest): lets readers merge segments in time order without reading them first.
    pub start: Option<i64>,
}

/// Why an input could not be listed or opened.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct InputError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

impl Input {
    pub fn new(path: PathBuf) -> Self {
        let compression = match path.extension().and_then(|e| e.to_str()) {
            Some("gz") => Compression::Gzip,
            Some("zst") => Compression::Zstd,
            Some("fwa") => Compression::Archive,
            _ => Compression::None,
        };
        Input {
            path,
            compression,
            start: None,
        }
    }

    /// Opens the input for reading, decompressing as its name says. Corrupt compressed data shows
    /// up as an `io::Error` from the reader, not a panic.
    pub fn open(&self) -> Result<Box<dyn BufRead + Send>, InputError> {
        self.open_counted(None)
    }

    /// Like [`Input::open`], adding the bytes read from the file (before decompression) to
    /// `counter`, for progress reports.
    pub fn open_counted(
        &self,
        counter: Option<Arc<AtomicU64>>,
    ) -> Result<Box<dyn BufRead + Send>, InputError> {
        let err = |source| InputError {
            path: self.path.clone(),
            source,
        };
        let file = Counted {
            inner: File::open(&self.path).map_err(err)?,
            counter,
        };
        Ok(match self.compression {
            Compression::None => Box::new(BufReader::with_capacity(256 << 10, file)),
            Compression::Gzip => Box::new(BufReader::with_capacity(
                256 << 10,
                flate2::read::MultiGzDecoder::new(BufReader::new(file)),
            )),
            Compression::Zstd => Box::new(BufReader::with_capacity(
                256 << 10,
                zstd::stream::read::Decoder::new(file).map_err(err)?,
            )),
            Compression::Archive => {
                return Err(err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "an archive segment holds records, not lines",
                )))
            }
        })
    }

    /// Opens the input as a sealed archive segment.
    pub fn open_segment(&self) -> Result<SealedSegment, InputError> {
        SealedSegment::open(&self.path).map_err(|e| InputError {
            path: self.path.clone(),
            source: io::Error::other(e.to_string()),
        })
    }

    /// The name a record from this input is attributed to: the path without a compression
    /// extension, so `app.log.gz` and `app.log` are the same source.
    pub fn source_name(&self) -> String {
        let path = self.path.to_string_lossy();
        match self.compression {
            Compression::None | Compression::Archive => path.into_owned(),
            Compression::Gzip => path.trim_end_matches(".gz").to_string(),
            Compression::Zstd => path.trim_end_matches(".zst").to_string(),
        }
    }
}

/// A reader that counts the bytes it passes on.
struct Counted<R> {
    inner: R,
    counter: Option<Arc<AtomicU64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(c) = &self.counter {
            c.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }
}

/// Expands the named paths: a file is itself, a directory is every regular file below it
/// (recursively, hidden entries skipped, sorted by path). Results are in argument order, each
/// directory's files sorted, duplicates removed. Unreadable entries are returned as errors
/// alongside the inputs that could be listed.
pub fn expand<P: AsRef<Path>>(paths: &[P]) -> (Vec<Input>, Vec<InputError>) {
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for path in paths {
        let path = path.as_ref();
        let mut found = Vec::new();
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() && DataDir::detect(path) => {
                data_dir(path, &mut found, &mut errors)
            }
            Ok(meta) if meta.is_dir() => walk(path, &mut found, &mut errors),
            Ok(_) => found.push((path.to_path_buf(), None)),
            Err(source) => errors.push(InputError {
                path: path.to_path_buf(),
                source,
            }),
        }
        for (file, start) in found {
            if seen.insert(file.clone()) {
                inputs.push(Input {
                    start,
                    ..Input::new(file)
                });
            }
        }
    }
    (inputs, errors)
}

fn walk(dir: &Path, found: &mut Vec<(PathBuf, Option<i64>)>, errors: &mut Vec<InputError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(source) => {
            errors.push(InputError {
                path: dir.to_path_buf(),
                source,
            });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    paths.sort();
    for path in paths {
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() && DataDir::detect(&path) => data_dir(&path, found, errors),
            Ok(meta) if meta.is_dir() => walk(&path, found, errors),
            Ok(meta) if meta.is_file() => found.push((path, None)),
            Ok(_) => {}
            Err(source) => errors.push(InputError { path, source }),
        }
    }
}

/// The sealed segments' archives of a node's data directory, oldest first.
fn data_dir(dir: &Path, found: &mut Vec<(PathBuf, Option<i64>)>, errors: &mut Vec<InputError>) {
    match DataDir::open(dir) {
        Ok(dd) => found.extend(
            dd.segments()
                .iter()
                .map(|s| (dd.archive_path(s.id), Some(s.min_ts))),
        ),
        Err(e) => errors.push(InputError {
            path: dir.to_path_buf(),
            source: io::Error::other(e.to_string()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn expands_directories_sorted_and_reads_compressed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("b.log"), "plain\n").unwrap();
        std::fs::write(dir.path().join(".hidden"), "x").unwrap();
        let mut gz = flate2::write::GzEncoder::new(
            File::create(dir.path().join("sub/a.log.gz")).unwrap(),
            flate2::Compression::default(),
        );
        gz.write_all(b"gzipped\n").unwrap();
        gz.finish().unwrap();
        std::fs::write(
            dir.path().join("a.log.zst"),
            zstd::encode_all(&b"zstd\n"[..], 3).unwrap(),
        )
        .unwrap();

        let (inputs, errors) = expand(&[dir.path(), &dir.path().join("b.log")]);
        assert!(errors.is_empty());
        let names: Vec<_> = inputs
            .iter()
            .map(|i| i.path.strip_prefix(dir.path()).unwrap().to_path_buf())
            .collect();
        assert_eq!(
            names,
            vec![
                PathBuf::from("a.log.zst"),
                PathBuf::from("b.log"),
                PathBuf::from("sub/a.log.gz")
            ]
        );
        let mut texts = Vec::new();
        for input in &inputs {
            let mut s = String::new();
            input.open().unwrap().read_to_string(&mut s).unwrap();
            texts.push(s);
        }
        assert_eq!(texts, vec!["zstd\n", "plain\n", "gzipped\n"]);
        assert!(inputs[2].source_name().ends_with("sub/a.log"));
    }

    #[test]
    fn missing_path_and_corrupt_gzip_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.gz");
        std::fs::write(&bad, b"\x1f\x8b\x08\x00garbage").unwrap();
        let (inputs, errors) = expand(&[dir.path().join("nope"), bad]);
        assert_eq!(errors.len(), 1);
        assert_eq!(inputs.len(), 1);
        let mut s = String::new();
        assert!(inputs[0].open().unwrap().read_to_string(&mut s).is_err());
    }
}
