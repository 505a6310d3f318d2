//! Open files: the shipper holds one descriptor per tailed file (a rotated or deleted file is
//! read to its end through it), so 1,000 files need more than the usual soft limit of 1,024.
//! At start the soft `RLIMIT_NOFILE` is raised to the hard limit; the reader then tails at most
//! [`budget`] files at once and refuses the others loudly (an error in the log and the
//! `files_refused` gauge) until tailed ones are released, instead of failing with EMFILE at
//! random places (spool writes, node connections).

use std::io;

/// Descriptors kept for everything but tailed files: node connections, the spool, the
/// checkpoint file, the status endpoint, the file watcher.
pub const RESERVED: u64 = 64;

/// Raises the soft limit on open files to the hard limit; returns the soft limit in force.
pub fn raise_nofile() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes into the struct passed, which lives on this stack frame.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct passed.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return Ok(raised.rlim_cur);
        }
    }
    Ok(lim.rlim_cur)
}

/// How many files may be tailed at once under a soft limit of `nofile` descriptors: what is
/// left after [`RESERVED`], or `configured` if that is set (non-zero) and smaller.
pub fn budget(nofile: u64, configured: usize) -> usize {
    let derived = usize::try_from(nofile.saturating_sub(RESERVED).max(16)).unwrap_or(usize::MAX);
    match configured {
        0 => derived,
        n => n.min(derived),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_leaves_room_and_honours_a_smaller_setting() {
        assert_eq!(budget(1024, 0), 960);
        assert_eq!(budget(1024, 100), 100);
        assert_eq!(
            budget(1024, 5000),
            960,
            "never more than the descriptors allow"
        );
        assert_eq!(budget(10, 0), 16, "a tiny limit still tails a few files");
        assert!(budget(u64::MAX, 0) > 1_000_000);
    }

    #[test]
    fn soft_limit_is_raised_to_the_hard_one() {
        let soft = raise_nofile().unwrap();
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        assert_eq!(lim.rlim_cur, soft);
        assert_eq!(lim.rlim_cur, lim.rlim_max);
    }
}
