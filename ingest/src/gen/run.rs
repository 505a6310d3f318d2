//! The generator loop: events from a [`Generator`] into a [`Sink`], as fast as possible or paced
//! by the wall clock, until a line count or an event-time duration is reached.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::record::Nanos;

use super::{Generator, Sink};

/// How fast to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// No waiting: event time runs ahead of the wall clock.
    Fast,
    /// Event time follows the wall clock: one second of events per second.
    RealTime,
    /// Event time *is* the wall clock: events already past are written at once (a run that
    /// starts in the past backfills its history), later ones when their time comes.
    Wall,
}

/// When to stop; the first limit reached wins, none means run until interrupted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Stop once this many lines are written (an event in progress is completed).
    pub lines: Option<u64>,
    /// Stop before the first event this long after the start (event time).
    pub duration: Option<Nanos>,
}

/// What a run wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunStats {
    pub events: u64,
    pub lines: u64,
    pub bytes: u64,
    /// Event time of the last event written.
    pub last_event: Nanos,
}

/// In real time the sink is flushed at least this often, so tailers see lines promptly.
const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// Runs the generator into the sink until a limit is reached, then flushes.
pub fn run(
    gen: &mut Generator,
    sink: &mut dyn Sink,
    pace: Pace,
    limits: Limits,
) -> io::Result<RunStats> {
    run_until(gen, sink, pace, limits, &AtomicBool::new(false))
}

/// [`run`], that also stops (after flushing) once `stop` is set; a real-time run notices
/// within a fraction of a second.
pub fn run_until(
    gen: &mut Generator,
    sink: &mut dyn Sink,
    pace: Pace,
    limits: Limits,
    stop: &AtomicBool,
) -> io::Result<RunStats> {
    let mut stats = RunStats::default();
    let mut event = Vec::with_capacity(8 << 10);
    let wall_start = Instant::now();
    let mut last_flush = wall_start;
    let end = limits.duration.map(|d| gen.start().saturating_add(d));
    while limits.lines.is_none_or(|max| stats.lines < max) && !stop.load(Ordering::Relaxed) {
        event.clear();
        let ev = gen.next_event(&mut event);
        if end.is_some_and(|end| gen.now() >= end) {
            break;
        }
        if pace != Pace::Fast {
            // How far the next event is ahead of the clock its pace follows.
            let ahead = || match pace {
                Pace::Wall => {
                    Duration::from_nanos(gen.now().saturating_sub(wall_now()).max(0) as u64)
                }
                _ => Duration::from_nanos((gen.now() - gen.start()).max(0) as u64)
                    .saturating_sub(wall_start.elapsed()),
            };
            let mut ahead_by = ahead();
            if !ahead_by.is_zero() || last_flush.elapsed() >= FLUSH_EVERY {
                sink.flush()?;
                last_flush = Instant::now();
            }
            // Short naps, so a stop request is noticed even at a low rate.
            while !ahead_by.is_zero() && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(ahead_by.min(FLUSH_EVERY));
                ahead_by = ahead();
            }
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
        sink.write_event(ev.service, &event)?;
        stats.events += 1;
        stats.lines += ev.lines as u64;
        stats.bytes += event.len() as u64;
        stats.last_event = gen.now();
    }
    sink.flush()?;
    Ok(stats)
}

/// The wall clock as event time.
fn wall_now() -> Nanos {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos().min(i64::MAX as u128) as Nanos)
}
