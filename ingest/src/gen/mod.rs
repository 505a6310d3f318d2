//! `firewatch gen`: realistic multi-service logs for demos, tests and benchmarks.
//!
//! A simulated fleet (see [`SERVICES`]) writes in five formats: pino and winston JSON (Node),
//! logfmt (Go), nginx combined access logs, log4j with Java stack traces, and RFC 3164 syslog.
//! Everything is deterministic: a seeded ChaCha generator and a simulated clock that starts at a
//! configured instant and advances with the configured rate, so the same configuration gives the
//! same bytes, and a million lines written as fast as possible still span hours of event time.
//!
//! Incidents ([`IncidentKind`]) can be injected at chosen times: unhandled promise rejections, an
//! error-rate spike, and a memory leak that ends in an out-of-memory crash.
//!
//! [`Generator`] is the pure part (events into a byte buffer); `sink` and [`run`] are the
//! moving parts (files, rotation, pacing against the wall clock).

mod clock;
mod incident;
mod run;
mod runtime;
mod services;
mod sink;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::record::Nanos;
use clock::Stamps;
use runtime::Systemd;
use services::{CHECKOUT, INVENTORY, SYSLOG, USERS};

pub use incident::{parse_duration, Incident, IncidentKind, IncidentSpec, Onset};
pub use run::{run, run_until, Limits, Pace, RunStats};
pub use services::{Format, Service, SERVICES};
pub use sink::{DirSink, Rotation, Sink, StreamSink};

/// Why a generator configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("rate must be a positive number of lines per second, got {0}")]
    BadRate(f64),
    #[error("invalid duration {0:?} (expected e.g. 90s, 30m, 1h30m)")]
    BadDuration(String),
    #[error("invalid incident time {0:?} (expected a duration like 30m, a share like 33%, or an RFC 3339 time)")]
    BadOnset(String),
    #[error("unknown incident {0:?} (expected rejection, spike or leak)")]
    UnknownIncident(String),
    #[error("an incident time given as a share of the run needs --lines or --duration")]
    FractionNeedsBoundedRun,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// Seeds every random choice: same seed, same bytes.
    pub seed: u64,
    /// Event time of the first line (ns since the epoch, UTC).
    pub start: Nanos,
    /// Lines per second of event time.
    pub rate: f64,
    pub incidents: Vec<Incident>,
}

/// One generated event: which service wrote it and how many lines it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Index into [`SERVICES`].
    pub service: usize,
    pub lines: usize,
}

/// What the service writers see: randomness, the clock, and the state incidents change.
pub(crate) struct Scene {
    pub(crate) rng: ChaCha8Rng,
    pub(crate) now: Nanos,
    pub(crate) stamps: Stamps,
    /// An error-rate spike is under way.
    pub(crate) spike: bool,
    /// Lowest heap use of `users` (MiB); grows while it leaks.
    pub(crate) heap_floor_mb: f64,
    pub(crate) users_pid: u32,
    pub(crate) users_started: Nanos,
    /// V8 isolate address printed in `--trace-gc` lines.
    pub(crate) isolate: u64,
    pub(crate) rejection_id: u32,
    pub(crate) restarts: u32,
    pub(crate) req_id: u64,
}

/// Uniform choice from a non-empty constant table.
pub(crate) fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// Something due at a given event time, besides the random traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Task {
    /// A periodic gauge line of `CHECKOUT`, `USERS` or `INVENTORY`.
    Gauge(usize),
    SpikeOnset,
    SpikeRecovered,
    Rejection {
        until: Nanos,
    },
    NodeCrash,
    GcTrace {
        oom_at: Nanos,
    },
    Oom,
    Systemd(Systemd),
    UsersStarted,
}

const SECOND: Nanos = 1_000_000_000;
const HEAP_BASE_MB: f64 = 72.0;

/// Produces events one at a time, deterministically.
pub struct Generator {
    sc: Scene,
    start: Nanos,
    /// Mean gap between lines (ns of event time).
    step_ns: f64,
    last_lines: usize,
    tasks: BinaryHeap<Reverse<(Nanos, u64, Task)>>,
    seq: u64,
    incidents: Vec<Incident>,
}

