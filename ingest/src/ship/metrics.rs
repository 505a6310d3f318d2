//! The shipper's counters, as Prometheus text (`GET /metrics`) and JSON (`GET /status`).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use axum::routing::get;
use axum::Router;

macro_rules! metrics {
    ($($name:ident: $kind:literal, $help:literal;)*) => {
        /// Counters and gauges, updated with relaxed atomics from the reader and the sender.
        #[derive(Debug, Default)]
        pub struct Metrics { $(pub $name: AtomicU64,)* }

        impl Metrics {
            /// Prometheus text exposition.
            pub fn render(&self) -> String {
                let mut s = String::new();
                $(
                    s.push_str(concat!("# HELP firewatch_ship_", stringify!($name), " ", $help, "\n"));
                    s.push_str(concat!("# TYPE firewatch_ship_", stringify!($name), " ", $kind, "\n"));
                    s.push_str(&format!(concat!("firewatch_ship_", stringify!($name), " {}\n"), self.$name.load(Relaxed)));
                )*
                s
            }

            pub fn to_json(&self) -> serde_json::Value {
                serde_json::json!({ $(stringify!($name): self.$name.load(Relaxed),)* })
            }
        }
    };
}

metrics! {
    lines_read: "counter", "Lines read from files.";
    bytes_read: "counter", "Bytes read from files.";
    records_acked: "counter", "Records the node acknowledged (stored or already stored).";
    records_duplicate: "counter", "Acknowledged records the node already had.";
    records_rejected: "counter", "Records the node refused for good.";
    batches_acked: "counter", "Batches the node acknowledged.";
    batches_rejected: "counter", "Batches the node refused for good, set aside in the spool.";
    retries: "counter", "Failed or throttled attempts that were retried.";
    spool_batches: "gauge", "Batches waiting in the spool.";
    spool_bytes: "gauge", "Bytes waiting in the spool.";
    spool_full: "gauge", "1 while reading is paused because the spool is full.";
    files_tailed: "gauge", "Files being tailed.";
    files_refused: "gauge", "Matching files not tailed because max_open_files are open.";
    files_parked: "gauge", "Files read to the end and idle, closed to make room for refused ones.";
    read_errors: "counter", "Files that could not be opened or read.";
    truncations: "counter", "Files found truncated or rewritten.";
    checkpoint_errors: "counter", "Failed checkpoint writes.";
}

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn set(gauge: &AtomicU64, v: u64) {
        gauge.store(v, Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Relaxed)
    }
}

/// `GET /metrics` and `GET /status`.
pub fn router(metrics: Arc<Metrics>) -> Router {
    let m2 = metrics.clone();
    Router::new()
        .route("/metrics", get(move || async move { metrics.render() }))
        .route(
            "/status",
            get(move || async move { axum::Json(m2.to_json()) }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_metric() {
        let m = Metrics::default();
        Metrics::add(&m.lines_read, 3);
        Metrics::set(&m.spool_full, 1);
        let text = m.render();
        assert!(text.contains("firewatch_ship_lines_read 3\n"), "{text}");
        assert!(text.contains("# TYPE firewatch_ship_spool_full gauge"));
        assert_eq!(m.to_json()["spool_full"], 1);
    }
}
