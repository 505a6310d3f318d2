use super::*;
use crate::testutil::rec;
use serde_json::json;

#[test]
fn gauge_names_exclude_counters() {
    for g in [
        "rss",
        "heapUsed",
        "heap_used_bytes",
        "memory_mb",
        "queue_depth",
        "queueLength",
        "connections_active",
        "goroutines",
        "open_fds",
        "open_connections",
        "in_use",
        "conns_in_use",
        "InUse",
        "metaspace_used_mb",
        "client_backends",
        "lag",
        "consumer_lag",
        "backlog",
        "connectionCount",
        "thread_count",
        "HandleCount",
        "open_file_count",
    ] {
        assert!(is_gauge_name(g), "{g}");
    }
    for c in [
        "requests_total",
        "bytes_sent_total",
        "connections_total",
        "uptime_s",
        "seq",
        "offset",
        "retry_count",
        "maxOldSpaceSize",
        "heap_limit",
        "duration_ms",
        "status",
        "pid",
        "wait_count",
        "max_open_connections",
        "event_loop_lag_ms",
        "max_partition_lag",
        "lagging",
        "request_count",
        "connection_errors_count",
        "accountCount",
    ] {
        assert!(!is_gauge_name(c), "{c}");
    }
}

/// The gauge samples `text_samples` finds in a line, by name.
fn got(text: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    text_samples(text, &mut out);
    out.into_iter().map(|s| (s.name, s.value)).collect()
}

#[test]
fn field_samples_top_level_and_nested() {
    let fields = json!({"rss": 100, "heapUsed": 50.5, "requests_total": 9, "mem": {"heap_bytes": 7}, "msg": "x"});
    let mut out = Vec::new();
    field_samples(fields.as_object().unwrap(), &mut out);
    let names: Vec<_> = out.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["heapUsed", "mem.heap_bytes", "rss"]);
}

#[test]
fn gc_lines_of_each_runtime() {
    let node = gc_sample("[18:0x6b3a2c0]  4568 ms: Mark-Compact 310.2 (340.1) -> 250.5 (345.0) MB, 12.1 / 0.00 ms  (average mu = 0.99) allocation failure;").unwrap();
    assert_eq!(node.value, 250.5 * MB);
    let scav =
        gc_sample("[18:0x1] 9178 ms: Scavenge 90.5 (126.1) -> 75.4 (126.1) MB, 0.89 / 0.00 ms")
            .unwrap();
    assert_eq!(scav.value, 75.4 * MB);
    let jvm = gc_sample("[2026-11-20T10:00:00.000+0000][info][gc] GC(12) Pause Young (Normal) (G1 Evacuation Pause) 512M->180M(1024M) 5.123ms").unwrap();
    assert_eq!(jvm.value, 180.0 * MB);
    assert_eq!(jvm.capacity, Some(1024.0 * MB));
    let legacy = gc_sample("2026-11-20T10:00:00.000+0000: [GC (Allocation Failure) [PSYoungGen: 262144K->43520K(305664K)] 524288K->180000K(1005056K), 0.05 secs]").unwrap();
    assert_eq!(legacy.value, 180000.0 * 1024.0);
    assert_eq!(legacy.capacity, Some(1005056.0 * 1024.0));
    let go = gc_sample("gc 12 @3.456s 2%: 0.1+1.2+0.01 ms clock, 0.4+0.5/1.1/2.2+0.04 ms cpu, 310->312->205 MB, 320 MB goal, 8 P").unwrap();
    assert_eq!(go.value, 205.0 * MB);
    let zgc = gc_sample("[2026-12-03T09:00:42.894+0100][181277.406s][info][gc          ] GC(7422) Garbage Collection (Allocation Rate) 2665M(65%)->1043M(25%)").unwrap();
    assert_eq!(zgc.value, 1043.0 * MB);
    assert_eq!(zgc.capacity, Some(4172.0 * MB));
    assert!(gc_sample("GET /a->b 200").is_none());
}

#[test]
fn micrometer_logging_registry_lines() {
    assert_eq!(
        got("jvm.threads.live{} value=63 threads"),
        [("jvm.threads.live".to_string(), 63.0)]
    );
    assert_eq!(
        got("jvm.memory.used{area=heap,id=G1 Old Gen} value=120.5 MiB"),
        [(
            "jvm.memory.used{area=heap,id=G1 Old Gen}".to_string(),
            120.5 * MB
        )]
    );
    // Counters and high-water marks are not levels.
    assert_eq!(got("jvm.threads.peak{} value=70 threads"), []);
    assert_eq!(
        got("http.server.requests{uri=/a} throughput=3/s mean=0.1s"),
        []
    );
}

#[test]
fn limits_from_flags_and_fields() {
    let r = rec(0, "boot flags=--trace-gc --max-old-space-size=768");
    assert_eq!(memory_limit(&r), Some(MemoryLimit(768.0 * MB)));
    let r = rec(0, "java -Xmx2g -jar app.jar");
    assert_eq!(memory_limit(&r), Some(MemoryLimit(2048.0 * MB)));
    let mut r = rec(0, "starting");
    r.fields.insert("maxOldSpaceSize".into(), json!(512));
    assert_eq!(memory_limit(&r), Some(MemoryLimit(512.0 * MB)));
    assert_eq!(memory_limit(&rec(0, "hello")), None);
}

