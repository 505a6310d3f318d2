use super::*;
use crate::testutil::{rec, secs, T0};
use firewatch_ingest::{Level, LogRecord};

/// `per_minute` events per minute for `minutes`, of which the share `ratio` are errors,
/// spread evenly; errors are placed deterministically.
fn traffic(start_min: f64, minutes: usize, per_minute: usize, ratio: f64) -> Vec<LogRecord> {
    let mut out = Vec::new();
    let mut owed = 0.0;
    for m in 0..minutes {
        for i in 0..per_minute {
            let t = T0 + secs((start_min + m as f64) * 60.0 + i as f64 * 60.0 / per_minute as f64);
            let mut r = rec(t, "GET /api 200");
            owed += ratio;
            if owed >= 1.0 {
                owed -= 1.0;
                r.level = Level::Error;
                r.message = "request failed".into();
            }
            out.push(r);
        }
    }
    out
}

fn spikes(records: &[LogRecord]) -> Vec<Alert> {
    let mut d = SpikeDetector::new(EngineConfig::default());
    let mut out = Vec::new();
    for r in records {
        let ev = Event {
            rec: r,
            service: "svc",
            time: r.timestamp,
            status: None,
            error: r.level >= Level::Error,
        };
        d.observe(&ev, &mut out);
    }
    out
}

#[test]
fn abrupt_jump_alerts_within_two_minutes_and_resolves() {
    let mut records = traffic(0.0, 60, 100, 0.01);
    records.extend(traffic(60.0, 8, 100, 0.2));
    records.extend(traffic(68.0, 20, 100, 0.01));
    let alerts = spikes(&records);
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    assert_eq!(alerts[0].state, AlertState::Firing);
    let delay = alerts[0].detected_at - (T0 + secs(3600.0));
    assert!(delay > 0 && delay < 2 * MINUTE, "{delay}");
    assert_eq!(alerts[1].state, AlertState::Resolved);
    assert_eq!(alerts[1].fingerprint, alerts[0].fingerprint);
}

#[test]
fn creeping_ramp_alerts_before_ten_percent() {
    let mut records = traffic(0.0, 60, 100, 0.01);
    // 1 % → 12 % over an hour.
    for m in 0..60 {
        records.extend(traffic(
            60.0 + m as f64,
            1,
            100,
            0.01 + 0.11 * m as f64 / 60.0,
        ));
    }
    let alerts = spikes(&records);
    assert!(!alerts.is_empty());
    let ratio = alerts[0].details["ratio"].as_f64().unwrap();
    assert!(ratio < 0.1, "{ratio}");
}

#[test]
fn traffic_surge_at_same_ratio_low_traffic_and_isolated_errors_are_silent() {
    let mut records = traffic(0.0, 60, 100, 0.01);
    records.extend(traffic(60.0, 40, 500, 0.01));
    records.extend(traffic(100.0, 30, 100, 0.01));
    assert!(spikes(&records).is_empty());
    // Two requests a minute, one of them failing now and then.
    let low = traffic(0.0, 120, 2, 0.1);
    assert!(spikes(&low).is_empty());
}

#[test]
fn an_error_logged_twice_at_the_same_time_counts_once() {
    let mut records = traffic(0.0, 30, 20, 0.0);
    let t = T0 + secs(31.0 * 60.0);
    for i in 0..6 {
        for _ in 0..2 {
            let mut r = rec(t + secs(i as f64 * 5.0), "request failed");
            r.level = Level::Error;
            records.push(r);
        }
    }
    // Six failures among few events would be a spike if each counted twice (12 ≥ 8).
    assert!(spikes(&records).is_empty());
}
