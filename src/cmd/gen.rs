//! `firewatch gen`: demo and benchmark logs.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context;
use firewatch_ingest::gen::{
    self, DirSink, GenConfig, Generator, IncidentSpec, Limits, Onset, Pace, Rotation, Sink,
    StreamSink, SERVICES,
};
use firewatch_ingest::record::rfc3339_nanos;
use tracing::info;

const EXAMPLES: &str = "\
Services and formats:
  gateway    nginx combined access log + $request_time (mostly 2xx/3xx, a few 4xx/5xx)
  checkout   pino JSON, Node 14 (memory gauges: heapUsed, rss…)
  users      winston JSON, Node 18 (memory gauges)
  inventory  logfmt, Go (runtime gauges: goroutines, queue_depth…)
  payments   log4j, Java, stack traces on errors
  syslog     RFC 3164 syslog of host web-1 (sshd, CRON, systemd, kernel)

Incidents (--incident KIND[@WHEN][+LENGTH], repeatable):
  rejection  checkout logs UnhandledPromiseRejectionWarning blocks (Node 14); users dies of an
             unhandled rejection (Node 18 crash block) and systemd restarts it
  spike      inventory's error ratio and the gateway's 5xx on upstream routes jump, then recover
  leak       users' heap floor grows (memory gauges, --trace-gc lines) up to
             'FATAL ERROR: … JavaScript heap out of memory', a core dump and a restart
  WHEN is a duration after --start (30m), a share of the run (33%) or an RFC 3339 time; the
  default is --incident-at, itself a third of the way in. LENGTH defaults to a share of the run
  (for a leak: the time from onset to the crash).

Examples:
  firewatch gen --lines 20 --seed 7
      20 lines of every service, interleaved, on stdout
  firewatch gen --out logs/ --lines 1000000 --incident spike --incident leak
      a million lines (about 3 hours of event time at 100 lines/s) into logs/<service>.log
  firewatch gen --out logs/ --realtime --rate 50 --incident rejection@2m --incident leak@5m+10m
      a live demo: 50 lines/s following the wall clock until interrupted
  firewatch gen --out logs/ --duration 1h --rotate-bytes 10M --rotate-keep 3 --start 2026-11-20T10:00:00Z
      one hour of event time, each file rotated at 10 MiB (x.log -> x.log.1 …)

Output is byte-for-byte reproducible for the same flags (and the same --start).";

#[derive(clap::Args)]
#[command(after_long_help = EXAMPLES)]
pub struct Args {
    /// Write one file per service, DIR/SERVICE.log (created or truncated); default: every
    /// service interleaved on stdout.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Stop after this many lines (default 10000 unless --duration or --realtime is given).
    #[arg(long, value_name = "N")]
    lines: Option<u64>,
    /// Stop after this much event time (e.g. 90s, 30m, 2h).
    #[arg(long, value_name = "D", value_parser = duration)]
    duration: Option<i64>,
    /// Lines per second of event time.
    #[arg(long, value_name = "LINES_PER_SEC", default_value_t = 100.0)]
    rate: f64,
    /// Follow the wall clock (write --rate lines each second) instead of writing as fast as
    /// possible; runs until interrupted unless --lines or --duration is given.
    #[arg(long)]
    realtime: bool,
    /// Event time of the first line, RFC 3339 (default: now).
    #[arg(long, value_name = "TIME", value_parser = instant)]
    start: Option<i64>,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Inject an incident: rejection, spike or leak, optionally @WHEN and +LENGTH (repeatable).
    #[arg(long = "incident", value_name = "KIND[@WHEN][+LENGTH]")]
    incidents: Vec<IncidentSpec>,
    /// When incidents without @WHEN start: a duration after --start, a share of the run, or an
    /// RFC 3339 time.
    #[arg(long, value_name = "WHEN", default_value = "33%")]
    incident_at: Onset,
    /// Rotate a service's file before it passes this size (bytes; K, M, G suffixes).
    #[arg(long, value_name = "SIZE", value_parser = size, requires = "out")]
    rotate_bytes: Option<u64>,
    /// Rotated files to keep per service.
    #[arg(long, value_name = "N", default_value_t = 5, requires = "rotate_bytes")]
    rotate_keep: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let start = match args.start {
        Some(start) => start,
        None => now_nanos()?,
    };
    let unbounded = args.lines.is_none() && args.duration.is_none();
    let lines = if unbounded && !args.realtime {
        Some(10_000)
    } else {
        args.lines
    };
    // The run's length in event time, for incident defaults: the first limit reached.
    let by_lines = lines.map(|n| (n as f64 / args.rate * 1e9) as i64);
    let run_length = match (by_lines, args.duration) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let incidents = args
        .incidents
        .iter()
        .map(|spec| spec.resolve(start, run_length, args.incident_at))
        .collect::<Result<Vec<_>, _>>()?;
    for inc in &incidents {
        info!(
            incident = %inc.kind,
            onset = %rfc3339_nanos::format(inc.onset),
            length_s = inc.length / 1_000_000_000,
            "incident scheduled"
        );
    }
    let mut generator = Generator::new(GenConfig {
        seed: args.seed,
        start,
        rate: args.rate,
        incidents,
    })?;
    let mut sink: Box<dyn Sink> = match &args.out {
        Some(dir) => {
            let rotation = args.rotate_bytes.map(|max_bytes| Rotation {
                max_bytes,
                keep: args.rotate_keep,
            });
            let names: Vec<&str> = SERVICES.iter().map(|s| s.name).collect();
            Box::new(DirSink::create(dir, &names, rotation).context("cannot create output")?)
        }
        None => Box::new(StreamSink::new(io::stdout().lock())),
    };
    let pace = if args.realtime {
        Pace::RealTime
    } else {
        Pace::Fast
    };
    let limits = Limits {
        lines,
        duration: args.duration,
    };
    let began = std::time::Instant::now();
    match gen::run(&mut generator, sink.as_mut(), pace, limits) {
        Ok(stats) => {
            let secs = began.elapsed().as_secs_f64();
            info!(
                lines = stats.lines,
                bytes = stats.bytes,
                event_span_s = (stats.last_event - start) / 1_000_000_000,
                lines_per_s = (stats.lines as f64 / secs.max(1e-9)) as u64,
                "generated"
            );
            Ok(ExitCode::SUCCESS)
        }
        // `firewatch gen | head` is normal use, not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e).context("write failed"),
    }
}

fn now_nanos() -> anyhow::Result<i64> {
    let since = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .context("system clock is before 1970")?;
    i64::try_from(since.as_nanos()).context("system clock out of range")
}

fn duration(s: &str) -> Result<i64, String> {
    gen::parse_duration(s).map_err(|e| e.to_string())
}

fn instant(s: &str) -> Result<i64, String> {
    rfc3339_nanos::parse(s).ok_or_else(|| format!("invalid RFC 3339 time {s:?}"))
}

/// Bytes with an optional binary suffix: `1048576`, `512K`, `10M`, `1G`.
fn size(s: &str) -> Result<u64, String> {
    let bad = || format!("invalid size {s:?} (expected e.g. 1048576, 512K, 10M, 1G)");
    let t = s.trim();
    let (digits, shift) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 10),
        Some((i, 'm' | 'M')) => (&t[..i], 20),
        Some((i, 'g' | 'G')) => (&t[..i], 30),
        _ => (t, 0),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    match n.checked_mul(1 << shift) {
        Some(0) | None => Err(bad()),
        Some(v) => Ok(v),
    }
}
