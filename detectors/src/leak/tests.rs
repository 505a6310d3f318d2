use super::*;
use crate::testutil::{rec, secs, T0};
use firewatch_ingest::LogRecord;
use serde_json::json;

const MB: f64 = 1024.0 * 1024.0;

/// A heap sample every 30 s following `floor(minute)` plus a sawtooth of 40 MB per 4 minutes.
fn heap(minutes: usize, floor: impl Fn(f64) -> f64) -> Vec<LogRecord> {
    (0..minutes * 2)
        .map(|i| {
            let m = i as f64 / 2.0;
            let saw = (i % 8) as f64 * 5.0;
            let mut r = rec(T0 + secs(m * 60.0), "process.memoryUsage");
            r.fields
                .insert("heapUsed".into(), json!(((floor(m) + saw) * MB).round()));
            r
        })
        .collect()
}

fn leaks(records: &[LogRecord]) -> Vec<Alert> {
    let mut engine = crate::Engine::default();
    records.iter().flat_map(|r| engine.observe(r)).collect()
}

#[test]
fn steady_floor_growth_alerts_early_with_projection() {
    let mut records = vec![{
        let mut r = rec(T0, "starting");
        r.fields.insert("maxOldSpaceSize".into(), json!(512));
        r
    }];
    // Flat for 50 minutes, then +2 MB/min until the 512 MB limit (~250 min later).
    records.extend(heap(300, |m| {
        if m < 50.0 {
            100.0
        } else {
            100.0 + 2.0 * (m - 50.0)
        }
    }));
    let alerts = leaks(&records);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a.kind, AlertKind::LeakGrowth);
    let onset = T0 + secs(50.0 * 60.0);
    let crash = T0 + secs(256.0 * 60.0);
    let lead = (crash - a.detected_at) as f64 / (crash - onset) as f64;
    assert!(lead > 0.5, "lead {lead}");
    assert!(a.details.contains_key("exhaustion_at"));
    assert_eq!(a.details["limit"], json!((512.0 * MB).round()));
}

#[test]
fn warm_up_that_plateaus_stable_sawtooth_and_restart_are_not_leaks() {
    let warm = heap(300, |m| 80.0 + 350.0 * (1.0 - (-m / 10.0).exp()));
    assert!(leaks(&warm).is_empty());
    let flat = heap(300, |_| 200.0);
    assert!(leaks(&flat).is_empty());
}

#[test]
fn trend_test_needs_persistent_significant_growth() {
    let c = LeakConfig::default();
    let linear: Vec<f64> = (0..24).map(|i| 100.0 + 3.0 * i as f64).collect();
    assert!(leak_trend(&linear, &c).is_some());
    let plateau: Vec<f64> = (0..24).map(|i| 100.0 + 10.0 * (i.min(10) as f64)).collect();
    assert!(leak_trend(&plateau, &c).is_none());
    let short: Vec<f64> = (0..6).map(|i| 100.0 + 3.0 * i as f64).collect();
    assert!(leak_trend(&short, &c).is_none());
    let tiny: Vec<f64> = (0..24).map(|i| 1000.0 + 0.1 * i as f64).collect();
    assert!(leak_trend(&tiny, &c).is_none());
}

#[test]
fn counters_are_not_gauges() {
    let records: Vec<_> = (0..600)
        .map(|i| {
            let mut r = rec(T0 + secs(i as f64 * 30.0), "stats");
            r.fields.insert("requests_total".into(), json!(i * 100));
            r.fields.insert("uptime_s".into(), json!(i * 30));
            r
        })
        .collect();
    assert!(leaks(&records).is_empty());
}

#[test]
fn gc_log_floor_growth_is_seen() {
    let records: Vec<_> = (0..400)
        .map(|i| {
            let m = i as f64 / 2.0;
            let after = 70.0 + 3.0 * m;
            rec(
                T0 + secs(m * 60.0),
                &format!("[18:0x1] {i} ms: Mark-Compact {:.1} (300.0) -> {after:.1} (300.0) MB, 10.0 / 0.00 ms", after + 40.0),
            )
        })
        .collect();
    let alerts = leaks(&records);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].details["gauge"], "gc_heap_after");
}

/// Requests logged at `per_minute(minute)` a minute over `minutes`, in time order with `gauges`.
fn with_load(
    mut gauges: Vec<LogRecord>,
    minutes: usize,
    per_minute: impl Fn(f64) -> f64,
) -> Vec<LogRecord> {
    for m in 0..minutes {
        let n = per_minute(m as f64).round() as usize;
        for i in 0..n {
            let t = T0 + secs(m as f64 * 60.0 + i as f64 * 60.0 / n as f64 + 0.1);
            gauges.push(rec(t, "GET /api/items 200"));
        }
    }
    gauges.sort_by_key(|r| r.timestamp);
    gauges
}

#[test]
fn a_gauge_that_grows_with_the_load_is_not_a_leak() {
    // From 100 to 250 MB over three hours while requests triple: sessions, not a leak.
    let floor = |m: f64| 100.0 + 150.0 * (m / 180.0).min(1.0);
    let load = |m: f64| 20.0 + 40.0 * (m / 180.0).min(1.0);
    assert_eq!(leaks(&with_load(heap(180, floor), 180, load)), vec![]);
    // The same growth under a flat load is one.
    let alerts = leaks(&with_load(heap(180, floor), 180, |_| 20.0));
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].kind, AlertKind::LeakGrowth);
}
