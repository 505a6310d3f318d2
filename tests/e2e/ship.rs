//! `firewatch ship` as a process against a fake node: the property-based interpreter of file
//! actions (rotation, truncation, crashes, node outages) and bad input.

use std::collections::{HashMap, HashSet};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::fake_node::{FakeNode, Mode};
use crate::util::{firewatch, fresh_dir};

/// Short intervals so a test converges in well under a second per step.
fn config(node: &str, data: &Path, logs: &Path, fingerprint_bytes: usize) -> String {
    format!(
        r#"data_dir = "{data}"
host = "test"
status_addr = "127.0.0.1:0"
[[sources]]
include = ["{logs}/*.log*"]
fields = {{ env = "test" }}
[sink]
urls = ["{node}"]
timeout_ms = 2000
backoff_base_ms = 20
backoff_max_ms = 300
breaker_cooldown_ms = 100
[limits]
fingerprint_bytes = {fingerprint_bytes}
batch_max_wait_ms = 50
scan_interval_ms = 100
poll_interval_ms = 50
partial_idle_ms = 500
release_idle_ms = 300
twin_wait_ms = 500
checkpoint_interval_ms = 100
drain_timeout_ms = 1000
spool_fsync = false
"#,
        data = data.display(),
        logs = logs.display(),
    )
}

pub(crate) struct Harness {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) logs: PathBuf,
    pub(crate) node: FakeNode,
    child: Option<Child>,
    starts: u32,
}

impl Harness {
    pub(crate) fn new(fingerprint_bytes: usize) -> Self {
        let dir = fresh_dir();
        let logs = dir.path().join("logs");
        fs::create_dir_all(&logs).unwrap();
        let node = FakeNode::start();
        let cfg = config(
            &node.url(),
            &dir.path().join("data"),
            &logs,
            fingerprint_bytes,
        );
        fs::write(dir.path().join("ship.toml"), cfg).unwrap();
        Harness {
            dir,
            logs,
            node,
            child: None,
            starts: 0,
        }
    }

    pub(crate) fn start(&mut self) {
        self.start_with(|_| {});
    }

    fn start_with(&mut self, tweak: impl FnOnce(&mut std::process::Command)) {
        self.starts += 1;
        let log =
            fs::File::create(self.dir.path().join(format!("ship-{}.log", self.starts))).unwrap();
        let mut cmd = firewatch();
        cmd.args(["--log", "info", "ship", "--config"])
            .arg(self.dir.path().join("ship.toml"))
            .stdout(Stdio::null())
            .stderr(log);
        tweak(&mut cmd);
        self.child = Some(cmd.spawn().unwrap());
        // Ready once it says so: a SIGTERM before its handler is installed would kill it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.log_of(self.starts).contains("shipping") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub(crate) fn log_of(&self, start: u32) -> String {
        fs::read_to_string(self.dir.path().join(format!("ship-{start}.log"))).unwrap_or_default()
    }

