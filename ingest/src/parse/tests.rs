//! Table tests of the whole parser: formats, prefixes, multiline events, offsets and ids.

use super::*;
use crate::record::LogRecord;

fn parse_all(text: &str) -> Vec<LogRecord> {
    let info = SourceInfo {
        source: "/var/log/checkout.log".into(),
        host: "web-1".into(),
        service: None,
        fingerprint: 0xabc,
    };
    parse_reader(text.as_bytes(), info, ParseOptions::default(), OBSERVED).collect()
}

/// 2026-11-23T12:00:00Z
const OBSERVED: Nanos = 1_795_435_200_000_000_000;

fn ts(s: &str) -> Nanos {
    crate::record::rfc3339_nanos::parse(s).unwrap()
}

fn one(line: &str) -> LogRecord {
    let recs = parse_all(line);
    assert_eq!(recs.len(), 1, "{line:?} gave {recs:#?}");
    recs.into_iter().next().unwrap()
}

#[test]
fn text_formats_timestamps_and_levels() {
    // (line, timestamp, level)
    let cases = [
        (
            "2026-11-20T10:00:00.123Z INFO started",
            "2026-11-20T10:00:00.123Z",
            Level::Info,
        ),
        (
            "2026-11-20T10:00:00+02:00 WARN slow",
            "2026-11-20T08:00:00Z",
            Level::Warn,
        ),
        (
            "2026-11-20 10:00:00,123 ERROR [main] c.a.B - boom",
            "2026-11-20T10:00:00.123Z",
            Level::Error,
        ),
        (
            "2026/11/20 10:00:00 [error] 12#0: *1 upstream timed out",
            "2026-11-20T10:00:00Z",
            Level::Error,
        ),
        (
            "[2016-12-19 20:39:48,918] WARN [ReplicaFetcherThread-0-2], Error",
            "2016-12-19T20:39:48.918Z",
            Level::Warn,
        ),
        (
            "[Nest] 1  - 11/20/2026, 9:43:43\u{202f}PM   ERROR [Process] Unhandled Rejection: boom",
            "2026-11-20T21:43:43Z",
            Level::Error,
        ),
        (
            "[Nest] 20512  - 01/02/2026, 12:00:05 AM     LOG [NestFactory] Starting Nest application...",
            "2026-01-02T00:00:05Z",
            Level::Info,
        ),
        (
            "E, [2026-11-21T14:04:17.577207 #41211] ERROR -- : [b102a1b3] Completed 500 Internal Server Error in 31ms",
            "2026-11-21T14:04:17.577207Z",
            Level::Error,
        ),
        (
            "[2026-11-20 12:00:02 -0130] [1] [INFO] Handling signal: winch",
            "2026-11-20T13:30:02Z",
            Level::Info,
        ),
        (
            "2026-11-20 12:00:02 -1 retries left",
            "2026-11-20T12:00:02Z",
            Level::Info,
        ),
        (
            "[Sun Dec 04 04:47:44 2005] [error] mod_jk child in error state 6",
            "2005-12-04T04:47:44Z",
            Level::Error,
        ),
        (
            "081109 203615 148 INFO dfs.DataNode$PacketResponder: x",
            "2008-11-09T20:36:15Z",
            Level::Info,
        ),
        (
            "17/06/09 20:10:40 WARN spark.SecurityManager: x",
            "2017-06-09T20:10:40Z",
            Level::Warn,
        ),
        (
            "2016-09-28 04:30:30, Info                  CBS    Loaded",
            "2016-09-28T04:30:30Z",
            Level::Info,
        ),
        (
            "E1120 10:00:00.123456 1234 main.go:12] failed",
            "2026-11-20T10:00:00.123456Z",
            Level::Error,
        ),
        (
            "1763632800 request done",
            "2025-11-20T10:00:00Z",
            Level::Info,
        ),
        (
            "1763632800123 ERROR x",
            "2025-11-20T10:00:00.123Z",
            Level::Error,
        ),
        (
            "1763632800.5 debug: x",
            "2025-11-20T10:00:00.5Z",
            Level::Debug,
        ),
        (
            "11-20 10:00:00.811  1702  2395 E WindowManager: x",
            "2026-11-20T10:00:00.811Z",
            Level::Error,
        ),
    ];
    for (line, want_ts, want_level) in cases {
        let r = one(line);
        assert_eq!(r.timestamp, ts(want_ts), "{line}");
        assert_eq!(r.level, want_level, "{line}");
        assert_eq!(r.message, line);
    }
}

#[test]
fn syslog_3164_5424_and_year_inference() {
    let r = one("Nov 20 10:00:00 web-1 sshd[2314]: error: Received disconnect");
    assert_eq!(r.timestamp, ts("2026-11-20T10:00:00Z"));
    assert_eq!(r.message, "error: Received disconnect");
    assert_eq!(r.level, Level::Error);
    // The program names the process; the service is the file's stem.
    assert_eq!(r.service, "checkout");
    assert_eq!(r.fields["appname"], "sshd");
    assert_eq!(r.fields["hostname"], "web-1");
    assert_eq!(r.fields["pid"], "2314");

    // Read on 23 Nov 2026: a line of late December is from 2025, one of early December from a
    // writer whose clock runs ahead.
    let r = one("Dec 31 23:59:59 h cron: done");
    assert_eq!(r.timestamp, ts("2025-12-31T23:59:59Z"));
    let r = one("Dec  3 08:00:03 h celery[1187]: received");
    assert_eq!(r.timestamp, ts("2026-12-03T08:00:03Z"));
    // Read on 31 Dec, a 1 January line (clock skew) is from the next year.
    let mut out = Vec::new();
    let mut p = SourceParser::new(SourceInfo::default(), ParseOptions::default());
    p.push_line(
        b"Jan  1 00:00:01 h app: x",
        0,
        ts("2026-12-31T23:59:00Z"),
        &mut out,
    );
    p.flush(&mut out);
    assert_eq!(out[0].timestamp, ts("2027-01-01T00:00:01Z"));

    let r = one("<34>Oct 11 22:14:15 mymachine su: 'su root' failed");
    assert_eq!(r.level, Level::Fatal);
    assert_eq!(r.level_raw.as_deref(), Some("34"));
    assert_eq!(r.message, "'su root' failed");

    let r = one(
        r#"<165>1 2026-11-20T10:00:00.003Z mymachine evntslog - ID47 [ex@32473 iut="3" x="a\]b"] An event"#,
    );
    assert_eq!(r.timestamp, ts("2026-11-20T10:00:00.003Z"));
    assert_eq!(r.level, Level::Info);
    assert_eq!(r.message, "An event");
    assert_eq!(r.service, "checkout");
    assert_eq!(r.fields["appname"], "evntslog");
    assert_eq!(r.fields["msgid"], "ID47");
    assert_eq!(
        r.fields["structured_data"],
        r#"[ex@32473 iut="3" x="a\]b"]"#
    );

    // JSON inside a syslog line is parsed as JSON.
    let r = one(
        r#"Nov 20 10:00:00 web-1 node[2314]: {"level":50,"msg":"db down","time":1795168801000}"#,
    );
    assert_eq!(r.level, Level::Error);
    assert_eq!(r.message, "db down");
    assert_eq!(r.timestamp, ts("2026-11-20T10:00:01Z"));
    assert_eq!(r.fields["appname"], "node");
}