#[test]
fn logfmt_numbers_are_samples_too() {
    // Go's database/sql pool stats, logged as logfmt: every value a string.
    let fields = json!({"open_connections": "39", "in_use": "37", "idle": "2", "wait_count": "0",
        "max_open_connections": "0", "wait_duration": "0s", "rss_mb": "12 MB"});
    let mut out = Vec::new();
    field_samples(fields.as_object().unwrap(), &mut out);
    let got: Vec<(&str, f64)> = out.iter().map(|s| (s.name.as_str(), s.value)).collect();
    assert_eq!(got, [("in_use", 37.0), ("open_connections", 39.0)]);
}

#[test]
fn gauges_written_into_text() {
    assert_eq!(
        got("pool stats: active=12 poolSize=40 queued=0 completed=123456 threads=210"),
        [
            ("pool.active".to_string(), 12.0),
            ("threads".to_string(), 210.0)
        ]
    );
    assert_eq!(
        got("redis-info memory used_memory:1048576 used_memory_rss:2097152 used_memory_peak:9999999 maxmemory:0"),
        [("used_memory".to_string(), 1048576.0), ("used_memory_rss".to_string(), 2097152.0)]
    );
    // Times, ratios and other units are no gauges.
    assert_eq!(
        got("took=12ms at 10:00:00 threads=3/8 rss=1.5e9x users=1.2M"),
        []
    );
    // A size is memory, whatever the name; limits and peaks are not levels.
    assert_eq!(
        got("memory stats total=353.7MB binary=138.4MB heap=2GiB peak=900MB max_heap=4GB procs=4919"),
        [
            ("total_bytes".to_string(), 353.7 * MB),
            ("binary_bytes".to_string(), 138.4 * MB),
            ("heap".to_string(), 2.0 * 1024.0 * MB),
        ]
    );
}

#[test]
fn spaced_values_and_units_and_queue_depths_in_text() {
    assert_eq!(
        got("reports.watchdog: rss: 210.1 MiB vms: 1.19 GiB threads: 6 gc_objects: 308949"),
        [
            ("rss".to_string(), 210.1 * MB),
            ("vms_bytes".to_string(), 1.19 * 1024.0 * MB),
            ("threads".to_string(), 6.0)
        ]
    );
    assert_eq!(
        got("queue stats queue=webhooks size=120 latency=0.09"),
        [("queue.webhooks.size".to_string(), 120.0)]
    );
    assert_eq!(
        got("queue drained, pending: 3"),
        [("queue.pending".to_string(), 3.0)]
    );
    // Several queues in one line, and Redis's memory in it.
    assert_eq!(
        got("INFO: queue stats webhooks.size=2381 webhooks.latency=5862.1 default.size=2 redis.used_memory_mb=1021.5 redis.maxmemory_mb=1024"),
        [
            ("queue.webhooks.size".to_string(), 2381.0),
            ("queue.default.size".to_string(), 2.0),
            ("redis.used_memory_mb".to_string(), 1021.5 * MB)
        ]
    );
    // RabbitMQ's depth, as a consumer reports it.
    assert_eq!(
        got("queue stats queue=notify.email messages_ready=18 messages_unacked=116 consumers=8 publish_rate=31.9"),
        [("queue.notify.email.messages_ready".to_string(), 18.0)]
    );
    // A unit in the name, as in a field.
    assert_eq!(
        got("stats inflight=65 rss_mb=193.5 fds=45"),
        [
            ("rss_mb".to_string(), 193.5 * MB),
            ("fds".to_string(), 45.0)
        ]
    );
    // Not about a queue: a size is no depth.
    assert_eq!(got("batch size=500 sent"), []);
    assert_eq!(got("upload file.size=500 sent"), []);
    // Structured: a record about a queue.
    let mut out = Vec::new();
    field_samples(
        serde_json::json!({"queue": "mailers", "size": 7, "latency": 0.2})
            .as_object()
            .unwrap(),
        &mut out,
    );
    assert_eq!(out[0].name, "queue.mailers.size");
}

#[test]
fn a_name_may_give_the_unit_and_pools_their_checked_out_connections() {
    // Go's HeapSys and Sys only ever rise (high-water marks), and what is released or idle is
    // unused: no gauges.
    let fields = serde_json::json!({"heap_alloc_mb": 326.0, "rss_kb": 2048, "checked_out": 7, "checked_in": 13,
        "heap_sys_mb": 400.0, "HeapSys": 1e9, "sys_mb": 500.0, "heap_released_mb": 90.0, "HeapIdle": 1e8, "idle_connections": 4});
    let mut out = Vec::new();
    field_samples(fields.as_object().unwrap(), &mut out);
    let got: Vec<(&str, f64)> = out.iter().map(|s| (s.name.as_str(), s.value)).collect();
    assert_eq!(
        got,
        [
            ("checked_out", 7.0),
            ("heap_alloc_mb", 326.0 * MB),
            ("rss_kb", 2048.0 * 1024.0)
        ]
    );
}
