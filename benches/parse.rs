//! Parser throughput: lines per second for each format, and multiline assembly.
//!
//! `cargo bench --bench parse`. Each input is a few thousand generated lines parsed by one
//! `SourceParser`, the way the shipper feeds a file.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use firewatch_ingest::parse::{ParseOptions, SourceInfo, SourceParser};
use std::hint::black_box;

const LINES: usize = 5_000;

fn lines(make: impl Fn(usize) -> String) -> Vec<String> {
    (0..LINES).map(make).collect()
}

fn inputs() -> Vec<(&'static str, Vec<String>)> {
    vec![
        (
            "json",
            lines(|i| {
                format!(
                    r#"{{"level":{},"time":17956{i:08},"pid":4242,"hostname":"web-1","name":"checkout","reqId":"req-{i}","msg":"request completed","responseTime":{}}}"#,
                    if i % 50 == 0 { 50 } else { 30 },
                    i % 300
                )
            }),
        ),
        (
            "logfmt",
            lines(|i| {
                format!(
                    r#"ts=2026-11-20T10:{:02}:{:02}.{i:03}Z level=info msg="job finished" queue=emails depth={} goroutines=42"#,
                    i / 60 % 60,
                    i % 60,
                    i % 17
                )
            }),
        ),
        (
            "log4j",
            lines(|i| {
                format!(
            "2026-11-20 10:{:02}:{:02},{:03} INFO  [http-nio-8080-exec-{}] com.acme.orders.OrderService - order {i} accepted",
            i / 60 % 60, i % 60, i % 1000, i % 8
        )
            }),
        ),
        (
            "syslog",
            lines(|i| {
                format!(
            "Nov 20 10:{:02}:{:02} web-1 sshd[{}]: Accepted publickey for deploy from 10.0.0.{} port 5{:04} ssh2",
            i / 60 % 60, i % 60, 2000 + i % 50, i % 250, i % 10000
        )
            }),
        ),
        (
            "access",
            lines(|i| {
                format!(
                    r#"10.0.0.{} - - [20/Nov/2026:10:{:02}:{:02} +0000] "GET /api/items/{i} HTTP/1.1" {} 512 "-" "Mozilla/5.0 (X11; Linux x86_64)" 0.0{}"#,
                    i % 250,
                    i / 60 % 60,
                    i % 60,
                    if i % 40 == 0 { 503 } else { 200 },
                    i % 90
                )
            }),
        ),
        (
            "cri",
            lines(|i| {
                format!(
                    "2026-11-20T10:{:02}:{:02}.{i:09}Z stdout F GET /healthz 200 in {}ms",
                    i / 60 % 60,
                    i % 60,
                    i % 9
                )
            }),
        ),
        (
            "plain",
            lines(|i| format!("worker {} picked up task {i} from queue", i % 4)),
        ),
    ]
}

/// Java stack traces: a log4j error line with 20 frames, between ordinary lines.
fn multiline() -> Vec<String> {
    let mut out = Vec::with_capacity(LINES);
    let mut i = 0;
    while out.len() < LINES {
        out.push(format!(
            "2026-11-20 10:00:{:02},000 INFO  [main] com.acme.App - tick {i}",
            i % 60
        ));
        out.push(format!(
            "2026-11-20 10:00:{:02},001 ERROR [main] com.acme.App - charge failed",
            i % 60
        ));
        out.push("java.lang.IllegalStateException: card declined".to_string());
        for f in 0..20 {
            out.push(format!(
                "\tat com.acme.pay.Gateway.step{f}(Gateway.java:{})",
                100 + f
            ));
        }
        out.push("Caused by: java.io.IOException: connection reset".to_string());
        out.push("\t... 20 more".to_string());
        i += 1;
    }
    out
}

fn run(lines: &[String]) -> usize {
    let info = SourceInfo {
        source: "/var/log/app.log".into(),
        host: "web-1".into(),
        service: None,
        fingerprint: 7,
    };
    let mut parser = SourceParser::new(info, ParseOptions::default());
    let mut out = Vec::with_capacity(64);
    let mut offset = 0u64;
    let mut records = 0;
    for line in lines {
        parser.push_line(line.as_bytes(), offset, 1_795_168_800_000_000_000, &mut out);
        offset += line.len() as u64 + 1;
        records += out.len();
        out.clear();
    }
    parser.flush(&mut out);
    records + out.len()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    group.sample_size(20);
    let mut all = inputs();
    all.push(("multiline_java", multiline()));
    for (name, lines) in &all {
        group.throughput(Throughput::Elements(lines.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), lines, |b, lines| {
            b.iter(|| black_box(run(black_box(lines))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