#[test]
fn json_logfmt_and_access() {
    let r = one(r#"{"level":"warn","ts":1795168800,"msg":"slow","service":"pay","ms":1200}"#);
    assert_eq!(
        (r.level, r.message.as_str(), r.service.as_str()),
        (Level::Warn, "slow", "pay")
    );
    assert_eq!(r.fields["ms"], 1200);
    assert_eq!(r.timestamp, ts("2026-11-20T10:00:00Z"));

    let r = one(r#"ts=2026-11-20T10:00:00Z level=error msg="db down" retries=3"#);
    assert_eq!((r.level, r.message.as_str()), (Level::Error, "db down"));
    assert_eq!(r.fields["retries"], "3");
    assert_eq!(r.service, "checkout");

    let r = one(r#"2026-11-20 10:00:00 level=warn msg=x"#);
    assert_eq!(
        (r.level, r.timestamp),
        (Level::Warn, ts("2026-11-20T10:00:00Z"))
    );

    let r = one(r#"1.2.3.4 - - [20/Nov/2026:10:00:00 +0000] "GET /x HTTP/1.1" 502 0 "-" "ua" 1.5"#);
    assert_eq!(r.level, Level::Error);
    assert_eq!(r.fields["http"]["status"], 502);
    assert_eq!(r.fields["http"]["duration_ms"], 1500.0);
    assert_eq!(r.timestamp, ts("2026-11-20T10:00:00Z"));
}

#[test]
fn haproxy_http_log_lines() {
    let r = one(concat!(
        "Nov 20 10:00:00 lb01 haproxy[2207]: 94.130.93.114:2293 [20/Nov/2026:10:00:00.589] ",
        r#"fe_https~ be_api/api2 0/0/1/22/23 503 19164 - - ---- 41/40/18/5/0 0/0 "GET /api/v2/p HTTP/1.1""#
    ));
    assert_eq!(r.timestamp, ts("2026-11-20T10:00:00.589Z"));
    assert_eq!(r.level, Level::Error);
    let http = &r.fields["http"];
    assert_eq!(
        (http["status"].as_u64(), http["duration_ms"].as_u64()),
        (Some(503), Some(23))
    );
    assert_eq!(
        (http["method"].as_str(), http["path"].as_str()),
        (Some("GET"), Some("/api/v2/p"))
    );
    assert_eq!(r.fields["backend"], "be_api/api2");
}

#[test]
fn iis_w3c_logs_are_read_by_their_fields_directive() {
    let log = "#Software: Microsoft Internet Information Services 10.0\n\
#Version: 1.0\n\
#Date: 2026-12-04 13:00:00\n\
#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n\
2026-12-04 13:00:00 10.20.1.15 GET /category/running - 443 - 185.60.113.101 Mozilla/5.0+(Macintosh) https://shop.example/ 200 0 0 51\n\
2026-12-04 13:00:01 10.20.1.15 POST /checkout - 443 - 151.192.84.124 curl/8.4 - 503 0 0 30012\n\
#Software: Microsoft Internet Information Services 10.0\n\
#Fields: date time cs-method cs-uri-stem sc-status time-taken\n\
2026-12-04 14:00:00 GET /health 200 1\n";
    let records: Vec<LogRecord> = parse_all(log)
        .into_iter()
        .filter(|r| r.fields.contains_key("http"))
        .collect();
    assert_eq!(records.len(), 3, "{records:#?}");
    assert_eq!(records[0].timestamp, ts("2026-12-04T13:00:00Z"));
    assert_eq!(records[1].level, Level::Error);
    assert_eq!(records[1].fields["http"]["status"], 503);
    assert_eq!(records[1].fields["http"]["duration_ms"], 30012);
    // A new directive names new columns.
    assert_eq!(records[2].fields["http"]["path"], "/health");
    assert_eq!(records[2].timestamp, ts("2026-12-04T14:00:00Z"));
}

#[test]
fn envoy_access_lines() {
    let r = one(concat!(
        r#"[2026-11-20T09:41:37.801Z] "GET /api/v1/products/SNK-6290 HTTP/2" 503 UH 0 19 2 - "#,
        r#""78.1.19.206" "Mozilla/5.0" "0d021c87-0d5f" "api.shop.example.net" "-""#
    ));
    assert_eq!(r.timestamp, ts("2026-11-20T09:41:37.801Z"));
    assert_eq!(r.level, Level::Error);
    let http = &r.fields["http"];
    assert_eq!(
        (http["status"].as_u64(), http["method"].as_str()),
        (Some(503), Some("GET"))
    );
    assert_eq!(
        (
            http["response_flags"].as_str(),
            http["duration_ms"].as_u64()
        ),
        (Some("UH"), Some(2))
    );
    assert_eq!(r.fields["client"], "78.1.19.206");
    // Envoy's own log lines are not access lines.
    let r = one("[2026-11-20 08:14:02.331][1][info][upstream] cds: add 3 cluster(s)");
    assert!(r.fields.get("http").is_none());
}

#[test]
fn access_lines_after_an_nginx_error_line_are_records_of_their_own() {
    // `docker logs` of nginx: its error log and access log in one stream.
    let recs = parse_all(concat!(
        "2026/11/20 16:40:11 [error] 29#29: *48 connect() failed (111: Connection refused) while connecting to upstream\n",
        "62.2.1.84 - - [20/Nov/2026:16:40:11 +0000] \"POST /api/cart HTTP/2.0\" 502 157 \"-\" \"ua\"\n",
        "91.1.7.115 - - [20/Nov/2026:16:40:12 +0000] \"GET / HTTP/1.1\" 200 536 \"-\" \"ua\"\n",
        "2026/11/20 16:40:13 [error] 29#29: *49 upstream timed out\n",
        "    while reading response header\n",
    ));
    let got: Vec<(Level, Option<u64>)> = recs
        .iter()
        .map(|r| {
            (
                r.level,
                r.fields.get("http").and_then(|h| h["status"].as_u64()),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (Level::Error, None),
            (Level::Error, Some(502)),
            (Level::Info, Some(200)),
            (Level::Error, None),
        ]
    );
    assert!(recs[3].message.ends_with("while reading response header"));
}

#[test]
fn service_precedence() {
    let info = SourceInfo {
        source: "/var/log/app.log.1".into(),
        service: Some("configured".into()),
        ..SourceInfo::default()
    };
    let recs: Vec<_> = parse_reader(
        &br#"{"service":"own","msg":"x"}"#[..],
        info,
        ParseOptions::default(),
        0,
    )
    .collect();
    assert_eq!(recs[0].service, "configured");
    let recs: Vec<_> = parse_reader(
        &b"plain\n"[..],
        SourceInfo {
            source: "/var/log/app.log.1".into(),
            ..SourceInfo::default()
        },
        ParseOptions::default(),
        0,
    )
    .collect();
    assert_eq!(recs[0].service, "app");
}

const JAVA: &str = "2026-11-20 10:00:00,123 ERROR [main] c.a.Pay - payment failed
java.lang.IllegalStateException: boom
\tat com.acme.Pay.charge(Pay.java:42)
\tat com.acme.Main.main(Main.java:7)
Caused by: java.io.IOException: reset
\tat java.net.Socket.read(Socket.java:1)
\t... 12 more
2026-11-20 10:00:01,000 INFO [main] c.a.Pay - next
";

const PYTHON: &str = "starting worker
Traceback (most recent call last):
  File \"/app/w.py\", line 3, in <module>
    main()
KeyError: 'x'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File \"/app/w.py\", line 5, in <module>
ValueError: bad
worker stopped
";

const NODE_STACK: &str = "Error: connect ECONNREFUSED 127.0.0.1:5432
    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16) {
  errno: -111,
  code: 'ECONNREFUSED'
}
server listening
";

const NODE_CRASH: &str = "node:internal/process/promises:288
            triggerUncaughtException(err, true /* fromPromise */);
            ^

[UnhandledPromiseRejection: This error originated either by throwing inside of an async function without a catch block, or by rejecting a promise which was not handled with .catch(). The promise rejected with the reason \"boom\".] {
  code: 'ERR_UNHANDLED_REJECTION'
}

Node.js v18.17.0
restarted
";

const GO_PANIC: &str = "panic: runtime error: index out of range [5] with length 3

goroutine 1 [running]:
main.handler(0xc000012345, 0x3)
\t/app/main.go:12 +0x1d
main.main()
\t/app/main.go:20 +0x25

goroutine 7 [chan receive]:
main.worker()
\t/app/main.go:30 +0x40
created by main.main
\t/app/main.go:18 +0x30
exit status 2
service restarted
";

const RUST_PANIC: &str = "thread 'main' panicked at src/main.rs:2:5:
boom
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace
next line
";

#[test]
fn multiline_kinds() {
    // (input, messages' first lines, level of the first record)
    let cases: [(&str, &[&str], Level, usize); 6] = [
        (
            JAVA,
            &["2026-11-20 10:00:00,123 ERROR", "2026-11-20 10:00:01,000"],
            Level::Error,
            7,
        ),
        (
            PYTHON,
            &["starting worker", "Traceback", "worker stopped"],
            Level::Info,
            10,
        ),
        (
            NODE_STACK,
            &["Error: connect", "server listening"],
            Level::Error,
            5,
        ),
        (NODE_CRASH, &["node:internal", "restarted"], Level::Fatal, 9),
        (
            GO_PANIC,
            &["panic: runtime", "service restarted"],
            Level::Fatal,
            14,
        ),
        (RUST_PANIC, &["thread 'main'", "next line"], Level::Fatal, 3),
    ];
    for (input, starts, level, lines) in cases {
        let recs = parse_all(input);
        let firsts: Vec<_> = recs
            .iter()
            .map(|r| r.message.lines().next().unwrap_or(""))
            .collect();
        assert_eq!(recs.len(), starts.len(), "{firsts:#?}");
        for (r, s) in recs.iter().zip(starts) {
            assert!(r.message.starts_with(s), "{:?} vs {s:?}", r.message);
        }
        assert_eq!(recs[0].level, level, "{}", recs[0].message);
        let big = recs
            .iter()
            .map(|r| r.message.lines().count())
            .max()
            .unwrap();
        assert_eq!(big, lines, "{recs:#?}");
    }
    let py = parse_all(PYTHON);
    assert_eq!(py[1].level, Level::Error);
    assert_eq!(py[1].message.lines().count(), 10);
    assert!(py[1].message.ends_with("ValueError: bad"));
}

#[test]
fn offsets_and_ids_are_the_events_first_line() {
    let recs = parse_all(JAVA);
    let second = JAVA.find("2026-11-20 10:00:01").unwrap();
    assert_eq!(recs[0].id, "0000000000000abc:0");
    assert_eq!(recs[1].id, format!("0000000000000abc:{second}"));

    let mut p = SourceParser::new(SourceInfo::default(), ParseOptions::default());
    let mut out = Vec::new();
    let mut offset = 0u64;
    let mut pending = Vec::new();
    for line in JAVA.lines() {
        p.push_line(line.as_bytes(), offset, 0, &mut out);
        pending.push(p.pending_offset());
        offset += line.len() as u64 + 1;
    }
    assert!(pending[..7].iter().all(|p| *p == Some(0)));
    assert_eq!(pending[7], Some(second as u64));
    assert_eq!(out.len(), 1);
    p.flush(&mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(p.pending_offset(), None);
}

#[test]
fn flush_timeout_emits_the_pending_event() {
    let mut p = SourceParser::new(SourceInfo::default(), ParseOptions::default());
    let mut out = Vec::new();
    p.push_line(b"Error: x", 0, 0, &mut out);
    p.push_line(b"    at f (a.js:1:1)", 9, 10, &mut out);
    assert_eq!(p.pending_since(), Some(10));
    assert!(out.is_empty());
    // A late indented line after the timeout starts its own record.
    p.push_line(b"    at g (a.js:2:1)", 29, 2_000_000_000, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].message.lines().count(), 2);
    assert_eq!(p.pending_offset(), Some(29));
}

#[test]
fn prefixed_stack_traces_are_one_event() {
    let node = [
        "Error: boom",
        "    at a (/app/a.js:1:1)",
        "    at b (/app/b.js:2:2)",
    ];
    let go = [
        "panic: boom",
        "",
        "goroutine 1 [running]:",
        "main.main()",
        "\t/app/main.go:3 +0x1d",
        "exit status 2",
    ];
    let python = [
        "Traceback (most recent call last):",
        "  File \"/app/w.py\", line 3, in <module>",
        "KeyError: 'x'",
    ];
    let rust = [
        "thread 'main' panicked at src/main.rs:2:5:",
        "boom",
        "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
    ];
    let java = [
        "2026-11-20 10:00:00,123 ERROR x",
        "java.io.IOException: reset",
        "\tat a.B.c(B.java:1)",
    ];
    let prefixes: [&dyn Fn(&str) -> String; 5] = [
        &|l| format!("2026-11-20T10:00:00.123456789Z {l}"),
        &|l| format!("Nov 20 10:00:00 web-1 node[2314]: {l}"),
        &|l| format!("2026-11-20T10:00:00: {l}"),
        &|l| format!("2026-11-20T10:00:00.123456789Z stderr F {l}"),
        &|l| {
            serde_json::json!({"log": format!("{l}\n"), "stream": "stderr", "time": "2026-11-20T10:00:00Z"}).to_string()
        },
    ];
    for (i, prefix) in prefixes.iter().enumerate() {
        for trace in [&node[..], &java[..], &go[..], &python[..], &rust[..]] {
            let text: String = trace.iter().map(|l| prefix(l) + "\n").collect();
            let recs = parse_all(&(text + &prefix("2026-11-20 10:00:09,000 INFO next") + "\n"));
            assert_eq!(recs.len(), 2, "prefix {i}: {recs:#?}");
            assert_eq!(recs[0].message, trace.join("\n"), "prefix {i}");
            assert!(recs[0].level >= Level::Error, "prefix {i}");
            assert!(recs[0].timestamp < ts("2026-11-20T10:00:01Z"), "prefix {i}");
        }
    }
}

#[test]
fn cri_partial_lines_are_joined() {
    let text = "2026-11-20T10:00:00Z stdout P hello \n2026-11-20T10:00:00Z stdout F world\n";
    let recs = parse_all(text);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].message, "hello world");
    assert_eq!(recs[0].fields["stream"], "stdout");
    assert_eq!(recs[0].id, "0000000000000abc:0");
}

#[test]
fn bad_bytes_long_lines_and_line_endings() {
    let recs = parse_all("a\u{0}b\r\nc");
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[1].id, "0000000000000abc:5");
    let bytes = b"ok \xff\xfe end\n".to_vec();
    let recs: Vec<_> = parse_reader(
        &bytes[..],
        SourceInfo::default(),
        ParseOptions::default(),
        0,
    )
    .collect();
    assert_eq!(recs[0].message, "ok \u{fffd}\u{fffd} end");
    let opts = ParseOptions {
        max_line_bytes: 8,
        ..ParseOptions::default()
    };
    let recs: Vec<_> = parse_reader(
        &b"0123456789abc\nshort\n"[..],
        SourceInfo::default(),
        opts,
        0,
    )
    .collect();
    assert_eq!(recs[0].message, "01234567");
    assert_eq!(recs[0].fields["truncated"], true);
    assert_eq!(recs[1].id, "0000000000000000:14");
    assert!(recs[1].fields.get("truncated").is_none());
}

#[test]
fn interleaved_streams_keep_their_events() {
    let text = "2026-11-20T10:00:00Z stderr F Error: boom
2026-11-20T10:00:00Z stdout F GET /healthz 200
2026-11-20T10:00:00Z stderr F     at a (/app/a.js:1:1)
Nov 20 10:00:00 h java[7]: 2026-11-20 10:00:00,000 ERROR x
Nov 20 10:00:00 h sshd[9]: Accepted publickey
Nov 20 10:00:00 h java[7]: java.io.IOException: reset
";
    let recs = parse_all(text);
    let mut msgs: Vec<_> = recs
        .iter()
        .map(|r| (r.id.clone(), r.message.as_str()))
        .collect();
    msgs.sort();
    assert_eq!(msgs.len(), 4, "{msgs:#?}");
    assert_eq!(msgs[0].1, "Error: boom\n    at a (/app/a.js:1:1)");
    assert!(msgs
        .iter()
        .any(|m| m.1 == "2026-11-20 10:00:00,000 ERROR x\njava.io.IOException: reset"));

    let mut p = SourceParser::new(SourceInfo::default(), ParseOptions::default());
    let mut out = Vec::new();
    p.push_line(b"2026-11-20T10:00:00Z stderr F Error: boom", 0, 0, &mut out);
    p.push_line(b"2026-11-20T10:00:00Z stdout F hello", 42, 1, &mut out);
    assert_eq!(p.pending_offset(), Some(0));
    assert_eq!(p.pending_since(), Some(1));
    // Past the flush timeout of the first event only.
    p.push_line(
        b"2026-11-20T10:00:00Z stdout F     more",
        78,
        1_000_000_001,
        &mut out,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].message, "Error: boom");
    assert_eq!(p.pending_offset(), Some(42));
}

