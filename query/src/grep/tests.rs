//! `grep` against a brute-force line-by-line scan, against ripgrep when installed, and on
//! broken inputs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::input::{self, Input};

use super::archive_tests;
use super::*;

/// A log-like corpus with long and short lines, a line without a final newline, and mixed case.
fn corpus() -> String {
    let mut s = String::new();
    for i in 0..3000 {
        let line = match i % 7 {
            0 => format!("{i} ERROR payment failed for order A-{i}"),
            1 => format!("{i} info request completed in {} ms", i % 97),
            2 => format!("{i} WARN slow query list_stock {}", "x".repeat(i % 300)),
            3 => String::new(),
            4 => format!("{i} error: connect ECONNREFUSED 10.0.3.{}:6379", i % 255),
            5 => format!("{i} debug cache hit key=sku:{i}"),
            _ => format!("{i} Error UnhandledPromiseRejectionWarning id={i}"),
        };
        s.push_str(&line);
        s.push('\n');
    }
    s.push_str("last line without newline ERROR");
    s
}

fn write_inputs(dir: &Path, text: &str) -> Vec<PathBuf> {
    let plain = dir.join("a.log");
    std::fs::write(&plain, text).unwrap();
    let gz = dir.join("b.log.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(text.as_bytes()).unwrap();
    enc.finish().unwrap();
    let zst = dir.join("c.log.zst");
    std::fs::write(&zst, zstd::encode_all(text.as_bytes(), 1).unwrap()).unwrap();
    vec![plain, gz, zst]
}

/// `(line number, text)` of the lines `keep` accepts, one line at a time.
fn brute(text: &str, keep: impl Fn(&str) -> bool) -> Vec<String> {
    text.split('\n')
        .enumerate()
        .filter(|(i, l)| keep(l) && !(l.is_empty() && *i == text.split('\n').count() - 1))
        .map(|(i, l)| format!("{}:{l}", i + 1))
        .collect()
}

fn run(paths: &[PathBuf], opts: &GrepOptions) -> (String, Summary, usize) {
    let (inputs, errors) = input::expand(paths);
    assert!(errors.is_empty());
    let mut out = Vec::new();
    let mut failed = 0;
    let summary = grep(&inputs, opts, &mut out, &mut |_| failed += 1).unwrap();
    (String::from_utf8(out).unwrap(), summary, failed)
}

fn matcher(patterns: &[&str], kind: PatternKind, ignore_case: bool) -> Matcher {
    let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
    Matcher::new(&patterns, kind, ignore_case).unwrap()
}

/// A matcher and the line-by-line predicate it must agree with.
type Case = (Matcher, Box<dyn Fn(&str) -> bool>);

#[test]
fn agrees_with_brute_force_on_plain_gzip_and_zstd() {
    let dir = tempfile::tempdir().unwrap();
    let text = corpus();
    let paths = write_inputs(dir.path(), &text);
    let re = regex::Regex::new(r"ECONNREFUSED 10\.0\.3\.1\d:").unwrap();
    let cases: Vec<Case> = vec![
        (
            matcher(&["ERROR"], PatternKind::Auto, false),
            Box::new(|l: &str| l.contains("ERROR")),
        ),
        (
            matcher(
                &["ECONNREFUSED", "slow query", "id=29"],
                PatternKind::Auto,
                false,
            ),
            Box::new(|l: &str| {
                ["ECONNREFUSED", "slow query", "id=29"]
                    .iter()
                    .any(|p| l.contains(p))
            }),
        ),
        (
            matcher(&["error"], PatternKind::Literal, true),
            Box::new(|l: &str| l.to_ascii_lowercase().contains("error")),
        ),
        (
            matcher(&[r"ECONNREFUSED 10\.0\.3\.1\d:"], PatternKind::Auto, false),
            Box::new(move |l: &str| re.is_match(l)),
        ),
        (
            matcher(&["^1\\d* info"], PatternKind::Regex, false),
            Box::new(|l: &str| {
                l.starts_with('1')
                    && l.split(' ').nth(1) == Some("info")
                    && l.split(' ')
                        .next()
                        .unwrap()
                        .chars()
                        .all(|c| c.is_ascii_digit())
            }),
        ),
        (
            matcher(&["x\\s+y|key=sku:12$"], PatternKind::Regex, false),
            Box::new(|l: &str| l.ends_with("key=sku:12")),
        ),
    ];
    for (i, (m, keep)) in cases.into_iter().enumerate() {
        let expected = brute(&text, keep);
        assert!(!expected.is_empty(), "case {i}");
        for chunk in [CHUNK, 4096, 1] {
            let mut opts = GrepOptions::new(m.clone());
            opts.with_filename = false;
            opts.chunk = chunk;
            for path in &paths {
                let (out, summary, failed) = run(std::slice::from_ref(path), &opts);
                let got: Vec<&str> = out.lines().collect();
                assert_eq!(got, expected, "case {i} chunk {chunk} {}", path.display());
                assert_eq!((summary.matched_inputs, failed), (1, 0));
            }
            opts.mode = OutputMode::Count;
            let (out, ..) = run(&paths[..1], &opts);
            assert_eq!(out, format!("{}\n", expected.len()));
        }
    }
}

#[test]
fn agrees_with_ripgrep_when_installed() {
    let dir = tempfile::tempdir().unwrap();
    let text = corpus();
    let paths = write_inputs(dir.path(), &text);
    for (patterns, rg_args) in [
        (vec!["ERROR"], vec!["-F", "-e", "ERROR"]),
        (
            vec!["ECONNREFUSED", "cache hit"],
            vec!["-F", "-e", "ECONNREFUSED", "-e", "cache hit"],
        ),
        (vec![r"order A-\d+7$"], vec!["-e", r"order A-\d+7$"]),
    ] {
        let opts = GrepOptions::new(matcher(&patterns, PatternKind::Auto, false));
        for path in &paths {
            let (ours, ..) = run(std::slice::from_ref(path), &opts);
            let Ok(rg) = Command::new("rg")
                .args([
                    "--no-heading",
                    "--with-filename",
                    "--line-number",
                    "--search-zip",
                ])
                .args(["--color", "never"])
                .args(&rg_args)
                .arg(path)
                .output()
            else {
                // ripgrep is not installed: the brute-force agreement above still holds.
                return;
            };
            let theirs = String::from_utf8(rg.stdout).unwrap();
            let diff = ours.lines().zip(theirs.lines()).find(|(a, b)| a != b);
            assert_eq!(diff, None, "{patterns:?} {}", path.display());
            assert_eq!(ours.lines().count(), theirs.lines().count(), "{patterns:?}");
        }
    }
}

#[test]
fn context_and_files_modes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.log");
    std::fs::write(&path, "a\nb\nhit 1\nc\nd\ne\nf\nhit 2\nhit 3\ng\n").unwrap();
    let mut opts = GrepOptions::new(matcher(&["hit"], PatternKind::Auto, false));
    opts.with_filename = false;
    opts.before = 1;
    opts.after = 1;
    let (out, ..) = run(std::slice::from_ref(&path), &opts);
    assert_eq!(out, "2-b\n3:hit 1\n4-c\n--\n7-f\n8:hit 2\n9:hit 3\n10-g\n");
    opts.mode = OutputMode::FilesWithMatches;
    let (out, ..) = run(std::slice::from_ref(&path), &opts);
    assert_eq!(out, format!("{}\n", path.display()));
}

