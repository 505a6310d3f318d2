//! The live demo of `firewatch up --demo`: generated logs of every service, written in real
//! time into a directory the shipper tails, with incidents injected on a schedule short enough
//! to watch — alerts fire within the first minute and resolve a minute or two later.
//!
//! The logs begin [`HISTORY`] before the demo starts, written at once: search has something to
//! find right away, and the detectors have learned each service's normal before the first
//! incident (a service's first minutes alert on no error spike: there is no normal to rise
//! from).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Context;
use firewatch_ingest::gen::{
    self, DirSink, GenConfig, Generator, Incident, IncidentKind, Limits, Pace, SERVICES,
};
use firewatch_ingest::Nanos;
use tracing::warn;

/// Lines per second across all services.
const RATE: f64 = 50.0;
const SECOND: Nanos = 1_000_000_000;
/// Normal traffic written at start, before the live part.
const HISTORY: Nanos = 10 * 60 * SECOND;
/// A round of incidents starts this often, so a user who keeps watching sees them again.
const ROUND: Nanos = 300 * SECOND;
const ROUNDS: i64 = 12;

/// In the demo, a firing alert quiet for this long resolves (the node default is 30 min).
pub const RESOLVE_AFTER_SECS: u64 = 60;

/// The schedule as the user reads it.
pub const SCHEDULE: &str = "unhandled rejections at +10s, an error spike at +20s, a leak \
                            ending in an out-of-memory crash at +50s; again every 5 min";

/// One round: (kind, seconds after the round starts, seconds it lasts).
const PLAN: [(IncidentKind, i64, i64); 3] = [
    (IncidentKind::Rejection, 10, 20),
    (IncidentKind::Spike, 20, 60),
    (IncidentKind::Leak, 15, 35),
];

/// The demo's incidents for a run starting at `start` (event time = wall clock).
pub fn incidents(start: Nanos) -> Vec<Incident> {
    (0..ROUNDS)
        .flat_map(|round| {
            PLAN.iter().map(move |&(kind, at, len)| Incident {
                kind,
                onset: start + round * ROUND + at * SECOND,
                length: len * SECOND,
            })
        })
        .collect()
}

/// The running generator; stop it with [`Demo::stop`].
pub struct Demo {
    dir: PathBuf,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Demo {
    /// Creates (or truncates) `dir/<service>.log` and starts writing.
    pub fn start(dir: &Path) -> anyhow::Result<Demo> {
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("system clock is before 1970")?
            .as_nanos() as Nanos;
        let mut generator = Generator::new(GenConfig {
            seed: 1,
            start: start - HISTORY,
            rate: RATE,
            incidents: incidents(start),
        })?;
        let names: Vec<&str> = SERVICES.iter().map(|s| s.name).collect();
        let mut sink = DirSink::create(dir, &names, None)
            .with_context(|| format!("create demo logs in {}", dir.display()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("demo-gen".into())
            .spawn(move || {
                let limits = Limits::default();
                if let Err(error) =
                    gen::run_until(&mut generator, &mut sink, Pace::Wall, limits, &flag)
                {
                    warn!(%error, "demo log writer stopped");
                }
            })
            .context("start demo thread")?;
        Ok(Demo {
            dir: dir.to_path_buf(),
            stop,
            thread,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops writing (within a fraction of a second).
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_round_fires_and_ends_before_the_next() {
        let all = incidents(0);
        assert_eq!(all.len(), PLAN.len() * ROUNDS as usize);
        for inc in &all {
            let round_start = inc.onset.div_euclid(ROUND) * ROUND;
            assert!(inc.onset - round_start <= 60 * SECOND, "{inc:?}");
            // Quiet for RESOLVE_AFTER_SECS before the next round starts.
            let quiet = round_start + ROUND - inc.end();
            assert!(quiet > RESOLVE_AFTER_SECS as Nanos * SECOND, "{inc:?}");
        }
    }
}