#[test]
fn wrapped_lines_far_apart_or_marked_are_events_of_their_own() {
    // Next.js behind CRI: a handled error's stack, an hour later a rejection whose indented
    // mark would otherwise continue it, then its frames.
    let text = "2026-12-02T13:00:18.384Z stderr F  ⨯ Error: catalog responded 503
2026-12-02T13:00:18.385Z stderr F     at getProduct (/app/page.js:1:6121)
2026-12-02T13:00:18.386Z stdout F level=info msg=request status=500
2026-12-02T14:07:17.538Z stderr F  ⨯ unhandledRejection: Error: recommendations responded 504
2026-12-02T14:07:17.539Z stderr F     at fetchRecommendations (/app/chunk.js:1:2290)
2026-12-02T14:07:17.540Z stderr F  ⚠ slow render
2026-12-02T15:00:00.000Z stderr F     at lonely (/app/x.js:1:1)
";
    let recs = parse_all(text);
    let mut msgs: Vec<_> = recs
        .iter()
        .map(|r| (r.timestamp, r.message.as_str()))
        .collect();
    msgs.sort();
    let msgs: Vec<&str> = msgs.into_iter().map(|(_, m)| m).collect();
    assert_eq!(
        msgs,
        [
            " ⨯ Error: catalog responded 503\n    at getProduct (/app/page.js:1:6121)",
            "request",
            " ⨯ unhandledRejection: Error: recommendations responded 504\n    at fetchRecommendations (/app/chunk.js:1:2290)",
            " ⚠ slow render",
            "    at lonely (/app/x.js:1:1)",
        ]
    );
}

