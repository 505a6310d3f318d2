//! The last half minute of a service, and whether it just started or stopped: what tells a
//! spike that is still going on from a burst that is over, or from a deploy's own blip.

use std::sync::OnceLock;

use aho_corasick::AhoCorasick;
use firewatch_ingest::Nanos;

/// Width of a slot of the recent counts.
const SLOT: Nanos = 5_000_000_000;
/// Slots in the recent window: 30 s.
const SLOTS: usize = 6;

/// Events and errors of the last [`SLOTS`] slots, in a ring: (slot index, events, errors).
#[derive(Default)]
pub(super) struct Recent {
    slots: [(i64, u64, u64); SLOTS],
}

impl Recent {
    pub fn count(&mut self, time: Nanos, error: bool) {
        let slot = time.div_euclid(SLOT);
        let s = &mut self.slots[slot.rem_euclid(SLOTS as i64) as usize];
        if s.0 != slot {
            *s = (slot, 0, 0);
        }
        s.1 += 1;
        s.2 += u64::from(error);
    }

    /// Events and errors in the half minute up to `now`.
    pub fn last(&self, now: Nanos) -> (u64, u64) {
        let slot = now.div_euclid(SLOT);
        self.slots
            .iter()
            .filter(|s| s.0 > slot - SLOTS as i64 && s.0 <= slot)
            .fold((0, 0), |(n, e), s| (n + s.1, e + s.2))
    }
}

/// How far into a message a start or stop is looked for.
const LIFECYCLE_WITHIN: usize = 200;

/// Does the service say it is starting, started, restarting or stopping? Web servers and
/// frameworks announce it (`Started App in 8.41 seconds`, `Listening on :8080`, `Worker 0
/// booted`, `Graceful shutdown`); requests fail around it while pods and workers roll.
pub(super) fn is_lifecycle(message: &str) -> bool {
    static WORDS: OnceLock<AhoCorasick> = OnceLock::new();
    // Case-sensitive, each casing spelled out: an automaton that ignores case cannot use the
    // SIMD prefilter, and this runs on every record that is no request (8% of `analyze`).
    let words = WORDS.get_or_init(|| {
        let phrases = [
            "started on port",
            "istening on",
            "istening at",
            "erver started",
            "tartup complete",
            "booted in",
            "phased restart",
            "phased worker restart",
            "rolling restart",
            "raceful shutdown",
            "racefully shutting",
            "hutting down",
            "ready to accept connections",
            "seconds (process running for",
            "seconds (JVM running for",
            // Platforms starting instances: Cloud Run, Heroku, Kubernetes.
            "tarting new instance",
            "TARTUP TCP probe succeeded",
            "TARTUP HTTP probe succeeded",
            "tate changed from starting to up",
            "tarting process with command",
            "tarted container",
            // php-fpm, gunicorn, .NET's host.
            "eady to handle connections",
            "xiting, bye-bye",
            "ooting worker with pid",
            "andling signal: term",
            "pplication started. Press Ctrl+C",
        ];
        AhoCorasick::new(phrases).expect("fixed words")
    });
    let b = message.as_bytes();
    words.is_match(&b[..b.len().min(LIFECYCLE_WITHIN)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_counts_cover_the_last_half_minute() {
        let mut r = Recent::default();
        let s = 1_000_000_000;
        r.count(0, true);
        r.count(10 * s, false);
        r.count(29 * s, true);
        assert_eq!(r.last(29 * s), (3, 2));
        // The first slot has left the window; the ring reuses it.
        r.count(31 * s, false);
        assert_eq!(r.last(31 * s), (3, 1));
        assert_eq!(r.last(120 * s), (0, 0));
    }

    #[test]
    fn starts_and_stops_are_told_from_other_lines() {
        for m in [
            "Started CheckoutApplicationKt in 8.41 seconds (process running for 9.02)",
            "Netty started on port 8080",
            "- Worker 0 (PID: 4252) booted in 2.07s, phase: 1",
            "Starting phased worker restart, phase: 1",
            "INFO:     Application startup complete.",
            "Commencing graceful shutdown. Waiting for active requests to complete",
            "server listening on 0.0.0.0:3000",
            "Starting new instance. Reason: DEPLOYMENT_ROLLOUT - Instance started due to traffic shifting between revisions",
            "Default STARTUP TCP probe succeeded after 1 attempt for container \"app-1\" on port 8080.",
            "State changed from starting to up",
            "Started container ledger-api",
            "[02-Dec-2026 14:12:29] NOTICE: ready to handle connections",
            "[2026-11-20 10:00:01 +0000] [7] [INFO] Booting worker with pid: 7",
            "Application started. Press Ctrl+C to shut down.",
        ] {
            assert!(is_lifecycle(m), "{m}");
        }
        for m in [
            "export exp_1 started format=csv",
            "GET /api 500",
            "connection reset by peer",
            "readiness probe failed: HTTP probe failed with statuscode: 503",
        ] {
            assert!(!is_lifecycle(m), "{m}");
        }
    }
}
