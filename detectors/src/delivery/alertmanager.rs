//! The Prometheus Alertmanager payload (`POST /api/v2/alerts`, a JSON array of alerts).
//!
//! Labels identify the alert (alertname, kind, service, severity, fingerprint), annotations
//! describe it (summary, evidence, count, search). `startsAt` is the first occurrence; a firing
//! alert gets `endsAt` = now + `hold` so that Alertmanager keeps it firing while we are up and
//! expires it if we vanish; a resolved one gets its resolution time (never in the future).
//! `generatorURL` points back to the node's alert list.

use std::time::Duration;

use firewatch_ingest::record::rfc3339_nanos;
use firewatch_ingest::Nanos;
use serde_json::{json, Value};

use crate::alert::{AlertKind, AlertState};
use crate::delivery::Encoder;
use crate::links::Links;
use crate::outbox::Notification;

/// Posts alerts to one Alertmanager.
pub struct Alertmanager {
    url: String,
    hold: Nanos,
}

impl Alertmanager {
    /// `base` is the Alertmanager's base URL (`http://host:9093`).
    pub fn new(base: &str, hold: Duration) -> Self {
        Alertmanager {
            url: format!("{}/api/v2/alerts", base.trim_end_matches('/')),
            hold: i64::try_from(hold.as_nanos()).unwrap_or(i64::MAX),
        }
    }
}

/// `unhandled_rejection` → `UnhandledRejection`: the usual alertname style.
pub fn alertname(kind: AlertKind) -> String {
    kind.as_str()
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

impl Encoder for Alertmanager {
    fn endpoint(&self) -> &str {
        &self.url
    }

    fn encode(&self, batch: &[Notification], links: &Links, now: Nanos) -> Value {
        let alerts: Vec<Value> = batch
            .iter()
            .map(|n| {
                let a = &n.alert;
                let starts = a.first_seen.min(now);
                let ends = match a.state {
                    AlertState::Firing => now.saturating_add(self.hold),
                    AlertState::Resolved => n.resolved_at.unwrap_or(now).min(now).max(starts),
                };
                json!({
                    "labels": {
                        "alertname": alertname(a.kind),
                        "kind": a.kind.as_str(),
                        "service": a.service,
                        "severity": a.severity,
                        "fingerprint": a.fingerprint,
                    },
                    "annotations": {
                        "summary": a.title,
                        "evidence": a.evidence.join("\n"),
                        "count": a.count.to_string(),
                        "search": links.search(a),
                    },
                    "startsAt": rfc3339_nanos::format(starts),
                    "endsAt": rfc3339_nanos::format(ends),
                    "generatorURL": links.alerts(),
                })
            })
            .collect();
        Value::Array(alerts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{tests::alert, TrackedAlert};

    #[test]
    fn labels_and_times() {
        assert_eq!(alertname(AlertKind::ErrorRateSpike), "ErrorRateSpike");
        let am = Alertmanager::new("http://am:9093/", Duration::from_secs(3600));
        assert_eq!(am.endpoint(), "http://am:9093/api/v2/alerts");
        let now = 10_000_000_000;
        let firing = Notification::from(&TrackedAlert {
            alert: alert("f", AlertState::Firing, 1_000_000_000, 2_000_000_000),
            resolved_at: None,
        });
        let resolved = Notification::from(&TrackedAlert {
            alert: alert("g", AlertState::Resolved, 1_000_000_000, 2_000_000_000),
            resolved_at: Some(20_000_000_000),
        });
        let v = am.encode(&[firing, resolved], &Links::new("http://node"), now);
        assert_eq!(v[0]["labels"]["alertname"], "UnhandledRejection");
        assert_eq!(v[0]["labels"]["severity"], "critical");
        assert_eq!(v[0]["labels"]["fingerprint"], "f");
        assert_eq!(v[0]["startsAt"], "1970-01-01T00:00:01.000000000Z");
        assert_eq!(v[0]["endsAt"], "1970-01-01T01:00:10.000000000Z");
        assert_eq!(
            v[1]["endsAt"], "1970-01-01T00:00:10.000000000Z",
            "never future"
        );
        assert_eq!(v[1]["generatorURL"], "http://node/api/v1/alerts");
    }
}
