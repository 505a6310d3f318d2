//! `firewatch analyze` over slices of labelled incident scenarios (tests/data/scenarios).

use serde_json::Value;

use crate::util::{data, firewatch, fresh_dir};

fn analyze_jsonl(path: &std::path::Path) -> Vec<Value> {
    let out = firewatch()
        .args(["analyze", "--format", "jsonl"])
        .arg(path)
        .output()
        .expect("run firewatch analyze");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8 stdout")
        .lines()
        .map(|l| serde_json::from_str(l).expect("every stdout line is a JSON alert"))
        .collect()
}

fn of<'a>(alerts: &'a [Value], kind: &str, service: &str) -> Vec<&'a Value> {
    alerts
        .iter()
        .filter(|a| a["kind"] == kind && a["service"] == service)
        .collect()
}

#[test]
fn analyze_finds_rejections_grouped_and_stays_silent_on_mentions() {
    let alerts = analyze_jsonl(&data("scenarios"));

    // Node 12 under pm2: two occurrences of one rejection, with the follow-up and DEP0018
    // lines, are one alert counting two.
    let mailer = of(&alerts, "unhandled_rejection", "mailer");
    assert_eq!(mailer.len(), 1, "{mailer:#?}");
    assert_eq!(mailer[0]["detected_at"], "2026-11-17T14:29:18.000000000Z");
    assert_eq!(mailer[0]["count"], 2);
    assert_eq!(mailer[0]["last_seen"], "2026-11-17T14:33:56.000000000Z");

    // Node 18 crash on a string reason, and its return 2.5 h later: same fingerprint.
    let payments: Vec<&Value> = alerts
        .iter()
        .filter(|a| {
            a["kind"] == "unhandled_rejection"
                && a["title"]
                    .as_str()
                    .unwrap_or("")
                    .contains("fraud screening timed out")
        })
        .collect();
    assert_eq!(payments.len(), 2, "{payments:#?}");
    assert_eq!(payments[0]["fingerprint"], payments[1]["fingerprint"]);
    // The service is the file's stem, not the syslog program name (`node`).
    assert!(
        payments.iter().all(|a| a["service"] == "payments"),
        "{payments:#?}"
    );

    // Node 14 behind `docker logs --timestamps`: a handled error's stack shows the prefix to be
    // docker's; the rejections 50 minutes later must still be separate events, grouped as one.
    let checkout = of(&alerts, "unhandled_rejection", "checkout");
    assert_eq!(checkout.len(), 1, "{checkout:#?}");
    assert_eq!(checkout[0]["detected_at"], "2026-11-16T13:51:16.821157225Z");
    assert_eq!(checkout[0]["count"], 2);

    // winston's rejection handler, logged as JSON.
    assert_eq!(of(&alerts, "unhandled_rejection", "auth").len(), 1);

    // Node's fatal heap error is an OOM.
    assert_eq!(of(&alerts, "oom", "inventory").len(), 1);

    // Handler installed, retries, issuer rejections, health counters: nothing.
    assert!(
        alerts.iter().all(|a| a["service"] != "orders"),
        "{alerts:#?}"
    );
    for a in &alerts {
        for field in [
            "kind",
            "service",
            "fingerprint",
            "detected_at",
            "first_seen",
            "last_seen",
            "severity",
            "title",
        ] {
            assert!(a[field].is_string(), "{field} missing in {a}");
        }
        assert!(a["evidence"].is_array());
    }
}

#[test]
fn analyze_renders_a_text_summary() {
    let out = firewatch()
        .args(["analyze", "--format", "text"])
        .arg(data("scenarios/payments.log"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("unhandled_rejection"), "{text}");
    assert!(text.contains("  | "), "{text}");
    assert!(text.contains("2 alert(s) from"), "{text}");
}

#[test]
fn analyze_fails_clearly_without_readable_input() {
    let dir = fresh_dir();
    let out = firewatch()
        .args(["analyze", "--format", "jsonl"])
        .arg(dir.path().join("missing.log"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no readable input"));
}
