//! `firewatch ship` source options end to end: parser hints from the config, compressed rotated
//! siblings, and more matching files than may be open at once.

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::time::{Duration, Instant};

use crate::ship::{metric, Harness};

/// Adds `lines` to the `[[sources]]` table and `limits` to `[limits]` of the harness's config.
fn configure(h: &Harness, source: &str, limits: &str) {
    let path = h.dir.path().join("ship.toml");
    let text = fs::read_to_string(&path).unwrap().replacen(
        "fields = { env = \"test\" }\n",
        &format!("fields = {{ env = \"test\" }}\n{source}\n"),
        1,
    );
    fs::write(&path, format!("{text}{limits}\n")).unwrap();
}

fn wait_until(mut ok: impl FnMut() -> bool, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    ok()
}

#[test]
fn parser_hints_in_the_config_shape_the_records() {
    let mut h = Harness::new(24);
    configure(
        &h,
        "format = \"logfmt\"\nmultiline_start = '^\\d\\d/'\ntimestamp_format = \"%d/%m/%Y %H:%M:%S\"",
        "",
    );
    fs::write(
        h.logs.join("jobs.log"),
        "20/11/2026 10:00:00 job=1 status=ok\nstep one\nstep two\n\
         20/11/2026 10:00:05 job=2 status=failed\n",
    )
    .unwrap();
    h.start();
    assert!(
        wait_until(|| h.node.records().len() >= 2, Duration::from_secs(20)),
        "{}",
        h.own_logs()
    );
    h.stop();
    let mut recs = h.node.records();
    recs.sort_by_key(|r| r.timestamp);
    assert_eq!(recs.len(), 2, "{recs:#?}");
    assert_eq!(recs[0].timestamp, 1_795_168_800_000_000_000);
    assert_eq!(recs[0].fields["job"], "1");
    assert!(
        recs[0].message.ends_with("\nstep one\nstep two"),
        "{recs:#?}"
    );
    assert_eq!(recs[1].fields["status"], "failed");
    assert_eq!(recs[1].fields["env"], "test");
}

/// A rotated sibling compressed while the shipper was down holds lines it never read: with
/// `compressed = true` exactly those are shipped (the copy has the plain file's fingerprint,
/// so its checkpoint applies), an old archive is shipped whole, and a restart reads neither
/// again.
#[test]
fn compressed_siblings_ship_only_what_the_node_lacks_and_only_once() {
    let mut h = Harness::new(24);
    configure(&h, "compressed = true", "");
    let lines = |name: &str, range: std::ops::Range<u32>| -> Vec<String> {
        range
            .map(|i| format!("{name} line {i:03} before and after rotation"))
            .collect()
    };
    let first = lines("app", 0..20);
    fs::write(h.logs.join("app.log"), first.join("\n") + "\n").unwrap();
    h.start();
    let want: HashSet<String> = first.iter().cloned().collect();
    assert!(
        h.wait_for(&want, Duration::from_secs(20)),
        "{}",
        h.own_logs()
    );
    h.stop();

    // While it is down: more lines, then logrotate compresses the file away.
    let unread = lines("app", 20..30);
    let all: Vec<String> = first.iter().chain(&unread).cloned().collect();
    let plain = all.join("\n") + "\n";
    fs::write(
        h.logs.join("app.log.1.zst"),
        zstd::encode_all(plain.as_bytes(), 3).unwrap(),
    )
    .unwrap();
    fs::remove_file(h.logs.join("app.log")).unwrap();
    let old = lines("old", 0..5);
    fs::write(
        h.logs.join("old.log.2.zst"),
        zstd::encode_all((old.join("\n") + "\n").as_bytes(), 3).unwrap(),
    )
    .unwrap();
    fs::write(
        h.logs.join("broken.log.3.zst"),
        b"not zstd at all, just bytes",
    )
    .unwrap();

    h.start();
    let want: HashSet<String> = all.iter().chain(&old).cloned().collect();
    assert!(
        h.wait_for(&want, Duration::from_secs(20)),
        "{}",
        h.own_logs()
    );
    let metrics = h.metrics();
    assert_eq!(metric(&metrics, "records_duplicate"), 0, "{metrics}");
    assert!(
        metric(&metrics, "read_errors") >= 1,
        "the broken archive is reported"
    );
    h.stop();
    assert_eq!(h.node.messages().len(), want.len(), "nothing twice");

    h.start();
    std::thread::sleep(Duration::from_millis(1500));
    h.stop();
    let third = h.log_of(3);
    assert!(!third.contains("reading compressed file"), "{third}");
    assert_eq!(h.node.messages().len(), want.len());
}

#[test]
fn a_bad_parser_hint_is_refused_at_start() {
    let h = Harness::new(24);
    configure(&h, "multiline_start = '(['", "");
    let out = crate::util::firewatch()
        .args(["ship", "--config"])
        .arg(h.dir.path().join("ship.toml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("multiline_start"), "{err}");
}

/// With more matching files than `max_open_files`, the rest wait, loudly; idle files that are
/// read to the end are closed to make room, and reopened where they were when they grow.
#[test]
fn files_beyond_the_open_files_limit_take_turns() {
    let mut h = Harness::new(24);
    configure(&h, "", "max_open_files = 2");
    let names = ["a.log", "b.log", "c.log"];
    let logs = h.logs.clone();
    let append = |round: u32, want: &mut HashSet<String>| {
        for name in names {
            let mut f = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(logs.join(name))
                .unwrap();
            for i in 0..5 {
                let line = format!("{name} round {round} line {i} of a file among too many");
                writeln!(f, "{line}").unwrap();
                want.insert(line);
            }
        }
    };
    let mut want = HashSet::new();
    append(0, &mut want);
    h.start();
    assert!(
        wait_until(
            || metric(&h.metrics(), "files_refused") == 1,
            Duration::from_secs(20)
        ),
        "{}",
        h.metrics()
    );
    assert!(
        h.wait_for(&want, Duration::from_secs(20)),
        "{}",
        h.own_logs()
    );
    assert!(metric(&h.metrics(), "files_tailed") <= 2);
    for round in 1..3 {
        append(round, &mut want);
        assert!(
            h.wait_for(&want, Duration::from_secs(20)),
            "{}",
            h.own_logs()
        );
    }
    let metrics = h.metrics();
    assert!(metric(&metrics, "files_tailed") <= 2, "{metrics}");
    assert!(metric(&metrics, "files_parked") >= 1, "{metrics}");
    assert_eq!(metric(&metrics, "records_duplicate"), 0, "{metrics}");
    h.stop();
    let logs = h.own_logs();
    assert!(logs.contains("too many files to tail at once"), "{logs}");
    assert_eq!(h.node.messages().len(), want.len(), "nothing twice");
}
