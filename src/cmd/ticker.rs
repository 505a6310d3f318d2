//! Alerts as they happen, one short line each on stdout, for `firewatch up`: what a person
//! watching the terminal wants to see (the alert list itself is `firewatch alerts`).

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use firewatch_detectors::lifecycle::{StateFilter, TrackedAlert};
use firewatch_detectors::{AlertReader, AlertState, Severity};
use firewatch_ingest::record::rfc3339_nanos;

/// How often the alert state is looked at.
const EVERY: Duration = Duration::from_millis(500);

/// Prints each firing and resolution once.
pub struct AlertTicker {
    alerts: AlertReader,
    seen: HashSet<(String, i64, bool)>,
}

impl AlertTicker {
    /// What is already known when the ticker starts is not printed again.
    pub fn new(alerts: AlertReader) -> Self {
        let seen = alerts
            .list(StateFilter::All, None)
            .iter()
            .map(key)
            .collect();
        AlertTicker { alerts, seen }
    }

    pub async fn run(mut self) {
        let mut every = tokio::time::interval(EVERY);
        loop {
            every.tick().await;
            let mut fresh: Vec<TrackedAlert> = self
                .alerts
                .list(StateFilter::All, None)
                .into_iter()
                .filter(|t| self.seen.insert(key(t)))
                .collect();
            fresh.sort_by_key(|t| t.alert.last_seen);
            let mut out = std::io::stdout().lock();
            for t in &fresh {
                let _ = writeln!(out, "{}", line(t));
            }
            let _ = out.flush();
        }
    }
}

/// One alert episode in one state.
fn key(t: &TrackedAlert) -> (String, i64, bool) {
    (
        t.alert.fingerprint.clone(),
        t.alert.first_seen,
        t.alert.state == AlertState::Firing,
    )
}

/// `10:00:05  FIRING    critical  checkout  unhandled_rejection  title`
fn line(t: &TrackedAlert) -> String {
    let a = &t.alert;
    let (state, at) = match a.state {
        AlertState::Firing => ("FIRING", a.detected_at),
        AlertState::Resolved => ("RESOLVED", t.resolved_at.unwrap_or(a.last_seen)),
    };
    // 2026-11-20T10:00:05.123456789Z → 10:00:05 (UTC, as the logs and the API show it).
    let time = rfc3339_nanos::format(at);
    let clock = time.get(11..19).unwrap_or(&time);
    let severity = severity_name(a.severity);
    format!(
        "{clock}  {state:<8}  {severity:<8}  {service:<10}  {kind:<20}  {title}",
        service = a.service,
        kind = a.kind.as_str(),
        title = a.title,
    )
}

pub fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}