    /// SIGKILL: no flush, no checkpoint.
    fn crash(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for the graceful exit.
    pub(crate) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(status)) = c.try_wait() {
                    assert!(status.success(), "shipper exited with {status}");
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            panic!("shipper did not stop on SIGTERM");
        }
    }

    /// `GET /metrics` from the running shipper (its address is in its log).
    pub(crate) fn metrics(&self) -> String {
        let log = self.log_of(self.starts);
        let at = log
            .find("status endpoint listening")
            .expect("status endpoint logged");
        let rest = &log[at..];
        let start = rest.find("127.0.0.1:").unwrap();
        let addr: String = rest[start..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
            .collect();
        reqwest::blocking::get(format!("http://{addr}/metrics"))
            .unwrap()
            .text()
            .unwrap()
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub(crate) fn own_logs(&self) -> String {
        (1..=self.starts).map(|i| self.log_of(i)).collect()
    }

    /// Waits until every line of `want` is stored (or the timeout).
    pub(crate) fn wait_for(&self, want: &HashSet<String>, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let have: HashSet<String> = self.node.messages().into_iter().collect();
            if want.is_subset(&have) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.crash();
    }
}

#[derive(Debug, Clone)]
enum Action {
    Write {
        file: usize,
        lines: usize,
    },
    /// logrotate's default: rename away, the writer creates a new file.
    Rotate {
        file: usize,
    },
    /// logrotate with `compress`: rename away, compress the rotated file (zstd), delete it.
    CompressRotate {
        file: usize,
    },
    /// logrotate copytruncate: copy to a rotated sibling, truncate in place.
    CopyTruncate {
        file: usize,
    },
    /// Destroys the file's lines that were not read yet.
    Truncate {
        file: usize,
    },
    /// Destroys the file's lines that were not read yet (the open handle still reads them).
    Delete {
        file: usize,
    },
    Pause {
        ms: u64,
    },
    Crash,
    Restart,
    Node(Mode),
}

fn action() -> impl Strategy<Value = Action> {
    let file = 0..3usize;
    prop_oneof![
        6 => (file.clone(), 1..40usize).prop_map(|(file, lines)| Action::Write { file, lines }),
        2 => file.clone().prop_map(|file| Action::Rotate { file }),
        2 => file.clone().prop_map(|file| Action::CopyTruncate { file }),
        1 => file.clone().prop_map(|file| Action::CompressRotate { file }),
        1 => file.clone().prop_map(|file| Action::Truncate { file }),
        1 => file.prop_map(|file| Action::Delete { file }),
        2 => (20..300u64).prop_map(|ms| Action::Pause { ms }),
        2 => Just(Action::Crash),
        1 => Just(Action::Restart),
        2 => prop_oneof![
            Just(Mode::Down),
            Just(Mode::Busy),
            Just(Mode::Unavailable),
            Just(Mode::Up)
        ]
        .prop_map(Action::Node),
    ]
}

/// What the writer knows: every line written, and those destroyed before they surely were read.
#[derive(Default)]
struct Ledger {
    written: HashSet<String>,
    /// Lines currently in each live file.
    in_file: HashMap<usize, Vec<String>>,
    destroyed: HashSet<String>,
    seq: usize,
    rotations: usize,
}

fn run_actions(actions: &[Action]) -> Result<(), TestCaseError> {
    let mut h = Harness::new(24);
    // Compressed rotated siblings are read: a compressed rotation loses nothing either.
    let cfg = h.dir.path().join("ship.toml");
    let text = fs::read_to_string(&cfg).unwrap().replacen(
        "fields = { env = \"test\" }\n",
        "fields = { env = \"test\" }\ncompressed = true\n",
        1,
    );
    fs::write(&cfg, text).unwrap();
    let mut l = Ledger::default();
    h.start();
    let path = |h: &Harness, f: usize| h.logs.join(format!("f{f}.log"));
    for a in actions {
        match a {
            Action::Write { file, lines } => {
                let mut text = String::new();
                for _ in 0..*lines {
                    // Unique, and longer than the fingerprint so every file can be identified.
                    let line = format!("file {file} line {:06} payload-abcdefghijkl", l.seq);
                    l.seq += 1;
                    text.push_str(&line);
                    text.push('\n');
                    l.written.insert(line.clone());
                    l.in_file.entry(*file).or_default().push(line);
                }
                let mut f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path(&h, *file))
                    .unwrap();
                f.write_all(text.as_bytes()).unwrap();
            }
            Action::Rotate { file } => {
                let p = path(&h, *file);
                if p.exists() {
                    l.rotations += 1;
                    fs::rename(&p, p.with_extension(format!("log.{}", l.rotations))).unwrap();
                    l.in_file.remove(file);
                }
            }
            Action::CompressRotate { file } => {
                let p = path(&h, *file);
                if p.exists() {
                    l.rotations += 1;
                    let rotated = p.with_extension(format!("log.{}", l.rotations));
                    fs::rename(&p, &rotated).unwrap();
                    let bytes = fs::read(&rotated).unwrap();
                    let zst = p.with_extension(format!("log.{}.zst", l.rotations));
                    fs::write(&zst, zstd::encode_all(&bytes[..], 3).unwrap()).unwrap();
                    fs::remove_file(&rotated).unwrap();
                    l.in_file.remove(file);
                }
            }
            Action::CopyTruncate { file } => {
                let p = path(&h, *file);
                if p.exists() {
                    l.rotations += 1;
                    fs::copy(&p, p.with_extension(format!("log.{}", l.rotations))).unwrap();
                    OpenOptions::new()
                        .write(true)
                        .open(&p)
                        .unwrap()
                        .set_len(0)
                        .unwrap();
                    l.in_file.remove(file);
                }
            }
            Action::Truncate { file } | Action::Delete { file } => {
                let p = path(&h, *file);
                if p.exists() {
                    if matches!(a, Action::Truncate { .. }) {
                        OpenOptions::new()
                            .write(true)
                            .open(&p)
                            .unwrap()
                            .set_len(0)
                            .unwrap();
                    } else {
                        fs::remove_file(&p).unwrap();
                    }
                    l.destroyed
                        .extend(l.in_file.remove(file).unwrap_or_default());
                }
            }
            Action::Pause { ms } => std::thread::sleep(Duration::from_millis(*ms)),
            Action::Crash => {
                h.crash();
                h.start();
            }
            Action::Restart => {
                h.stop();
                h.start();
            }
            Action::Node(mode) => h.node.set(*mode),
        }
    }
    h.node.set(Mode::Up);
    let survivors: HashSet<String> = l.written.difference(&l.destroyed).cloned().collect();
    let complete = h.wait_for(&survivors, Duration::from_secs(20));
    // Give stray re-deliveries a moment to show up as duplicates, then stop gracefully.
    std::thread::sleep(Duration::from_millis(300));
    h.stop();
    let stored = h.node.messages();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for m in &stored {
        *count.entry(m.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = count.iter().filter(|(_, n)| **n > 1).collect();
    let foreign: Vec<_> = count.keys().filter(|m| !l.written.contains(**m)).collect();
    let mut missing: Vec<_> = survivors
        .iter()
        .filter(|m| !count.contains_key(m.as_str()))
        .collect();
    missing.sort();
    let logs = h.own_logs();
    prop_assert!(
        complete && missing.is_empty(),
        "lost {} lines (first {:?}) of {}; shipper log:\n{logs}",
        missing.len(),
        missing.first(),
        survivors.len()
    );
    prop_assert!(twice.is_empty(), "stored twice: {twice:?}");
    prop_assert!(foreign.is_empty(), "never written: {foreign:?}");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 6,
        max_shrink_iters: 4,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_written_line_is_stored_exactly_once(actions in prop::collection::vec(action(), 1..16)) {
        run_actions(&actions)?;
    }
}

#[test]
fn compressed_rotations_across_crashes_lose_nothing_and_duplicate_nothing() {
    use Action::*;
    let actions = [
        Write { file: 0, lines: 30 },
        Pause { ms: 200 },
        CompressRotate { file: 0 },
        Write { file: 0, lines: 10 },
        Crash,
        CompressRotate { file: 0 },
        Write { file: 1, lines: 5 },
        Node(Mode::Down),
        Write { file: 1, lines: 5 },
        CompressRotate { file: 1 },
        Crash,
        Pause { ms: 400 },
        Node(Mode::Up),
        Write { file: 0, lines: 3 },
    ];
    run_actions(&actions).unwrap();
}

#[test]
fn crash_during_outage_loses_nothing_and_duplicates_nothing() {
    use Action::*;
    let actions = [
        Write { file: 0, lines: 30 },
        Pause { ms: 200 },
        Node(Mode::Down),
        Write { file: 0, lines: 20 },
        Write { file: 1, lines: 20 },
        Pause { ms: 300 },
        Rotate { file: 0 },
        Write { file: 0, lines: 10 },
        Crash,
        CopyTruncate { file: 1 },
        Write { file: 1, lines: 5 },
        Pause { ms: 300 },
        Node(Mode::Unavailable),
        Restart,
        Write { file: 2, lines: 15 },
        Node(Mode::Up),
    ];
    run_actions(&actions).unwrap();
}

/// Binary data, NUL bytes, invalid UTF-8 and a 10 MB line arrive, and memory stays bounded.
#[test]
fn bad_input_is_shipped_without_harm() {
    let mut h = Harness::new(24);
    let mut bin = b"binary header \0\0\x01\x02\xff\xfe\n".to_vec();
    bin.extend((0..=255u8).cycle().take(4096));
    bin.extend_from_slice(b"\nafter binary line ok\n");
    fs::write(h.logs.join("binary.log"), &bin).unwrap();
    fs::write(
        h.logs.join("utf8.log"),
        b"bad utf8 \xc3\x28 \xa0\xa1 here\nnext line is fine\n",
    )
    .unwrap();
    let mut huge = b"a long line begins here".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 10 << 20));
    huge.extend_from_slice(b"\nthe line after the huge one\n");
    fs::write(h.logs.join("huge.log"), &huge).unwrap();
    h.start();
    let want: HashSet<String> = [
        "after binary line ok",
        "next line is fine",
        "the line after the huge one",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert!(
        h.wait_for(&want, Duration::from_secs(20)),
        "{}",
        h.own_logs()
    );
    let status = fs::read_to_string(format!("/proc/{}/status", h.pid())).unwrap();
    let hwm_kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    h.stop();
    let recs = h.node.records();
    let long = recs
        .iter()
        .find(|r| r.message.starts_with("a long line begins here"))
        .expect("huge line shipped");
    assert!(
        long.message.len() <= (1 << 20) + 8,
        "huge line capped: {}",
        long.message.len()
    );
    assert!(recs.iter().any(|r| r.message.contains("bad utf8")));
    assert!(recs
        .iter()
        .all(|r| r.fields.get("env").is_some_and(|v| v == "test")));
    assert!(
        hwm_kb < 64 * 1024,
        "peak RSS {hwm_kb} KiB with a 10 MB line"
    );
}

/// An unreadable file is reported and skipped; files that vanish are ignored; others continue.
#[test]
fn unreadable_and_vanishing_files_do_not_stop_the_others() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let mut h = Harness::new(24);
    let secret = h.logs.join("secret.log");
    fs::write(&secret, "a secret line that cannot be read at all\n").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o000)).unwrap();
    let root = is_root();
    if root {
        // Root reads anything: run the shipper as nobody, with the test directory open to it.
        for p in [h.dir.path().to_path_buf(), h.logs.clone()] {
            fs::set_permissions(&p, fs::Permissions::from_mode(0o777)).unwrap();
        }
        h.start_with(|c| {
            c.uid(65534).gid(65534);
        });
    } else {
        h.start();
    }
    let mut want = HashSet::new();
    for i in 0..30 {
        let vanish = h.logs.join(format!("vanish-{i}.log"));
        fs::write(
            &vanish,
            format!("short lived file number {i} with enough bytes\n"),
        )
        .unwrap();
        let line = format!("steady file line {i:04} keeps being shipped");
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(h.logs.join("steady.log"))
            .unwrap();
        writeln!(f, "{line}").unwrap();
        want.insert(line);
        std::thread::sleep(Duration::from_millis(10));
        fs::remove_file(&vanish).unwrap();
    }
    assert!(
        h.wait_for(&want, Duration::from_secs(20)),
        "{}",
        h.own_logs()
    );
    let metrics = h.metrics();
    h.stop();
    let logs = h.own_logs();
    assert!(metric(&metrics, "read_errors") >= 1, "{metrics}");
    assert!(metric(&metrics, "lines_read") >= 30, "{metrics}");
    assert!(metric(&metrics, "batches_acked") >= 1, "{metrics}");
    assert!(logs.contains("cannot read file"), "{logs}");
    assert!(logs.contains("secret.log"), "{logs}");
    assert!(!h.node.messages().iter().any(|m| m.contains("secret line")));
}

