//! Segment merging: small sealed segments become one, queries never see a gap or a record
//! twice, and a merge interrupted after any durable step leaves every record exactly once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use firewatch_index::{Snapshot, Store, StoreConfig};
use firewatch_ingest::LogRecord;

fn rec(id: &str, ts: i64) -> LogRecord {
    serde_json::from_value(serde_json::json!({
        "id": id, "timestamp": ts, "observed": ts, "service": "checkout", "host": "web-1",
        "level": "info", "message": format!("order {id} shipped"),
    }))
    .unwrap()
}

fn cfg(dir: &std::path::Path) -> StoreConfig {
    StoreConfig {
        data_dir: dir.to_path_buf(),
        commit_interval_ms: 20,
        merge_min_segments: 3,
        ..Default::default()
    }
}

/// [`cfg`] with merging off.
fn unmerged(dir: &std::path::Path) -> StoreConfig {
    StoreConfig {
        merge_min_segments: 0,
        ..cfg(dir)
    }
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

/// Four small sealed segments of 25 records each: every close seals the active segment.
fn trickle(dir: &std::path::Path) -> Vec<String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut ids = Vec::new();
    for s in 0..4 {
        let store = Store::open(unmerged(dir)).unwrap();
        let batch: Vec<_> = (0..25)
            .map(|i| {
                rec(
                    &LogRecord::file_id(7, s * 1000 + i * 10),
                    (s * 100 + i) as i64,
                )
            })
            .collect();
        ids.extend(batch.iter().map(|r| r.id.clone()));
        rt.block_on(store.append(batch)).unwrap();
        store.close();
    }
    ids
}

/// Every id is archived exactly once, the index has one record document per record and
/// chunk documents covering each record once, and each id leads to its record.
fn check_exactly_once(snap: &Snapshot, ids: &[String]) {
    let mut archived: HashMap<String, u32> = HashMap::new();
    for seg in snap.segments() {
        snap.scan_segment(seg.id, |_, r| *archived.entry(r.id).or_default() += 1)
            .unwrap();
    }
    assert_eq!(archived.len(), ids.len());
    assert!(
        archived.values().all(|n| *n == 1),
        "a record archived twice"
    );
    let n = ids.len() as u64;
    assert_eq!(snap.indexed_records().unwrap(), (n, n));
    for id in ids {
        let ptr = snap.locate(id).unwrap().expect("located");
        assert_eq!(&snap.fetch_ptr(ptr).unwrap().id, id);
    }
}

fn sealed(snap: &Snapshot) -> usize {
    snap.segments().iter().filter(|s| s.sealed).count()
}

#[test]
fn small_segments_are_merged_without_gaps_or_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let ids = trickle(dir.path());
    let store = Store::open(unmerged(dir.path())).unwrap();
    let before = store.reader().snapshot();
    assert_eq!(sealed(&before), 4);
    store.close();

    let store = Store::open(cfg(dir.path())).unwrap();
    let reader = store.reader();
    let old = reader.snapshot();
    wait_for("the merge", || {
        store
            .metrics()
            .segments_merged
            .load(std::sync::atomic::Ordering::Relaxed)
            == 4
    });
    let snap = reader.snapshot();
    assert_eq!(sealed(&snap), 1, "{:?}", snap.segments());
    assert_eq!(snap.segments().iter().map(|s| s.records).sum::<u64>(), 100);
    check_exactly_once(&snap, &ids);
    // A snapshot from before the merge still reads the removed archives.
    check_exactly_once(&old, &ids);
    // Resent records are still recognized.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let again: Vec<_> = ids.iter().take(10).map(|id| rec(id, 0)).collect();
    let out = rt.block_on(store.append(again)).unwrap();
    assert_eq!((out.accepted, out.duplicates), (0, 10));
    store.close();
    let store = Store::open(cfg(dir.path())).unwrap();
    check_exactly_once(&store.reader().snapshot(), &ids);
    store.close();
}

