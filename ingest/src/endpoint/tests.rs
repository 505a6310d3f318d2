//! Handler tests through `Router` + `oneshot`, with an in-memory sink.

use std::collections::HashSet;
use std::sync::Mutex;

use axum::http::Request;
use futures::StreamExt;
use tower::ServiceExt;

use super::*;
use crate::protocol::{ErrorBody, IngestResponse};

#[derive(Default)]
struct MemSink {
    ids: Mutex<HashSet<String>>,
    fail: Mutex<Option<SinkError>>,
    last_body: Mutex<Option<Vec<u8>>>,
}

impl RecordSink for MemSink {
    async fn append(&self, batch: Batch) -> Result<Stored, SinkError> {
        if let Some(e) = self.fail.lock().unwrap().clone() {
            return Err(e);
        }
        *self.last_body.lock().unwrap() = batch.zstd_body.map(|b| b.to_vec());
        let mut ids = self.ids.lock().unwrap();
        let mut s = Stored::default();
        for r in batch.records {
            if ids.insert(r.record.id) {
                s.accepted += 1;
            } else {
                s.duplicates += 1;
            }
        }
        Ok(s)
    }
    fn ready(&self) -> bool {
        self.fail.lock().unwrap().is_none()
    }
    fn render_metrics(&self, out: &mut String) {
        out.push_str("mem_records 0\n");
    }
}

fn line(id: &str) -> String {
    format!(r#"{{"id":"{id}","timestamp":0,"observed":0,"message":"hello {id}"}}"#)
}

fn app(sink: &Arc<MemSink>, cfg: EndpointConfig) -> Router {
    router(sink.clone(), cfg)
}

async fn post_raw(
    app: Router,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = Request::post(INGEST_PATH);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, headers, bytes.to_vec())
}

