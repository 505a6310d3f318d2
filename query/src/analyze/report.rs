//! The readable incident summary of `firewatch analyze --format text`, and `--format json`.

use std::fmt::Write;

use firewatch_detectors::{Alert, AlertState};
use firewatch_ingest::record::rfc3339_nanos;
use serde_json::json;

use super::summary::Summary;
use super::Analysis;

/// Renders an analysis as one JSON document: totals, input errors, the summary and the alerts
/// (each as in `--format jsonl`).
pub fn render_json(analysis: &Analysis) -> serde_json::Value {
    json!({
        "records": analysis.records,
        "inputs": analysis.inputs,
        "span": analysis.span.map(|(a, b)| json!({
            "from": rfc3339_nanos::format(a),
            "to": rfc3339_nanos::format(b),
        })),
        "errors": analysis.errors.iter().map(|e| json!({
            "path": e.path.to_string_lossy(),
            "error": e.source.to_string(),
        })).collect::<Vec<_>>(),
        "summary": analysis.summary,
        "alerts": analysis.alerts,
    })
}

/// Renders an analysis as text: one block per firing alert, most severe first within the order
/// they fired, then the summary's tables and a one-line total.
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
    if let Some(summary) = &analysis.summary {
        render_summary(summary, &mut out);
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

fn render_summary(s: &Summary, out: &mut String) {
    let _ = writeln!(out, "services:");
    let _ = writeln!(
        out,
        "  {:<20} {:>10} {:>8} {:>7} {:>10}",
        "service", "records", "errors", "error%", "peak err%"
    );
    for svc in &s.services {
        let ratio = |e: u64, n: u64| {
            if n == 0 {
                0.0
            } else {
                100.0 * e as f64 / n as f64
            }
        };
        let peak = svc
            .timeline
            .iter()
            .map(|p| (ratio(p.errors, p.records), &p.t))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let _ = writeln!(
            out,
            "  {:<20} {:>10} {:>8} {:>6.2}% {:>9.2}%{}",
            svc.service,
            svc.records,
            svc.errors,
            ratio(svc.errors, svc.records),
            peak.map_or(0.0, |p| p.0),
            peak.map_or(String::new(), |p| format!(" at {}", p.1))
        );
    }
    if !s.fingerprints.is_empty() {
        let _ = writeln!(out, "\ntop error fingerprints:");
        for f in &s.fingerprints {
            let _ = writeln!(
                out,
                "  {:>7}  {:<12} {}  {}",
                f.count, f.service, f.fingerprint, f.sample
            );
        }
    }
    if !s.rejections.is_empty() {
        let _ = writeln!(out, "\nunhandled rejections:");
        for r in &s.rejections {
            let _ = writeln!(
                out,
                "  {:>7}  {:<12} {} alert(s), {} to {}  {}",
                r.count, r.service, r.alerts, r.first_seen, r.last_seen, r.title
            );
        }
    }
    let trending: Vec<_> = s
        .gauges
        .iter()
        .filter_map(|g| g.trend.as_ref().map(|t| (g, t)))
        .filter(|(_, t)| t.slope_per_hour != 0.0)
        .collect();
    if !trending.is_empty() {
        let _ = writeln!(out, "\ngauges (floor trend):");
        for (g, t) in trending {
            let _ = writeln!(
                out,
                "  {:<12} {:<28} {:>14.1} -> {:<14.1} {:+.1}/h{}",
                g.service,
                g.gauge,
                t.from.1,
                t.to.1,
                t.slope_per_hour,
                t.exhaustion_at
                    .as_ref()
                    .map_or(String::new(), |e| format!("  limit reached ~{e}"))
            );
        }
    }
    out.push('\n');
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
