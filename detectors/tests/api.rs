//! The alert list over HTTP, fed by the real detector engine.

mod common;

use std::time::Duration;

use common::*;
use firewatch_detectors::api::{router, AlertList};
use firewatch_detectors::{AlertState, Alerting, Destination, Engine};
use firewatch_ingest::LogRecord;

async fn get(client: &reqwest::Client, url: &str) -> (u16, serde_json::Value) {
    let r = client.get(url).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_alerts_from_the_engine_and_delivers_them() {
    let dir = tempfile::tempdir().unwrap();
    let hook = receiver(OK);
    let (hook_addr, hook_server) = serve("127.0.0.1:0".parse().unwrap(), hook.clone()).await;
    let alerting = Alerting::start(fast_config(
        dir.path(),
        vec![Destination::webhook(&format!("http://{hook_addr}/hook"))],
    ))
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(&alerting);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    // What the node does: every record through the engine, its alerts to the sender.
    let mut engine = Engine::default();
    let tx = alerting.sender();
    for (i, line) in [
        "(node:1) UnhandledPromiseRejectionWarning: Error: card declined",
        "(node:1) UnhandledPromiseRejectionWarning: Error: card declined",
    ]
    .iter()
    .enumerate()
    {
        let rec: LogRecord = serde_json::from_value(serde_json::json!({
            "id": format!("r{i}"), "timestamp": format!("2026-11-20T10:00:0{i}Z"),
            "observed": 0, "service": "checkout", "message": line,
        }))
        .unwrap();
        assert!(tx.send(engine.observe(&rec)));
    }
    tx.refresh(|a| engine.refresh(a));
    tx.send(vec![alert("old", AlertState::Firing, 1, 1)]);
    tx.send(vec![alert("old", AlertState::Resolved, 1, 2)]);

    let client = reqwest::Client::new();
    let url = format!("{base}/api/v1/alerts?state=all");
    let listed = wait_until(Duration::from_secs(3), || hook.keys().len() == 3).await;
    assert!(listed, "webhook got {:?}", hook.keys());
    let (status, body) = get(&client, &url).await;
    assert_eq!(status, 200);
    let list: AlertList = serde_json::from_value(body).unwrap();
    assert_eq!(list.alerts.len(), 2);
    let checkout = &list.alerts[0];
    assert_eq!(checkout.kind, "unhandled_rejection");
    assert_eq!(checkout.service, "checkout");
    assert_eq!(checkout.state, AlertState::Firing);
    assert!(
        checkout.search_query.starts_with("service:\"checkout\""),
        "{checkout:?}"
    );
    assert!(
        checkout.search_url.contains("/api/v1/search?q="),
        "{checkout:?}"
    );

    let (_, firing) = get(&client, &format!("{base}/api/v1/alerts?state=firing")).await;
    assert_eq!(firing["alerts"].as_array().unwrap().len(), 1);
    let (_, resolved) = get(&client, &format!("{base}/api/v1/alerts?state=resolved")).await;
    assert_eq!(resolved["alerts"][0]["service"], "old");
    assert!(resolved["alerts"][0]["resolved_at"].is_string());
    let (_, recent) = get(
        &client,
        &format!("{base}/api/v1/alerts?since=2026-11-20T09:00:00Z"),
    )
    .await;
    assert_eq!(recent["alerts"].as_array().unwrap().len(), 1);

    let (status, err) = get(&client, &format!("{base}/api/v1/alerts?state=bogus")).await;
    assert_eq!((status, err["error"].as_str()), (400, Some("bad_request")));
    let (status, _) = get(&client, &format!("{base}/api/v1/alerts?since=yesterday")).await;
    assert_eq!(status, 400);

    alerting.shutdown(Duration::from_secs(1)).await;
    server.abort();
    hook_server.abort();
}
