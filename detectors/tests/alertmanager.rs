//! Delivery to a real Prometheus Alertmanager: alerts appear with the right labels, then resolve.
//! Needs the `prometheus-alertmanager` binary (Debian package of the same name, or
//! `ALERTMANAGER_BIN`); without it the test says so and passes without running, unless
//! `FIREWATCH_REQUIRE_ALERTMANAGER` is set (as `.ci/run` does).

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use firewatch_detectors::{AlertState, Alerting, Destination};
use serde_json::Value;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ALERTMANAGER_BIN") {
        return Some(p.into());
    }
    [
        "/usr/bin/prometheus-alertmanager",
        "/usr/local/bin/alertmanager",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

const CONFIG: &str =
    "route:\n  receiver: blackhole\n  group_wait: 1s\nreceivers:\n  - name: blackhole\n";

async fn alerts(client: &reqwest::Client, base: &str) -> Vec<Value> {
    let got = client.get(format!("{base}/api/v2/alerts")).send().await;
    match got {
        Ok(r) => r.json::<Vec<Value>>().await.unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_appear_in_alertmanager_and_resolve() {
    let Some(bin) = binary() else {
        // `.ci/run` installs it and sets this, so CI cannot pass without running the test.
        if std::env::var_os("FIREWATCH_REQUIRE_ALERTMANAGER").is_some() {
            panic!(
                "prometheus-alertmanager not installed (apt-get install prometheus-alertmanager)"
            );
        }
        eprintln!("SKIPPED: prometheus-alertmanager not installed (apt-get install prometheus-alertmanager)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("am.yml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _am = Running(
        Command::new(bin)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("am").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start alertmanager"),
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let ready = {
        let mut ok = false;
        for _ in 0..100 {
            if let Ok(r) = client.get(format!("{base}/-/ready")).send().await {
                if r.status().is_success() {
                    ok = true;
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        ok
    };
    assert!(ready, "alertmanager did not become ready on {base}");

    let state = tempfile::tempdir().unwrap();
    let alerting = Alerting::start(fast_config(
        state.path(),
        vec![Destination::alertmanager(&base)],
    ))
    .unwrap();
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let minute = 60_000_000_000;
    alerting.sender().send(vec![
        alert(
            "checkout",
            AlertState::Firing,
            now - 2 * minute,
            now - minute,
        ),
        alert(
            "billing",
            AlertState::Firing,
            now - 2 * minute,
            now - minute,
        ),
    ]);

    let mut seen = Vec::new();
    for _ in 0..100 {
        seen = alerts(&client, &base).await;
        if seen.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
    let checkout = seen
        .iter()
        .find(|a| a["labels"]["service"] == "checkout")
        .expect("checkout alert");
    assert_eq!(checkout["labels"]["alertname"], "UnhandledRejection");
    assert_eq!(checkout["labels"]["kind"], "unhandled_rejection");
    assert_eq!(checkout["labels"]["severity"], "critical");
    assert_eq!(checkout["labels"]["fingerprint"], "fp-checkout");
    assert_eq!(
        checkout["annotations"]["summary"],
        "unhandled rejection in checkout"
    );
    assert_eq!(checkout["annotations"]["evidence"], "Error: boom");
    assert_eq!(checkout["status"]["state"], "active");
    assert_eq!(
        checkout["generatorURL"],
        "http://127.0.0.1:7600/api/v1/alerts"
    );

    alerting.sender().send(vec![alert(
        "checkout",
        AlertState::Resolved,
        now - 2 * minute,
        now,
    )]);
    let mut left = seen;
    for _ in 0..100 {
        left = alerts(&client, &base).await;
        if left.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left.len(), 1, "checkout resolved: {left:?}");
    assert_eq!(left[0]["labels"]["service"], "billing");
    alerting.shutdown(Duration::from_secs(1)).await;
}
