//! Reading hits' records: batched fetches across segments and blocks, the block cache, and
//! which questions read no record at all.

mod common;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use firewatch_index::archive::Everything;
use firewatch_index::RecordPtr;
use firewatch_ingest::LogRecord;
use firewatch_query::api::ApiConfig;
use firewatch_query::lang::{matches, parse, Field};
use firewatch_query::search::{Engine, Order, Scope};

const TIMEOUT: Duration = Duration::from_secs(30);

/// How many records the engine says `q` matches (no hit fetched).
fn total(engine: &Engine, q: &str) -> u64 {
    engine
        .search(&scope(q), Order::Desc, 0, None, TIMEOUT)
        .unwrap()
        .total
}

/// How many of `records` the evaluator says `q` matches.
fn matching(records: &[LogRecord], q: &str) -> u64 {
    let q = parse(q).unwrap();
    records.iter().filter(|r| matches(&q, r)).count() as u64
}

fn scope(q: &str) -> Scope {
    Scope {
        query: Arc::new(parse(q).unwrap()),
        start: None,
        end: None,
    }
}

/// Blocks read so far: (from the cache, decompressed).
fn reads(node: &Node) -> (u64, u64) {
    let m = node.store.metrics();
    (
        m.block_cache_hits.load(Relaxed),
        m.block_cache_misses.load(Relaxed),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_histograms_and_top_values_read_no_record() {
    let node = node(corpus(5, 3_000), ApiConfig::default()).await;
    let engine = Engine::new(node.store.reader());
    tokio::task::block_in_place(|| {
        // Record fields and message words are answered by the index alone; structured fields
        // are matched on chunks and checked on the records.
        for q in [
            "*",
            "payment",
            "level:>=warn service:checkout",
            "host:web-1 OR -source:/var/log/auth.log",
        ] {
            let page = engine
                .search(&scope(q), Order::Desc, 0, None, TIMEOUT)
                .unwrap();
            assert!(page.total > 0 && page.hits.is_empty(), "{q}");
            engine
                .histogram(&scope(q), 60 * SEC, Some("level"), TIMEOUT)
                .unwrap();
            for field in ["service", "host", "level", "source"] {
                engine
                    .top(&scope(q), &Field::named(field), 5, TIMEOUT)
                    .unwrap();
            }
        }
        assert_eq!(reads(&node), (0, 0), "no block was read");

        let first = engine
            .search(&scope("payment"), Order::Desc, 50, None, TIMEOUT)
            .unwrap();
        let (hits, misses) = reads(&node);
        assert!(misses > 0 && first.hits.len() == 50);
        // The same page again comes from the cache.
        let again = engine
            .search(&scope("payment"), Order::Desc, 50, None, TIMEOUT)
            .unwrap();
        assert_eq!(again.hits, first.hits);
        let (hits2, misses2) = reads(&node);
        assert_eq!(misses2, misses);
        assert!(hits2 > hits);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_values_rare_in_their_chunk_are_answered_by_the_index_alone() {
    let node = node(corpus(5, 3_000), ApiConfig::default()).await;
    // Durations (integers and decimals, up to 2000): those from 1900 on are in few records
    // of each chunk. An integer below 1000 and 1900 are their own terms, and the others
    // their bucket's (see `firewatch_index::numbers`).
    let durations: Vec<f64> = node
        .records
        .iter()
        .filter_map(|r| r.fields.get("duration_ms")?.as_f64())
        .collect();
    let count = |pred: &dyn Fn(f64) -> bool| durations.iter().filter(|d| pred(**d)).count() as u64;
    let unique = *durations
        .iter()
        .find(|d| count(&|x| x == **d) == 1 && d.fract() == 0.0 && **d < 1000.0)
        .unwrap();
    assert!(count(&|x| x >= 1900.0) * 10 < durations.len() as u64);
    let engine = Engine::new(node.store.reader());
    tokio::task::block_in_place(|| {
        for (q, want) in [
            (format!("duration_ms:{unique}"), 1),
            ("duration_ms:>=1900".into(), count(&|x| x >= 1900.0)),
            ("duration_ms:>1900".into(), count(&|x| x > 1900.0)),
            (
                "duration_ms:>=1900 AND NOT http.method:PUT".into(),
                count(&|x| x >= 1900.0),
            ),
        ] {
            assert_eq!(total(&engine, &q), want, "{q}");
        }
        assert_eq!(reads(&node), (0, 0), "no block was read");
        // A common value is a term of chunks only, and the records of those chunks that lack
        // it say so: still exact. So are ranges and prefixes over common values.
        for q in [
            "http.method:GET",
            "NOT http.method:GET",
            "http.method:GET AND duration_ms:>100",
            "http.method:>=GET",
            "http.method:G*",
        ] {
            let want = matching(&node.records, q);
            assert_eq!(total(&engine, q), want, "{q}");
            assert!(want > 10, "{q}: {want}");
        }
        assert_eq!(reads(&node), (0, 0), "no block was read");
        // A number of a bucket, or a bound inside one: the bucket's records are checked.
        let big = *durations.iter().find(|d| **d > 1000.0).unwrap();
        for (q, want) in [
            (format!("duration_ms:{big}"), count(&|x| x == big)),
            ("duration_ms:>1950.5".into(), count(&|x| x > 1950.5)),
            (
                "duration_ms:[1234 TO 1877.5]".into(),
                count(&|x| (1234.0..=1877.5).contains(&x)),
            ),
        ] {
            assert_eq!(total(&engine, &q), want, "{q}");
        }
        assert!(reads(&node).1 > 0, "the buckets' records were checked");
        let page = engine
            .search(&scope("http.method:GET"), Order::Desc, 10, None, TIMEOUT)
            .unwrap();
        assert_eq!(page.hits.len(), 10);
        assert!(page
            .hits
            .iter()
            .all(|r| r.fields["http"]["method"] == "GET"));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rare_variable_reads_only_the_blocks_that_may_hold_it() {
    let node = node(corpus(6, 8_000), ApiConfig::default()).await;
    // A duration word (`1234ms`: not an index term) in exactly one record.
    let mut seen: std::collections::HashMap<&str, Vec<&str>> = Default::default();
    for r in &node.records {
        for w in r.message.split(' ').filter(|w| w.ends_with("ms")) {
            seen.entry(w).or_default().push(&r.id);
        }
    }
    let (word, ids) = seen
        .iter()
        .filter(|(w, ids)| ids.len() == 1 && w.len() >= 6)
        .min()
        .expect("a unique duration");
    let engine = Engine::new(node.store.reader());
    tokio::task::block_in_place(|| {
        let page = engine
            .search(&scope(word), Order::Desc, 10, None, TIMEOUT)
            .unwrap();
        let got: Vec<&str> = page.hits.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(got, *ids);
        let (_, variable) = reads(&node);
        // A regex reads every block: those not read yet are misses.
        engine
            .search(&scope("/zzz/"), Order::Desc, 10, None, TIMEOUT)
            .unwrap();
        let (_, all) = reads(&node);
        assert!(all >= 8, "the corpus spans many blocks: {all}");
        assert!(
            variable * 2 <= all,
            "{word}: {variable} of {all} blocks read"
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_candidate_budget_structured_predicates_check_every_record() {
    let node = node(corpus(7, 2_000), ApiConfig::default()).await;
    let full = Engine::new(node.store.reader());
    let none = Engine::new(node.store.reader()).with_candidate_budget(0);
    tokio::task::block_in_place(|| {
        for q in [
            "http.status:503 OR duration_ms:>500",
            "tags:red AND user_id:*",
        ] {
            let a = full
                .search(&scope(q), Order::Desc, 20, None, TIMEOUT)
                .unwrap();
            let b = none
                .search(&scope(q), Order::Desc, 20, None, TIMEOUT)
                .unwrap();
            assert!(a.total > 0, "{q}");
            assert_eq!((a.total, &a.hits), (b.total, &b.hits), "{q}");
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_across_segments_blocks_and_the_active_block_keeps_its_order() {
    // Small segments and 64 KiB blocks: several sealed segments, then the active one, whose
    // newest records are not yet in a written block.
    let mut node = node_with(corpus(9, 4_000), ApiConfig::default(), 300_000).await;
    // Sealing follows the commit ticks, so the last tick may just have sealed every record:
    // then add records one at a time (one never fills a segment) until the active one has some.
    let more = corpus(9, 4_010);
    let mut next = 4_000;
    while !node
        .store
        .reader()
        .snapshot()
        .segments()
        .iter()
        .any(|s| !s.sealed && s.records > 0)
    {
        node.append(vec![more[next].clone()]).await;
        next += 1;
    }
    let total = node.records.len();
    tokio::task::block_in_place(|| {
        let snap = node.store.reader().snapshot();
        let segments = snap.segments();
        assert!(segments.len() >= 3, "{} segments", segments.len());
        assert!(segments.iter().any(|s| !s.sealed && s.records > 0));
        let mut stored = Vec::new();
        for s in &segments {
            snap.scan_segment(s.id, |ptr, rec| stored.push((ptr, rec)))
                .unwrap();
        }
        assert_eq!(stored.len(), total);
        // A scrambled batch with repeats, spanning every segment and block.
        let mut rng = Rng::new(3);
        let picks: Vec<usize> = (0..700)
            .map(|i| match i % 10 {
                0 => stored.len() - 1 - (rng.next() as usize % 20), // the newest records
                _ => rng.next() as usize % stored.len(),
            })
            .collect();
        let ptrs: Vec<RecordPtr> = picks.iter().map(|&i| stored[i].0).collect();
        let want: Vec<_> = picks.iter().map(|&i| stored[i].1.clone()).collect();
        assert_eq!(snap.fetch_many(&ptrs).unwrap(), want);
        // Through the cache now, and one at a time.
        assert_eq!(snap.fetch_many(&ptrs).unwrap(), want);
        for (ptr, rec) in ptrs.iter().zip(&want).take(50) {
            assert_eq!(&snap.fetch_ptr(*ptr).unwrap(), rec);
        }
        let missing = RecordPtr {
            segment: u64::MAX,
            ord: 0,
        };
        assert!(snap.fetch_many(&[ptrs[0], missing]).is_err());
        let past_end = RecordPtr {
            segment: segments[0].id,
            ord: segments[0].records,
        };
        assert!(snap.fetch_many(&[past_end]).is_err());

        // Ordinals chosen per segment come back ascending, each once.
        let s = &segments[1];
        let mid = s.records / 2;
        let ords = [5, 5, 3, mid, mid + 1, s.records - 1];
        let mut seen = Vec::new();
        snap.scan_ords(s.id, ords, &Everything, |ptr, rec| {
            seen.push((ptr.ord, rec.id));
            true
        })
        .unwrap();
        let ids: Vec<(u64, String)> = stored
            .iter()
            .filter(|(p, _)| p.segment == s.id && [5, mid, mid + 1, s.records - 1].contains(&p.ord))
            .map(|(p, r)| (p.ord, r.id.clone()))
            .collect();
        assert_eq!(seen, ids);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_engine_keeps_answering_as_segments_come_and_merge() {
    // Small segments, so that appends seal some and merges replace them.
    let all = corpus(11, 3_000);
    let mut node = node_with(all[..1_000].to_vec(), ApiConfig::default(), 200_000).await;
    let engine = Engine::new(node.store.reader());
    for upto in [1_000, 2_000, 3_000] {
        if node.records.len() < upto {
            node.append(all[node.records.len()..upto].to_vec()).await;
        }
        tokio::task::block_in_place(|| {
            for q in ["*", "level:error", "http.status:503"] {
                let want = matching(&node.records, q);
                assert_eq!(total(&engine, q), want, "{q} over {upto} records");
            }
        });
    }
}
