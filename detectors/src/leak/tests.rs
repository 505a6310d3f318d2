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

/// [`heap`] samples that also carry `field`, following `value(minute)`.
fn heap_with(
    floor: impl Fn(f64) -> f64,
    field: &str,
    value: impl Fn(f64) -> f64,
) -> Vec<LogRecord> {
    let mut records = heap(180, floor);
    for (i, r) in records.iter_mut().enumerate() {
        r.fields
            .insert(field.into(), json!(value(i as f64 / 2.0).round()));
    }
    records
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

#[test]
fn memory_that_grows_with_the_sessions_a_service_reports_is_not_a_leak() {
    // Stats every 30 s, whatever the load: only `sessions` tells the morning's users.
    let floor = |m: f64| 100.0 + 150.0 * (m / 180.0).min(1.0);
    let with_sessions = |sessions: fn(f64) -> f64| heap_with(floor, "sessions", sessions);
    assert_eq!(
        leaks(&with_sessions(|m| 1000.0 + 9000.0 * m / 180.0)),
        vec![]
    );
    let alerts = leaks(&with_sessions(|_| 1000.0));
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    // A slow morning: memory and sessions both up by about a sixth over the window.
    let slow = |m: f64| 100.0 + 40.0 * m / 180.0;
    assert_eq!(
        leaks(&heap_with(slow, "sessions", |m| 10.0 * (100.0 + 40.0 * m / 180.0))),
        vec![]
    );
    assert_eq!(leaks(&heap_with(slow, "sessions", |_| 1000.0)).len(), 1);
}

#[test]
fn a_cache_filling_to_its_stated_capacity_is_not_a_leak() {
    let floor = |m: f64| 100.0 + 150.0 * (m / 180.0).min(1.0);
    let with_entries = |entries: fn(f64) -> f64, capacity: f64| {
        let mut records = heap_with(floor, "entries", entries);
        for r in &mut records {
            r.fields.insert("capacity".into(), json!(capacity));
        }
        records
    };
    let filling = |m: f64| 10_000.0 + 1_000_000.0 * m / 180.0;
    assert_eq!(leaks(&with_entries(filling, 2_000_000.0)), vec![]);
    // Memory that grows while the cache stays the same size is a leak.
    assert_eq!(leaks(&with_entries(|_| 500_000.0, 2_000_000.0)).len(), 1);
    // So is a cache past what it says it holds.
    assert_eq!(leaks(&with_entries(filling, 1_000.0)).len(), 1);
    // A cache that writes its stats as text (Rust's env_logger, `entries=… capacity=…`).
    let text: Vec<LogRecord> = (0..360)
        .map(|i| {
            let m = i as f64 / 2.0;
            let message = format!(
                "entries={} capacity=2000000 rss_mb={:.1}",
                filling(m).round(),
                floor(m)
            );
            rec(T0 + secs(m * 60.0), &message)
        })
        .collect();
    assert_eq!(leaks(&text), vec![]);
}

#[test]
fn memory_that_holds_a_growing_backlog_is_not_a_leak() {
    let floor = |m: f64| 100.0 + 60.0 * (m / 180.0).min(1.0);
    let with_backlog = |backlog: fn(f64) -> f64| heap_with(floor, "backlog", backlog);
    // The backlog itself grows without bound: that is the one alert, not the memory.
    let alerts = leaks(&with_backlog(|m| 200.0 + 500.0 * m));
    assert!(
        alerts
            .iter()
            .all(|a| a.details["gauge"] == json!("backlog")),
        "{alerts:#?}"
    );
    let alerts = leaks(&with_backlog(|_| 200.0));
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].details["gauge"], json!("heapUsed"));
}

