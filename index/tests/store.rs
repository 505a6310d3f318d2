//! The store end to end in-process: sealing and replay, retention, disk faults through the
//! ingest endpoint, the durable-record broadcast.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use firewatch_index::{Fields, Snapshot, Store, StoreConfig, StoreError};
use firewatch_ingest::endpoint::{self, EndpointConfig};
use firewatch_ingest::LogRecord;
use tantivy::collector::{Count, DocSetCollector};
use tantivy::query::{Query, QueryParser, TermQuery, TermSetQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::Term;
use tower::ServiceExt;

fn rec(id: &str, ts: i64) -> LogRecord {
    serde_json::from_value(serde_json::json!({
        "id": id, "timestamp": ts, "observed": ts, "service": "checkout", "host": "web-1",
        "level": "warn", "message": format!("payment {id} retried after timeout"),
        "fields": {"http": {"status": 502}, "user": "alice"}
    }))
    .unwrap()
}

/// Record documents `q`, a query for message words, matches, and those of the word sets its
/// matches define (as the query crate asks).
fn with_word_sets(snap: &Snapshot, q: &dyn Query) -> usize {
    let fields = snap.fields().word_sets.expect("an index with word sets");
    let docs = snap.searcher().search(q, &DocSetCollector).unwrap();
    let sets: Vec<Term> = docs
        .iter()
        .filter_map(|d| {
            let reader = snap.searcher().segment_reader(d.segment_ord);
            let defines = reader.fast_fields().u64("defines_word_set").ok()?;
            defines.first(d.doc_id)
        })
        .map(|set| Term::from_field_u64(fields.set, set))
        .collect();
    let of_sets = snap.searcher().search(&TermSetQuery::new(sets), &Count);
    docs.len() + of_sets.unwrap()
}

/// Appends `batch`, all new, to an empty store and waits until it is indexed.
fn append_indexed(store: &Store, batch: Vec<LogRecord>) -> Snapshot {
    let n = batch.len() as u64;
    assert_eq!(rt().block_on(store.append(batch)).unwrap().accepted, n);
    let reader = store.reader();
    wait_for("the batch", || {
        reader.snapshot().indexed_records().unwrap().0 == n
    });
    reader.snapshot()
}

/// Records of the chunk documents `q` matches.
fn chunked(snap: &Snapshot, q: &dyn Query) -> u64 {
    let docs = snap.searcher().search(q, &DocSetCollector).unwrap();
    docs.into_iter()
        .map(|d| {
            let reader = snap.searcher().segment_reader(d.segment_ord);
            let records = reader.fast_fields().u64("records").unwrap();
            records.first(d.doc_id).unwrap_or(0)
        })
        .sum()
}

fn cfg(dir: &std::path::Path) -> StoreConfig {
    StoreConfig {
        data_dir: dir.to_path_buf(),
        commit_interval_ms: 20,
        ..Default::default()
    }
}

/// A store over an index made, empty, with an older schema.
fn store_with_index_of(
    dir: &std::path::Path,
    (schema, _): (tantivy::schema::Schema, Fields),
) -> Store {
    std::fs::create_dir_all(dir.join("index")).unwrap();
    tantivy::Index::builder()
        .schema(schema)
        .settings(firewatch_index::schema::index_settings())
        .create_in_dir(dir.join("index"))
        .unwrap();
    Store::open(cfg(dir)).unwrap()
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until retention has removed a segment.
fn wait_for_retirement(store: &Store) {
    wait_for("retention", || {
        store
            .metrics()
            .segments_retired
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    });
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

#[test]
fn sealed_segments_survive_restart_and_wal_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig {
        segment_max_bytes: 2000,
        ..cfg(dir.path())
    })
    .unwrap();
    let rt = rt();
    for b in 0..10 {
        let batch = (0..10)
            .map(|i| rec(&format!("s:{b}:{i}"), b * 10 + i))
            .collect();
        assert_eq!(rt.block_on(store.append(batch)).unwrap().accepted, 10);
    }
    let reader = store.reader();
    wait_for("a sealed segment", || {
        reader.snapshot().segments().iter().any(|s| s.sealed)
    });
    store.close();
    let wal_files = std::fs::read_dir(dir.path().join("wal")).unwrap().count();
    assert_eq!(
        wal_files, 0,
        "a graceful close seals everything and leaves no wal"
    );

    let store = Store::open(cfg(dir.path())).unwrap();
    let snap = store.reader().snapshot();
    assert_eq!(snap.indexed_records().unwrap().0, 100);
    let total: u64 = snap.segments().iter().map(|s| s.records).sum();
    assert_eq!(total, 100);
    let f = snap.fields();
    let parser = QueryParser::for_index(snap.searcher().index(), vec![f.message]);
    // Every record has these words: a few documents of each segment, the rest through their
    // word set.
    for text in ["message:retried", "after", "payment AND s"] {
        let q = parser.parse_query(text).unwrap();
        assert_eq!(with_word_sets(&snap, &*q), 100, "{text}");
        assert!(snap.searcher().search(&q, &Count).unwrap() < 100, "{text}");
    }
    let q = parser.parse_query("fields.http.status:502").unwrap();
    assert_eq!(chunked(&snap, &q), 100);
    let dup = rt.block_on(store.append(vec![rec("s:3:3", 0)])).unwrap();
    assert_eq!((dup.accepted, dup.duplicates), (0, 1));
    // Words with a digit are not terms, their stems are.
    let seven = Term::from_field_text(f.message, "7");
    let q = TermQuery::new(seven, IndexRecordOption::Basic);
    assert_eq!(snap.searcher().search(&q, &Count).unwrap(), 0);
    let ptr = snap.locate("s:7:7").unwrap().expect("found by id");
    assert_eq!(snap.fetch_ptr(ptr).unwrap().id, "s:7:7");
    store.close();
}

#[test]
fn retention_by_size_removes_old_segments_from_index_and_disk() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig {
        segment_max_bytes: 1,
        retention_bytes: 1,
        ..cfg(dir.path())
    })
    .unwrap();
    let rt = rt();
    rt.block_on(store.append(vec![rec("old:1", 1), rec("old:2", 2)]))
        .unwrap();
    let reader = store.reader();
    wait_for_retirement(&store);
    let snap = reader.snapshot();
    assert_eq!(snap.indexed_records().unwrap().0, 0);
    assert!(snap.segments().iter().all(|s| !s.sealed));
    assert!(!store.contains_id("old:1").unwrap());
    assert_eq!(snap.locate("old:1").unwrap(), None);
    let seg_dirs = std::fs::read_dir(dir.path().join("segments"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_dir())
        .count();
    assert_eq!(seg_dirs, 1, "only the active segment is left");
    store.close();
}