async fn post_ok(app: Router, body: String) -> IngestResponse {
    let (status, _, bytes) = post_raw(
        app,
        body.into_bytes(),
        &[("content-type", "application/x-ndjson")],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    serde_json::from_slice(&bytes).unwrap()
}

async fn post_err(
    app: Router,
    body: Vec<u8>,
    headers: &[(&str, &str)],
    status: StatusCode,
) -> ErrorBody {
    let (got, _, bytes) = post_raw(app, body, headers).await;
    assert_eq!(got, status, "{}", String::from_utf8_lossy(&bytes));
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn accepts_reports_duplicates_and_rejections() {
    let sink = Arc::new(MemSink::default());
    let body = format!("{}\n{}\nnot json\n{}\n", line("a"), line("b"), line("a"));
    let r = post_ok(app(&sink, Default::default()), body).await;
    assert_eq!((r.accepted, r.duplicates), (2, 1));
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(r.rejected[0].line, 2);
    let again = post_ok(app(&sink, Default::default()), format!("{}\n", line("b"))).await;
    assert_eq!((again.accepted, again.duplicates), (0, 1));
}

#[tokio::test]
async fn zstd_bodies_are_decoded_and_kept_when_every_line_is_a_record() {
    let sink = Arc::new(MemSink::default());
    let body = zstd::encode_all(format!("{}\n{}", line("z1"), line("z2")).as_bytes(), 3).unwrap();
    let body_sent = body.clone();
    let (status, _, bytes) = post_raw(
        app(&sink, Default::default()),
        body,
        &[("content-encoding", "zstd")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let r: IngestResponse = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(r.accepted, 2);
    // Every line a record: the body goes to the sink with them, for its log.
    assert_eq!(
        sink.last_body.lock().unwrap().as_deref(),
        Some(&body_sent[..])
    );
    // A line refused: the body no longer stands for the records.
    let mixed = format!("{}\nnot json\n", line("z3"));
    let body = zstd::encode_all(mixed.as_bytes(), 3).unwrap();
    let (status, _, _) = post_raw(
        app(&sink, Default::default()),
        body,
        &[("content-encoding", "zstd")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(*sink.last_body.lock().unwrap(), None);
    // Not compressed: nothing to keep but the lines.
    post_ok(app(&sink, Default::default()), line("z4")).await;
    assert_eq!(*sink.last_body.lock().unwrap(), None);
}

#[tokio::test]
async fn bad_input_gets_clear_4xx_json() {
    let sink = Arc::new(MemSink::default());
    let cfg = EndpointConfig {
        max_body_bytes: 4096,
        max_decoded_bytes: 8192,
        ..Default::default()
    };
    let a = || app(&sink, cfg.clone());
    let e = post_err(a(), b"{broken\n[1,2".to_vec(), &[], StatusCode::BAD_REQUEST).await;
    assert_eq!(e.error, "invalid_records");
    assert!(e.message.contains("line 0"), "{}", e.message);
    let e = post_err(
        a(),
        b"\xff\xfe\xfd\n".to_vec(),
        &[],
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(e.message.contains("invalid utf-8"), "{}", e.message);
    let packed = zstd::encode_all(line("t").repeat(20).as_bytes(), 3).unwrap();
    let e = post_err(
        a(),
        packed[..packed.len() - 4].to_vec(),
        &[("content-encoding", "zstd")],
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(e.error, "bad_encoding");
    let bomb = zstd::encode_all(&vec![b'\n'; 1 << 20][..], 19).unwrap();
    assert!(bomb.len() < 4096);
    let e = post_err(
        a(),
        bomb,
        &[("content-encoding", "zstd")],
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert_eq!(e.error, "decoded_too_large");
    let e = post_err(a(), vec![b' '; 5000], &[], StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(e.error, "payload_too_large");
    let e = post_err(
        a(),
        line("x").into_bytes(),
        &[("content-type", "image/png")],
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    assert_eq!(e.error, "unsupported_media_type");
    let e = post_err(
        a(),
        line("x").into_bytes(),
        &[("content-encoding", "br")],
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    assert_eq!(e.error, "unsupported_encoding");
    // Still serving, and nothing from the refused batches was stored.
    let r = post_ok(a(), line("after")).await;
    assert_eq!(r.accepted, 1);
    assert_eq!(sink.ids.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn sink_overload_is_429_disk_trouble_503_and_a_batch_too_large_413() {
    let sink = Arc::new(MemSink::default());
    *sink.fail.lock().unwrap() = Some(SinkError::Overloaded("queue full".into()));
    let (status, headers, _) =
        post_raw(app(&sink, Default::default()), line("a").into_bytes(), &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers[header::RETRY_AFTER], "1");
    *sink.fail.lock().unwrap() = Some(SinkError::Unavailable("no space".into()));
    let e = post_err(
        app(&sink, Default::default()),
        line("a").into_bytes(),
        &[],
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    assert_eq!(e.error, "storage_unavailable");
    *sink.fail.lock().unwrap() = Some(SinkError::TooLarge("1 GB batch".into()));
    let e = post_err(
        app(&sink, Default::default()),
        line("a").into_bytes(),
        &[],
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert_eq!(e.error, "batch_too_large");
    *sink.fail.lock().unwrap() = Some(SinkError::Unavailable("no space".into()));
    let ready = app(&sink, Default::default())
        .oneshot(Request::get("/ready").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    *sink.fail.lock().unwrap() = None;
    assert_eq!(
        post_ok(app(&sink, Default::default()), line("a"))
            .await
            .accepted,
        1
    );
}

#[tokio::test]
async fn a_stalled_body_is_answered_408_and_frees_its_place() {
    let sink = Arc::new(MemSink::default());
    let cfg = EndpointConfig {
        max_in_flight: 1,
        body_timeout_secs: 1,
        ..EndpointConfig::default()
    };
    // Half a line, then nothing more, ever.
    let stalled = futures::stream::iter([Ok::<_, std::io::Error>(axum::body::Bytes::from(
        r#"{"id":"a","#,
    ))])
    .chain(futures::stream::pending());
    let req = Request::post(INGEST_PATH)
        .header("content-type", "application/x-ndjson")
        .body(Body::from_stream(stalled))
        .unwrap();
    let resp = tokio::time::timeout(
        Duration::from_secs(10),
        app(&sink, cfg.clone()).oneshot(req),
    )
    .await
    .expect("a stalled body is answered, not waited for")
    .unwrap();
    assert_eq!(resp.status(), StatusCode::REQUEST_TIMEOUT);
    assert_eq!(resp.headers()[header::CONNECTION], "close");
    let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
        .await
        .unwrap();
    let err: ErrorBody = serde_json::from_slice(&body).unwrap();
    assert_eq!(err.error, "body_timeout");
    // Its place (the only one) is free again.
    let ok = post_ok(app(&sink, cfg), line("b")).await;
    assert_eq!(ok.accepted, 1);
}

#[tokio::test]
async fn health_and_metrics_answer() {
    let sink = Arc::new(MemSink::default());
    let a = app(&sink, Default::default());
    post_ok(a.clone(), format!("{}\nbad", line("m"))).await;
    let health = a
        .clone()
        .oneshot(Request::get("/health").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let resp = a
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let text = String::from_utf8(
        axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(
        text.contains("firewatch_ingest_batches_total{outcome=\"ok\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("firewatch_records_rejected_total 1"),
        "{text}"
    );
    assert!(text.contains("mem_records 0"));
}
