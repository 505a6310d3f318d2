//! Inputs of the offline tools: files, directories (recursive), `.gz` and `.zst`.
//!
//! [`expand`] turns the paths a user named into a sorted, de-duplicated list of [`Input`]s, and
//! [`Input::open`] gives a buffered reader that decompresses by file name. Problems with one input
//! are that input's error; the caller reports it and goes on with the rest.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

/// How an input's bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// One file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub path: PathBuf,
    pub compression: Compression,
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
            _ => Compression::None,
        };
        Input { path, compression }
    }

    /// Opens the input for reading, decompressing as its name says. Corrupt compressed data shows
    /// up as an `io::Error` from the reader, not a panic.
    pub fn open(&self) -> Result<Box<dyn BufRead + Send>, InputError> {
        let err = |source| InputError {
            path: self.path.clone(),
            source,
        };
        let file = File::open(&self.path).map_err(err)?;
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
        })
    }

    /// The name a record from this input is attributed to: the path without a compression
    /// extension, so `app.log.gz` and `app.log` are the same source.
    pub fn source_name(&self) -> String {
        let path = self.path.to_string_lossy();
        match self.compression {
            Compression::None => path.into_owned(),
            Compression::Gzip => path.trim_end_matches(".gz").to_string(),
            Compression::Zstd => path.trim_end_matches(".zst").to_string(),
        }
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
            Ok(meta) if meta.is_dir() => walk(path, &mut found, &mut errors),
            Ok(_) => found.push(path.to_path_buf()),
            Err(source) => errors.push(InputError {
                path: path.to_path_buf(),
                source,
            }),
        }
        for file in found {
            if seen.insert(file.clone()) {
                inputs.push(Input::new(file));
            }
        }
    }
    (inputs, errors)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>, errors: &mut Vec<InputError>) {
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
            Ok(meta) if meta.is_dir() => walk(&path, found, errors),
            Ok(meta) if meta.is_file() => found.push(path),
            Ok(_) => {}
            Err(source) => errors.push(InputError { path, source }),
        }
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