#[test]
fn growth_while_an_announced_task_runs_is_not_a_leak() {
    // Two hours of steady growth while a backfill runs, then it ends and memory drops back.
    let floor = |m: f64| if m < 150.0 { 100.0 + m * 1.5 } else { 100.0 };
    let announced = |starts: &[f64]| {
        let mut records = heap(200, floor);
        for m in starts {
            records.push(rec(
                T0 + secs(m * 60.0),
                "backfill started job=orders-2025q3",
            ));
        }
        records.push(rec(
            T0 + secs(150.0 * 60.0),
            "backfill finished job=orders-2025q3",
        ));
        records.sort_by_key(|r| r.timestamp);
        leaks(&records)
    };
    assert_eq!(announced(&[1.0]), vec![]);
    // Or stays up after it (what the task took is kept), flat.
    let kept = |m: f64| 100.0 + m.min(150.0) * 1.5;
    let mut records = heap(300, kept);
    records.push(rec(T0 + secs(60.0), "backfill started job=orders-2025q3"));
    records.push(rec(
        T0 + secs(150.0 * 60.0),
        "backfill finished job=orders-2025q3",
    ));
    records.sort_by_key(|r| r.timestamp);
    assert_eq!(leaks(&records), vec![]);
    // Growth that goes on after the task is a leak.
    let mut records = heap(300, |m| 100.0 + m * 1.5);
    records.push(rec(T0 + secs(60.0), "backfill started job=orders-2025q3"));
    records.push(rec(
        T0 + secs(150.0 * 60.0),
        "backfill finished job=orders-2025q3",
    ));
    records.sort_by_key(|r| r.timestamp);
    let alerts = leaks(&records);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert!(alerts[0].detected_at > T0 + secs(210.0 * 60.0));
    // Unannounced, the same growth is a leak.
    assert_eq!(leaks(&heap(200, floor)).len(), 1);
    // A service starting tasks all the time gets no excuse.
    let often: Vec<f64> = (0..150).map(f64::from).collect();
    assert_eq!(announced(&often).len(), 1);
    // Nor is its trend cut at each of its tasks' ends: a worker exporting every few minutes
    // while its memory leaks.
    let mut records = heap(200, |m| 100.0 + m * 1.5);
    for m in (0..200).step_by(3) {
        let start = T0 + secs(f64::from(m) * 60.0);
        records.push(rec(start, "export exp_c941b2 started format=csv"));
        records.push(rec(
            start + secs(60.0),
            "export exp_c941b2 finished rows=120",
        ));
    }
    records.sort_by_key(|r| r.timestamp);
    assert_eq!(leaks(&records).len(), 1);
}

#[test]
fn a_task_line_names_its_task_and_whether_it_started_or_ended() {
    assert_eq!(
        task_line("backfill started job=x"),
        Some(("backfill", true))
    );
    assert_eq!(
        task_line("Schema migration completed in 42s"),
        Some(("migration", false))
    );
    assert_eq!(task_line("job started"), Some(("job", true)));
    assert_eq!(task_line("job finished"), Some(("job", false)));
    assert_eq!(task_line("backfill progress rows=8200"), None);
    assert_eq!(task_line("request started"), None);
}

/// `connections` in use sampled every 30 s following `level(minute)`.
fn pool(minutes: usize, level: impl Fn(f64) -> f64) -> Vec<LogRecord> {
    (0..minutes * 2)
        .map(|i| {
            let m = i as f64 / 2.0;
            let mut r = rec(T0 + secs(m * 60.0), "db pool stats");
            r.fields
                .insert("connections".into(), json!(level(m).round()));
            r
        })
        .collect()
}

#[test]
fn connections_in_use_may_outgrow_the_load() {
    // Requests double over two hours and connections in use go from 5 to 18: near saturation
    // what is in use grows faster than what arrives (arrivals times a growing latency).
    let level = |m: f64| 5.0 + 13.0 * (m / 120.0).min(1.0);
    let load = |m: f64| 20.0 + 20.0 * (m / 120.0).min(1.0);
    assert_eq!(leaks(&with_load(pool(120, level), 120, load)), vec![]);
    // Under a flat load it is a leak.
    assert_eq!(leaks(&with_load(pool(120, level), 120, |_| 20.0)).len(), 1);
    // So is growth far beyond what even a latency growing with the load explains: 5 to 40.
    let steep = |m: f64| 5.0 + 35.0 * (m / 120.0).min(1.0);
    assert_eq!(leaks(&with_load(pool(120, steep), 120, load)).len(), 1);
}