#[test]
fn corrupt_input_is_an_error_for_that_input_only() {
    let dir = tempfile::tempdir().unwrap();
    let text = corpus();
    let mut paths = write_inputs(dir.path(), &text);
    let bad = dir.path().join("0-bad.log.gz");
    std::fs::write(&bad, b"\x1f\x8b\x08\x00garbage that is not deflate").unwrap();
    let truncated = dir.path().join("1-cut.log.zst");
    let full = zstd::encode_all(text.as_bytes(), 1).unwrap();
    std::fs::write(&truncated, &full[..full.len() / 2]).unwrap();
    paths.insert(0, bad);
    paths.insert(1, truncated);
    let mut opts = GrepOptions::new(matcher(&["ERROR"], PatternKind::Auto, false));
    opts.mode = OutputMode::Count;
    let (inputs, _) = input::expand(&paths);
    let mut out = Vec::new();
    let mut failed = Vec::new();
    let summary = grep(&inputs, &opts, &mut out, &mut |e| {
        failed.push(e.path.clone())
    })
    .unwrap();
    assert_eq!(
        summary,
        Summary {
            matched_inputs: 3,
            errors: 2
        }
    );
    assert_eq!(failed.len(), 2);
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), 3);
}

#[test]
fn a_compressed_line_past_the_limit_is_an_error_not_all_memory() {
    let dir = tempfile::tempdir().unwrap();
    // A few kilobytes that decompress to one line of NULs past the limit.
    let bomb = dir.path().join("bomb.log.zst");
    let mut enc = zstd::Encoder::new(std::fs::File::create(&bomb).unwrap(), 1).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..(run::MAX_LINE >> 20) + 40 {
        enc.write_all(&zeros).unwrap();
    }
    enc.write_all(b"\nERROR after the bomb\n").unwrap();
    enc.finish().unwrap();
    let good = dir.path().join("good.log.zst");
    std::fs::write(&good, zstd::encode_all(&b"ERROR here\n"[..], 1).unwrap()).unwrap();
    let mut opts = GrepOptions::new(matcher(&["ERROR"], PatternKind::Auto, false));
    opts.mode = OutputMode::Count;
    let (inputs, _) = input::expand(&[bomb.clone(), good]);
    let mut out = Vec::new();
    let mut failed = Vec::new();
    let summary = grep(&inputs, &opts, &mut out, &mut |e| {
        failed.push((e.path.clone(), e.source.to_string()))
    })
    .unwrap();
    assert_eq!(summary.errors, 1);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, bomb);
    assert!(
        failed[0].1.contains("a line longer than 64 MiB"),
        "{}",
        failed[0].1
    );
    assert!(String::from_utf8(out).unwrap().contains("good.log.zst:1"));
}

