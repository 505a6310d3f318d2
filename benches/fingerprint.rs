//! Error fingerprinting: the shape of an error (type, masked message, top application frames)
//! and its stable hash, computed for every error-like record the signature detector looks at.
//!
//! `cargo bench --bench fingerprint`. File fingerprints (xxh3 of a file's first 256 bytes) are
//! computed once per file and are not a hot path.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use firewatch_detectors::fingerprint::{mask, shape_of};
use std::hint::black_box;

fn inputs() -> Vec<(&'static str, String)> {
    vec![
        (
            "one_line",
            "payment authorization failed for order A-310333: upstream 10.0.4.17:8443 answered 502 after 1843ms (req 9f2c4e1a7b3d5e60)".to_string(),
        ),
        (
            "node_rejection",
            "(node:2314) UnhandledPromiseRejectionWarning: Error: Request failed with status code 503\n    at createError (/app/node_modules/axios/lib/core/createError.js:16:15)\n    at settle (/app/node_modules/axios/lib/core/settle.js:17:12)\n    at chargeCard (/app/src/payments/charge.js:88:11)\n    at processOrder (/app/src/orders/process.js:41:7)\n    at processTicksAndRejections (internal/process/task_queues.js:95:5)".to_string(),
        ),
        (
            "java_stack_24",
            {
                let mut s = String::from("java.lang.IllegalStateException: ledger entry 88412 for order A-174753 already committed by 'tx-5531'\n");
                for i in 0..12 {
                    s.push_str(&format!("\tat com.acme.payments.ledger.LedgerService.commit{i}(LedgerService.java:{})\n", 100 + i));
                }
                for i in 0..11 {
                    s.push_str(&format!("\tat org.springframework.aop.framework.ReflectiveMethodInvocation.proceed{i}(ReflectiveMethodInvocation.java:{})\n", 180 + i));
                }
                s
            },
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("fingerprint");
    group.throughput(Throughput::Elements(1));
    for (name, text) in inputs() {
        group.bench_with_input(BenchmarkId::new("shape_and_hash", name), &text, |b, t| {
            b.iter(|| {
                black_box(shape_of(black_box(t)).fingerprint("unhandled_rejection", "checkout"))
            })
        });
    }
    let (_, line) = &inputs()[0];
    group.bench_function("mask_one_line", |b| {
        b.iter(|| black_box(mask(black_box(line))))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