#[test]
fn a_queue_that_drains_was_a_batch_not_a_leak() {
    // A nightly batch: a queue filling for 30 minutes, then draining for 40.
    let queue = |m: f64| {
        if m < 60.0 {
            0.0
        } else if m < 90.0 {
            900.0 * (m - 60.0)
        } else {
            (27_000.0 - 700.0 * (m - 90.0)).max(0.0)
        }
    };
    let stats = |depth: &dyn Fn(f64) -> f64| -> Vec<LogRecord> {
        (0..360)
            .map(|i| {
                let m = i as f64 / 2.0;
                let mut r = rec(T0 + secs(m * 60.0), "queue stats");
                r.fields.insert("queue".into(), json!("statements"));
                r.fields
                    .insert("messages_ready".into(), json!(depth(m).round()));
                r
            })
            .collect()
    };
    let records = stats(&queue);
    assert!(leaks(&records).is_empty(), "{:#?}", leaks(&records));
    // A queue that keeps filling is one.
    let filling = stats(&|m| 300.0 * m);
    assert_eq!(leaks(&filling).len(), 1);
}

#[test]
fn a_queue_filling_while_its_inflow_jumped_is_a_surge() {
    // Flat for an hour, then a queue filling by 1000 a minute: consumers at capacity while
    // the publish rate quadrupled, or (a leak) while it stayed as it was.
    let stats = |publish_after: f64| -> Vec<LogRecord> {
        (0..300)
            .map(|i| {
                let m = i as f64 / 2.0;
                let (depth, publish) = if m < 60.0 {
                    (20.0, 11.0)
                } else {
                    (20.0 + 1000.0 * (m - 60.0), publish_after)
                };
                let line = format!(
                    "amqp queue chat.push: messages={depth} consumers=4 publish_rate={publish}/s deliver_rate=24.0/s"
                );
                rec(T0 + secs(m * 60.0), &line)
            })
            .collect()
    };
    assert_eq!(leaks(&stats(48.0)), vec![]);
    assert_eq!(leaks(&stats(11.0)).len(), 1);
}

#[test]
fn each_instance_has_its_own_series() {
    // Two pods, one leaking 2 MB/min from 200 MB, one flat at 100 MB, samples interleaved:
    // the leak shows on its pod, though the service's lowest value stays flat.
    let mut records = Vec::new();
    for i in 0..240 {
        let m = i as f64;
        for (pod, heap) in [("api-7f4c-a", 200.0 + 2.0 * m), ("api-7f4c-b", 100.0)] {
            let mut r = rec(T0 + secs(m * 60.0), "runtime stats");
            r.fields.insert("pod".into(), json!(pod));
            r.fields.insert("heap_inuse_mb".into(), json!(heap));
            records.push(r);
        }
    }
    let alerts = leaks(&records);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].details["instance"], json!("api-7f4c-a"));
    assert!(
        alerts[0].title.contains("on api-7f4c-a"),
        "{}",
        alerts[0].title
    );
}

#[test]
fn drift_of_an_eighth_over_two_hours_is_no_leak() {
    // A health line every 5 minutes, 150 → 180 MB in three hours (13% over the two-hour
    // window): drift, not a leak anyone would be paged for. Twice that is one.
    let health = |end: f64| -> Vec<LogRecord> {
        (0..36)
            .map(|i| {
                let m = f64::from(i) * 5.0;
                let mut r = rec(T0 + secs(m * 60.0), "process health");
                let heap = 150.0 + (end - 150.0) * (m / 175.0) + if i % 2 == 0 { 2.0 } else { 0.0 };
                r.fields.insert("heapUsedMB".into(), json!(heap));
                r
            })
            .collect()
    };
    assert_eq!(leaks(&health(180.0)), vec![]);
    let alerts = leaks(&health(210.0));
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    // The name's unit: megabytes, not bytes.
    assert!(alerts[0].title.contains(" MB/min"), "{}", alerts[0].title);
    assert!(
        !alerts[0].title.contains("0.0 MB/min"),
        "{}",
        alerts[0].title
    );
}
