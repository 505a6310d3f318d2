//! `firewatch serve` + `firewatch ship` as real processes: the shipper is SIGKILLed repeatedly
//! while a writer appends and rotates, the node is stopped for a while and restarted, and in the
//! end every written line is in the node's store exactly once.

use std::collections::{HashMap, HashSet};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use firewatch_index::{Store, StoreConfig};

use crate::util::{firewatch, fresh_dir, start_node, KillOnDrop};

fn start_shipper(dir: &Path, n: u32) -> KillOnDrop {
    let log = fs::File::create(dir.join(format!("ship-{n}.log"))).unwrap();
    let child = firewatch()
        .args(["--log", "info", "ship", "--config"])
        .arg(dir.join("ship.toml"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline
        && !fs::read_to_string(dir.join(format!("ship-{n}.log")))
            .unwrap_or_default()
            .contains("shipping")
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    KillOnDrop(child)
}

fn sigterm(mut c: KillOnDrop) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &c.id().to_string()])
        .status();
    let status = c.wait().unwrap();
    assert!(status.success(), "graceful exit: {status}");
}

fn sigkill(mut c: KillOnDrop) {
    let _ = c.kill();
    let _ = c.wait();
}

#[test]
fn crashes_rotations_and_node_outage_lose_and_duplicate_nothing() {
    let dir = fresh_dir();
    let logs = dir.path().join("logs");
    let node_data = dir.path().join("node");
    fs::create_dir_all(&logs).unwrap();
    let (mut node, addr) = start_node(&node_data, "127.0.0.1:0", &[]);
    fs::write(
        dir.path().join("ship.toml"),
        format!(
            r#"data_dir = "{data}"
[[sources]]
include = ["{logs}/app.log*"]
[sink]
urls = ["http://{addr}"]
timeout_ms = 3000
backoff_base_ms = 20
backoff_max_ms = 300
breaker_cooldown_ms = 100
[limits]
fingerprint_bytes = 32
batch_max_wait_ms = 50
scan_interval_ms = 100
poll_interval_ms = 50
release_idle_ms = 300
checkpoint_interval_ms = 100
"#,
            data = dir.path().join("ship").display(),
            logs = logs.display(),
        ),
    )
    .unwrap();
    let mut starts = 1;
    let mut shipper = start_shipper(dir.path(), starts);
    let mut written = HashSet::new();
    let app = logs.join("app.log");
    let mut rotations = 0;
    for step in 0..12 {
        {
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&app)
                .unwrap();
            for i in 0..200 {
                let line = format!("step {step:02} line {i:04} order=A-{step}{i} status=ok");
                writeln!(f, "{line}").unwrap();
                written.insert(line);
            }
        }
        std::thread::sleep(Duration::from_millis(60));
        match step % 4 {
            0 => {
                rotations += 1;
                fs::rename(&app, logs.join(format!("app.log.{rotations}"))).unwrap();
            }
            1 => {
                sigkill(shipper);
                starts += 1;
                shipper = start_shipper(dir.path(), starts);
            }
            2 if step == 6 => {
                // The node goes away for a while; the shipper spools meanwhile.
                sigterm(node);
                std::thread::sleep(Duration::from_millis(700));
                node = start_node(&node_data, &addr, &[]).0;
            }
            _ => {}
        }
    }
    // Let the shipper catch up, then stop both gracefully.
    let deadline = Instant::now() + Duration::from_secs(30);
    let acked_all = loop {
        let cps = fs::read_to_string(dir.path().join("ship/checkpoints.json")).unwrap_or_default();
        let spooled = fs::read_dir(dir.path().join("ship/spool"))
            .map(|d| d.count())
            .unwrap_or(1);
        let offsets: u64 = serde_json::from_str::<serde_json::Value>(&cps)
            .ok()
            .and_then(|v| v["checkpoints"].as_object().cloned())
            .map(|m| m.values().filter_map(|c| c["offset"].as_u64()).sum())
            .unwrap_or(0);
        let sizes: u64 = fs::read_dir(&logs)
            .unwrap()
            .filter_map(|e| e.ok()?.metadata().ok())
            .map(|m| m.len())
            .sum();
        if spooled == 0 && offsets == sizes {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    sigterm(shipper);
    sigterm(node);
    let ship_logs: String = (1..=starts)
        .map(|n| fs::read_to_string(dir.path().join(format!("ship-{n}.log"))).unwrap_or_default())
        .collect();
    assert!(acked_all, "shipper did not catch up; its log:\n{ship_logs}");

    let store = Store::open(StoreConfig {
        data_dir: node_data.clone(),
        commit_interval_ms: 20,
        ..Default::default()
    })
    .expect("reopen store");
    let snap = store.reader().snapshot();
    let mut stored: HashMap<String, u32> = HashMap::new();
    for seg in snap.segments() {
        snap.scan_segment(seg.id, |_, rec| {
            *stored.entry(rec.message).or_default() += 1
        })
        .expect("scan");
    }
    store.close();
    let twice: Vec<_> = stored.iter().filter(|(_, n)| **n > 1).collect();
    let lost: Vec<_> = written
        .iter()
        .filter(|l| !stored.contains_key(*l))
        .collect();
    assert!(
        twice.is_empty(),
        "stored twice: {:?}",
        &twice[..twice.len().min(5)]
    );
    assert!(
        lost.is_empty(),
        "lost {} of {}: {:?}",
        lost.len(),
        written.len(),
        &lost[..lost.len().min(5)]
    );
    assert_eq!(stored.len(), written.len());
}