fn is_root() -> bool {
    fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

pub(crate) fn metric(text: &str, name: &str) -> u64 {
    let key = format!("firewatch_ship_{name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&key))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in {text}"))
}

/// Two files that start with the same bytes are different files: both are shipped in full, and
/// a restart finds each one's checkpoint again.
#[test]
fn files_with_the_same_header_are_told_apart() {
    let mut h = Harness::new(24);
    let banner = "=== service starting, build 1.2.3 ===\n";
    let mut want = HashSet::new();
    for name in ["a.log", "b.log"] {
        let mut text = banner.to_string();
        for i in 0..20 {
            let line = format!("{name} line {i:03} is only in this file");
            text.push_str(&line);
            text.push('\n');
            want.insert(line);
        }
        fs::write(h.logs.join(name), text).unwrap();
    }
    h.start();
    assert!(
        h.wait_for(&want, Duration::from_secs(20)),
        "{}",
        h.own_logs()
    );
    h.crash();
    for name in ["a.log", "b.log"] {
        let line = format!("{name} after restart");
        let mut f = OpenOptions::new()
            .append(true)
            .open(h.logs.join(name))
            .unwrap();
        writeln!(f, "{line}").unwrap();
        want.insert(line);
    }
    h.start();
    assert!(
        h.wait_for(&want, Duration::from_secs(20)),
        "{}",
        h.own_logs()
    );
    std::thread::sleep(Duration::from_millis(300));
    h.stop();
    let stored = h.node.messages();
    let banners = stored.iter().filter(|m| m.starts_with("===")).count();
    assert_eq!(banners, 2, "each file's banner once");
    assert_eq!(stored.len(), want.len() + 2, "nothing twice: {stored:?}");
}