#[test]
fn retention_by_age_ends_a_segment_holding_a_record_from_the_future() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig {
        segment_max_bytes: 1,
        retention_age_secs: 1,
        ..cfg(dir.path())
    })
    .unwrap();
    let rt = rt();
    // A host whose clock is in the year 2200.
    let year_2200 = 7_258_118_400 * 1_000_000_000;
    rt.block_on(store.append(vec![rec("ahead:1", year_2200)]))
        .unwrap();
    let reader = store.reader();
    wait_for("the segment to be sealed", || {
        reader.snapshot().segments().iter().any(|s| s.sealed)
    });
    let sealed = reader.snapshot().segments();
    let sealed = sealed.iter().find(|s| s.sealed).unwrap();
    assert_eq!(sealed.max_ts, year_2200);
    assert!(sealed.sealed_at > 0 && sealed.sealed_at < year_2200);
    // A second after it was sealed it is past retention, which runs at the next seal.
    std::thread::sleep(Duration::from_millis(1200));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    rt.block_on(store.append(vec![rec("now:1", now)])).unwrap();
    wait_for_retirement(&store);
    wait_for("the second segment", || {
        reader.snapshot().indexed_records().unwrap().0 == 1
    });
    assert!(!store.contains_id("ahead:1").unwrap());
    assert!(store.contains_id("now:1").unwrap());
    store.close();
}

