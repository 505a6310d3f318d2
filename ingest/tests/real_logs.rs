//! Real logs (slices in the repository's `tests/data/`, see its README) parse with the timestamps
//! and levels of their ground truth: the structured CSV of loghub where there is one, else values
//! read back from the raw lines with chrono.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDateTime};
use firewatch_ingest::parse::{parse_reader, ParseOptions, SourceInfo};
use firewatch_ingest::{Level, LogRecord, Nanos};

fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(path)
}

fn at(s: &str) -> Nanos {
    DateTime::parse_from_rfc3339(s)
        .unwrap()
        .timestamp_nanos_opt()
        .unwrap()
}

fn parse_file(path: &str, observed: Nanos) -> Vec<LogRecord> {
    let info = SourceInfo {
        source: data(path).display().to_string(),
        host: "test".into(),
        service: None,
        fingerprint: 1,
    };
    let file = BufReader::new(File::open(data(path)).unwrap());
    // Events of interleaved programs complete out of order: sort back by offset.
    let mut recs: Vec<LogRecord> =
        parse_reader(file, info, ParseOptions::default(), observed).collect();
    recs.sort_by_key(|r| r.id.rsplit(':').next().unwrap().parse::<u64>().unwrap());
    recs
}

type Row = HashMap<String, String>;

fn ground_truth(system: &str) -> Vec<Row> {
    let mut reader = csv::Reader::from_path(data(&format!("loghub/{system}.csv"))).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .map(String::from)
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect()
}

fn naive(s: &str, fmt: &str) -> Nanos {
    NaiveDateTime::parse_from_str(s, fmt)
        .unwrap_or_else(|e| panic!("{s:?} {fmt:?}: {e}"))
        .and_utc()
        .timestamp_nanos_opt()
        .unwrap()
}

/// Every line is one record whose timestamp and level match the CSV row.
fn check(
    system: &str,
    observed: &str,
    time: impl Fn(&Row) -> Nanos,
    level: impl Fn(&Row) -> Option<Level>,
) -> Vec<LogRecord> {
    let recs = parse_file(&format!("loghub/{system}.log"), at(observed));
    let rows = ground_truth(system);
    assert_eq!(recs.len(), rows.len(), "{system}: one record per line");
    for (rec, row) in recs.iter().zip(&rows) {
        let line = &row["LineId"];
        assert_eq!(
            rec.timestamp,
            time(row),
            "{system} line {line}: {}",
            rec.message
        );
        if let Some(want) = level(row) {
            assert_eq!(rec.level, want, "{system} line {line}: {}", rec.message);
        }
        assert_eq!(rec.service, system, "{system}");
    }
    recs
}

fn word(row: &Row) -> Option<Level> {
    Some(row["Level"].parse().unwrap())
}

#[test]
fn loghub_log4j_style() {
    let comma = |r: &Row| {
        naive(
            &format!("{} {}", r["Date"], r["Time"].replace(',', ".")),
            "%Y-%m-%d %H:%M:%S%.f",
        )
    };
    check("Hadoop", "2016-01-01T00:00:00Z", comma, word);
    check("Zookeeper", "2016-01-01T00:00:00Z", comma, word);
    check(
        "Windows",
        "2017-01-01T00:00:00Z",
        |r| naive(&format!("{} {}", r["Date"], r["Time"]), "%Y-%m-%d %H:%M:%S"),
        word,
    );
}

#[test]
fn loghub_short_dates() {
    check(
        "HDFS",
        "2009-01-01T00:00:00Z",
        |r| {
            naive(
                &format!("{:0>6} {:0>6}", r["Date"], r["Time"]),
                "%y%m%d %H%M%S",
            )
        },
        word,
    );
    check(
        "Spark",
        "2018-01-01T00:00:00Z",
        |r| naive(&format!("{} {}", r["Date"], r["Time"]), "%y/%m/%d %H:%M:%S"),
        word,
    );
    // logcat has no year: the one of the moment it was read. Lines are CRLF-terminated.
    let recs = check(
        "Android",
        "2017-06-01T00:00:00Z",
        |r| {
            naive(
                &format!("2017-{} {}", r["Date"], r["Time"]),
                "%Y-%m-%d %H:%M:%S%.f",
            )
        },
        |r| {
            Some(match r["Level"].as_str() {
                "V" => Level::Trace,
                "D" => Level::Debug,
                "I" => Level::Info,
                "W" => Level::Warn,
                "E" => Level::Error,
                other => panic!("unexpected level {other}"),
            })
        },
    );
    assert!(recs.iter().all(|r| !r.message.ends_with('\r')));
}

