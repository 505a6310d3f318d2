//! The node client against a scripted endpoint: Retry-After is honoured, a 4xx is a refusal,
//! a dead node trips the breaker and the next URL takes over.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use firewatch_ingest::protocol::{IngestResponse, INGEST_PATH};
use firewatch_ingest::ship::batch::{Batch, BatchMeta};
use firewatch_ingest::ship::client::{ClientOptions, Delivery, NodeClient};
use firewatch_ingest::ship::metrics::Metrics;

/// Answers the n-th request (0-based) with `script(n)`.
async fn scripted(
    script: fn(u32) -> (StatusCode, Option<&'static str>),
) -> (String, Arc<AtomicU32>) {
    let hits = Arc::new(AtomicU32::new(0));
    let h = hits.clone();
    let app = Router::new().route(
        INGEST_PATH,
        post(move || {
            let n = h.fetch_add(1, Ordering::SeqCst);
            async move {
                let (status, retry) = script(n);
                if status.is_success() {
                    return Json(IngestResponse {
                        accepted: 1,
                        ..Default::default()
                    })
                    .into_response();
                }
                match retry {
                    Some(r) => (status, [("retry-after", r)], "no").into_response(),
                    None => (status, "no").into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits)
}

fn batch() -> Batch {
    Batch {
        meta: BatchMeta {
            id: "0000000000000001:0+1".into(),
            records: 1,
            raw_bytes: 1,
            ranges: vec![],
        },
        body: zstd::bulk::compress(b"{}\n", 1).unwrap(),
    }
}

fn fast() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(2),
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        breaker_threshold: 2,
        breaker_cooldown: Duration::from_millis(100),
    }
}

#[tokio::test]
async fn honours_retry_after_then_delivers() {
    let (url, hits) = scripted(|n| match n {
        0 => (StatusCode::TOO_MANY_REQUESTS, Some("1")),
        _ => (StatusCode::OK, None),
    })
    .await;
    let mut client = NodeClient::new(&[url], fast()).unwrap();
    let (_tx, mut stop) = tokio::sync::watch::channel(false);
    let m = Metrics::default();
    let t0 = Instant::now();
    let d = client.deliver(&batch(), &m, &mut stop).await;
    assert!(matches!(&d, Delivery::Acked(r) if r.accepted == 1), "{d:?}");
    assert!(
        t0.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        t0.elapsed()
    );
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert_eq!(Metrics::get(&m.retries), 1);
}

#[tokio::test]
async fn a_client_error_is_a_refusal_not_a_retry() {
    let (url, hits) = scripted(|_| (StatusCode::PAYLOAD_TOO_LARGE, None)).await;
    let mut client = NodeClient::new(&[url], fast()).unwrap();
    let (_tx, mut stop) = tokio::sync::watch::channel(false);
    let d = client
        .deliver(&batch(), &Metrics::default(), &mut stop)
        .await;
    assert!(
        matches!(&d, Delivery::Refused(why) if why.contains("413")),
        "{d:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn fails_over_and_stops_on_shutdown() {
    let (down, down_hits) = scripted(|_| (StatusCode::INTERNAL_SERVER_ERROR, None)).await;
    let (up, _) = scripted(|_| (StatusCode::OK, None)).await;
    let mut client = NodeClient::new(&[down.clone(), up], fast()).unwrap();
    let (tx, mut stop) = tokio::sync::watch::channel(false);
    let m = Metrics::default();
    for _ in 0..5 {
        let d = client.deliver(&batch(), &m, &mut stop).await;
        assert!(matches!(d, Delivery::Acked(_)), "{d:?}");
    }
    // The dead node was tried once, then the client stayed on the live one.
    assert_eq!(down_hits.load(Ordering::SeqCst), 1);

    let mut only_down = NodeClient::new(&[down], fast()).unwrap();
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = tx.send(true);
    });
    let d = only_down.deliver(&batch(), &m, &mut stop).await;
    assert!(matches!(d, Delivery::Shutdown), "{d:?}");
    stopper.await.unwrap();
    // Backoff and the open breaker keep the attempts few.
    assert!(
        down_hits.load(Ordering::SeqCst) < 15,
        "{}",
        down_hits.load(Ordering::SeqCst)
    );
}