async fn post(app: axum::Router, body: &str) -> (StatusCode, String) {
    let resp = app
        .oneshot(
            Request::post("/api/v1/ingest")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[test]
fn disk_full_answers_503_corrupts_nothing_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let config = cfg(dir.path());
    let faults = config.faults.clone();
    let store = Store::open(config).unwrap();
    let app = endpoint::router(Arc::new(store.clone()), EndpointConfig::default());
    let line = |id: &str| serde_json::to_string(&rec(id, 5)).unwrap();
    let rt = rt();
    rt.block_on(async {
        assert_eq!(post(app.clone(), &line("before")).await.0, StatusCode::OK);
        faults.set_disk_full(true);
        let (status, body) = post(app.clone(), &line("during")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(
            body.contains("storage_unavailable") && body.contains("no space"),
            "{body}"
        );
        let ready = app
            .clone()
            .oneshot(Request::get("/ready").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
        faults.set_disk_full(false);
        let (status, body) = post(app.clone(), &line("during")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.contains("\"accepted\":1"), "{body}");
    });
    let reader = store.reader();
    wait_for("both records", || {
        reader.snapshot().indexed_records().unwrap().0 == 2
    });
    store.close();
    let store = Store::open(cfg(dir.path())).unwrap();
    let snap = store.reader().snapshot();
    assert_eq!(snap.indexed_records().unwrap().0, 2);
    for id in ["before", "during"] {
        let ptr = snap.locate(id).unwrap().expect(id);
        assert_eq!(snap.fetch_ptr(ptr).unwrap().id, id);
    }
    store.close();
}

#[test]
fn durable_records_are_broadcast_and_lag_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig {
        broadcast_capacity: 4,
        ..cfg(dir.path())
    })
    .unwrap();
    let rt = rt();
    let mut fast = store.subscribe();
    let mut slow = store.subscribe();
    rt.block_on(async {
        store
            .append(vec![rec("b:1", 1), rec("b:2", 2)])
            .await
            .unwrap();
        assert_eq!(fast.recv().await.unwrap().id, "b:1");
        assert_eq!(fast.recv().await.unwrap().id, "b:2");
        let batch = (3..13).map(|i| rec(&format!("b:{i}"), i)).collect();
        store.append(batch).await.unwrap();
        // The slow subscriber missed the oldest records but goes on with the newest.
        assert_eq!(slow.recv().await.unwrap().id, "b:9");
    });
    assert_eq!(
        store
            .metrics()
            .broadcast_lagged
            .load(std::sync::atomic::Ordering::Relaxed),
        8
    );
    store.close();
}

#[test]
fn wal_left_by_a_crash_is_replayed_once_and_the_store_takes_writes() {
    use firewatch_index::wal::{encode_entry, WalWriter};
    let dir = tempfile::tempdir().unwrap();
    let wal_dir = dir.path().join("wal");
    std::fs::create_dir_all(&wal_dir).unwrap();
    let mut w = WalWriter::create(&wal_dir, 1).unwrap();
    let mut buf = Vec::new();
    for seq in 1..=3 {
        let body: String = (0..5)
            .map(|i| serde_json::to_string(&rec(&format!("w:{seq}:{i}"), i)).unwrap() + "\n")
            .collect();
        encode_entry(seq, body.as_bytes(), &mut buf);
    }
    // The same record in a later entry (a client retry that raced the crash).
    encode_entry(
        4,
        (serde_json::to_string(&rec("w:1:1", 1)).unwrap() + "\n").as_bytes(),
        &mut buf,
    );
    w.append_durable(&buf).unwrap();
    drop(w);
    let store = Store::open(cfg(dir.path())).unwrap();
    let snap = store.reader().snapshot();
    assert_eq!(snap.indexed_records().unwrap().0, 15);
    assert_eq!(
        store
            .metrics()
            .queue_records
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    let rt = rt();
    let out = rt
        .block_on(store.append(vec![rec("w:1:1", 1), rec("new", 1)]))
        .unwrap();
    assert_eq!((out.accepted, out.duplicates), (1, 1));
    store.close();
}

/// A record that arrived as an NDJSON line is logged as that line, not serialized again, and
/// replays to the record that was acknowledged.
#[test]
fn records_are_logged_as_received_and_replay_to_the_same_record() {
    use firewatch_ingest::Encoded;
    let dir = tempfile::tempdir().unwrap();
    // Spaces, integer times, an unknown key, keys out of order: valid, not canonical.
    let line = br#"{ "message": "disk 93% full", "id": "raw:1", "timestamp": 5, "observed": 6, "level": "warn", "extra": [1, 2], "fields": {"b": 2, "a": {"c": "x"}} }"#;
    let record: LogRecord = serde_json::from_slice(line).unwrap();
    let store = Store::open(cfg(dir.path())).unwrap();
    let rt = rt();
    let encoded = Encoded {
        record: record.clone(),
        json: line.to_vec().into(),
    };
    let out = rt.block_on(store.append_encoded(vec![encoded])).unwrap();
    assert_eq!((out.accepted, out.duplicates), (1, 0));
    let mut logged = Vec::new();
    firewatch_index::wal::replay(&dir.path().join("wal"), |_, body| {
        logged.extend_from_slice(&body)
    })
    .unwrap();
    let mut want = line.to_vec();
    want.push(b'\n');
    assert_eq!(logged, want, "the wal holds the line as received");
    store.close();
    // As after a crash before the record reached a segment: only the WAL holds it.
    let again = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(again.path().join("wal")).unwrap();
    let mut w = firewatch_index::wal::WalWriter::create(&again.path().join("wal"), 1).unwrap();
    let mut buf = Vec::new();
    firewatch_index::wal::encode_entry(1, &logged, &mut buf);
    w.append_durable(&buf).unwrap();
    drop(w);
    let store = Store::open(cfg(again.path())).unwrap();
    let snap = store.reader().snapshot();
    let ptr = snap.locate("raw:1").unwrap().expect("replayed");
    assert_eq!(snap.fetch_ptr(ptr).unwrap(), record);
    store.close();
}

/// A batch that came zstd-compressed, every record of it new, is logged as that body: a
/// fraction of its lines' bytes, replayed after a crash to the same records. One with a
/// duplicate is logged as its new lines.
#[test]
fn a_compressed_batch_is_logged_as_its_body_and_replays_to_its_records() {
    use firewatch_ingest::endpoint::body::parse_ndjson;
    use firewatch_ingest::Batch;
    let dir = tempfile::tempdir().unwrap();
    let wal_dir = dir.path().join("wal");
    let line = |id: &str, i: i64| serde_json::to_string(&rec(id, i)).unwrap();
    let body: String = (0..300)
        .map(|i| line(&format!("z:{i}"), i) + "\r\n")
        .collect::<String>()
        + "\n";
    let batch = |body: &str| Batch {
        records: parse_ndjson(body.to_string(), usize::MAX).0,
        zstd_body: Some(zstd::bulk::compress(body.as_bytes(), 3).unwrap().into()),
    };
    let store = Store::open(cfg(dir.path())).unwrap();
    let rt = rt();
    let first = batch(&body);
    let frame_len = first.zstd_body.as_ref().unwrap().len() as u64;
    let out = rt.block_on(store.append_batch(first)).unwrap();
    assert_eq!((out.accepted, out.duplicates), (300, 0));
    let logged = firewatch_index::wal::disk_size(&wal_dir);
    assert!(
        logged < frame_len + 64,
        "{logged} bytes logged for a {frame_len}-byte frame"
    );
    assert!(logged * 5 < body.len() as u64, "{logged} of {}", body.len());
    let again = line("z:0", 0) + "\n" + &line("z:new", 1) + "\n";
    let out = rt.block_on(store.append_batch(batch(&again))).unwrap();
    assert_eq!((out.accepted, out.duplicates), (1, 1));
    let mut entries = Vec::new();
    firewatch_index::wal::replay(&wal_dir, |_, b| entries.push(b)).unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0], body.as_bytes());
    assert_eq!(entries[1], (line("z:new", 1) + "\n").as_bytes());
    // As after a crash before any of it reached a segment: only the WAL holds the records.
    let crashed = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(crashed.path().join("wal")).unwrap();
    for (_, path) in firewatch_index::wal::list(&wal_dir).unwrap() {
        std::fs::copy(
            &path,
            crashed.path().join("wal").join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    store.close();
    let store = Store::open(cfg(crashed.path())).unwrap();
    let snap = store.reader().snapshot();
    assert_eq!(snap.indexed_records().unwrap().0, 301);
    for (id, i) in [("z:0", 0), ("z:299", 299), ("z:new", 1)] {
        let ptr = snap.locate(id).unwrap().expect(id);
        assert_eq!(snap.fetch_ptr(ptr).unwrap(), rec(id, i));
    }
    store.close();
}

/// A batch whose WAL entry would be larger than an entry may be is refused by the store itself
/// (not only by the node's config check), and its ids are free for a smaller retry.
#[test]
fn a_batch_over_one_wal_entry_is_refused_and_its_ids_released() {
    use firewatch_index::wal::MAX_BATCH_BYTES;
    use firewatch_ingest::{Batch, Encoded};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(cfg(dir.path())).unwrap();
    let rt = rt();
    let wal_dir = dir.path().join("wal");
    let logged = firewatch_index::wal::disk_size(&wal_dir);
    // Zeroed memory is not touched until read: the store refuses by length alone.
    let huge = bytes::Bytes::from(vec![0u8; MAX_BATCH_BYTES + 1]);
    let batch = Batch {
        records: vec![Encoded::new(rec("big:1", 1)).unwrap()],
        zstd_body: Some(huge),
    };
    match rt.block_on(store.append_batch(batch)) {
        Err(firewatch_index::StoreError::TooLarge { bytes, most }) => {
            assert_eq!((bytes, most), (MAX_BATCH_BYTES + 1, MAX_BATCH_BYTES));
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert_eq!(firewatch_index::wal::disk_size(&wal_dir), logged);
    let out = rt.block_on(store.append(vec![rec("big:1", 1)])).unwrap();
    assert_eq!((out.accepted, out.duplicates), (1, 0));
    store.close();
}

#[test]
fn resent_file_records_are_duplicates_in_any_segment_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let small = || StoreConfig {
        segment_max_bytes: 6000,
        block_bytes: 1500,
        ..cfg(dir.path())
    };
    let file_rec = |fp: u64, off: u64| LogRecord {
        id: LogRecord::file_id(fp, off),
        ..rec("x", off as i64)
    };
    // Two sources; offsets of the second arrive out of order within each batch.
    let batches: Vec<Vec<LogRecord>> = (0..8u64)
        .map(|b| {
            (0..10u64)
                .map(|i| match i % 2 {
                    0 => file_rec(1, (b * 10 + i) * 120),
                    _ => file_rec(2, (b * 10 + 9 - i) * 80),
                })
                .collect()
        })
        .collect();
    let rt = rt();
    let store = Store::open(small()).unwrap();
    for batch in &batches {
        let out = rt.block_on(store.append(batch.clone())).unwrap();
        assert_eq!((out.accepted, out.duplicates), (10, 0));
        // Let the apply thread seal as the segment fills, rather than once at the end.
        let queue = &store.metrics().queue_records;
        wait_for("indexing", || {
            queue.load(std::sync::atomic::Ordering::Relaxed) == 0
        });
        std::thread::sleep(Duration::from_millis(60));
    }
    wait_for("several sealed segments", || {
        store
            .reader()
            .snapshot()
            .segments()
            .iter()
            .filter(|s| s.sealed)
            .count()
            >= 2
    });
    store.close();

    let store = Store::open(small()).unwrap();
    for batch in batches.iter().rev() {
        let out = rt.block_on(store.append(batch.clone())).unwrap();
        assert_eq!((out.accepted, out.duplicates), (0, 10), "resent batch");
    }
    // New offsets between stored ones (in a stored span) and past them are new.
    let fresh = vec![file_rec(1, 121), file_rec(2, 1), file_rec(1, 1_000_000)];
    let out = rt.block_on(store.append(fresh.clone())).unwrap();
    assert_eq!((out.accepted, out.duplicates), (3, 0));
    let out = rt.block_on(store.append(fresh)).unwrap();
    assert_eq!((out.accepted, out.duplicates), (0, 3));
    let reader = store.reader();
    wait_for("all documents", || {
        reader.snapshot().indexed_records().unwrap().0 == 83
    });
    let snap = reader.snapshot();
    for batch in &batches {
        for r in batch {
            let ptr = snap.locate(&r.id).unwrap().expect("located");
            assert_eq!(snap.fetch_ptr(ptr).unwrap(), *r);
        }
    }
    store.close();
}

#[test]
fn an_index_made_before_absent_values_opens_and_takes_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_index_of(dir.path(), firewatch_index::schema::without_absent());
    let snap = append_indexed(&store, (0..10).map(|i| rec(&format!("o:{i}"), i)).collect());
    let f = snap.fields();
    assert_eq!(f.absent, None);
    // A value every record has is on the chunk, as before.
    let mut user = Term::from_field_json_path(f.fields, "user", true);
    user.append_type_and_str("alice");
    assert_eq!(
        chunked(&snap, &TermQuery::new(user, IndexRecordOption::Basic)),
        10
    );
    store.close();
    // And a new data directory gets the field.
    let fresh = tempfile::tempdir().unwrap();
    let store = Store::open(cfg(fresh.path())).unwrap();
    assert!(store.reader().snapshot().fields().absent.is_some());
}

#[test]
fn an_index_made_before_word_sets_keeps_every_records_words() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_index_of(dir.path(), firewatch_index::schema::without_word_sets());
    let snap = append_indexed(&store, (0..10).map(|i| rec(&format!("w:{i}"), i)).collect());
    let f = snap.fields();
    assert!(f.word_sets.is_none());
    // One message, ten times: each record document has its words.
    let retried = TermQuery::new(
        Term::from_field_text(f.message, "retried"),
        IndexRecordOption::Basic,
    );
    assert_eq!(snap.searcher().search(&retried, &Count).unwrap(), 10);
    store.close();
    // A new data directory gets word sets: the same batch leaves two documents with words.
    let fresh = tempfile::tempdir().unwrap();
    let store = Store::open(cfg(fresh.path())).unwrap();
    let snap = append_indexed(&store, (0..10).map(|i| rec(&format!("w:{i}"), i)).collect());
    let retried = TermQuery::new(
        Term::from_field_text(snap.fields().message, "retried"),
        IndexRecordOption::Basic,
    );
    assert_eq!(snap.searcher().search(&retried, &Count).unwrap(), 2);
    assert_eq!(with_word_sets(&snap, &retried), 10);
    store.close();
}

#[test]
fn an_index_made_before_number_buckets_keeps_every_number() {
    let batch = || -> Vec<LogRecord> {
        (0..10)
            .map(|i| {
                let mut r = rec(&format!("n:{i}"), i);
                r.fields.insert("bytes".into(), (3026 + i).into());
                r
            })
            .collect()
    };
    let number = |snap: &Snapshot, n: i64| {
        let mut t = Term::from_field_json_path(snap.fields().fields, "bytes", true);
        t.append_type_and_fast_value(n);
        TermQuery::new(t, IndexRecordOption::Basic)
    };
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_index_of(dir.path(), firewatch_index::schema::exact_numbers());
    let snap = append_indexed(&store, batch());
    assert!(!snap.fields().number_buckets);
    // Each number is its own term, on its record.
    assert_eq!(
        snap.searcher()
            .search(&number(&snap, 3027), &Count)
            .unwrap(),
        1
    );
    assert_eq!(chunked(&snap, &number(&snap, 3050)), 0);
    store.close();
    // A new data directory holds them as their bucket, (3000, 3100), common to the chunk.
    let fresh = tempfile::tempdir().unwrap();
    let store = Store::open(cfg(fresh.path())).unwrap();
    let snap = append_indexed(&store, batch());
    assert!(snap.fields().number_buckets);
    assert_eq!(
        snap.searcher()
            .search(&number(&snap, 3027), &Count)
            .unwrap(),
        0
    );
    assert_eq!(chunked(&snap, &number(&snap, 3050)), 10);
    store.close();
}

#[test]
fn an_index_made_with_a_severity_column_opens_and_keeps_filling_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_index_of(dir.path(), firewatch_index::schema::with_severity());
    let batch: Vec<LogRecord> = (0..12)
        .map(|i| {
            let mut r = rec(&format!("s:{i}"), i);
            r.level = firewatch_ingest::Level::ALL[i as usize % 6];
            r
        })
        .collect();
    let snap = append_indexed(&store, batch);
    let f = snap.fields();
    assert!(f.absent.is_some());
    let severity = f.severity.expect("the schema the index was made with");
    let warn_up = tantivy::query::RangeQuery::new(
        std::ops::Bound::Included(Term::from_field_u64(severity, 3)),
        std::ops::Bound::Unbounded,
    );
    // Warn, error and fatal records, twice; the run's chunk document has record 0's level
    // (trace).
    assert_eq!(snap.searcher().search(&warn_up, &Count).unwrap(), 6);
    store.close();
    // A new data directory has no second level column.
    let fresh = tempfile::tempdir().unwrap();
    let store = Store::open(cfg(fresh.path())).unwrap();
    let snap = store.reader().snapshot();
    assert_eq!(snap.fields().severity, None);
    assert!(snap.searcher().schema().get_field("severity").is_err());
    store.close();
}

