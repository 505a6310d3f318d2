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
            service: if r.service.is_empty() {
                "svc"
            } else {
                &r.service
            },
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
fn a_log_that_starts_at_a_high_ratio_is_no_spike_but_a_jump_early_on_is() {
    // 15% errors from the first minute on: nothing rose.
    assert!(spikes(&traffic(0.0, 60, 15, 0.15)).is_empty());
    assert!(spikes(&traffic(0.0, 60, 100, 0.07)).is_empty());
    // Clean for six minutes, then 30%: a spike before the first block is history.
    let mut records = traffic(0.0, 6, 100, 0.0);
    records.extend(traffic(6.0, 4, 100, 0.3));
    let alerts = spikes(&records);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert!(alerts[0].detected_at < T0 + 8 * MINUTE);
}

#[test]
fn a_ratio_that_stays_up_for_hours_becomes_the_normal_one() {
    let mut records = traffic(0.0, 60, 100, 0.01);
    records.extend(traffic(60.0, 300, 100, 0.12));
    let alerts = spikes(&records);
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    assert_eq!(alerts[0].state, AlertState::Firing);
    assert_eq!(alerts[1].state, AlertState::Resolved);
    assert!(alerts[1].detected_at < T0 + 300 * MINUTE);
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

/// An hour at 1 %, then `burst` (seconds) of 60 % errors at 100 events a minute from minute 60,
/// then 1 % again, with one stray error a minute after the burst.
fn burst(seconds: f64, deploy: bool) -> Vec<LogRecord> {
    let mut records = traffic(0.0, 60, 100, 0.01);
    if deploy {
        records.push(rec(T0 + secs(3595.0), "Netty started on port 8080"));
    }
    let start = T0 + secs(3600.0);
    let n = (seconds * 100.0 / 60.0) as usize;
    for i in 0..n {
        let mut r = rec(start + secs(i as f64 * 0.6), "GET /api 200");
        if i % 5 < 3 {
            r.level = Level::Error;
            r.message = "request failed".into();
        }
        records.push(r);
    }
    let after = 60.0 + seconds / 60.0;
    records.extend(traffic(after, 20, 100, 0.0));
    let mut stray = rec(start + secs(seconds + 60.0), "request failed");
    stray.level = Level::Error;
    records.push(stray);
    records.sort_by_key(|r| r.timestamp);
    records
}

#[test]
fn a_burst_that_is_over_does_not_alert_late() {
    // Eleven failures in six seconds late in minute 60: too few for its window. Half a minute
    // into minute 61 the window holds fewer events, and one stray error tips it, though the
    // burst is over.
    let mut records = traffic(0.0, 60, 100, 0.01);
    records.extend(traffic(60.0, 2, 100, 0.0));
    for i in 0..11 {
        let mut r = rec(T0 + secs(3650.0 + f64::from(i) * 0.5), "request failed");
        r.level = Level::Error;
        records.push(r);
    }
    let mut stray = rec(T0 + secs(3690.0), "request failed");
    stray.level = Level::Error;
    records.push(stray);
    records.sort_by_key(|r| r.timestamp);
    let alerts = spikes(&records);
    assert!(alerts.is_empty(), "{alerts:#?}");
    // While it goes on, a burst alerts.
    let alerts = spikes(&burst(40.0, false));
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    assert!(alerts[0].detected_at < T0 + secs(3640.0));
}

#[test]
fn a_deploys_blip_is_held_and_a_bad_deploy_is_not() {
    // Half a minute of failures right after the service started: the rollout's own.
    assert!(spikes(&burst(30.0, true)).is_empty());
    // Failures that go on past the hold are a spike, reported once they have lasted it.
    let alerts = spikes(&burst(120.0, true));
    assert_eq!(alerts[0].state, AlertState::Firing);
    let at = alerts[0].detected_at;
    assert!(at >= T0 + secs(3645.0) && at < T0 + secs(3700.0), "{at}");
}

#[test]
fn a_proxys_blip_while_a_service_behind_it_restarts_is_held() {
    // The proxy in front of a service that restarts fails requests for half a minute.
    let requests = |restart: bool| {
        let mut records = burst(30.0, false);
        for r in &mut records {
            let status = if r.level == Level::Error { 503 } else { 200 };
            r.level = Level::Info;
            r.message = format!("\"GET /api HTTP/1.1\" {status} 12");
        }
        if restart {
            let mut shutdown = rec(
                T0 + secs(3598.0),
                "Commencing graceful shutdown. Waiting for active requests to complete",
            );
            shutdown.service = "billing".into();
            records.push(shutdown);
        }
        records.sort_by_key(|r| r.timestamp);
        let mut d = SpikeDetector::new(EngineConfig::default());
        let mut out = Vec::new();
        for r in &records {
            let status = crate::status::http_status(r);
            let service = if r.service.is_empty() {
                "edge"
            } else {
                &r.service
            };
            let ev = Event {
                rec: r,
                service,
                time: r.timestamp,
                status,
                error: status.is_some_and(|s| s >= 500),
            };
            d.observe(&ev, &mut out);
        }
        out
    };
    assert_eq!(requests(true), vec![]);
    // Without the restart, the same blip alerts; and a service that logs no requests (a
    // client of the one restarting) is not held by another's restart.
    assert!(!requests(false).is_empty());
    let mut records = burst(30.0, false);
    let mut shutdown = rec(T0 + secs(3598.0), "Commencing graceful shutdown");
    shutdown.service = "billing".into();
    records.push(shutdown);
    records.sort_by_key(|r| r.timestamp);
    assert!(spikes(&records).iter().any(|a| a.service == "svc"));
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

/// `spikes`, with each record's HTTP status as the engine reads it.
fn spikes_of_requests(records: &[LogRecord]) -> Vec<Alert> {
    let mut d = SpikeDetector::new(EngineConfig::default());
    let mut out = Vec::new();
    for r in records {
        let status = crate::status::http_status(r);
        let ev = Event {
            rec: r,
            service: "edge",
            time: r.timestamp,
            status,
            error: r.level >= Level::Error || status.is_some_and(|s| s >= 500),
        };
        d.observe(&ev, &mut out);
    }
    out
}

/// An access log: `per_minute` requests a minute, every `fail_every`-th answered 502, and
/// `noise` error-level lines a minute that are no request (nginx's own error log).
fn requests(
    start_min: f64,
    minutes: usize,
    per_minute: usize,
    fail_every: usize,
    noise: usize,
) -> Vec<LogRecord> {
    let mut out = Vec::new();
    for m in 0..minutes {
        for i in 0..per_minute {
            let t = T0 + secs((start_min + m as f64) * 60.0 + i as f64 * 60.0 / per_minute as f64);
            let status = if (m * per_minute + i) % fail_every == 0 {
                502
            } else {
                200
            };
            let mut r = rec(t, "GET /");
            r.fields = serde_json::json!({"http": {"status": status}})
                .as_object()
                .unwrap()
                .clone();
            out.push(r);
        }
        for i in 0..noise {
            let t = T0 + secs((start_min + m as f64) * 60.0 + i as f64 + 0.5);
            let mut r = rec(t, "access forbidden by rule");
            r.level = Level::Error;
            out.push(r);
        }
    }
    out
}

#[test]
fn a_service_that_logs_requests_has_a_ratio_of_requests() {
    // A scanner's denials logged at error level, 30 a minute for 5 minutes: no spike.
    let mut records = requests(0.0, 60, 200, 200, 0);
    records.extend(requests(60.0, 5, 200, 200, 30));
    records.extend(requests(65.0, 20, 200, 200, 0));
    assert_eq!(spikes_of_requests(&records), vec![]);
    // One request in five answered 502: a spike, counted in requests.
    let mut records = requests(0.0, 60, 200, 200, 0);
    records.extend(requests(60.0, 5, 200, 5, 0));
    let alerts = spikes_of_requests(&records);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let ratio = alerts[0].details["ratio"].as_f64().unwrap();
    // Fired within the first minute of it, its window half the minute before.
    assert!((0.05..0.25).contains(&ratio), "{ratio}");
    assert!(alerts[0].detected_at < T0 + secs(61.0 * 60.0));
}
