//! Delivery counters per destination, rendered in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// What happened to one destination's notifications.
#[derive(Debug, Default)]
pub struct DestinationMetrics {
    pub name: String,
    /// Notifications the receiver acknowledged.
    pub sent: AtomicU64,
    /// POST requests that succeeded.
    pub requests: AtomicU64,
    /// Attempts that failed (timeout, connection, 5xx, 429).
    pub failed: AtomicU64,
    /// Attempts repeated after a failure.
    pub retries: AtomicU64,
    /// Notifications the receiver refused for good (4xx other than 408/429).
    pub rejected: AtomicU64,
    /// Notifications replaced by a newer one for the same fingerprint (outbox full).
    pub coalesced: AtomicU64,
    /// Notifications dropped, oldest first (outbox full).
    pub dropped: AtomicU64,
    /// Notifications waiting in the outbox.
    pub depth: AtomicU64,
    /// 0 closed, 1 open, 2 half-open.
    pub breaker: AtomicU64,
}

impl DestinationMetrics {
    pub fn new(name: &str) -> Self {
        DestinationMetrics {
            name: name.to_string(),
            ..Default::default()
        }
    }
}

/// Counters of the alert input, shared by all destinations.
#[derive(Debug, Default)]
pub struct InputMetrics {
    /// Alerts taken from the detectors.
    pub received: AtomicU64,
    /// Alerts dropped because the input queue was full (the caller is never blocked).
    pub dropped: AtomicU64,
    /// Firing alerts right now.
    pub firing: AtomicU64,
}

/// Renders all delivery metrics.
pub fn render(input: &InputMetrics, dests: &[&DestinationMetrics]) -> String {
    let mut out = String::new();
    let plain: [(&str, &str, &AtomicU64); 3] = [
        (
            "firewatch_alerts_received_total",
            "counter",
            &input.received,
        ),
        (
            "firewatch_alerts_input_dropped_total",
            "counter",
            &input.dropped,
        ),
        ("firewatch_alerts_firing", "gauge", &input.firing),
    ];
    for (name, kind, v) in plain {
        let _ = writeln!(out, "# TYPE {name} {kind}\n{name} {}", v.load(Relaxed));
    }
    type Field = fn(&DestinationMetrics) -> &AtomicU64;
    let per: [(&str, &str, Field); 9] = [
        ("firewatch_alert_notifications_sent_total", "counter", |d| {
            &d.sent
        }),
        ("firewatch_alert_requests_total", "counter", |d| &d.requests),
        ("firewatch_alert_delivery_failures_total", "counter", |d| {
            &d.failed
        }),
        ("firewatch_alert_delivery_retries_total", "counter", |d| {
            &d.retries
        }),
        (
            "firewatch_alert_notifications_rejected_total",
            "counter",
            |d| &d.rejected,
        ),
        ("firewatch_alert_outbox_coalesced_total", "counter", |d| {
            &d.coalesced
        }),
        ("firewatch_alert_outbox_dropped_total", "counter", |d| {
            &d.dropped
        }),
        ("firewatch_alert_outbox_depth", "gauge", |d| &d.depth),
        ("firewatch_alert_breaker_state", "gauge", |d| &d.breaker),
    ];
    for (name, kind, field) in per {
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for d in dests {
            let label = d.name.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(
                out,
                "{name}{{destination=\"{label}\"}} {}",
                field(d).load(Relaxed)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_labelled_series() {
        let d = DestinationMetrics::new("hook \"a\"");
        d.sent.store(3, Relaxed);
        let text = render(&InputMetrics::default(), &[&d]);
        assert!(text.contains(
            "firewatch_alert_notifications_sent_total{destination=\"hook \\\"a\\\"\"} 3"
        ));
        assert!(text.contains("# TYPE firewatch_alert_breaker_state gauge"));
        assert!(text.contains("firewatch_alerts_input_dropped_total 0"));
    }
}
