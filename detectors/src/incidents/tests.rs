use super::*;
use crate::testutil::{rec, secs, T0};
use firewatch_ingest::LogRecord;

fn run(records: &[LogRecord]) -> Vec<Alert> {
    let mut engine = crate::Engine::default();
    let mut out = Vec::new();
    for r in records {
        out.extend(engine.observe(r));
    }
    if let Some(last) = records.last() {
        out.extend(engine.finish(last.timestamp));
    }
    for a in &mut out {
        engine.refresh(a);
    }
    out
}

fn warning(t: f64, sku: &str) -> LogRecord {
    rec(
        T0 + secs(t),
        &format!("(node:24) UnhandledPromiseRejectionWarning: Error: reservation failed for sku={sku} (409 Conflict)\n    at InventoryClient.reserve (/usr/src/app/src/clients/inventory.js:57:13)"),
    )
}

#[test]
fn repeats_group_under_one_fingerprint_and_count() {
    let mut records = vec![warning(0.0, "JKT-1-L"), warning(30.0, "HAT-22-S")];
    records.push(rec(T0 + secs(30.1), "(node:24) UnhandledPromiseRejectionWarning: Unhandled promise rejection. This error originated either by throwing (rejection id: 2)"));
    records.push(rec(
        T0 + secs(60.0),
        "(node:24) UnhandledPromiseRejectionWarning: TypeError: Cannot read property 'price' of undefined\n    at PricingService.apply (/usr/src/app/src/services/pricing.js:85:28)",
    ));
    records.push(warning(90.0, "BAG-333-M"));
    let alerts = run(&records);
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    assert_eq!(alerts[0].count, 3);
    assert_eq!(alerts[0].last_seen, T0 + secs(90.0));
    assert_eq!(alerts[0].detected_at, T0);
    assert_eq!(alerts[0].service, "svc");
    assert_ne!(alerts[0].fingerprint, alerts[1].fingerprint);
    assert_eq!(alerts[1].count, 1);
}

#[test]
fn returning_after_a_quiet_period_alerts_again_with_the_same_fingerprint() {
    let alerts = run(&[warning(0.0, "A-1"), warning(3.0 * 3600.0, "B-2")]);
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[0].fingerprint, alerts[1].fingerprint);
    assert_eq!(alerts[1].details["regression"], true);
}

#[test]
fn node18_banner_line_by_line_takes_its_reason_from_later_records() {
    let lines = [
        "node:internal/process/promises:288",
        "            triggerUncaughtException(err, true /* fromPromise */);",
        "            ^",
        "",
        "[UnhandledPromiseRejection: This error originated either by throwing inside of an async function without a catch block, or by rejecting a promise which was not handled with .catch(). The promise rejected with the reason \"fraud screening timed out after 8000ms\".] {",
        "  code: 'ERR_UNHANDLED_REJECTION'",
        "}",
    ];
    let records: Vec<_> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| rec(T0 + i as Nanos, l))
        .collect();
    let alerts = run(&records);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].kind, AlertKind::UnhandledRejection);
    assert!(
        alerts[0]
            .title
            .contains("fraud screening timed out after #"),
        "{}",
        alerts[0].title
    );
    // The same crash as one multiline record has the same fingerprint.
    let joined = run(&[rec(T0, &lines.join("\n"))]);
    assert_eq!(joined[0].fingerprint, alerts[0].fingerprint);
}

#[test]
fn banner_without_a_reason_is_reported_at_end_of_input() {
    let alerts = run(&[rec(
        T0,
        "    triggerUncaughtException(err, true /* fromPromise */);",
    )]);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].detected_at, T0);
}

#[test]
fn timeouts_alert_only_as_a_burst() {
    let few: Vec<_> = (0..5)
        .map(|i| {
            rec(
                T0 + secs(i as f64 * 20.0),
                "Error: connect ETIMEDOUT 10.0.0.1:443",
            )
        })
        .collect();
    assert!(run(&few).is_empty());
    let burst: Vec<_> = (0..12)
        .map(|i| rec(T0 + secs(i as f64), "Error: connect ETIMEDOUT 10.0.0.1:443"))
        .collect();
    let alerts = run(&burst);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, AlertKind::TimeoutStorm);
    assert_eq!(alerts[0].detected_at, T0 + secs(9.0));
}

#[test]
fn services_are_separate() {
    let mut a = warning(0.0, "A-1");
    a.service = "one".into();
    let mut b = warning(1.0, "A-1");
    b.service = "two".into();
    let alerts = run(&[a, b]);
    assert_eq!(alerts.len(), 2);
    assert_ne!(alerts[0].fingerprint, alerts[1].fingerprint);
}