#[test]
fn a_merge_interrupted_after_any_step_loses_and_doubles_nothing() {
    for step in 1..=3u8 {
        let dir = tempfile::tempdir().unwrap();
        let ids = trickle(dir.path());
        let config = cfg(dir.path());
        config.faults.fail_merge_after(step);
        let store = Store::open(config.clone()).unwrap();
        wait_for("the injected crash", || config.faults.crashed());
        store.close();

        let no_merge = unmerged(dir.path());
        let store = Store::open(no_merge).unwrap();
        let snap = store.reader().snapshot();
        check_exactly_once(&snap, &ids);
        // Finished on open after step 3, undone before.
        let expect = if step == 3 { 1 } else { 4 };
        assert_eq!(sealed(&snap), expect, "after step {step}");
        store.close();
        // Undone merges are retried, and succeed.
        let store = Store::open(cfg(dir.path())).unwrap();
        wait_for("the merge", || sealed(&store.reader().snapshot()) == 1);
        check_exactly_once(&store.reader().snapshot(), &ids);
        store.close();
        let leftovers = std::fs::read_dir(dir.path().join("segments"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().is_dir())
            .count();
        assert_eq!(leftovers, 2, "merged segment and the new active one");
    }
}

#[test]
fn a_damaged_block_is_left_out_of_a_merge_and_its_segment_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let ids = trickle(dir.path());
    let store = Store::open(unmerged(dir.path())).unwrap();
    let victim = store.reader().snapshot().segments()[1].clone();
    store.close();
    let name = format!("{:016x}", victim.id);
    let archive = dir.path().join("segments").join(&name).join("archive.fwa");
    let mut bytes = std::fs::read(&archive).unwrap();
    bytes[20] ^= 0x55; // inside the first block's zstd frame
    std::fs::write(&archive, &bytes).unwrap();
    // The segment holds one block: the second trickle's records.
    let lost = &ids[25..50];
    assert_eq!(lost.len() as u64, victim.records);

    let store = Store::open(cfg(dir.path())).unwrap();
    let reader = store.reader();
    wait_for("the merge", || sealed(&reader.snapshot()) == 1);
    let kept: Vec<String> = [&ids[..25], &ids[50..]].concat();
    check_exactly_once(&reader.snapshot(), &kept);
    let damaged = |s: &Store| {
        s.metrics()
            .segments_damaged
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    // The merged view is published (step 3) before the old segment is set aside and counted.
    wait_for("the damaged segment set aside", || damaged(&store) == 1);
    assert_eq!(damaged(&store), 1);
    store.close();
    let set_aside = dir.path().join("damaged").join(&name).join("archive.fwa");
    assert_eq!(std::fs::read(&set_aside).unwrap(), bytes, "kept as it was");
    // The next start finds a consistent store.
    let store = Store::open(cfg(dir.path())).unwrap();
    check_exactly_once(&store.reader().snapshot(), &kept);
    store.close();
}

#[test]
fn a_lost_or_garbage_manifest_is_made_again_even_mid_merge() {
    type Damage = fn(&std::path::Path);
    let damages: [(&str, Damage); 2] = [
        ("garbage", |root| {
            std::fs::write(root.join("manifest.json"), b"{\"version\":2,\"segm").unwrap()
        }),
        ("deleted", |root| {
            std::fs::remove_file(root.join("manifest.json")).unwrap()
        }),
    ];
    for (what, damage) in damages {
        // 0: no merge; 1..=3: a merge interrupted after that step, both its result and its
        // sources on disk.
        for step in 0..=3u8 {
            let dir = tempfile::tempdir().unwrap();
            let ids = trickle(dir.path());
            if step > 0 {
                let config = cfg(dir.path());
                config.faults.fail_merge_after(step);
                let store = Store::open(config.clone()).unwrap();
                wait_for("the injected crash", || config.faults.crashed());
                store.close();
            }
            damage(&dir.path().join("segments"));
            let no_merge = unmerged(dir.path());
            let store = Store::open(no_merge.clone())
                .unwrap_or_else(|e| panic!("{what}, step {step}: {e}"));
            check_exactly_once(&store.reader().snapshot(), &ids);
            store.close();
            let store = Store::open(no_merge).unwrap();
            check_exactly_once(&store.reader().snapshot(), &ids);
            store.close();
        }
    }
}