#[test]
fn json_and_where_parse_only_matching_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkout.log");
    std::fs::write(&path, "payment failed\nok\npayment retried\n").unwrap();
    let mut opts = GrepOptions::new(matcher(&["payment"], PatternKind::Auto, false));
    opts.mode = OutputMode::Json;
    let (out, ..) = run(std::slice::from_ref(&path), &opts);
    let recs: Vec<firewatch_ingest::LogRecord> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 2);
    assert!(recs[0].message.contains("payment failed"));
    assert!(recs[1].id.ends_with(":18"), "{}", recs[1].id);
    opts.filter.fields.push("level=fatal".parse().unwrap());
    let (out, summary, _) = run(std::slice::from_ref(&path), &opts);
    assert_eq!((out.as_str(), summary.matched_inputs), ("", 0));
    let _ = Input::new(path);
}

#[test]
fn compressed_inputs_in_small_windows_match_the_whole_file_with_context() {
    let dir = tempfile::tempdir().unwrap();
    let text = corpus();
    let paths = write_inputs(dir.path(), &text);
    for (before, after) in [(0, 0), (2, 1), (0, 3), (5, 5)] {
        let mut opts = GrepOptions::new(matcher(
            &["ERROR", "cache hit key=sku:1"],
            PatternKind::Auto,
            false,
        ));
        opts.with_filename = false;
        opts.before = before;
        opts.after = after;
        let (whole, ..) = run(&paths[..1], &opts);
        assert!(whole.lines().count() > 100);
        for window in [1, 97, 4096] {
            opts.window = window;
            for path in &paths[1..] {
                let (out, ..) = run(std::slice::from_ref(path), &opts);
                assert_eq!(
                    out,
                    whole,
                    "-B{before} -A{after} window {window} {}",
                    path.display()
                );
            }
        }
    }
}

/// A node data directory holding `records`, sealed into several segments of small blocks.
pub(crate) fn data_dir_with(dir: &Path, records: &[firewatch_ingest::LogRecord]) {
    data_dir_in_batches(dir, records, 200)
}

/// [`data_dir_with`], appending `batch` records at a time (a block holds one batch or more).
fn data_dir_in_batches(dir: &Path, records: &[firewatch_ingest::LogRecord], batch: usize) {
    let cfg = firewatch_index::StoreConfig {
        data_dir: dir.into(),
        commit_interval_ms: 10,
        block_bytes: 4_000,
        segment_max_bytes: 40_000,
        ..Default::default()
    };
    let store = firewatch_index::Store::open(cfg).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    for batch in records.chunks(batch) {
        rt.block_on(store.append(batch.to_vec())).unwrap();
        // Let the store tick so that segments are sealed as they fill.
        std::thread::sleep(std::time::Duration::from_millis(12));
    }
    store.close();
}

fn corpus_records(text: &str) -> Vec<firewatch_ingest::LogRecord> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| {
            let service = ["api", "db", "web"][i % 3];
            let level = ["info", "error"][i % 2];
            let mut rec: firewatch_ingest::LogRecord = serde_json::from_value(serde_json::json!({
                "id": format!("f:{i}"),
                "timestamp": 1_700_000_000_000_000_000i64 + i as i64 * 1_000_000_000,
                "observed": 0,
                "service": service,
                "source": format!("/var/log/{service}.log"),
                "level": level,
                "message": if i % 50 == 0 { format!("{l}\n    at handler (app.js:{i})") } else { l.to_string() },
            }))
            .unwrap();
            if i % 4 == 0 {
                rec.fields.insert("order".into(), serde_json::json!({"id": format!("A-{i}")}));
            }
            rec
        })
        .collect()
}

