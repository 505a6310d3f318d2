//! Query parsing: every search, histogram, export and live tail parses its `q` first.
//!
//! `cargo bench --bench query_parse`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use firewatch_query::lang::parse;
use std::hint::black_box;

const QUERIES: &[(&str, &str)] = &[
    ("word", "UnhandledPromiseRejectionWarning"),
    ("fields", "service:checkout level:>=error host:web-1"),
    (
        "boolean",
        r#"("upstream timeout" OR conn* OR /timeout after \d+ms/) AND http.status:[500 TO 599] -service:billing duration_ms:>2500"#,
    ),
];

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("query_parse");
    group.throughput(Throughput::Elements(1));
    for (name, q) in QUERIES {
        group.bench_with_input(BenchmarkId::from_parameter(name), q, |b, q| {
            b.iter(|| black_box(parse(black_box(q))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
