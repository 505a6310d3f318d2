//! Webhook delivery through outages, slowness, errors, throttling and restarts.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;
use firewatch_detectors::{AlertState, Alerting, Destination};

const DEPTH: &str = "firewatch_alert_outbox_depth{destination=\"webhook-0\"}";
const SENT: &str = "firewatch_alert_notifications_sent_total{destination=\"webhook-0\"}";
const FAILURES: &str = "firewatch_alert_delivery_failures_total{destination=\"webhook-0\"}";
const RETRIES: &str = "firewatch_alert_delivery_retries_total{destination=\"webhook-0\"}";

fn hook_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/hook")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_alert_arrives_through_down_error_slow_and_throttled_receivers() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let alerting = Alerting::start(fast_config(
        dir.path(),
        vec![Destination::webhook(&hook_url(port))],
    ))
    .unwrap();
    let tx = alerting.sender();

    // Receiver down: alerts fire, resolve, and the caller never waits.
    let start = Instant::now();
    for i in 0..40 {
        assert!(tx.send(vec![alert(&format!("s{i}"), AlertState::Firing, i, i)]));
    }
    for i in 0..10 {
        assert!(tx.send(vec![alert(&format!("s{i}"), AlertState::Resolved, i, 100)]));
    }
    let send_time = start.elapsed();
    assert!(
        send_time < Duration::from_millis(200),
        "send blocked: {send_time:?}"
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = receiver(FAIL);
    let (_, server) = serve(format!("127.0.0.1:{port}").parse().unwrap(), r.clone()).await;
    assert!(
        wait_until(Duration::from_secs(3), || r.got.lock().unwrap().refused
            >= 2)
        .await
    );
    r.set(SLOW);
    tokio::time::sleep(Duration::from_millis(700)).await;
    r.set(THROTTLE);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.posts(), 0, "nothing was accepted yet");
    r.set(OK);

    let expected: BTreeSet<String> = (0..40)
        .map(|i| format!("fp-s{i}-{i:x}-firing"))
        .chain((0..10).map(|i| format!("fp-s{i}-{i:x}-resolved")))
        .collect();
    let all = wait_until(Duration::from_secs(5), || {
        r.keys().into_iter().collect::<BTreeSet<_>>() == expected
    })
    .await;
    assert!(
        all,
        "missing: {:?}",
        expected.difference(&r.keys().into_iter().collect())
    );
    assert!(r.posts() <= 5, "grouped: {} posts", r.posts());
    // The receiver records a request before our side counts and acknowledges it.
    let acked = wait_until(Duration::from_secs(2), || {
        metric(&alerting.metrics(), DEPTH) == 0
    })
    .await;
    let m = alerting.metrics();
    assert!(acked, "{m}");
    assert_eq!(metric(&m, SENT), 50);
    assert!(metric(&m, FAILURES) > 0);
    assert!(metric(&m, RETRIES) > 0);
    alerting.shutdown(Duration::from_secs(1)).await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_services_make_a_handful_of_posts() {
    let dir = tempfile::tempdir().unwrap();
    let r = receiver(OK);
    let (addr, server) = serve("127.0.0.1:0".parse().unwrap(), r.clone()).await;
    let alerting = Alerting::start(fast_config(
        dir.path(),
        vec![Destination::webhook(&hook_url(addr.port()))],
    ))
    .unwrap();
    let tx = alerting.sender();
    for i in 0..500 {
        tx.send(vec![alert(&format!("svc{i}"), AlertState::Firing, 1, 1)]);
    }
    assert!(wait_until(Duration::from_secs(5), || r.keys().len() >= 500).await);
    let posts = r.posts();
    assert!(posts <= 6, "{posts} posts for 500 alerts");
    let keys = r.keys();
    assert_eq!(keys.iter().collect::<BTreeSet<_>>().len(), 500);
    assert!(r
        .got
        .lock()
        .unwrap()
        .posts
        .iter()
        .all(|(k, _)| !k.is_empty()));
    alerting.shutdown(Duration::from_secs(1)).await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overflow_is_bounded_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast_config(
        dir.path(),
        vec![Destination::webhook(&hook_url(free_port()))],
    );
    config.outbox_capacity = 20;
    config.queue = 8;
    let alerting = Alerting::start(config).unwrap();
    let tx = alerting.sender();
    let mut refused = 0;
    for burst in 0..200 {
        let alerts = (0..10)
            .map(|i| alert(&format!("x{burst}-{i}"), AlertState::Firing, 1, 1))
            .collect();
        if !tx.send(alerts) {
            refused += 10;
        }
    }
    let settled = wait_until(Duration::from_secs(20), || {
        let m = alerting.metrics();
        metric(
            &m,
            "firewatch_alert_outbox_dropped_total{destination=\"webhook-0\"}",
        ) + metric(&m, "firewatch_alerts_input_dropped_total")
            + 20
            == 2_000
    })
    .await;
    let m = alerting.metrics();
    assert!(settled, "{m}");
    let files = std::fs::read_dir(dir.path().join("outbox/webhook-0"))
        .unwrap()
        .count();
    assert!((1..=20).contains(&files), "{files} outbox files");
    assert_eq!(metric(&m, "firewatch_alerts_input_dropped_total"), refused);
    assert!(
        metric(
            &m,
            "firewatch_alert_outbox_dropped_total{destination=\"webhook-0\"}"
        ) > 0
    );
    assert_eq!(
        metric(
            &m,
            "firewatch_alert_outbox_depth{destination=\"webhook-0\"}"
        ),
        20
    );
    alerting.shutdown(Duration::ZERO).await;
}

fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{series} missing in {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_delivers_pending_and_does_not_refire() {
    let dir = tempfile::tempdir().unwrap();
    let r = receiver(OK);
    let (addr, server) = serve("127.0.0.1:0".parse().unwrap(), r.clone()).await;
    let url = hook_url(addr.port());

    let alerting =
        Alerting::start(fast_config(dir.path(), vec![Destination::webhook(&url)])).unwrap();
    alerting
        .sender()
        .send(vec![alert("a", AlertState::Firing, 1, 1)]);
    assert!(wait_until(Duration::from_secs(3), || r.keys().len() == 1).await);
    r.set(FAIL);
    alerting
        .sender()
        .send(vec![alert("b", AlertState::Firing, 2, 2)]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    alerting.shutdown(Duration::ZERO).await;
    assert_eq!(r.keys(), ["fp-a-1-firing"]);

    r.set(OK);
    let alerting =
        Alerting::start(fast_config(dir.path(), vec![Destination::webhook(&url)])).unwrap();
    assert!(wait_until(Duration::from_secs(3), || r.keys().len() == 2).await);
    // The detectors see both problems again after the restart: still firing, no new page.
    alerting.sender().send(vec![
        alert("a", AlertState::Firing, 1, 50),
        alert("b", AlertState::Firing, 2, 50),
    ]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.keys(), ["fp-a-1-firing", "fp-b-2-firing"]);
    alerting.shutdown(Duration::from_secs(1)).await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firing_alerts_are_resent_to_alertmanager_only() {
    let dir = tempfile::tempdir().unwrap();
    let r = receiver(OK);
    let (addr, server) = serve("127.0.0.1:0".parse().unwrap(), r.clone()).await;
    let mut config = fast_config(
        dir.path(),
        vec![
            Destination::webhook(&hook_url(addr.port())),
            Destination::alertmanager(&format!("http://{addr}")),
        ],
    );
    config.alertmanager_resend = Duration::ZERO;
    let alerting = Alerting::start(config).unwrap();
    let tx = alerting.sender();
    tx.send(vec![alert("a", AlertState::Firing, 1, 1)]);
    assert!(wait_until(Duration::from_secs(3), || r.posts() == 2).await);
    // Each later input re-sends what is firing, to the Alertmanager alone.
    tx.tick(2);
    let resent = wait_until(Duration::from_secs(3), || {
        let got = r.got.lock().unwrap();
        got.posts.iter().filter(|(_, v)| v.is_array()).count() >= 2
    })
    .await;
    assert!(resent);
    assert_eq!(r.keys(), ["fp-a-1-firing"], "the webhook got it once");
    alerting.shutdown(Duration::from_secs(1)).await;
    server.abort();
}

#[tokio::test]
async fn bad_destinations_are_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let bad = Alerting::start(fast_config(
        dir.path(),
        vec![Destination::webhook("ftp://x")],
    ));
    assert!(bad
        .err()
        .unwrap()
        .to_string()
        .contains("not an http(s) URL"));
    let mut a = Destination::webhook("http://127.0.0.1:9/a");
    a.name = Some("same".into());
    let b = Destination {
        url: "http://127.0.0.1:9/b".into(),
        ..a.clone()
    };
    let dup = Alerting::start(fast_config(dir.path(), vec![a, b]));
    assert!(dup.err().unwrap().to_string().contains("named \"same\""));
}
