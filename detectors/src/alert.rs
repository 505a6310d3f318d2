//! Alerts: the values the detectors produce.
//!
//! An [`Alert`] says what happened (kind, title, evidence), to which service, and when: the log
//! time of the first related event (`first_seen`), of the record that made the detector fire
//! (`detected_at`) and of the latest related event (`last_seen`). Its JSON shape is the
//! `firewatch analyze --format jsonl` contract.

use firewatch_ingest::record::rfc3339_nanos;
use firewatch_ingest::Nanos;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What kind of problem an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    UnhandledRejection,
    UncaughtException,
    Panic,
    Oom,
    PoolExhaustion,
    TimeoutStorm,
    CircuitBreakerOpen,
    RateLimited,
    ErrorRateSpike,
    LeakGrowth,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::UnhandledRejection => "unhandled_rejection",
            AlertKind::UncaughtException => "uncaught_exception",
            AlertKind::Panic => "panic",
            AlertKind::Oom => "oom",
            AlertKind::PoolExhaustion => "pool_exhaustion",
            AlertKind::TimeoutStorm => "timeout_storm",
            AlertKind::CircuitBreakerOpen => "circuit_breaker_open",
            AlertKind::RateLimited => "rate_limited",
            AlertKind::ErrorRateSpike => "error_rate_spike",
            AlertKind::LeakGrowth => "leak_growth",
        }
    }
}

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// Where an alert stands in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// A new problem, or an old one back after a quiet period.
    Firing,
    /// The problem is over (the error ratio is back to normal).
    Resolved,
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub kind: AlertKind,
    pub state: AlertState,
    pub service: String,
    /// Same underlying problem ⇒ same string.
    pub fingerprint: String,
    #[serde(with = "rfc3339_nanos")]
    pub detected_at: Nanos,
    #[serde(with = "rfc3339_nanos")]
    pub first_seen: Nanos,
    #[serde(with = "rfc3339_nanos")]
    pub last_seen: Nanos,
    pub count: u64,
    pub severity: Severity,
    pub title: String,
    /// A few raw lines that show the problem.
    pub evidence: Vec<String>,
    /// Kind-specific figures (ratios, slopes, projected exhaustion…).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub details: Map<String, Value>,
}

/// At most this many evidence lines per alert, each at most this many bytes.
pub const MAX_EVIDENCE: usize = 5;
const MAX_EVIDENCE_BYTES: usize = 400;

/// Cuts a raw message into evidence lines: the first lines, each truncated on a char boundary.
pub fn evidence_lines(message: &str, max_lines: usize) -> Vec<String> {
    message
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(max_lines)
        .map(|l| truncate(l, MAX_EVIDENCE_BYTES).to_string())
        .collect()
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_contract_fields() {
        let alert = Alert {
            kind: AlertKind::UnhandledRejection,
            state: AlertState::Firing,
            service: "checkout".into(),
            fingerprint: "ab12".into(),
            detected_at: 1_000_000_000,
            first_seen: 1_000_000_000,
            last_seen: 2_000_000_000,
            count: 2,
            severity: Severity::Critical,
            title: "t".into(),
            evidence: vec!["line".into()],
            details: Map::new(),
        };
        let v = serde_json::to_value(&alert).unwrap();
        assert_eq!(v["kind"], "unhandled_rejection");
        assert_eq!(v["detected_at"], "1970-01-01T00:00:01.000000000Z");
        assert_eq!(v["last_seen"], "1970-01-01T00:00:02.000000000Z");
        assert_eq!(v["severity"], "critical");
        assert_eq!(v["state"], "firing");
        assert!(v.get("details").is_none());
    }

    #[test]
    fn evidence_is_bounded_and_char_safe() {
        let long = "é".repeat(500);
        let lines = evidence_lines(&format!("a\n\n{long}\nc\nd"), 2);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].len() <= MAX_EVIDENCE_BYTES);
        assert_eq!(truncate("abc", 2), "ab");
    }
}
