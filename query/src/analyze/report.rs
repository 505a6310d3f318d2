//! The readable incident summary of `firewatch analyze --format text`.

use std::fmt::Write;

use firewatch_detectors::{Alert, AlertState};
use firewatch_ingest::record::rfc3339_nanos;

use super::Analysis;

/// Renders an analysis as text: one block per firing alert, most severe first within the order
/// they fired, then a one-line summary.
pub fn render_text(analysis: &Analysis) -> String {
    let mut out = String::new();
    let firing: Vec<&Alert> = analysis
        .alerts
        .iter()
        .filter(|a| a.state == AlertState::Firing)
        .collect();
    for a in &firing {
        let _ = writeln!(
            out,
            "[{}] {} {} — {}",
            format!("{:?}", a.severity).to_lowercase(),
            a.kind.as_str(),
            a.service,
            a.title
        );
        let _ = writeln!(
            out,
            "  detected {}  first {}  last {}  count {}  fingerprint {}",
            rfc3339_nanos::format(a.detected_at),
            rfc3339_nanos::format(a.first_seen),
            rfc3339_nanos::format(a.last_seen),
            a.count,
            a.fingerprint
        );
        if let Some(resolved) = analysis
            .alerts
            .iter()
            .find(|r| r.state == AlertState::Resolved && r.fingerprint == a.fingerprint)
        {
            let _ = writeln!(
                out,
                "  resolved {}",
                rfc3339_nanos::format(resolved.detected_at)
            );
        }
        for line in &a.evidence {
            let _ = writeln!(out, "  | {line}");
        }
        out.push('\n');
    }
    let span = analysis.span.map_or(String::from("no records"), |(a, b)| {
        format!(
            "{} to {}",
            rfc3339_nanos::format(a),
            rfc3339_nanos::format(b)
        )
    });
    let _ = writeln!(
        out,
        "{} alert(s) from {} record(s) in {} input(s), {span}",
        firing.len(),
        analysis.records,
        analysis.inputs
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use firewatch_detectors::{AlertKind, Severity};

    #[test]
    fn renders_alerts_and_summary() {
        let alert = Alert {
            kind: AlertKind::Oom,
            state: AlertState::Firing,
            service: "api".into(),
            fingerprint: "f1".into(),
            detected_at: 0,
            first_seen: 0,
            last_seen: 0,
            count: 1,
            severity: Severity::Critical,
            title: "out of memory".into(),
            evidence: vec!["Killed process 1".into()],
            details: Default::default(),
        };
        let analysis = Analysis {
            alerts: vec![alert],
            records: 3,
            inputs: 1,
            ..Analysis::default()
        };
        let text = render_text(&analysis);
        assert!(
            text.contains("[critical] oom api — out of memory"),
            "{text}"
        );
        assert!(text.contains("  | Killed process 1"));
        assert!(text.ends_with("1 alert(s) from 3 record(s) in 1 input(s), no records\n"));
    }
}