#[test]
fn loghub_apache_error_log() {
    check(
        "Apache",
        "2006-01-01T00:00:00Z",
        |r| naive(&r["Time"], "%a %b %d %H:%M:%S %Y"),
        word,
    );
}

#[test]
fn loghub_syslog() {
    // Linux's CSV names the host "Level"; syslog lines carry no level.
    let recs = parse_file("loghub/Linux.log", at("2005-12-31T00:00:00Z"));
    let rows = ground_truth("Linux");
    assert_eq!(recs.len(), rows.len());
    for (rec, row) in recs.iter().zip(&rows) {
        let want = naive(
            &format!("2005 {} {} {}", row["Month"], row["Date"], row["Time"]),
            "%Y %b %d %H:%M:%S",
        );
        assert_eq!(rec.timestamp, want, "line {}", row["LineId"]);
        assert_eq!(rec.fields["hostname"], row["Level"].as_str());
        assert_eq!(rec.service, row["Component"]);
        let pid = row["PID"].trim_end_matches(".0");
        if !pid.is_empty() {
            assert_eq!(rec.fields["pid"], pid, "line {}", row["LineId"]);
        }
    }

    // December lines read in early January belong to the year before.
    let recs = parse_file("loghub/OpenSSH.log", at("2017-01-05T00:00:00Z"));
    let rows = ground_truth("OpenSSH");
    assert_eq!(recs.len(), rows.len());
    for (rec, row) in recs.iter().zip(&rows) {
        let want = naive(
            &format!("2016 {} {} {}", row["Date"], row["Day"], row["Time"]),
            "%Y %b %d %H:%M:%S",
        );
        assert_eq!(rec.timestamp, want, "line {}", row["LineId"]);
        assert_eq!(rec.service, "sshd");
        assert_eq!(rec.fields["hostname"], row["Component"].as_str());
        assert_eq!(rec.fields["pid"], row["Pid"].as_str());
    }
    assert!(recs
        .iter()
        .any(|r| r.level == Level::Error && r.message.starts_with("error: ")));
}

#[test]
fn elastic_apache_access_log() {
    let text = std::fs::read_to_string(data("elastic/apache_access.log")).unwrap();
    let recs = parse_file("elastic/apache_access.log", 0);
    assert_eq!(recs.len(), text.lines().count());
    for (rec, line) in recs.iter().zip(text.lines()) {
        let stamp = &line[line.find('[').unwrap() + 1..line.find(']').unwrap()];
        let want = DateTime::parse_from_str(stamp, "%d/%b/%Y:%H:%M:%S %z").unwrap();
        assert_eq!(rec.timestamp, want.timestamp_nanos_opt().unwrap());
        let status: u64 = line
            .split('"')
            .nth(2)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(rec.fields["http"]["status"], status);
        let level = match status {
            500.. => Level::Error,
            400..=499 => Level::Warn,
            _ => Level::Info,
        };
        assert_eq!(rec.level, level, "{line}");
        assert!(rec.fields["http"]["method"].is_string());
    }
}

#[test]
fn elastic_auth_log() {
    let text = std::fs::read_to_string(data("elastic/auth.log")).unwrap();
    let recs = parse_file("elastic/auth.log", at("2017-04-01T00:00:00Z"));
    assert_eq!(recs.len(), text.lines().count());
    for (rec, line) in recs.iter().zip(text.lines()) {
        let want = naive(&format!("2017 {}", &line[..15]), "%Y %b %e %H:%M:%S");
        assert_eq!(rec.timestamp, want, "{line}");
        assert_eq!(rec.fields["hostname"], "ip-10-77-20-248");
        assert!(line.ends_with(&rec.message), "{line}");
    }
}

#[test]
fn kafka_log4j_with_stack_traces() {
    let text = std::fs::read_to_string(data("elastic/kafka-server.log")).unwrap();
    let heads: Vec<&str> = text.lines().filter(|l| l.starts_with("[20")).collect();
    let recs = parse_file("elastic/kafka-server.log", 0);
    assert_eq!(recs.len(), heads.len());
    for (rec, head) in recs.iter().zip(&heads) {
        let want = naive(&head[1..24].replace(',', "."), "%Y-%m-%d %H:%M:%S%.f");
        assert_eq!(rec.timestamp, want);
        assert!(rec.message.starts_with(head));
        let level: Level = head[25..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(rec.level, level);
    }
    let trace = recs.iter().find(|r| r.message.contains("\tat ")).unwrap();
    assert_eq!(trace.level, Level::Warn);
    assert!(trace
        .message
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("java.io.IOException"));
    assert_eq!(trace.message.lines().count(), 16);
    let offset = text.find(trace.message.lines().next().unwrap()).unwrap();
    assert_eq!(trace.id, LogRecord::file_id(1, offset as u64));
}
