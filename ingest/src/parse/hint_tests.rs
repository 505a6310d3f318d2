//! Tests of the parser hints a source's configuration may give: a forced format, a multiline
//! start pattern, a timestamp field and format.

use super::*;
use crate::record::LogRecord;

/// 2026-11-23T12:00:00Z
const OBSERVED: Nanos = 1_795_435_200_000_000_000;

fn parse_with(text: &str, opts: ParseOptions) -> Vec<LogRecord> {
    let info = SourceInfo {
        source: "/var/log/app.log".into(),
        fingerprint: 7,
        ..SourceInfo::default()
    };
    parse_reader(text.as_bytes(), info, opts, OBSERVED).collect()
}

fn messages(recs: &[LogRecord]) -> Vec<&str> {
    recs.iter().map(|r| r.message.as_str()).collect()
}

#[test]
fn text_format_keeps_json_and_logfmt_lines_as_messages() {
    let text = "{\"level\":\"error\",\"msg\":\"boom\"}\nlevel=warn msg=slow\n";
    let auto = parse_with(text, ParseOptions::default());
    assert_eq!(messages(&auto), ["boom", "slow"]);
    let opts = ParseOptions {
        format: Format::Text,
        ..ParseOptions::default()
    };
    let recs = parse_with(text, opts);
    assert_eq!(
        messages(&recs),
        [
            "{\"level\":\"error\",\"msg\":\"boom\"}",
            "level=warn msg=slow"
        ]
    );
    assert!(recs[0].fields.is_empty() && recs[1].fields.is_empty());
}

#[test]
fn text_format_still_unwraps_docker_json_file() {
    let opts = ParseOptions {
        format: Format::Text,
        ..ParseOptions::default()
    };
    let line = r#"{"log":"{\"msg\":\"inner\"}\n","stream":"stdout","time":"2026-11-20T10:00:00Z"}"#;
    let recs = parse_with(line, opts);
    assert_eq!(messages(&recs), ["{\"msg\":\"inner\"}"]);
    assert_eq!(recs[0].fields["stream"], "stdout");
}

#[test]
fn logfmt_format_makes_every_pair_line_an_event() {
    // In a timestamped source a line without a timestamp continues the event before it,
    // unless it starts with one of logfmt's usual keys.
    let text = "2026-11-20T10:00:00Z user=ann action=login\nuser=bob action=logout\n  not a pair\n";
    let auto = parse_with(text, ParseOptions::default());
    assert_eq!(auto.len(), 1, "{auto:#?}");
    let opts = ParseOptions {
        format: Format::Logfmt,
        ..ParseOptions::default()
    };
    let recs = parse_with(text, opts);
    assert_eq!(recs.len(), 2, "{recs:#?}");
    assert_eq!(recs[0].fields["user"], "ann");
    assert_eq!(recs[0].timestamp, 1_795_168_800_000_000_000);
    assert_eq!(recs[1].fields["action"], "logout");
    assert!(recs[1].message.ends_with("\n  not a pair"));
}

#[test]
fn json_format_takes_other_lines_as_text() {
    let opts = ParseOptions {
        format: Format::Json,
        ..ParseOptions::default()
    };
    let recs = parse_with("level=error msg=x\n{\"msg\":\"ok\"}\n", opts);
    assert_eq!(messages(&recs), ["level=error msg=x", "ok"]);
    assert!(recs[0].fields.is_empty());
}

#[test]
fn multiline_start_overrides_the_built_in_rules() {
    let text = "### job 1\nstep a\nTraceback (most recent call last):\n### job 2\n\nno newline";
    let auto = parse_with(text, ParseOptions::default());
    assert!(auto.len() > 2, "built-in rules split these: {auto:#?}");
    let opts = ParseOptions {
        multiline_start: Some(regex::Regex::new("^###").unwrap()),
        ..ParseOptions::default()
    };
    let recs = parse_with(text, opts);
    assert_eq!(
        messages(&recs),
        [
            "### job 1\nstep a\nTraceback (most recent call last):",
            "### job 2\n\nno newline"
        ]
    );
    assert_eq!(recs[1].id, LogRecord::file_id(7, 52));
}

#[test]
fn timestamp_format_reads_text_lines_and_fields() {
    let opts = ParseOptions {
        timestamp_format: Some("%d/%m/%Y %H:%M:%S%.f".into()),
        ..ParseOptions::default()
    };
    let recs = parse_with(
        "20/11/2026 10:00:00.250 ERROR failed\n  detail\n{\"ts\":\"21/11/2026 00:00:00\",\"msg\":\"j\"}\n",
        opts,
    );
    assert_eq!(recs.len(), 2, "{recs:#?}");
    assert_eq!(recs[0].timestamp, 1_795_168_800_250_000_000);
    assert_eq!(recs[0].level, Level::Error);
    assert!(recs[0].message.ends_with("\n  detail"));
    assert_eq!(recs[1].timestamp, 1_795_219_200_000_000_000);
    // A line the format does not fit still gets the built-in shapes.
    let opts = ParseOptions {
        timestamp_format: Some("%d/%m/%Y %H:%M:%S".into()),
        ..ParseOptions::default()
    };
    let recs = parse_with("2026-11-20T10:00:00Z up\n", opts);
    assert_eq!(recs[0].timestamp, 1_795_168_800_000_000_000);
}

#[test]
fn timestamp_format_with_zone_and_field() {
    let opts = ParseOptions {
        timestamp_field: Some("when".into()),
        timestamp_format: Some("%Y%m%d %H%M%S %z".into()),
        ..ParseOptions::default()
    };
    let recs = parse_with(
        "{\"when\":\"20261120 120000 +0200\",\"time\":\"kept\",\"msg\":\"m\"}\n",
        opts,
    );
    assert_eq!(recs[0].timestamp, 1_795_168_800_000_000_000);
    assert_eq!(recs[0].fields["time"], "kept");
}