#[test]
fn a_follower_sees_every_record_and_its_backlog_holds_ingest_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig {
        max_queued_records: 10,
        broadcast_capacity: 4,
        ..cfg(dir.path())
    })
    .unwrap();
    let rt = rt();
    let mut follower = store.follow();
    let batch = |from: i64, to: i64| (from..to).map(|i| rec(&format!("f:{i}"), i)).collect();
    rt.block_on(async {
        // More in one batch than a live tail keeps: the follower misses none.
        store.append(batch(0, 8)).await.unwrap();
        assert_eq!(follower.backlog(), 8);
        // Indexed, so only the follower's 8 unread records stand in the way of 3 more.
        indexed(&store).await;
        match store.append(batch(8, 11)).await {
            Err(StoreError::Overloaded { reason }) => assert_eq!(reason, "detectors behind"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        for i in 0..8 {
            assert_eq!(follower.recv().await.unwrap().id, format!("f:{i}"));
        }
        assert_eq!(follower.backlog(), 0);
        indexed(&store).await;
        store.append(batch(8, 11)).await.unwrap();
        for i in 8..11 {
            assert_eq!(follower.recv().await.unwrap().id, format!("f:{i}"));
        }
        // A follower dropped with records unread holds nothing back.
        let idle = store.follow();
        indexed(&store).await;
        store.append(batch(11, 20)).await.unwrap();
        for i in 11..20 {
            assert_eq!(follower.recv().await.unwrap().id, format!("f:{i}"));
        }
        drop(idle);
        indexed(&store).await;
        store.append(batch(20, 23)).await.unwrap();
    });
    store.close();
    // What was queued before the close is still read, then the queue ends.
    let ids: Vec<String> = std::iter::from_fn(|| follower.try_recv())
        .map(|r| r.id.clone())
        .collect();
    let want: Vec<String> = (20..23).map(|i| format!("f:{i}")).collect();
    assert_eq!(ids, want);
    assert!(rt.block_on(follower.recv()).is_none());
}

/// Waits until every acknowledged record is indexed, so that only followers hold ingest back.
async fn indexed(store: &Store) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while store
        .metrics()
        .queue_records
        .load(std::sync::atomic::Ordering::Relaxed)
        > 0
    {
        assert!(Instant::now() < deadline, "records never indexed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Segments of about twenty records, never merged.
fn small_segments(dir: &std::path::Path) -> StoreConfig {
    StoreConfig {
        segment_max_bytes: 2000,
        merge_min_segments: 0,
        ..cfg(dir)
    }
}

/// A store of [`small_segments`] holding `batches` batches of ten records (ids
/// `prefix:batch:i`), each applied before the next so that segments fill and seal one after
/// another.
fn sealed_store(dir: &std::path::Path, prefix: &str, batches: i64) -> Store {
    let store = Store::open(small_segments(dir)).unwrap();
    let rt = rt();
    for b in 0..batches {
        let batch = (0..10)
            .map(|i| rec(&format!("{prefix}:{b}:{i}"), b * 10 + i))
            .collect();
        rt.block_on(store.append(batch)).unwrap();
        rt.block_on(indexed(&store));
    }
    store
}

#[test]
fn an_unreadable_segment_is_set_aside_and_the_rest_served() {
    let dir = tempfile::tempdir().unwrap();
    let small = || small_segments(dir.path());
    let rt = rt();
    sealed_store(dir.path(), "d", 10).close();
    let seg_root = dir.path().join("segments");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(seg_root.join("manifest.json")).unwrap()).unwrap();
    let ids: Vec<u64> = manifest["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_u64().unwrap())
        .collect();
    assert!(ids.len() >= 3, "{ids:?}");
    let archive = |id: u64| seg_root.join(format!("{id:016x}")).join("archive.fwa");
    // One archive cut short (its footer lost), one gone.
    let cut = std::fs::OpenOptions::new()
        .write(true)
        .open(archive(ids[0]))
        .unwrap();
    cut.set_len(cut.metadata().unwrap().len() / 2).unwrap();
    std::fs::remove_file(archive(ids[1])).unwrap();

    let store = Store::open(small()).expect("opens without the damaged segments");
    let damaged = |s: &Store| {
        s.metrics()
            .segments_damaged
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    assert_eq!(damaged(&store), 2);
    let snap = store.reader().snapshot();
    let left: u64 = snap.segments().iter().map(|s| s.records).sum();
    assert!(left > 0 && left < 100, "{left}");
    assert_eq!(
        snap.indexed_records().unwrap().0,
        left,
        "the index agrees with the archives"
    );
    let kept = dir.path().join("damaged").join(format!("{:016x}", ids[0]));
    assert!(
        kept.join("archive.fwa").exists(),
        "the damaged archive is kept"
    );
    // New records are taken; the next start finds nothing more to set aside.
    rt.block_on(store.append(vec![rec("d:new", 1000)])).unwrap();
    store.close();
    let store = Store::open(small()).unwrap();
    assert_eq!(damaged(&store), 0);
    assert_eq!(
        store.reader().snapshot().indexed_records().unwrap().0,
        left + 1
    );
    store.close();
}

/// A file of the index with this extension.
fn index_file(index: &std::path::Path, ext: &str) -> std::path::PathBuf {
    std::fs::read_dir(index)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == ext))
        .unwrap()
}

#[test]
fn a_lost_or_damaged_index_is_made_again_from_the_archives() {
    type Damage = fn(&std::path::Path);
    let damages: [(&str, Damage); 4] = [
        ("index deleted", |index| {
            std::fs::remove_dir_all(index).unwrap()
        }),
        ("meta.json garbage", |index| {
            std::fs::write(index.join("meta.json"), "garbage").unwrap()
        }),
        ("a file cut short", |index| {
            let file = index_file(index, "term");
            let bytes = std::fs::read(&file).unwrap();
            std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
        }),
        ("a byte flipped in postings", |index| {
            let file = index_file(index, "idx");
            let mut bytes = std::fs::read(&file).unwrap();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0xff;
            std::fs::write(&file, &bytes).unwrap();
        }),
    ];
    for (what, damage) in damages {
        let dir = tempfile::tempdir().unwrap();
        let small = || small_segments(dir.path());
        let store = sealed_store(dir.path(), "x", 6);
        let checkout = |snap: &Snapshot| {
            let q = TermQuery::new(
                Term::from_field_text(snap.fields().service, "checkout"),
                IndexRecordOption::Basic,
            );
            snap.searcher().search(&q, &Count).unwrap()
        };
        let before = checkout(&store.reader().snapshot());
        store.close();
        damage(&dir.path().join("index"));

        let store = Store::open(small()).unwrap_or_else(|e| panic!("{what}: {e}"));
        let snap = store.reader().snapshot();
        let archived: u64 = snap.segments().iter().map(|s| s.records).sum();
        assert_eq!(archived, 60, "{what}");
        assert_eq!(snap.indexed_records().unwrap().0, 60, "{what}");
        assert_eq!(checkout(&snap), before, "{what}");
        let ptr = snap.locate("x:3:4").unwrap().unwrap();
        assert_eq!(snap.fetch_ptr(ptr).unwrap().id, "x:3:4", "{what}");
        store.close();
        if what != "index deleted" {
            assert!(
                dir.path().join("damaged/index").is_dir(),
                "{what}: set aside"
            );
        }
        // Made once: the next start finds every segment indexed.
        let store = Store::open(small()).unwrap();
        assert_eq!(
            store.reader().snapshot().indexed_records().unwrap().0,
            60,
            "{what}"
        );
        store.close();
    }
}
