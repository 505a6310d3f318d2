//! File identity: which file is this, whatever its name now?
//!
//! A [`Fingerprint`] is a 64-bit xxh3 checksum of a file's first bytes. It follows a file across
//! renames and survives restarts, and it is the prefix of every record id read from the file, so
//! a rotated *copy* of a file (copytruncate) yields the same ids as the original and the node
//! stores its lines once. A [`FileKey`] (device, inode) tells apart files that are open at the
//! same time; when two live files share a header, the second one gets a fingerprint salted with
//! its key ([`Fingerprint::salted`]), which is deterministic so that restarts find it again.

use std::fmt;
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// Checksum of a file's first `fingerprint_bytes` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub u64);

impl Fingerprint {
    /// The fingerprint of a header (the file's first bytes).
    pub fn of(header: &[u8]) -> Self {
        Fingerprint(xxh3_64(header))
    }

    /// The fingerprint of a file whose header is shared by another live file.
    pub fn salted(header: &[u8], key: FileKey) -> Self {
        Fingerprint(xxh3_64_with_seed(header, key.dev ^ key.ino.rotate_left(32)))
    }

    /// 16 lowercase hex digits, as in record ids.
    pub fn to_hex(self) -> String {
        format!("{:016x}", self.0)
    }

    pub fn from_hex(s: &str) -> Option<Self> {
        (s.len() == 16).then(|| u64::from_str_radix(s, 16).ok().map(Fingerprint))?
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Device and inode: which file an open handle or a path refers to right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileKey {
    pub dev: u64,
    pub ino: u64,
}

impl FileKey {
    pub fn of(meta: &Metadata) -> Self {
        FileKey {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// Reads the header of an open file: `Ok(None)` while the file is shorter than `len` bytes.
pub fn read_header(file: &File, len: usize) -> io::Result<Option<Vec<u8>>> {
    let header = read_prefix(file, len)?;
    Ok((header.len() == len).then_some(header))
}

/// Reads up to `len` of a file's first bytes: fewer if the file is shorter.
pub fn read_prefix(file: &File, len: usize) -> io::Result<Vec<u8>> {
    let mut header = vec![0; len];
    let mut filled = 0;
    while filled < len {
        match file.read_at(&mut header[filled..], filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    header.truncate(filled);
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn same_header_same_fingerprint_whatever_follows() {
        let a = Fingerprint::of(b"2026-11-20 first line\n");
        assert_eq!(a, Fingerprint::of(b"2026-11-20 first line\n"));
        assert_ne!(a, Fingerprint::of(b"2026-11-20 first linE\n"));
    }

    #[test]
    fn salted_fingerprints_differ_per_file_and_are_stable() {
        let h = b"same banner for both files";
        let k1 = FileKey { dev: 1, ino: 10 };
        let k2 = FileKey { dev: 1, ino: 11 };
        assert_ne!(Fingerprint::salted(h, k1), Fingerprint::salted(h, k2));
        assert_ne!(Fingerprint::salted(h, k1), Fingerprint::of(h));
        assert_eq!(Fingerprint::salted(h, k1), Fingerprint::salted(h, k1));
    }

    #[test]
    fn hex_round_trips_and_rejects_garbage() {
        let f = Fingerprint(0x9f2c);
        assert_eq!(f.to_hex(), "0000000000009f2c");
        assert_eq!(Fingerprint::from_hex(&f.to_hex()), Some(f));
        assert_eq!(Fingerprint::from_hex("9f2c"), None);
        assert_eq!(Fingerprint::from_hex("zzzzzzzzzzzzzzzz"), None);
    }

    #[test]
    fn small_files_wait_until_long_enough() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"short").unwrap();
        assert_eq!(read_header(&f, 8).unwrap(), None);
        f.write_all(b" and now long").unwrap();
        assert_eq!(read_header(&f, 8).unwrap().unwrap(), b"short an");
    }

    #[test]
    fn key_tells_files_apart() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "x").unwrap();
        std::fs::write(dir.path().join("b"), "x").unwrap();
        let ka = FileKey::of(&std::fs::metadata(dir.path().join("a")).unwrap());
        let kb = FileKey::of(&std::fs::metadata(dir.path().join("b")).unwrap());
        assert_ne!(ka, kb);
    }
}