#[test]
fn a_crash_report_after_an_error_line_is_its_own_event() {
    let text = "2026-11-23T07:41:30.452Z [error] smtp send failed -> dead-lettering
node:internal/process/promises:288
            triggerUncaughtException(err, true /* fromPromise */);
            ^

IllegalOperationError: Channel closed
    at ConfirmChannel.publish (/app/node_modules/amqplib/lib/channel_model.js:283:17)

Node.js v18.19.0
2026-11-23T07:41:31.000Z [error] query failed
Traceback (most recent call last):
  File \"/app/w.py\", line 3, in run
ValueError: bad
";
    let recs = parse_all(text);
    assert_eq!(recs.len(), 3, "{recs:#?}");
    assert_eq!(
        recs[0].message,
        "2026-11-23T07:41:30.452Z [error] smtp send failed -> dead-lettering"
    );
    assert!(recs[1]
        .message
        .starts_with("node:internal/process/promises:288\n"));
    assert!(recs[1].message.ends_with("Node.js v18.19.0"));
    // The traceback a logger wrote stays with its line.
    assert!(recs[2].message.ends_with("ValueError: bad"));
}

#[test]
fn python_logging_tracebacks() {
    let logged = "2026-11-20 10:00:00,000 ERROR worker: job failed
Traceback (most recent call last):
  File \"/app/w.py\", line 3, in run
ValueError: bad
2026-11-20 10:00:01,000 INFO worker: next
Traceback (most recent call last):
  File \"/app/w.py\", line 9, in <module>
KeyError: 'x'
";
    let recs = parse_all(logged);
    let lines: Vec<_> = recs.iter().map(|r| r.message.lines().count()).collect();
    assert_eq!(lines, [4, 1, 3], "{recs:#?}");
    assert_eq!(recs[2].level, Level::Error);
}

