//! The query API against a real store, checked against a brute-force scan of the same records.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use firewatch_ingest::record::rfc3339_nanos;
use firewatch_ingest::LogRecord;
use firewatch_query::api::ApiConfig;
use firewatch_query::lang::{matches, parse, Field};
use futures::StreamExt;
use serde_json::Value;
use tower::ServiceExt;

/// What a straightforward scan finds: matching ids, newest first (ties in any order).
fn oracle<'a>(
    records: &'a [LogRecord],
    q: &str,
    start: Option<i64>,
    end: Option<i64>,
) -> Vec<&'a LogRecord> {
    let query = parse(q).expect("oracle query parses");
    let mut hits: Vec<&LogRecord> = records
        .iter()
        .filter(|r| start.is_none_or(|s| r.timestamp >= s) && end.is_none_or(|e| r.timestamp < e))
        .filter(|r| matches(&query, r))
        .collect();
    hits.sort_by_key(|r| std::cmp::Reverse(r.timestamp));
    hits
}

/// Every hit of a query, following cursors; checks each page's total.
async fn all_pages(node: &Node, base: &str, limit: usize) -> (u64, Vec<LogRecord>) {
    let mut hits = Vec::new();
    let mut cursor: Option<String> = None;
    let mut total = None;
    loop {
        let mut uri = format!("{base}&limit={limit}");
        if let Some(c) = &cursor {
            uri.push_str(&format!("&cursor={}", enc(c)));
        }
        let (status, body) = node.get(&uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        let t = body["total"].as_u64().expect("total");
        assert_eq!(*total.get_or_insert(t), t, "total changed between pages");
        let page: Vec<LogRecord> = serde_json::from_value(body["hits"].clone()).expect("hits");
        assert!(page.len() <= limit);
        hits.extend(page);
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    (total.unwrap_or(0), hits)
}

const QUERIES: &[&str] = &[
    "",
    "*",
    "payment",
    "PAYMENT",
    "\"connection reset\"",
    "\"reset connection\"",
    "conn*",
    "\"upstream tim*\"",
    "\"payment fail*\" OR \"cache m*\"",
    "NOT \"user log*\"",
    "Retr*",
    "payment AND timeout",
    "payment OR cache",
    "payment -timeout",
    "NOT payment",
    "(payment OR login) AND NOT (miss OR ok)",
    "service:checkout",
    "service:check*",
    "service:Checkout",
    "-service:checkout",
    "host:web-1 OR host:db-1",
    "source:/var/log/auth.log",
    "source:/var/log/a*",
    "level:error",
    "level:>=warn",
    "level:<info",
    "level:[debug TO warn]",
    "level:{debug TO warn}",
    "http.status:503",
    "http.status:>=500",
    "http.status:[200 TO 404}",
    "http.status:<201",
    "http.method:POST",
    // Common in some chunks: exact through the records that lack them.
    "http.method:GET",
    "NOT http.method:GET",
    "-http.method:POST AND payment",
    "http.method:GET OR http.status:503",
    "http.status:200",
    "http.method:>=GET",
    "http.method:G*",
    "http.method:[A TO H]",
    "http.status:<300",
    "roles:[a TO z]",
    "roles:user",
    "roles:adm*",
    "-roles:admin",
    "roles:*",
    "sku:*",
    "-sku:*",
    "sku:A-3",
    "sku:A*",
    "client:*",
    "-client:*",
    "client.os:*",
    "client.name:ios",
    "NOT client.os:linux",
    "http.method:P*",
    "http.method:[A TO H]",
    "duration_ms:>500",
    "duration_ms:<=100.5",
    "duration_ms:[1000 TO *]",
    "duration_ms:{99.5 TO 100.5}",
    // Numbers of 1000 on and decimals are buckets: bounds inside one check its records.
    "duration_ms:>1234.5",
    "duration_ms:>=1234",
    "duration_ms:[1250 TO 1750.5]",
    "duration_ms:<=1777",
    "duration_ms:<1777",
    "duration_ms:[1200 TO 1300]",
    "duration_ms:{1200 TO 1300}",
    "duration_ms:<1500",
    "duration_ms:>=1500",
    "duration_ms:[12.3 TO 45.6]",
    "duration_ms:[-5 TO 0.5]",
    "duration_ms:1234",
    "duration_ms:123.4",
    "user_id:42",
    "user_id:42.0",
    "user_id:*",
    "-user_id:*",
    "tags:red",
    "tags:red AND tags:green",
    "status_text:503",
    "status_text:5*",
    "http:*",
    "trace.id:t1",
    "trace.id:*",
    "items.id:>3",
    "items.id:2 OR nothing:*",
    "id:0001\\:7",
    "/fail(ed|ure)/",
    "/^payment/",
    "/\\d{3,}ms/ AND level:>=warn",
    "NOT /timeout/",
    "-/ok$/ OR service:auth",
    "after",
    "code",
    // Variables: words and string values with a digit are not index terms.
    "E17",
    "e1*",
    "E*",
    "\"code E17\"",
    "code AND E1*",
    "1000ms",
    "ms",
    "trace.id:t*",
    "status_text:[500 TO 503]",
    "status_text:50*",
    "tags:re*",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_agrees_with_a_brute_force_scan() {
    let node = node(corpus(1, 800), ApiConfig::default()).await;
    let windows = [
        (None, None),
        (Some(T0 + 600 * SEC), Some(T0 + 1200 * SEC)),
        (Some(T0 + 300 * SEC), Some(T0 + 301 * SEC)),
    ];
    for q in QUERIES {
        for (start, end) in windows {
            let mut base = format!("/api/v1/search?q={}", enc(q));
            if let Some(s) = start {
                base.push_str(&format!("&start={}", enc(&rfc3339_nanos::format(s))));
            }
            if let Some(e) = end {
                base.push_str(&format!("&end={}", enc(&rfc3339_nanos::format(e))));
            }
            let want = oracle(&node.records, q, start, end);
            let (total, hits) = all_pages(&node, &base, 300).await;
            assert_eq!(
                total as usize,
                want.len(),
                "total of {q:?} in {start:?}..{end:?}"
            );
            let got: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
            let got_set: HashSet<&str> = got.iter().copied().collect();
            assert_eq!(got_set.len(), got.len(), "{q:?}: a hit repeated");
            let want_set: HashSet<&str> = want.iter().map(|r| r.id.as_str()).collect();
            assert_eq!(got_set, want_set, "hits of {q:?} in {start:?}..{end:?}");
            assert!(
                hits.windows(2).all(|w| w[0].timestamp >= w[1].timestamp),
                "{q:?}: not newest first"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_archive_block_costs_its_records_not_the_query() {
    let node = node_with(corpus(3, 3000), ApiConfig::default(), 200 << 10).await;
    let before = &node.records;
    // Bit rot in the middle of the oldest sealed archive, under the running node (before
    // any read, which would have cached its blocks).
    let oldest = node.store.reader().snapshot().segments()[0].id;
    let path = node
        .dir()
        .join("segments")
        .join(format!("{oldest:016x}"))
        .join("archive.fwa");
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&path, &bytes).unwrap();

    let (mut read, mut unreadable, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let mut uri = "/api/v1/search?q=*&limit=100".to_string();
        if let Some(c) = &cursor {
            uri.push_str(&format!("&cursor={}", enc(c)));
        }
        let (status, body) = node.get(&uri).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["total"].as_u64(),
            Some(3000),
            "the index still counts them"
        );
        let page: Vec<LogRecord> = serde_json::from_value(body["hits"].clone()).unwrap();
        read.extend(page);
        unreadable += body["unreadable"].as_u64().unwrap_or(0);
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert!(
        unreadable > 0 && unreadable < 1000,
        "{unreadable} unreadable"
    );
    assert_eq!(
        read.len() as u64 + unreadable,
        3000,
        "paging went past the damage"
    );
    let good: HashSet<&str> = before.iter().map(|r| r.id.as_str()).collect();
    let mut seen = HashSet::new();
    for r in &read {
        assert!(good.contains(r.id.as_str()) && seen.insert(&r.id), "{r:?}");
        assert!(before.contains(r), "a record read wrong: {r:?}");
    }
    // A query whose matches are checked against their records passes over them too.
    let (status, body) = node
        .get("/api/v1/search?q=%22connection%20reset%22&limit=10")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Top values read from the records (a structured field) say what they left out; a
    // histogram answered from the index alone counts every match.
    let (status, body) = node.get("/api/v1/fields/http.method/top").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let left_out = body["unreadable"].as_u64().unwrap_or(0);
    assert_eq!(left_out, unreadable, "{body}");
    assert_eq!(body["total"].as_u64().unwrap() + left_out, 3000, "{body}");
    let (status, body) = node.get("/api/v1/histogram?q=*").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total"].as_u64(), Some(3000), "{body}");
    assert!(body.get("unreadable").is_none(), "{body}");
    // An export sends every readable record, then ends in an error: never silently short.
    let response = node
        .router
        .clone()
        .oneshot(
            Request::get("/api/v1/export?q=*")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let mut body = response.into_body().into_data_stream();
    let (mut bytes, mut failed) = (Vec::new(), false);
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) => bytes.extend_from_slice(&c),
            Err(_) => failed = true,
        }
    }
    assert!(failed, "the export ends in an error");
    let exported = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    assert_eq!(exported as u64 + unreadable, 3000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_ascending_and_first_page_is_the_newest() {
    let node = node(corpus(2, 600), ApiConfig::default()).await;
    let (status, body) = node.get("/api/v1/search?q=level:error&limit=5").await;
    assert_eq!(status, StatusCode::OK);
    let want = oracle(&node.records, "level:error", None, None);
    let hits: Vec<LogRecord> = serde_json::from_value(body["hits"].clone()).unwrap();
    assert_eq!(hits.len(), 5);
    assert_eq!(hits[0].timestamp, want[0].timestamp);
    assert!(body["took_ms"].is_u64());
    let (total, asc) = all_pages(&node, "/api/v1/search?q=level:error&order=asc", 50).await;
    assert_eq!(total as usize, want.len());
    assert!(asc.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    assert_eq!(asc.len(), want.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn times_are_told_apart_to_the_millisecond_and_kept_exact() {
    // Records 0.25 ms apart: four per millisecond, stored in time order.
    let mut records = corpus(6, 40);
    for (i, r) in records.iter_mut().enumerate() {
        r.timestamp = T0 + i as i64 * 250_000;
    }
    let node = node(records, ApiConfig::default()).await;
    let ms = 1_000_000;
    let ids = |hits: &Value| -> Vec<String> {
        let hits: Vec<LogRecord> = serde_json::from_value(hits["hits"].clone()).unwrap();
        hits.into_iter().map(|h| h.id).collect()
    };
    // Bounds inside a millisecond are widened to it: nothing asked for is left out.
    let (s, e) = (T0 + 2 * ms + 600_000, T0 + 4 * ms + 100_000);
    let uri = format!(
        "/api/v1/search?order=asc&start={}&end={}",
        enc(&rfc3339_nanos::format(s)),
        enc(&rfc3339_nanos::format(e))
    );
    let (status, body) = node.get(&uri).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let want: Vec<String> = (8..20).map(|i| format!("0006:{i}")).collect();
    assert_eq!(ids(&body), want);
    // Hits carry their exact times, and the records of one millisecond come in stored order.
    let (_, body) = node.get("/api/v1/search?order=asc&limit=6").await;
    let hits: Vec<LogRecord> = serde_json::from_value(body["hits"].clone()).unwrap();
    let times: Vec<i64> = hits.iter().map(|h| h.timestamp - T0).collect();
    assert_eq!(times, [0, 250_000, 500_000, 750_000, ms, ms + 250_000]);
    let (_, body) = node.get("/api/v1/search?limit=3").await;
    assert_eq!(ids(&body), ["0006:39", "0006:38", "0006:37"]);
    // Histogram buckets of 1 ms hold four records each.
    let (status, body) = node.get("/api/v1/histogram?interval=1ms").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let counts: Vec<u64> = body["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [4; 10]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_while_ingest_continues_returns_every_record_once() {
    let mut node = node(corpus(3, 1000), ApiConfig::default()).await;
    let original: HashSet<String> = node.records.iter().map(|r| r.id.clone()).collect();
    let mut rng = Rng::new(99);
    let mut seen: HashSet<String> = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut extra = 0;
    loop {
        let mut uri = "/api/v1/search?q=*&limit=37".to_string();
        if let Some(c) = &cursor {
            uri.push_str(&format!("&cursor={}", enc(c)));
        }
        let (status, body) = node.get(&uri).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for hit in body["hits"].as_array().unwrap() {
            let id = hit["id"].as_str().unwrap().to_string();
            assert!(seen.insert(id.clone()), "{id} returned twice");
        }
        // New records arrive between pages, older and newer than the cursor.
        let batch: Vec<LogRecord> = (0..20)
            .map(|_| {
                extra += 1;
                record(&mut rng, 10_000 + extra, 3)
            })
            .collect();
        node.append(batch).await;
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert!(
        original.is_subset(&seen),
        "missed {} records",
        original.difference(&seen).count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_malformed_and_hostile_queries_with_position() {
    let node = node(corpus(4, 50), ApiConfig::default()).await;
    let deep = "(".repeat(100) + "x" + &")".repeat(100);
    let cases: Vec<(String, &str, Option<u64>)> = vec![
        (
            "service:checkout AND (payment".into(),
            "unclosed '('",
            Some(21),
        ),
        ("level:loud".into(), "unknown level", Some(6)),
        (deep, "nested too deeply", Some(32)),
        (format!("/{}/", "a".repeat(5000)), "too long", Some(4096)),
        ("/(\\w{100}){100}/".into(), "too costly", Some(0)),
        ("/(unclosed/".into(), "invalid regex", Some(0)),
        ("a ".repeat(400), "too many conditions", Some(512)),
    ];
    for (q, msg, pos) in cases {
        for path in [
            "search",
            "histogram",
            "export",
            "tail",
            "fields/service/top",
        ] {
            let (status, body) = node.get(&format!("/api/v1/{path}?q={}", enc(&q))).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {q:.40}: {body}");
            assert_eq!(body["error"], "bad_query");
            assert!(body["message"].as_str().unwrap().contains(msg), "{body}");
            assert_eq!(body["position"].as_u64(), pos, "{q:.40}: {body}");
        }
    }
    for uri in [
        "/api/v1/search?limit=10001",
        "/api/v1/search?limit=ten",
        "/api/v1/search?order=up",
        "/api/v1/search?cursor=nonsense",
        "/api/v1/search?start=yesterday",
        "/api/v1/search?start=now&end=now-1h",
        "/api/v1/histogram?interval=0s",
        "/api/v1/histogram?interval=1ms",
        "/api/v1/histogram?by=message",
        "/api/v1/fields/message/top",
        "/api/v1/fields/service/top?k=100000",
    ] {
        let (status, body) = node.get(uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert_eq!(body["error"], "bad_parameter", "{uri}");
        assert!(body["position"].is_null());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_past_its_deadline_gets_a_clear_timeout() {
    let cfg = ApiConfig {
        timeout: Duration::ZERO,
        ..Default::default()
    };
    let node = node(corpus(5, 600), cfg).await;
    for uri in [
        "/api/v1/search?q=*",
        "/api/v1/histogram?q=*",
        "/api/v1/fields/http.status/top",
    ] {
        let (status, body) = node.get(uri).await;
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{uri}: {body}");
        assert_eq!(body["error"], "timeout");
        assert!(body["message"].as_str().unwrap().contains("timed out"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histogram_and_top_values_agree_with_a_scan() {
    let node = node(corpus(6, 1200), ApiConfig::default()).await;
    for q in ["*", "payment", "/fail/", "http.status:>=500"] {
        let (status, body) = node
            .get(&format!(
                "/api/v1/histogram?q={}&interval=5m&by=level",
                enc(q)
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["interval_ms"], 300_000);
        let mut want: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for r in oracle(&node.records, q, None, None) {
            let bucket = r.timestamp.div_euclid(300 * SEC) * 300 * SEC;
            *want
                .entry(rfc3339_nanos::format(bucket))
                .or_default()
                .entry(r.level.to_string())
                .or_default() += 1;
        }
        let mut got: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for b in body["buckets"].as_array().unwrap() {
            let by: BTreeMap<String, u64> = serde_json::from_value(b["by"].clone()).unwrap();
            assert_eq!(by.values().sum::<u64>(), b["count"].as_u64().unwrap());
            if b["count"] != 0 {
                got.insert(b["start"].as_str().unwrap().to_string(), by);
            }
        }
        assert_eq!(got, want, "histogram of {q:?}");
        let total: u64 = want.values().flat_map(|m| m.values()).sum();
        assert_eq!(body["total"].as_u64(), Some(total));
    }
    let (_, auto) = node.get("/api/v1/histogram").await;
    assert!(auto["buckets"].as_array().unwrap().len() <= 61, "{auto}");
    assert_eq!(auto["total"].as_u64(), Some(1200));

    for (field, q) in [
        ("service", "*"),
        ("host", "level:error"),
        ("http.status", "*"),
        ("tags", "payment"),
        ("level", "/timeout/"),
    ] {
        let (status, body) = node
            .get(&format!("/api/v1/fields/{field}/top?q={}&k=3", enc(q)))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let hits = oracle(&node.records, q, None, None);
        let f = Field::named(field);
        let mut counts: HashMap<String, u64> = HashMap::new();
        for r in &hits {
            for v in field_values(&f, r) {
                *counts.entry(v).or_default() += 1;
            }
        }
        let mut want: Vec<(String, u64)> = counts.into_iter().collect();
        want.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        want.truncate(3);
        let got: Vec<(String, u64)> = body["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["value"].as_str().unwrap().to_string(),
                    v["count"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, want, "top {field} of {q:?}");
        assert_eq!(body["total"].as_u64(), Some(hits.len() as u64));
    }
}

fn field_values(f: &Field, r: &LogRecord) -> Vec<String> {
    match f {
        Field::Service => vec![r.service.clone()],
        Field::Host => vec![r.host.clone()],
        Field::Level => vec![r.level.to_string()],
        Field::Path(p) => firewatch_query::lang::lookup(&r.fields, p)
            .into_iter()
            .flat_map(|v| match v {
                Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
                v => vec![v.to_string()],
            })
            .collect(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_streams_every_match_with_bounded_memory() {
    // Small segments: sealed ones stream straight out; only the unsealed one is read ahead.
    let node = node_with(corpus(7, 6000), ApiConfig::default(), 128 << 10).await;
    // Segments are sealed by the store's applier thread, which may lag on a busy machine.
    let sealed = || {
        let segments = node.store.reader().snapshot().segments();
        (segments.iter().filter(|s| s.sealed).count(), segments)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while sealed().0 < 5 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (count, segments) = sealed();
    assert!(count >= 5, "{segments:?}");
    let response = node
        .router
        .clone()
        .oneshot(
            Request::get("/api/v1/export?q=-level:trace")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let mut body = response.into_body().into_data_stream();
    let mut bytes = body
        .next()
        .await
        .expect("first chunk")
        .expect("chunk")
        .to_vec();
    // The reader stalls: the exporter must stop after a few chunks, not buffer everything.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let want = oracle(&node.records, "-level:trace", None, None);
    let produced = node
        .metrics
        .exported_records
        .load(std::sync::atomic::Ordering::Relaxed);
    let chunk_records = 64 * 1024 / 150; // records are over 150 bytes of JSON
    assert!(
        produced < 7 * chunk_records as u64,
        "exporter ran ahead: {produced}"
    );
    assert!((produced as usize) < want.len());
    while let Some(chunk) = body.next().await {
        bytes.extend_from_slice(&chunk.expect("chunk"));
    }
    let text = String::from_utf8(bytes).unwrap();
    let ids: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<LogRecord>(l)
                .expect("ndjson record")
                .id
        })
        .collect();
    let got: HashSet<&String> = ids.iter().collect();
    assert_eq!(got.len(), ids.len());
    let want: HashSet<&String> = want.iter().map(|r| &r.id).collect();
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_streams_new_matching_records() {
    let mut node = node(corpus(8, 20), ApiConfig::default()).await;
    let response = node
        .router
        .clone()
        .oneshot(
            Request::get(format!("/api/v1/tail?q={}", enc("service:tailed AND boom")))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body().into_data_stream();
    let mut rng = Rng::new(5);
    let mut other = record(&mut rng, 1, 8);
    other.id = "other".into();
    let mut wanted = record(&mut rng, 2, 8);
    wanted.id = "wanted".into();
    wanted.service = "tailed".into();
    wanted.message = "boom".into();
    node.append(vec![other, wanted]).await;
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), body.next())
            .await
            .expect("an event in time")
            .expect("stream open")
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.starts_with("event: record\ndata: "), "{text}");
    let data = text.lines().nth(1).unwrap().trim_start_matches("data: ");
    let rec: LogRecord = serde_json::from_str(data).unwrap();
    assert_eq!(rec.id, "wanted");
}