#[test]
fn archive_grep_agrees_with_brute_force_over_records() {
    let dir = tempfile::tempdir().unwrap();
    let records = corpus_records(&corpus());
    data_dir_with(dir.path(), &records);
    let (inputs, errors) = input::expand(&[dir.path()]);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(inputs.len() > 2, "{inputs:?}");
    let cases: Vec<Case> = vec![
        (
            matcher(&["ERROR"], PatternKind::Auto, false),
            Box::new(|t: &str| t.contains("ERROR")),
        ),
        (
            matcher(
                &["ECONNREFUSED", "at handler", "\"id\":\"A-12"],
                PatternKind::Auto,
                false,
            ),
            Box::new(|t: &str| {
                ["ECONNREFUSED", "at handler", "\"id\":\"A-12"]
                    .iter()
                    .any(|p| t.contains(p))
            }),
        ),
        (
            matcher(&[r"^\S+ error db \d+ "], PatternKind::Regex, false),
            Box::new(|t: &str| {
                regex::Regex::new(r"^\S+ error db \d+ ")
                    .unwrap()
                    .is_match(t)
            }),
        ),
    ];
    for (i, (m, keep)) in cases.into_iter().enumerate() {
        let expected: Vec<&firewatch_ingest::LogRecord> = records
            .iter()
            .filter(|r| {
                let mut t = Vec::new();
                archive_tests::record_text(r, &mut t);
                String::from_utf8(t).unwrap().split('\n').any(&keep)
            })
            .collect();
        assert!(!expected.is_empty(), "case {i}");
        let mut opts = GrepOptions::new(m);
        opts.mode = OutputMode::Json;
        let mut out = Vec::new();
        let summary = grep(&inputs, &opts, &mut out, &mut |e| panic!("{e}")).unwrap();
        let got: Vec<firewatch_ingest::LogRecord> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(got.iter().collect::<Vec<_>>(), expected, "case {i}");
        assert!(summary.matched_inputs > 0);
        // Lines: the record's source, then its text; continuation lines marked with `-`.
        opts.mode = OutputMode::Lines;
        let mut out = Vec::new();
        grep(&inputs, &opts, &mut out, &mut |e| panic!("{e}")).unwrap();
        let text = String::from_utf8(out).unwrap();
        let firsts: Vec<&str> = text.lines().filter(|l| !l.contains(".log-")).collect();
        assert_eq!(firsts.len(), expected.len(), "case {i}");
        assert!(firsts[0].starts_with(&format!("{}:", expected[0].source)));
        opts.mode = OutputMode::Count;
        opts.filter.fields.push("service=db".parse().unwrap());
        let mut out = Vec::new();
        grep(&inputs, &opts, &mut out, &mut |e| panic!("{e}")).unwrap();
        let total: usize = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| l.rsplit(':').next().unwrap().parse::<usize>().unwrap())
            .sum();
        assert_eq!(total, expected.iter().filter(|r| r.service == "db").count());
    }
}

#[test]
fn corrupt_archive_segment_is_an_error_for_that_segment_only() {
    let dir = tempfile::tempdir().unwrap();
    let records = corpus_records(&corpus());
    data_dir_in_batches(dir.path(), &records, 40);
    let (inputs, _) = input::expand(&[dir.path()]);
    let bytes = std::fs::read(&inputs[0].path).unwrap();
    std::fs::write(&inputs[0].path, &bytes[..bytes.len() - 7]).unwrap();
    let blocks = |i: &Input| {
        firewatch_index::SealedSegment::open(&i.path)
            .unwrap()
            .blocks()
    };
    let flipped = (1..inputs.len())
        .max_by_key(|&i| blocks(&inputs[i]))
        .unwrap();
    assert!(blocks(&inputs[flipped]) >= 2);
    let mut bytes = std::fs::read(&inputs[flipped].path).unwrap();
    bytes[8] ^= 0x55; // the first block's zstd magic
    std::fs::write(&inputs[flipped].path, &bytes).unwrap();
    let mut opts = GrepOptions::new(matcher(&["info"], PatternKind::Auto, false));
    opts.mode = OutputMode::Count;
    let mut out = Vec::new();
    let mut failed = Vec::new();
    let summary = grep(&inputs, &opts, &mut out, &mut |e| {
        failed.push(e.to_string())
    })
    .unwrap();
    assert_eq!(summary.errors, 2, "{failed:?}");
    assert!(failed[0].contains("no footer: not sealed"), "{failed:?}");
    assert!(failed[1].contains("block 0"), "{failed:?}");
    // The damaged block is passed over; the rest of its segment is searched.
    assert_eq!(summary.matched_inputs, inputs.len() - 1, "{failed:?}");
    let counted = String::from_utf8(out).unwrap();
    let name = format!("{}:", inputs[flipped].path.display());
    assert!(counted.lines().any(|l| l.starts_with(&name)), "{counted}");
}
