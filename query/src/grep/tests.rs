//! `grep` against a brute-force line-by-line scan, against ripgrep when installed, and on
//! broken inputs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::input::{self, Input};

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
