//! Helpers for the unit tests: records without a parser.

use firewatch_ingest::{Level, LogRecord, Nanos};

/// 2026-11-20T10:00:00Z in nanoseconds: a base time for tests.
pub const T0: Nanos = 1_763_632_800_000_000_000;

/// A record of service `svc` at `t` with `message`.
pub fn rec(t: Nanos, message: &str) -> LogRecord {
    LogRecord {
        id: format!("t:{t}"),
        timestamp: t,
        observed: t,
        service: String::new(),
        host: String::new(),
        source: "/logs/svc.log".into(),
        level: Level::Info,
        level_raw: None,
        message: message.into(),
        fields: Default::default(),
    }
}

/// Seconds to nanoseconds.
pub fn secs(s: f64) -> Nanos {
    (s * 1e9) as Nanos
}