#[test]
fn read_errors_end_the_reader_after_what_was_read() {
    struct Failing(Vec<u8>);
    impl std::io::Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Err(std::io::Error::other("disk gone"));
            }
            let n = buf.len().min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0.drain(..n);
            Ok(n)
        }
    }
    let input = std::io::BufReader::new(Failing(
        b"Error: x\n    at f (a.js:1:1)\nhalf a li".to_vec(),
    ));
    let mut reader = parse_reader(input, SourceInfo::default(), ParseOptions::default(), 0);
    let recs: Vec<_> = reader.by_ref().collect();
    assert_eq!(recs.len(), 2, "{recs:#?}");
    assert_eq!(recs[0].message.lines().count(), 2);
    assert_eq!(recs[1].message, "half a li");
    assert_eq!(
        reader.error().map(|e| e.to_string()),
        Some("disk gone".into())
    );
}

#[test]
fn hostile_repetitions_do_not_overflow_the_stack() {
    for unit in ["<1>", "{\"log\":", "[", "    at x\n", "\t"] {
        let line = unit.repeat(400_000);
        let recs = parse_all(&line);
        assert!(!recs.is_empty() || line.trim().is_empty());
    }
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn never_panics_and_offsets_stay_in_order(lines in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..120), 0..12)) {
            let mut p = SourceParser::new(SourceInfo::default(), ParseOptions { max_line_bytes: 64, ..ParseOptions::default() });
            let mut out = Vec::new();
            let mut offset = 0u64;
            for (i, line) in lines.iter().enumerate() {
                p.push_line(line, offset, i as Nanos, &mut out);
                if let Some(pending) = p.pending_offset() {
                    prop_assert!(pending <= offset);
                }
                offset += line.len() as u64 + 1;
            }
            p.flush(&mut out);
            prop_assert!(p.pending_offset().is_none());
            prop_assert!(out.len() <= lines.len());
        }

        #[test]
        fn ids_are_unique_line_starts(text in prop::collection::vec(prop_oneof![
            Just("\n"), Just("\r\n"), Just("    at f (a.js:1:1)"), Just("Error: x"), Just("{\"msg\":1}"),
            Just("2026-11-20 10:00:00 INFO x"), Just("Traceback (most recent call last):"),
            Just("2026-11-20T10:00:00Z stdout P a"), Just("\u{e9}\u{ff}"), Just(" "),
        ], 0..40)) {
            let text: String = text.concat();
            // Events of different streams may complete out of order; ids stay unique.
            let mut seen = std::collections::HashSet::new();
            for r in parse_reader(text.as_bytes(), SourceInfo::default(), ParseOptions::default(), 0) {
                let offset: usize = r.id.rsplit(':').next().unwrap().parse().unwrap();
                prop_assert!(offset == 0 || text.as_bytes()[offset - 1] == b'\n', "{offset} in {text:?}");
                prop_assert!(seen.insert(offset), "{offset} twice");
            }
        }

        #[test]
        fn reader_never_panics_and_covers_every_line(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            let opts = ParseOptions { max_line_bytes: 32, ..ParseOptions::default() };
            let recs: Vec<_> = parse_reader(&bytes[..], SourceInfo::default(), opts, 0).collect();
            for r in &recs {
                let offset: usize = r.id.rsplit(':').next().unwrap().parse().unwrap();
                prop_assert!(offset < bytes.len().max(1));
                prop_assert!(offset == 0 || bytes[offset - 1] == b'\n');
            }
            // Every line with a visible character ends up in some record.
            let visible = bytes.split(|&b| b == b'\n').filter(|l| l.iter().any(|b| b.is_ascii_graphic())).count();
            prop_assert!(visible == 0 || !recs.is_empty());
        }

        #[test]
        fn never_panics_on_format_shaped_noise(s in "(<[0-9]{1,3}>1? ?)?([0-9]{2,4}[-/ :.,T]{1,2}){0,6}[A-Za-z \\[\\]{}\":=\\\\]{0,40}") {
            let _ = parse_all(&s);
        }
    }
}

#[test]
fn docker_json_file_partials_and_wrapped_json() {
    let text = [
        r#"{"log":"first half ","stream":"stdout","time":"2026-11-20T10:00:00Z"}"#,
        r#"{"log":"second half\n","stream":"stdout","time":"2026-11-20T10:00:00.1Z"}"#,
        r#"{"log":"{\"level\":50,\"msg\":\"db down\"}\n","stream":"stderr","time":"2026-11-20T10:00:01Z"}"#,
    ]
    .join("\n");
    let mut recs = parse_all(&text);
    recs.sort_by_key(|r| r.timestamp);
    assert_eq!(recs.len(), 2, "{recs:#?}");
    assert_eq!(recs[0].message, "first half second half");
    assert_eq!(recs[0].timestamp, ts("2026-11-20T10:00:00Z"));
    assert_eq!(recs[0].id, "0000000000000abc:0");
    assert_eq!(recs[1].message, "db down");
    assert_eq!(recs[1].level, Level::Error);
    assert_eq!(recs[1].fields["stream"], "stderr");
    assert_eq!(recs[1].timestamp, ts("2026-11-20T10:00:01Z"));
}

#[test]
fn pm2_prefixes() {
    let r = one("0|api      | 2026-11-20 10:00:00 WARN disk at 91%");
    assert_eq!(
        (r.level, r.timestamp),
        (Level::Warn, ts("2026-11-20T10:00:00Z"))
    );
    assert_eq!(r.message, "2026-11-20 10:00:00 WARN disk at 91%");
    let r = one("2026-11-20T10:00:00: listening on 3000");
    assert_eq!(r.message, "listening on 3000");
    assert_eq!(r.timestamp, ts("2026-11-20T10:00:00Z"));
}

