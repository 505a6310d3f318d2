//! Where generated events go: one stream (stdout) or one file per service, optionally rotated.
//!
//! Rotation works like logrotate's default and most loggers: when `x.log` would pass the size
//! limit it is renamed to `x.log.1` (older ones shift to `.2`, `.3`… and the oldest beyond
//! `keep` is dropped) and a fresh `x.log` is created. It happens between events, so a stack
//! trace is never split across files — which is also what a shipper must cope with.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Receives whole events.
pub trait Sink {
    /// Writes one event (complete lines) of the service with this index.
    fn write_event(&mut self, service: usize, event: &[u8]) -> io::Result<()>;
    /// Pushes buffered bytes to the operating system.
    fn flush(&mut self) -> io::Result<()>;
}

/// Every service into one writer, interleaved in event-time order.
pub struct StreamSink<W: Write> {
    out: BufWriter<W>,
}

impl<W: Write> StreamSink<W> {
    pub fn new(out: W) -> Self {
        StreamSink {
            out: BufWriter::with_capacity(256 << 10, out),
        }
    }
}

impl<W: Write> Sink for StreamSink<W> {
    fn write_event(&mut self, _service: usize, event: &[u8]) -> io::Result<()> {
        self.out.write_all(event)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// When to rotate a service's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate before a file would grow past this many bytes.
    pub max_bytes: u64,
    /// Rotated files to keep (`x.log.1` … `x.log.<keep>`).
    pub keep: usize,
}

struct ServiceFile {
    path: PathBuf,
    out: BufWriter<File>,
    written: u64,
}

/// `<dir>/<service>.log` per service, created (or truncated) when the sink is made.
pub struct DirSink {
    files: Vec<ServiceFile>,
    rotation: Option<Rotation>,
}

impl DirSink {
    /// Creates `dir` if needed and one file per name in `services`.
    pub fn create(dir: &Path, services: &[&str], rotation: Option<Rotation>) -> io::Result<Self> {
        fs::create_dir_all(dir).map_err(|e| with_path(e, dir))?;
        let files = services
            .iter()
            .map(|name| {
                let path = dir.join(format!("{name}.log"));
                let file = File::create(&path).map_err(|e| with_path(e, &path))?;
                Ok(ServiceFile {
                    out: BufWriter::with_capacity(128 << 10, file),
                    path,
                    written: 0,
                })
            })
            .collect::<io::Result<_>>()?;
        Ok(DirSink { files, rotation })
    }

    /// Path of the live file of a service.
    pub fn path(&self, service: usize) -> Option<&Path> {
        self.files.get(service).map(|f| f.path.as_path())
    }
}

impl Sink for DirSink {
    fn write_event(&mut self, service: usize, event: &[u8]) -> io::Result<()> {
        let Some(file) = self.files.get_mut(service) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("no file for service #{service}"),
            ));
        };
        if let Some(rot) = self.rotation {
            if file.written > 0 && file.written + event.len() as u64 > rot.max_bytes {
                rotate(file, rot.keep)?;
            }
        }
        file.written += event.len() as u64;
        file.out.write_all(event)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.files.iter_mut().try_for_each(|f| f.out.flush())
    }
}

/// `x.log` → `x.log.1`, `x.log.1` → `x.log.2`, …, then a fresh `x.log`.
fn rotate(file: &mut ServiceFile, keep: usize) -> io::Result<()> {
    file.out.flush()?;
    let numbered = |n: usize| {
        let mut p = file.path.clone().into_os_string();
        p.push(format!(".{n}"));
        PathBuf::from(p)
    };
    if keep == 0 {
        fs::remove_file(&file.path).map_err(|e| with_path(e, &file.path))?;
    } else {
        for n in (1..keep).rev() {
            let from = numbered(n);
            if from.exists() {
                fs::rename(&from, numbered(n + 1)).map_err(|e| with_path(e, &from))?;
            }
        }
        fs::rename(&file.path, numbered(1)).map_err(|e| with_path(e, &file.path))?;
    }
    let fresh = File::create(&file.path).map_err(|e| with_path(e, &file.path))?;
    file.out = BufWriter::with_capacity(128 << 10, fresh);
    file.written = 0;
    Ok(())
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_rename_and_create_keeping_n() {
        let dir = tempfile::tempdir().unwrap();
        let rot = Rotation {
            max_bytes: 10,
            keep: 2,
        };
        let mut sink = DirSink::create(dir.path(), &["a", "b"], Some(rot)).unwrap();
        for i in 0..5 {
            sink.write_event(0, format!("line-{i}\n").as_bytes())
                .unwrap();
        }
        sink.write_event(1, b"a line longer than ten bytes\n")
            .unwrap();
        sink.flush().unwrap();
        let read = |name: &str| fs::read_to_string(dir.path().join(name)).unwrap();
        assert_eq!(read("a.log"), "line-4\n");
        assert_eq!(read("a.log.1"), "line-3\n");
        assert_eq!(read("a.log.2"), "line-2\n");
        assert!(!dir.path().join("a.log.3").exists());
        // An event larger than the limit still goes whole into a fresh file.
        assert_eq!(read("b.log"), "a line longer than ten bytes\n");
        assert!(sink.write_event(7, b"x\n").is_err());
    }
}
