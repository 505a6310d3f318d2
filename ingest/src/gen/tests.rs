//! Behaviour of the generator as a whole: determinism, the shape of every format, the clock,
//! and each incident showing up at its onset.

use regex::Regex;

use super::*;
use crate::gen::services::{GATEWAY, PAYMENTS};

const START: Nanos = 1_795_168_800_000_000_000; // 2026-11-20T10:00:00Z

fn config(seed: u64, incidents: Vec<Incident>) -> GenConfig {
    GenConfig {
        seed,
        start: START,
        rate: 100.0,
        incidents,
    }
}

/// (event time, service, text) of every event until `until` (ns after START).
fn events(cfg: GenConfig, until: Nanos) -> Vec<(Nanos, usize, String)> {
    let mut g = Generator::new(cfg).unwrap();
    let mut out = Vec::new();
    let mut all = Vec::new();
    while g.now() < START + until {
        out.clear();
        let ev = g.next_event(&mut out);
        assert_eq!(ev.lines, out.iter().filter(|&&b| b == b'\n').count());
        assert!(out.ends_with(b"\n"));
        all.push((g.now(), ev.service, String::from_utf8(out.clone()).unwrap()));
    }
    all
}

fn incident(kind: IncidentKind, onset_s: i64, length_s: i64) -> Incident {
    Incident {
        kind,
        onset: START + onset_s * SECOND,
        length: length_s * SECOND,
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let all = vec![
        incident(IncidentKind::Spike, 20, 20),
        incident(IncidentKind::Rejection, 30, 30),
        incident(IncidentKind::Leak, 10, 60),
    ];
    let a = events(config(7, all.clone()), 90 * SECOND);
    let b = events(config(7, all.clone()), 90 * SECOND);
    let c = events(config(8, all), 90 * SECOND);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn every_service_writes_its_format() {
    let access = Regex::new(
        r#"^10\.\d+\.\d+\.\d+ - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000\] "(GET|POST) /\S* HTTP/1\.1" \d{3} \d+ "[^"]*" "[^"]+" \d+\.\d{3}$"#,
    ).unwrap();
    let logfmt = Regex::new(
        r#"^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=(debug|info|warn|error) caller=\S+\.go:\d+ msg="[^"]+"( \w+=("[^"]*"|\S+))*$"#,
    ).unwrap();
    let log4j = Regex::new(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO |DEBUG|WARN |ERROR) \[[\w-]+\] [\w.]+ - .+$",
    )
    .unwrap();
    let java_more =
        Regex::new(
        r"^([\w.]+(Exception|Error): .+|\tat [\w$./]+\([\w.]+:\d+\)|Caused by: .+|\t\.\.\. \d+ more)$",
    ).unwrap();
    let syslog =
        Regex::new(r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d web-1 [\w-]+(\[\d+\])?: .+$").unwrap();

    let evs = events(config(1, vec![]), 600 * SECOND);
    let mut per_service = [0usize; 6];
    let (mut stacks, mut server_errors, mut requests) = (0, 0, 0);
    for (_, service, text) in &evs {
        per_service[*service] += 1;
        let mut lines = text.lines();
        let first = lines.next().unwrap();
        match SERVICES[*service].format {
            Format::Access => {
                assert!(access.is_match(first), "{first}");
                requests += 1;
                server_errors += usize::from(first.contains("HTTP/1.1\" 5"));
            }
            Format::Json => {
                let v: serde_json::Value = serde_json::from_str(first).expect(first);
                assert!(v.get("msg").or(v.get("message")).is_some(), "{first}");
                assert!(v.get("time").or(v.get("timestamp")).is_some(), "{first}");
            }
            Format::Logfmt => assert!(logfmt.is_match(first), "{first}"),
            Format::Log4j => {
                assert!(log4j.is_match(first), "{first}");
                for more in lines.by_ref() {
                    assert!(java_more.is_match(more), "{more:?}");
                    stacks += 1;
                }
            }
            Format::Syslog => assert!(syslog.is_match(first), "{first}"),
        }
        assert_eq!(lines.next(), None, "only log4j events span lines: {text}");
    }
    assert!(per_service.iter().all(|&n| n > 100), "{per_service:?}");
    assert!(per_service[GATEWAY] > per_service[PAYMENTS]);
    assert!(stacks > 0, "java errors carry stack traces");
    let ratio = server_errors as f64 / requests as f64;
    assert!(ratio > 0.0 && ratio < 0.02, "5xx ratio {ratio}");
    let text: String = evs.iter().map(|e| e.2.as_str()).collect();
    for gauge in ["\"heapUsed\":", "\"rss\":", "goroutines=", "queue_depth="] {
        assert!(text.contains(gauge), "{gauge}");
    }
}

#[test]
fn event_time_advances_with_the_rate() {
    let mut g = Generator::new(config(3, vec![])).unwrap();
    let mut out = Vec::new();
    let mut lines = 0;
    let mut last = START;
    while lines < 20_000 {
        out.clear();
        lines += g.next_event(&mut out).lines;
        assert!(g.now() >= last, "event time never goes back");
        last = g.now();
    }
    let secs = (g.now() - START) as f64 / 1e9;
    assert!(
        (180.0..220.0).contains(&secs),
        "{secs} s for 20000 lines at 100/s"
    );
    assert!(Generator::new(GenConfig {
        rate: 0.0,
        ..config(3, vec![])
    })
    .is_err());
}

/// Share of gateway requests to upstream routes answered 5xx within [from, to) seconds.
fn upstream_5xx(evs: &[(Nanos, usize, String)], from: i64, to: i64) -> f64 {
    let window: Vec<_> = evs
        .iter()
        .filter(|(t, s, text)| {
            *s == GATEWAY
                && (START + from * SECOND..START + to * SECOND).contains(t)
                && (text.contains("/api/checkout") || text.contains("/api/inventory"))
        })
        .collect();
    let bad = window
        .iter()
        .filter(|e| e.2.contains("HTTP/1.1\" 5"))
        .count();
    bad as f64 / window.len().max(1) as f64
}

#[test]
fn spike_raises_errors_then_recovers() {
    let evs = events(
        config(5, vec![incident(IncidentKind::Spike, 120, 120)]),
        360 * SECOND,
    );
    let (before, during, after) = (
        upstream_5xx(&evs, 0, 120),
        upstream_5xx(&evs, 120, 240),
        upstream_5xx(&evs, 240, 360),
    );
    assert!(before < 0.05 && after < 0.05, "{before} {after}");
    assert!(during > 0.2, "{during}");
    let first_db_error = evs
        .iter()
        .find(|e| e.2.contains("statement timeout"))
        .unwrap();
    assert!(first_db_error.0 >= START + 120 * SECOND);
    assert!(evs
        .iter()
        .any(|e| e.2.contains("connection pool recovered")));
}

#[test]
fn rejection_warnings_and_crash_start_at_onset() {
    let evs = events(
        config(9, vec![incident(IncidentKind::Rejection, 60, 120)]),
        200 * SECOND,
    );
    let warnings: Vec<_> = evs
        .iter()
        .filter(|e| e.2.contains("UnhandledPromiseRejectionWarning: "))
        .collect();
    assert!(warnings.len() >= 5, "{}", warnings.len());
    assert_eq!(warnings[0].0, START + 60 * SECOND);
    assert!(warnings[0]
        .2
        .starts_with("(node:2314) UnhandledPromiseRejectionWarning: "));
    assert!(warnings[0].2.contains("\n    at "));
    assert!(warnings[0].2.contains("[DEP0018] DeprecationWarning"));
    assert!(warnings.last().unwrap().0 < START + 180 * SECOND);

    let crash = evs
        .iter()
        .position(|e| e.2.starts_with("node:internal/process/promises:"))
        .unwrap();
    assert_eq!(evs[crash].0, START + 100 * SECOND);
    assert!(evs[crash].2.ends_with("\nNode.js v18.19.0\n"));
    let after: String = evs[crash..].iter().map(|e| e.2.as_str()).collect();
    let exited = after.find("status=1/FAILURE").unwrap();
    let listening = after.find("users listening").unwrap();
    assert!(exited < listening);
}

#[test]
fn leak_grows_the_heap_floor_up_to_an_oom_crash() {
    let evs = events(
        config(11, vec![incident(IncidentKind::Leak, 60, 600)]),
        720 * SECOND,
    );
    let heap = |text: &str| -> f64 {
        let v: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        v["heapUsed"].as_f64().unwrap() / (1 << 20) as f64
    };
    let gauges: Vec<(Nanos, f64)> = evs
        .iter()
        .filter(|e| e.1 == USERS && e.2.contains("\"heapUsed\""))
        .map(|e| (e.0, heap(&e.2)))
        .collect();
    let oom = START + 660 * SECOND;
    let before: Vec<f64> = gauges
        .iter()
        .filter(|g| g.0 < START + 60 * SECOND)
        .map(|g| g.1)
        .collect();
    let late: Vec<f64> = gauges
        .iter()
        .filter(|g| (oom - 60 * SECOND..oom).contains(&g.0))
        .map(|g| g.1)
        .collect();
    let after: Vec<f64> = gauges
        .iter()
        .filter(|g| g.0 > oom + 2 * SECOND)
        .map(|g| g.1)
        .collect();
    assert!(before.iter().all(|&mb| mb < 150.0), "{before:?}");
    assert!(late.iter().all(|&mb| mb > 1500.0), "{late:?}");
    assert!(
        !after.is_empty() && after.iter().all(|&mb| mb < 150.0),
        "{after:?}"
    );

    let gc = Regex::new(r"^\[\d+:0x[0-9a-f]+\] +\d+ ms: (Scavenge|Mark-sweep) [\d.]+ \([\d.]+\) -> [\d.]+ \([\d.]+\) MB, [\d.]+ / 0\.0 ms  \(average mu = [\d.]+, current mu = [\d.]+\) allocation failure; ").unwrap();
    let gcs: Vec<_> = evs.iter().filter(|e| e.2.starts_with('[')).collect();
    assert!(gcs.len() > 20);
    assert!(gcs
        .iter()
        .all(|e| gc.is_match(&e.2) && e.0 >= START + 60 * SECOND));

    let crash = evs.iter().find(|e| e.2.contains("FATAL ERROR")).unwrap();
    assert_eq!(crash.0, oom);
    assert!(crash.2.starts_with("\n<--- Last few GCs --->\n"));
    assert!(crash.2.contains(
        "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n 1: "
    ));
    assert!(evs
        .iter()
        .any(|e| e.2.contains("code=dumped, status=6/ABRT")));
}

#[test]
fn a_real_time_run_stops_soon_after_it_is_asked() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};
    let mut gen = Generator::new(config(3, Vec::new())).unwrap();
    let mut out = StreamSink::new(Vec::new());
    let stop = AtomicBool::new(false);
    let began = Instant::now();
    let stats = std::thread::scope(|s| {
        let run =
            s.spawn(|| run_until(&mut gen, &mut out, Pace::RealTime, Limits::default(), &stop));
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::Relaxed);
        run.join().unwrap().unwrap()
    });
    let took = began.elapsed();
    assert!(took < Duration::from_secs(3), "stopped after {took:?}");
    // Real time: about 0.3 s worth of lines at the configured rate, not a burst.
    assert!(stats.lines > 0);
    assert!(stats.lines < 10_000, "{stats:?}");
}

#[test]
fn a_wall_clock_run_writes_its_past_at_once_then_keeps_to_the_clock() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    let now = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as Nanos
    };
    let began = now();
    let mut gen = Generator::new(GenConfig {
        start: began - 60 * SECOND,
        ..config(3, Vec::new())
    })
    .unwrap();
    let mut out = StreamSink::new(Vec::new());
    let stop = AtomicBool::new(false);
    let stats = std::thread::scope(|s| {
        let run = s.spawn(|| run_until(&mut gen, &mut out, Pace::Wall, Limits::default(), &stop));
        std::thread::sleep(Duration::from_millis(1500));
        stop.store(true, Ordering::Relaxed);
        run.join().unwrap().unwrap()
    });
    let ended = now();
    // The past minute was written in full, and nothing ahead of the clock.
    assert!(stats.last_event >= began, "{stats:?}");
    assert!(stats.last_event <= ended, "{stats:?}");
    // About 61.5 s of events at 100 per second, not a burst beyond the clock.
    assert!(stats.events > 4_000, "{stats:?}");
    assert!(stats.events < 9_000, "{stats:?}");
}