#[test]
fn node_out_of_memory_report_is_one_event() {
    let text = "<--- Last few GCs --->

[8:0x5f3b0a0]    42000 ms: Mark-sweep 2040.1 (2051.2) -> 2039.8 (2052.2) MB, 1800.2 / 0.0 ms
<--- JS stacktrace --->

FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory
 1: 0xb7b3e0 node::Abort() [node]
 2: 0xa8e823  [node]
{\"level\":30,\"msg\":\"restarted\"}
";
    let recs = parse_all(text);
    assert_eq!(recs.len(), 2, "{recs:#?}");
    assert_eq!(recs[0].level, Level::Fatal);
    assert_eq!(recs[0].message.lines().count(), 8);
    assert_eq!(recs[1].message, "restarted");
}

#[test]
fn events_are_cut_at_the_size_limit() {
    let opts = ParseOptions {
        max_line_bytes: 64,
        ..ParseOptions::default()
    };
    let text = "Error: x\n".to_string() + &"    at frame (file.js:1:1)\n".repeat(6);
    let recs: Vec<_> = parse_reader(text.as_bytes(), SourceInfo::default(), opts, 0).collect();
    assert!(recs.len() > 1);
    assert!(recs.iter().all(|r| r.message.len() <= 64), "{recs:#?}");
    let total: usize = recs.iter().map(|r| r.message.lines().count()).sum();
    assert_eq!(total, 7);
}

#[test]
fn go_panic_ends_at_a_record_of_its_own() {
    let text = "panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/app/main.go:3 +0x1\n{\"level\":\"info\",\"msg\":\"up\"}\nlevel=info msg=again\n";
    let recs = parse_all(text);
    let msgs: Vec<_> = recs.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(msgs.len(), 3, "{msgs:#?}");
    assert_eq!(msgs[1], "up");
    assert_eq!(msgs[2], "again");
}

#[test]
fn docker_prefix_found_late_does_not_swallow_the_source() {
    // Until a stack trace shows the RFC 3339 prefix to be docker's, it is taken as the
    // program's own time; once it is known, lines without a timestamp of their own must not
    // keep gluing onto the event that was open.
    let mut text = String::from(
        "2026-11-16T13:00:44.064Z info: item added\n\
         2026-11-16T13:00:46.403Z error: upstream request failed\n\
         2026-11-16T13:00:46.404Z Error: Request failed with status code 502\n\
         2026-11-16T13:00:46.405Z     at createError (/app/createError.js:16:15)\n\
         2026-11-16T13:00:46.406Z     at settle (/app/settle.js:17:12)\n",
    );
    for i in 0..50 {
        text.push_str(&format!(
            "2026-11-16T13:00:5{}.000Z GET /api/cart 200 8.6 ms - 10\n",
            i % 10
        ));
    }
    let recs = parse_all(&text);
    assert!(recs.len() >= 52, "got {} records", recs.len());
    let trace = recs
        .iter()
        .find(|r| r.message.starts_with("Error: Request failed"));
    assert!(
        trace.is_some_and(|r| r.message.lines().count() == 3),
        "{recs:#?}"
    );
}

#[test]
fn timestamp_less_lines_join_an_event_only_up_to_a_bound() {
    let mut text = String::from("2026-11-20 10:00:00,123 INFO start\n");
    for _ in 0..5000 {
        text.push_str("plain line without a time\n");
    }
    let recs = parse_all(&text);
    assert!(recs.len() >= 5, "got {} records", recs.len());
    assert!(recs.iter().all(|r| r.message.lines().count() <= 1000));
}

#[test]
fn spring_boots_padded_level_after_its_time_heads_a_record() {
    // `%d %5p`: two spaces before INFO. Between such lines, a JVM GC log line.
    let recs = parse_all(concat!(
        "2026-11-22T06:30:07.536Z  INFO 1 --- [main] c.e.ExportService   : Export finished\n",
        "[2026-11-22T06:30:19.856+0000][info][gc] GC(8812) Pause Young (Normal) 564M->144M(1024M) 10.559ms\n",
        "2026-11-22T06:30:28.200Z  INFO 1 --- [sched-1] c.e.PoolStatsReporter    : pool stats: threads=93\n",
        "2026-11-22T06:30:30.799Z ERROR 1 --- [exec-9] c.e.ExportController   : Export failed\n",
        "\tat c.e.ExportController.run(ExportController.java:42)\n",
    ));
    let got: Vec<(Level, usize)> = recs
        .iter()
        .map(|r| (r.level, r.message.lines().count()))
        .collect();
    assert_eq!(
        got,
        [
            (Level::Info, 1),
            (Level::Info, 1),
            (Level::Info, 1),
            (Level::Error, 2)
        ]
    );
    assert_eq!(recs[2].timestamp, ts("2026-11-22T06:30:28.200Z"));
    assert!(recs[2].message.contains("threads=93"));
}

const LAMBDA_NODE: &str = "2026/11/24/[42]05cde232f584096d0bd8de600b7aa265";
const LAMBDA_PYTHON: &str = "2026/11/24/[$LATEST]f298f48da87d33c2b3c0460156cbd078";

/// Events of interleaved contexts complete out of order: back in the order they started.
fn by_offset(mut recs: Vec<LogRecord>) -> Vec<LogRecord> {
    recs.sort_by_key(|r| r.id.rsplit(':').next().unwrap().parse::<u64>().unwrap());
    recs
}

#[test]
fn aws_logs_tail_of_lambda_functions() {
    let id = "cf4fbbb7-3584-4aaf-a5d5-b215c38540cb";
    let text = [
        format!("2026-11-24T09:05:40.100000+00:00 {LAMBDA_NODE} INIT_START Runtime Version: nodejs:20.v43\tRuntime Version ARN: arn:aws:lambda:eu-west-1::runtime:0a25e3e7"),
        format!("2026-11-24T09:05:43.800000+00:00 {LAMBDA_NODE} START RequestId: {id} Version: 42"),
        format!("2026-11-24T09:05:43.882000+00:00 {LAMBDA_NODE} 2026-11-24T09:05:43.882Z\t{id}\tERROR\tUnhandled Promise Rejection \t{{\"errorType\":\"Runtime.UnhandledPromiseRejection\"}}"),
        format!("2026-11-24T08:00:11.024000+00:00 {LAMBDA_PYTHON} {{\"timestamp\":\"2026-11-24T08:00:11.024Z\",\"level\":\"INFO\",\"message\":\"Pillow loaded\",\"logger\":\"thumbnailer.handler\"}}"),
        format!("2026-11-24T09:05:43.901000+00:00 {LAMBDA_NODE} END RequestId: {id}"),
        format!("2026-11-24T09:05:43.901000+00:00 {LAMBDA_NODE} REPORT RequestId: {id}\tDuration: 42.54 ms\tBilled Duration: 43 ms\tMemory Size: 512 MB\tMax Memory Used: 78 MB\t"),
        format!("2026-11-24T09:05:44.000000+00:00 {LAMBDA_NODE} RequestId: {id} Error: Runtime exited with error: exit status 128"),
        // The further lines of a CloudWatch event come bare.
        "Runtime.ExitError".to_string(),
        format!("2026-11-24T08:00:12.000000+00:00 {LAMBDA_PYTHON} [ERROR] KeyError: 'tenant_id'"),
        "Traceback (most recent call last):".to_string(),
        "  File \"/var/task/app.py\", line 10, in lambda_handler".to_string(),
        "    tenant = event[\"tenant_id\"]".to_string(),
        format!("2026-11-24T08:00:12.100000+00:00 {LAMBDA_PYTHON} [INFO]\t2026-11-24T08:00:12.100Z\t3f8920ae-446c-4479-8857-5c5799310082\tretrying"),
    ]
    .join("\n");
    let recs = by_offset(parse_all(&text));
    let got: Vec<(&str, Nanos, Level)> = recs
        .iter()
        .map(|r| (r.message.as_str(), r.timestamp, r.level))
        .collect();
    assert_eq!(
        got,
        [
            ("INIT_START Runtime Version: nodejs:20.v43\tRuntime Version ARN: arn:aws:lambda:eu-west-1::runtime:0a25e3e7", ts("2026-11-24T09:05:40.1Z"), Level::Info),
            (&*format!("START RequestId: {id} Version: 42"), ts("2026-11-24T09:05:43.8Z"), Level::Info),
            ("Unhandled Promise Rejection \t{\"errorType\":\"Runtime.UnhandledPromiseRejection\"}", ts("2026-11-24T09:05:43.882Z"), Level::Error),
            ("Pillow loaded", ts("2026-11-24T08:00:11.024Z"), Level::Info),
            (&*format!("END RequestId: {id}"), ts("2026-11-24T09:05:43.901Z"), Level::Info),
            (&*format!("REPORT RequestId: {id}\tDuration: 42.54 ms\tBilled Duration: 43 ms\tMemory Size: 512 MB\tMax Memory Used: 78 MB\t"), ts("2026-11-24T09:05:43.901Z"), Level::Info),
            (&*format!("RequestId: {id} Error: Runtime exited with error: exit status 128\nRuntime.ExitError"), ts("2026-11-24T09:05:44Z"), Level::Info),
            ("[ERROR] KeyError: 'tenant_id'\nTraceback (most recent call last):\n  File \"/var/task/app.py\", line 10, in lambda_handler\n    tenant = event[\"tenant_id\"]", ts("2026-11-24T08:00:12Z"), Level::Error),
            ("retrying", ts("2026-11-24T08:00:12.1Z"), Level::Info),
        ]
    );
    assert_eq!(recs[2].fields["request_id"], id);
    assert_eq!(recs[2].fields["log_stream"], LAMBDA_NODE);
    assert_eq!(recs[3].fields["log_stream"], LAMBDA_PYTHON);
    assert_eq!(recs[3].fields["logger"], "thumbnailer.handler");
    assert_eq!(
        recs[8].fields["request_id"],
        "3f8920ae-446c-4479-8857-5c5799310082"
    );
}

#[test]
fn aws_logs_tail_streams_keep_their_events() {
    let ecs_a = "ecs/ledger/4f1c0d9e2b7a4c3d9e8f7a6b5c4d3e2f";
    let ecs_b = "ecs/ledger/9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d";
    // The awslogs driver sends a line at a time: a stack trace comes as many events.
    let text = [
        format!("2026-11-24T10:00:00.100000+00:00 {ecs_a} 2026-11-24 10:00:00,100 ERROR [main] c.a.Ledger - post failed"),
        format!("2026-11-24T10:00:00.101000+00:00 {ecs_b} 2026-11-24 10:00:00,101 INFO [main] c.a.Ledger - posted"),
        format!("2026-11-24T10:00:00.102000+00:00 {ecs_a} java.io.IOException: reset"),
        format!("2026-11-24T10:00:00.103000+00:00 {ecs_b} \tat c.a.Other.x(Other.java:3)"),
        format!("2026-11-24T10:00:00.104000+00:00 {ecs_a} \tat c.a.Ledger.post(Ledger.java:42)"),
        format!("2026-11-24T10:00:01.000000+00:00 {LAMBDA_NODE} 2026-11-24T10:00:01.000Z\tundefined\tINFO\tcold start"),
    ]
    .join("\n");
    let mut recs = parse_all(&text);
    recs.sort_by_key(|r| r.timestamp);
    let got: Vec<(&str, &str)> = recs
        .iter()
        .map(|r| {
            let stream = r.fields["log_stream"].as_str().unwrap();
            (stream, r.message.as_str())
        })
        .collect();
    assert_eq!(
        got,
        [
            (ecs_a, "2026-11-24 10:00:00,100 ERROR [main] c.a.Ledger - post failed\njava.io.IOException: reset\n\tat c.a.Ledger.post(Ledger.java:42)"),
            (ecs_b, "2026-11-24 10:00:00,101 INFO [main] c.a.Ledger - posted\n\tat c.a.Other.x(Other.java:3)"),
            (LAMBDA_NODE, "cold start"),
        ]
    );
    assert_eq!(recs[0].timestamp, ts("2026-11-24T10:00:00.1Z"));
}

#[test]
fn kubectl_prefixed_lines() {
    let a = "[pod/ledger-api-6b7d9c8f5-7bdlv/ledger-api]";
    let b = "[pod/ledger-api-6b7d9c8f5-x2x9q/ledger-api]";
    let text = [
        format!("{a} 2026-11-28T09:00:00.522746949Z {{\"level\":\"info\",\"ts\":1795856400.522746,\"msg\":\"runtime stats\",\"goroutines\":84}}"),
        format!("{a} 2026-11-28T09:00:01.000000000Z 2026-11-28 09:00:01.000 ERROR post failed"),
        format!("{b} 2026-11-28T09:00:01.100000000Z 2026-11-28 09:00:01.100 INFO posted"),
        format!("{a} 2026-11-28T09:00:01.200000000Z java.io.IOException: reset"),
        format!("{a} 2026-11-28T09:00:01.300000000Z \tat c.a.Ledger.post(Ledger.java:42)"),
    ]
    .join("\n");
    let mut recs = parse_all(&text);
    recs.sort_by_key(|r| r.timestamp);
    assert_eq!(recs.len(), 3, "{recs:#?}");
    assert_eq!(recs[0].message, "runtime stats");
    assert_eq!(recs[0].timestamp, 1_795_856_400_522_746_000);
    assert_eq!(recs[0].fields["goroutines"], 84);
    assert_eq!(recs[0].fields["pod"], "ledger-api-6b7d9c8f5-7bdlv");
    assert_eq!(recs[0].fields["container"], "ledger-api");
    assert_eq!(
        recs[1].message,
        "2026-11-28 09:00:01.000 ERROR post failed\njava.io.IOException: reset\n\tat c.a.Ledger.post(Ledger.java:42)"
    );
    assert_eq!(recs[1].level, Level::Error);
    assert_eq!(recs[2].fields["pod"], "ledger-api-6b7d9c8f5-x2x9q");

    // Without --timestamps.
    let r = one("[pod/web-5d8f/web] 2026-11-28 09:00:00 INFO started");
    assert_eq!(r.timestamp, ts("2026-11-28T09:00:00Z"));
    assert_eq!(r.level, Level::Info);
    assert_eq!(r.message, "2026-11-28 09:00:00 INFO started");
    assert_eq!(
        (&r.fields["pod"], &r.fields["container"]),
        (&"web-5d8f".into(), &"web".into())
    );
    // An RFC 3339 time of the program's own stays in its message, as a docker line's would.
    let r = one("[pod/web-5d8f/web] 2026-11-28T09:00:00Z started");
    assert_eq!(r.timestamp, ts("2026-11-28T09:00:00Z"));
    assert_eq!(r.message, "2026-11-28T09:00:00Z started");
}

#[test]
fn env_logger_default_format() {
    let line = "[2026-12-05T09:00:31Z INFO  actix_web::middleware::logger] 10.3.5.155 \"GET /v2/search?q=boots HTTP/1.1\" 200 16578 \"-\" \"okhttp/4.12.0\" 0.079031";
    let r = one(line);
    assert_eq!(r.timestamp, ts("2026-12-05T09:00:31Z"));
    assert_eq!(r.level, Level::Info);
    assert_eq!(r.message, line);
    let r = one("[2026-12-05T09:00:32Z ERROR sqlx::pool] connection refused");
    assert_eq!(
        (r.timestamp, r.level),
        (ts("2026-12-05T09:00:32Z"), Level::Error)
    );
}

#[test]
fn journal_cloud_logging_mongo_and_event_lines() {
    let text = [
        r#"{"__REALTIME_TIMESTAMP":"1795752003016423","PRIORITY":"3","SYSLOG_IDENTIFIER":"ingest-worker","MESSAGE":"Task exception was never retrieved\nfuture: <Task finished name='Task-49197'>","_PID":"2211","_SYSTEMD_UNIT":"ingest-worker.service"}"#,
        r#"{"insertId":"ba50","jsonPayload":{"message":"request failed","route":"/v1/carts"},"logName":"projects/acme/logs/run.googleapis.com%2Fstdout","resource":{"type":"cloud_run_revision","labels":{"service_name":"checkout-api"}},"severity":"ERROR","timestamp":"2026-11-25T13:30:01.198000Z"}"#,
        r#"{"t":{"$date":"2026-12-03T07:05:04.059+00:00"},"s":"W",  "c":"NETWORK",  "id":22943,   "ctx":"listener","msg":"Connection accepted","attr":{"remote":"10.4.9.5:39737","connectionId":47331,"connectionCount":58}}"#,
        r#"{"metadata":{"name":"x.1","namespace":"payments"},"reason":"OOMKilling","message":"Memory cgroup out of memory: Killed process 4242 (ledger-api)","source":{"component":"kernel-monitor"},"firstTimestamp":"2026-11-28T12:23:50Z","lastTimestamp":"2026-11-28T12:23:50Z","count":1,"type":"Warning"}"#,
    ]
    .join("\n");
    let recs = parse_all(&text);
    let got: Vec<(Nanos, Level, &str, &str)> = recs
        .iter()
        .map(|r| {
            (
                r.timestamp,
                r.level,
                r.service.as_str(),
                r.message.lines().next().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                1_795_752_003_016_423_000,
                Level::Error,
                "ingest-worker",
                "Task exception was never retrieved"
            ),
            (
                ts("2026-11-25T13:30:01.198Z"),
                Level::Error,
                "checkout-api",
                "request failed"
            ),
            (
                ts("2026-12-03T07:05:04.059Z"),
                Level::Warn,
                "checkout",
                "Connection accepted"
            ),
            (
                ts("2026-11-28T12:23:50Z"),
                Level::Warn,
                "checkout",
                "Memory cgroup out of memory: Killed process 4242 (ledger-api)"
            ),
        ]
    );
    assert_eq!(recs[1].fields["route"], "/v1/carts");
    assert_eq!(recs[2].fields["attr"]["connectionCount"], 58);
}

/// Ktor behind `docker logs --timestamps`: an info line, then the JVM's default handler.
const KTOR_INFO: &str = "2026-12-02T11:09:17.091823411Z 2026-12-02 11:09:17.091 [eventLoopGroupProxy-4-3] INFO  ktor.application - 200 OK: GET - /x in 43ms";
const KTOR_UNCAUGHT: [&str; 3] = [
    "2026-12-02T11:09:17.534054593Z Exception in thread \"DefaultDispatcher-worker-11\" io.ktor.client.plugins.ServerResponseException: Server error",
    "2026-12-02T11:09:17.534062829Z \tat io.ktor.client.plugins.X.invokeSuspend(X.kt:54)",
    "2026-12-02T11:09:17.534070113Z Caused by: java.io.IOException: Connection reset",
];

#[test]
fn uncaught_jvm_exceptions_after_an_info_line_are_events_of_their_own() {
    let exception = "Exception in thread \"DefaultDispatcher-worker-11\" io.ktor.client.plugins.ServerResponseException: Server error\n\tat io.ktor.client.plugins.X.invokeSuspend(X.kt:54)\nCaused by: java.io.IOException: Connection reset";
    let info = "2026-12-02 11:09:17.091 [eventLoopGroupProxy-4-3] INFO  ktor.application - 200 OK: GET - /x in 43ms";
    let info_later = KTOR_INFO.replace("17.091823411Z", "18.000000000Z");
    // Info, then the exception; and the exception first.
    let orders = [
        [KTOR_INFO.to_string()]
            .into_iter()
            .chain(KTOR_UNCAUGHT.map(String::from))
            .collect::<Vec<_>>(),
        KTOR_UNCAUGHT
            .map(String::from)
            .into_iter()
            .chain([info_later])
            .collect(),
    ];
    for (i, lines) in orders.iter().enumerate() {
        let recs = by_offset(parse_all(&lines.join("\n")));
        let got: Vec<(&str, Level)> = recs.iter().map(|r| (r.message.as_str(), r.level)).collect();
        let want = if i == 0 {
            [(info, Level::Info), (exception, Level::Error)]
        } else {
            [(exception, Level::Error), (info, Level::Info)]
        };
        assert_eq!(got, want, "order {i}");
        let thrown = recs.iter().find(|r| r.level == Level::Error).unwrap();
        assert_eq!(
            thrown.timestamp,
            ts("2026-12-02T11:09:17.534054593Z"),
            "order {i}"
        );
    }

    // The same in a plain file: the exception has no time of its own.
    let plain = "2026-12-02 11:09:17.091 [eventLoopGroupProxy-4-3] INFO  ktor.application - 200 OK: GET - /x in 43ms
Exception in thread \"DefaultDispatcher-worker-11\" java.lang.IllegalStateException: boom
\tat io.ktor.client.plugins.X.invokeSuspend(X.kt:54)
\tSuppressed: kotlinx.coroutines.internal.DiagnosticCoroutineContextException: [StandaloneCoroutine{Cancelling}]
Caused by: java.io.IOException: reset
\t... 3 more
";
    let recs = parse_all(plain);
    let got: Vec<(Level, usize)> = recs
        .iter()
        .map(|r| (r.level, r.message.lines().count()))
        .collect();
    assert_eq!(got, [(Level::Info, 1), (Level::Error, 5)], "{recs:#?}");
    assert_eq!(recs[0].timestamp, ts("2026-12-02T11:09:17.091Z"));
    assert_eq!(recs[1].timestamp, OBSERVED);
}

#[test]
fn uncaught_jvm_exceptions_after_an_error_line_continue_it() {
    let error = KTOR_INFO.replace(
        "INFO  ktor.application - 200 OK",
        "ERROR ktor.application - 500",
    );
    let text = [error.as_str()]
        .into_iter()
        .chain(KTOR_UNCAUGHT)
        .collect::<Vec<_>>()
        .join("\n");
    let recs = parse_all(&text);
    assert_eq!(recs.len(), 1, "{recs:#?}");
    assert_eq!(recs[0].message.lines().count(), 4);
    assert_eq!(recs[0].timestamp, ts("2026-12-02T11:09:17.091Z"));
    let plain = "2026-12-02 11:09:18.000 [x] ERROR ktor.application - failed
Exception in thread \"main\" java.lang.IllegalStateException: boom
\tat a.B.c(B.kt:1)
";
    let recs = parse_all(plain);
    assert_eq!(recs.len(), 1, "{recs:#?}");
    assert_eq!(recs[0].message.lines().count(), 3);
}