/// A full spool stops reading, loudly; when the node is back, reading resumes and nothing is lost.
#[test]
fn full_spool_pauses_reading_and_loses_nothing() {
    let mut h = Harness::new(24);
    let cfg = h.dir.path().join("ship.toml");
    let mut text = fs::read_to_string(&cfg).unwrap();
    text.push_str("spool_max_bytes = 1\n");
    fs::write(&cfg, text).unwrap();
    h.node.set(Mode::Down);
    h.start();
    let mut want = HashSet::new();
    for round in 0..5 {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(h.logs.join("busy.log"))
            .unwrap();
        for i in 0..50 {
            let line = format!("round {round} line {i:03} written while the node is down");
            writeln!(f, "{line}").unwrap();
            want.insert(line);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let metrics = h.metrics();
    assert_eq!(metric(&metrics, "spool_full"), 1, "{metrics}");
    assert!(h.node.messages().is_empty());
    h.node.set(Mode::Up);
    assert!(
        h.wait_for(&want, Duration::from_secs(20)),
        "{}",
        h.own_logs()
    );
    let metrics = h.metrics();
    assert_eq!(metric(&metrics, "spool_full"), 0, "{metrics}");
    h.stop();
    let logs = h.own_logs();
    assert!(logs.contains("spool full; reading paused"), "{logs}");
    assert!(logs.contains("reading resumed"), "{logs}");
    assert_eq!(h.node.messages().len(), want.len());
}

/// With a dead first node, batches fail over to the next URL.
#[test]
fn fails_over_to_the_next_node() {
    let mut h = Harness::new(24);
    let cfg = h.dir.path().join("ship.toml");
    let url = h.node.url();
    let text = fs::read_to_string(&cfg).unwrap().replace(
        &format!("urls = [\"{url}\"]"),
        &format!("urls = [\"http://127.0.0.1:1\", \"{url}\"]"),
    );
    fs::write(&cfg, text).unwrap();
    h.start();
    let mut want = HashSet::new();
    let mut f = fs::File::create(h.logs.join("app.log")).unwrap();
    for i in 0..100 {
        let line = format!("line {i:03} goes to whichever node is up");
        writeln!(f, "{line}").unwrap();
        want.insert(line);
    }
    assert!(
        h.wait_for(&want, Duration::from_secs(20)),
        "{}",
        h.own_logs()
    );
    let metrics = h.metrics();
    h.stop();
    assert!(metric(&metrics, "retries") >= 1, "{metrics}");
    assert_eq!(h.node.messages().len(), 100);
}

/// A file deleted, or renamed out of the globs, while the writer still appends is read to its
/// end through the open handle.
#[test]
fn deleted_and_renamed_away_files_are_read_to_the_end() {
    let mut h = Harness::new(24);
    let mut want = HashSet::new();
    let mut writers = Vec::new();
    for name in ["gone.log", "moved.log"] {
        let mut f = fs::File::create(h.logs.join(name)).unwrap();
        let line = format!("{name} first line, read before anything happens");
        writeln!(f, "{line}").unwrap();
        want.insert(line);
        writers.push(f);
    }
    h.start();
    assert!(
        h.wait_for(&want, Duration::from_secs(20)),
        "{}",
        h.own_logs()
    );
    fs::remove_file(h.logs.join("gone.log")).unwrap();
    fs::rename(h.logs.join("moved.log"), h.logs.join("moved.old")).unwrap();
    for (i, f) in writers.iter_mut().enumerate() {
        for n in 0..50 {
            let line = format!("writer {i} line {n:03} after delete or rename");
            writeln!(f, "{line}").unwrap();
            want.insert(line);
        }
    }
    assert!(
        h.wait_for(&want, Duration::from_secs(20)),
        "{}",
        h.own_logs()
    );
    h.stop();
    assert_eq!(h.node.messages().len(), want.len());
}

#[test]
fn short_files_are_shipped_and_known_again_once_they_grow() {
    // The default fingerprint: every file here starts shorter than it.
    let mut h = Harness::new(256);
    h.start();
    let a = h.logs.join("a.log");
    fs::write(&a, "job a started\njob a step 0\n").unwrap();
    // The same single line in two files: two files, two records.
    fs::write(h.logs.join("c.log"), "ok\n").unwrap();
    fs::write(h.logs.join("d.log"), "ok\n").unwrap();
    // Last words without a newline (shipped once the file is idle).
    fs::write(h.logs.join("e.log"), "fatal: out of memory").unwrap();
    let mut want: HashSet<String> = [
        "job a started",
        "job a step 0",
        "ok",
        "fatal: out of memory",
    ]
    .map(String::from)
    .into();
    assert!(
        h.wait_for(&want, Duration::from_secs(10)),
        "short files never shipped"
    );
    let oks = |h: &Harness| h.node.messages().iter().filter(|m| *m == "ok").count();
    let deadline = Instant::now() + Duration::from_secs(10);
    while oks(&h) < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(oks(&h), 2, "files with the same line were taken for one");
    // a.log grows past the fingerprint while the shipper is down, and again after: read on
    // from where it was, under the same ids.
    h.crash();
    let mut grow = |from: usize, to: usize| {
        let mut f = OpenOptions::new().append(true).open(&a).unwrap();
        for i in from..to {
            let line = format!("job a step {i} with a longer line of output");
            writeln!(f, "{line}").unwrap();
            want.insert(line);
        }
    };
    grow(1, 8);
    h.start();
    grow(8, 12);
    assert!(
        h.wait_for(&want, Duration::from_secs(10)),
        "lines of the grown file lost"
    );
    std::thread::sleep(Duration::from_millis(300));
    h.stop();
    let mut count: HashMap<String, usize> = HashMap::new();
    for m in h.node.messages() {
        *count.entry(m).or_default() += 1;
    }
    let twice: Vec<_> = count
        .iter()
        .filter(|(m, n)| **n > 1 && m.as_str() != "ok")
        .collect();
    assert!(
        twice.is_empty(),
        "stored twice: {twice:?}\n{}",
        h.own_logs()
    );
    assert_eq!(count.get("ok"), Some(&2));
}

#[test]
fn a_corrupt_checkpoint_file_is_set_aside_and_files_read_again_under_the_same_ids() {
    let mut h = Harness::new(32);
    h.start();
    let a = h.logs.join("a.log");
    let lines = |from: usize, to: usize| -> Vec<String> {
        (from..to)
            .map(|i| format!("request {i} served in {i} ms"))
            .collect()
    };
    fs::write(&a, lines(0, 20).join("\n") + "\n").unwrap();
    let mut want: HashSet<String> = lines(0, 20).into_iter().collect();
    assert!(h.wait_for(&want, Duration::from_secs(10)), "never shipped");
    h.stop();
    let first: HashMap<String, String> = h
        .node
        .records()
        .into_iter()
        .map(|r| (r.message, r.id))
        .collect();
    let cp = h.dir.path().join("data").join("checkpoints.json");
    fs::write(&cp, b"{\"version\":1,\"checkp").unwrap(); // cut short mid-write by a bad disk

    let mut f = OpenOptions::new().append(true).open(&a).unwrap();
    writeln!(f, "{}", lines(20, 30).join("\n")).unwrap();
    want.extend(lines(20, 30));
    h.start();
    assert!(
        h.wait_for(&want, Duration::from_secs(10)),
        "the shipper did not go on after a corrupt checkpoint file\n{}",
        h.own_logs()
    );
    h.stop();
    assert!(h.dir.path().join("data/checkpoints.json.corrupt").exists());
    // Lines sent again carry the ids they had: the node stores them once.
    for r in h.node.records() {
        if let Some(id) = first.get(&r.message) {
            assert_eq!(&r.id, id, "{}", r.message);
        }
    }
}
