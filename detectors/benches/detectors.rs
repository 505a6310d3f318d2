//! Detector throughput: records per second through the whole engine (signatures, spikes,
//! leaks) over a realistic mix — request logs with statuses, errors with stacks, memory
//! samples, GC lines and the odd unhandled rejection — across a few services.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use firewatch_detectors::Engine;
use firewatch_ingest::{Level, LogRecord};
use serde_json::json;

fn records(n: usize) -> Vec<LogRecord> {
    let t0: i64 = 1_763_632_800_000_000_000;
    (0..n)
        .map(|i| {
            let t = t0 + i as i64 * 50_000_000;
            let service = ["checkout", "search", "gateway", "payments"][i % 4];
            let mut fields = serde_json::Map::new();
            let (level, message) = match i % 500 {
                0 => (
                    Level::Error,
                    format!("(node:24) UnhandledPromiseRejectionWarning: Error: reservation failed for sku=JKT-{i}-L (409 Conflict)\n    at InventoryClient.reserve (/usr/src/app/src/clients/inventory.js:57:13)\n    at processTicksAndRejections (internal/process/task_queues.js:95:5)"),
                ),
                1..=4 => (
                    Level::Error,
                    "search request failed\nTypeError: Cannot read properties of undefined (reading 'highlight')\n    at Search.run (/app/src/search.js:10:3)".to_string(),
                ),
                5 => {
                    fields.insert("rss".into(), json!(200_000_000 + i));
                    fields.insert("heapUsed".into(), json!(120_000_000 + i));
                    (Level::Info, "process.memoryUsage".to_string())
                }
                6 => (
                    Level::Info,
                    format!("[18:0x6b3a2c0] {i} ms: Scavenge 89.2 (126.1) -> 74.7 (126.1) MB, 0.54 / 0.00 ms  (average mu = 0.999, current mu = 0.994) task;"),
                ),
                _ => {
                    fields.insert("status".into(), json!(if i % 97 == 0 { 502 } else { 200 }));
                    fields.insert("duration_ms".into(), json!(12.5));
                    (Level::Info, format!("GET /api/v2/search?q=item{} 200", i % 1000))
                }
            };
            LogRecord {
                id: format!("b:{i}"),
                timestamp: t,
                observed: t,
                service: service.to_string(),
                host: String::new(),
                source: String::new(),
                level,
                level_raw: None,
                message,
                fields,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let recs = records(100_000);
    let mut group = c.benchmark_group("detectors");
    group.throughput(Throughput::Elements(recs.len() as u64));
    group.sample_size(10);
    group.bench_function("engine_observe_100k", |b| {
        b.iter(|| {
            let mut engine = Engine::default();
            let mut alerts = 0usize;
            for r in &recs {
                alerts += engine.observe(r).len();
            }
            alerts
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