impl Generator {
    pub fn new(cfg: GenConfig) -> Result<Self, GenError> {
        if !(cfg.rate.is_finite() && cfg.rate > 0.0) {
            return Err(GenError::BadRate(cfg.rate));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let users_started = cfg.start - rng.random_range(3_600..86_400) * SECOND;
        let mut g = Generator {
            sc: Scene {
                rng,
                now: cfg.start,
                stamps: Stamps::new(),
                spike: false,
                heap_floor_mb: HEAP_BASE_MB,
                users_pid: 4187,
                users_started,
                isolate: 0x6b1c4e0,
                rejection_id: 0,
                restarts: 0,
                req_id: 0,
            },
            start: cfg.start,
            step_ns: 1e9 / cfg.rate,
            last_lines: 0,
            tasks: BinaryHeap::new(),
            seq: 0,
            incidents: cfg.incidents,
        };
        for service in [CHECKOUT, USERS, INVENTORY] {
            let first = cfg.start + g.sc.rng.random_range(0..10 * SECOND);
            g.schedule(first, Task::Gauge(service));
        }
        for inc in g.incidents.clone() {
            match inc.kind {
                IncidentKind::Spike => {
                    g.schedule(inc.onset, Task::SpikeOnset);
                    g.schedule(inc.end(), Task::SpikeRecovered);
                }
                IncidentKind::Rejection => {
                    g.schedule(inc.onset, Task::Rejection { until: inc.end() });
                    g.schedule(inc.onset + inc.length / 3, Task::NodeCrash);
                }
                IncidentKind::Leak => {
                    g.schedule(inc.onset, Task::GcTrace { oom_at: inc.end() });
                    g.schedule(inc.end(), Task::Oom);
                }
            }
        }
        Ok(g)
    }

    /// Event time of the last event.
    pub fn now(&self) -> Nanos {
        self.sc.now
    }

    /// Event time of the first event.
    pub fn start(&self) -> Nanos {
        self.start
    }

    /// Appends the next event (whole lines, each ending in `\n`) to `out`.
    pub fn next_event(&mut self, out: &mut Vec<u8>) -> Event {
        let from = out.len();
        // Exponential gaps: merged traffic of many clients is close to a Poisson process.
        let u: f64 = self.sc.rng.random();
        let gap = -(1.0 - u).ln() * self.step_ns * self.last_lines.max(1) as f64;
        let next = self.sc.now.saturating_add(gap as Nanos);
        let service = match self.tasks.peek() {
            Some(&Reverse((due, _, task))) if due <= next => {
                self.tasks.pop();
                self.advance(due.max(self.sc.now));
                self.run_task(task, out)
            }
            _ => {
                self.advance(next);
                let service = self.pick_service();
                services::write_normal(service, &mut self.sc, out);
                service
            }
        };
        let lines = out[from..].iter().filter(|&&b| b == b'\n').count();
        self.last_lines = lines;
        Event { service, lines }
    }

    fn schedule(&mut self, at: Nanos, task: Task) {
        self.seq += 1;
        self.tasks.push(Reverse((at, self.seq, task)));
    }

    /// Moves the clock and derives the incident state at the new time.
    fn advance(&mut self, now: Nanos) {
        self.sc.now = now;
        self.sc.stamps.set(now);
        self.sc.spike = false;
        self.sc.heap_floor_mb = HEAP_BASE_MB;
        for inc in &self.incidents {
            match (inc.kind, inc.progress(now)) {
                (IncidentKind::Spike, Some(_)) => self.sc.spike = true,
                (IncidentKind::Leak, Some(p)) => {
                    let top = runtime::HEAP_LIMIT_MB - 60.0;
                    self.sc.heap_floor_mb = self
                        .sc
                        .heap_floor_mb
                        .max(HEAP_BASE_MB + p * (top - HEAP_BASE_MB));
                }
                _ => {}
            }
        }
    }

    fn pick_service(&mut self) -> usize {
        let mut roll = self.sc.rng.random_range(0..100u32);
        for (i, s) in SERVICES.iter().enumerate() {
            if roll < s.weight {
                return i;
            }
            roll -= s.weight;
        }
        SYSLOG
    }

    fn run_task(&mut self, task: Task, out: &mut Vec<u8>) -> usize {
        let now = self.sc.now;
        let sc = &mut self.sc;
        match task {
            Task::Gauge(service) => {
                match service {
                    CHECKOUT => runtime::checkout_memory(sc, out),
                    USERS => runtime::users_memory(sc, out),
                    _ => runtime::inventory_stats(sc, out),
                }
                let next = now + sc.rng.random_range(9_500_000_000..10_500_000_000);
                self.schedule(next, Task::Gauge(service));
                service
            }
            Task::SpikeOnset | Task::SpikeRecovered => {
                runtime::pool_notice(sc, task == Task::SpikeOnset, out);
                INVENTORY
            }
            Task::Rejection { until } => {
                runtime::node14_rejection(sc, out);
                let gap = ((until - now) / 12).max(SECOND);
                let next = now + sc.rng.random_range(gap / 2..gap * 3 / 2);
                if next < until {
                    self.schedule(next, Task::Rejection { until });
                }
                CHECKOUT
            }
            Task::NodeCrash | Task::Oom => {
                let exit = if task == Task::Oom {
                    runtime::oom(sc, out);
                    Systemd::Dumped
                } else {
                    runtime::node18_crash(out);
                    Systemd::Failed
                };
                self.schedule(now + 4_000_000, Task::Systemd(exit));
                self.schedule(now + 110_000_000, Task::Systemd(Systemd::Restarting));
                self.schedule(now + 160_000_000, Task::Systemd(Systemd::Started));
                self.schedule(now + 1_400_000_000, Task::UsersStarted);
                USERS
            }
            Task::GcTrace { oom_at } => {
                let floor = sc.heap_floor_mb;
                let p = (floor - HEAP_BASE_MB) / (runtime::HEAP_LIMIT_MB - HEAP_BASE_MB);
                let mark_sweep = sc.rng.random_bool(p.clamp(0.05, 0.95));
                let from = floor + sc.rng.random_range(8.0..30.0);
                runtime::trace_gc(sc, mark_sweep, from, out);
                // Collections come faster as the heap fills up.
                let gap = (8.0 - 7.5 * p.clamp(0.0, 1.0)) * 1e9;
                let next = now + (gap * sc.rng.random_range(0.6..1.4)) as Nanos;
                if next < oom_at {
                    self.schedule(next, Task::GcTrace { oom_at });
                }
                USERS
            }
            Task::Systemd(what) => {
                runtime::systemd(sc, what, out);
                SYSLOG
            }
            Task::UsersStarted => {
                runtime::users_started(sc, out);
                USERS
            }
        }
    }
}
