//! `firewatch alerts`: the node's alerts as an aligned table for people, or NDJSON for scripts.
//!
//! Exit codes, as for `firewatch search`: 0 when alerts were listed, 1 when there were none,
//! 2 on any error (bad arguments, node unreachable, timeout).

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use anyhow::Context;
use firewatch_detectors::api::{AlertList, AlertView};
use firewatch_detectors::{AlertState, Severity};
use firewatch_ingest::record::rfc3339_nanos;

use super::search::{answer, use_colors};
use super::ticker::severity_name;

#[derive(clap::Args)]
pub struct Args {
    /// Which alerts: firing, resolved or all.
    #[arg(long, default_value = "all", value_parser = ["firing", "resolved", "all"])]
    state: String,
    /// Only alerts last seen since then: RFC 3339, or a duration back from now (`1h`, `7d`).
    #[arg(long)]
    since: Option<String>,
    /// Print each alert as one JSON object per line (the API's alert objects).
    #[arg(long)]
    json: bool,
    /// The node's address.
    #[arg(
        long,
        env = "FIREWATCH_SERVER",
        default_value = "http://127.0.0.1:7600"
    )]
    server: String,
    /// Seconds to wait for an answer.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Colour the table: auto (when stdout is a terminal), always, never.
    #[arg(long, default_value = "auto", value_parser = ["auto", "always", "never"])]
    color: String,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let base = args.server.trim_end_matches('/');
    let client = reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(args.timeout))
        .build()?;
    let mut query = vec![("state", args.state.clone())];
    if let Some(since) = &args.since {
        query.push(("since", since.clone()));
    }
    let response = client
        .get(format!("{base}/api/v1/alerts"))
        .query(&query)
        .send()
        .with_context(|| format!("cannot reach {base}"))?;
    let list: AlertList = answer(response, "")?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    if args.json {
        for alert in &list.alerts {
            serde_json::to_writer(&mut out, alert)?;
            writeln!(out)?;
        }
    } else {
        out.write_all(table(&list.alerts, use_colors(&args.color)).as_bytes())?;
        eprintln!("{} alerts", list.alerts.len());
    }
    out.flush()?;
    Ok(ExitCode::from(if list.alerts.is_empty() { 1 } else { 0 }))
}

const HEADER: [&str; 8] = [
    "STATE",
    "SEVERITY",
    "KIND",
    "SERVICE",
    "FIRST SEEN",
    "LAST SEEN",
    "COUNT",
    "TITLE",
];

/// The alerts as aligned columns; under each, the command that shows its evidence.
fn table(alerts: &[AlertView], colors: bool) -> String {
    let rows: Vec<[String; 8]> = alerts
        .iter()
        .map(|a| {
            [
                state_name(a.state).to_string(),
                severity_name(a.severity).to_string(),
                a.kind.clone(),
                a.service.clone(),
                short_time(a.first_seen),
                short_time(a.last_seen),
                a.count.to_string(),
                a.title.clone(),
            ]
        })
        .collect();
    let mut widths = HEADER.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let paint = |style: Style| if colors { style } else { Style::new() };
    let bold = paint(Style::new().bold());
    let dim = paint(Style::new().dimmed());
    let mut s = format!(
        "{bold}{}{bold:#}\n",
        cells(&HEADER.map(String::from), &widths)
    );
    for (row, a) in rows.iter().zip(alerts) {
        let style = paint(alert_style(a));
        s.push_str(&format!("{style}{}{style:#}\n", cells(row, &widths)));
        s.push_str(&format!("{dim}  evidence: {}{dim:#}\n", search_command(a)));
    }
    s
}

/// Cells padded to their column, the last one left as is.
fn cells(row: &[String; 8], widths: &[usize; 8]) -> String {
    let mut line = String::new();
    for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
        if i + 1 == row.len() {
            line.push_str(cell);
        } else {
            let pad = w.saturating_sub(cell.chars().count());
            line.push_str(cell);
            line.push_str(&" ".repeat(pad + 2));
        }
    }
    line
}

fn state_name(s: AlertState) -> &'static str {
    match s {
        AlertState::Firing => "firing",
        AlertState::Resolved => "resolved",
    }
}

/// Firing critical alerts stand out; resolved ones step back.
fn alert_style(a: &AlertView) -> Style {
    match (a.state, a.severity) {
        (AlertState::Resolved, _) => Style::new().dimmed(),
        (AlertState::Firing, Severity::Critical) => {
            Style::new().fg_color(Some(AnsiColor::Red.into())).bold()
        }
        (AlertState::Firing, Severity::Warning) => {
            Style::new().fg_color(Some(AnsiColor::Yellow.into()))
        }
        (AlertState::Firing, Severity::Info) => Style::new(),
    }
}

/// 2026-11-20T10:00:05.123456789Z → 2026-11-20T10:00:05Z
fn short_time(t: i64) -> String {
    let full = rfc3339_nanos::format(t);
    match full.get(..19) {
        Some(head) if full.len() > 20 => format!("{head}Z"),
        _ => full,
    }
}

/// The `firewatch search` command that lists the alert's evidence records.
fn search_command(a: &AlertView) -> String {
    format!(
        "firewatch search {} --since {} --until {}",
        shell_quote(&a.search_query),
        rfc3339_nanos::format(a.first_seen),
        rfc3339_nanos::format(a.last_seen.saturating_add(1)),
    )
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(kind: &str, state: AlertState, title: &str) -> AlertView {
        AlertView {
            kind: kind.into(),
            state,
            service: "checkout".into(),
            title: title.into(),
            fingerprint: "f".into(),
            severity: Severity::Critical,
            first_seen: 1_000_000_000,
            last_seen: 2_500_000_000,
            resolved_at: None,
            count: 3,
            evidence: vec![],
            search_query: r#"service:"checkout" "it's gone""#.into(),
            search_url: String::new(),
        }
    }

    #[test]
    fn columns_align_and_each_alert_has_its_search() {
        let t = table(
            &[
                alert("unhandled_rejection", AlertState::Firing, "boom"),
                alert("oom", AlertState::Resolved, "heap"),
            ],
            false,
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 5, "{t}");
        let title_at = lines[0].find("TITLE").unwrap();
        assert_eq!(lines[1].find("boom"), Some(title_at));
        assert_eq!(lines[3].find("heap"), Some(title_at));
        assert!(lines[1].starts_with("firing  "));
        assert!(lines[1].contains("1970-01-01T00:00:01Z"));
        assert_eq!(
            lines[2],
            r#"  evidence: firewatch search 'service:"checkout" "it'\''s gone"' --since 1970-01-01T00:00:01.000000000Z --until 1970-01-01T00:00:02.500000001Z"#
        );
        assert!(!t.contains('\x1b'));
    }

    #[test]
    fn colours_only_when_asked() {
        let t = table(&[alert("oom", AlertState::Firing, "x")], true);
        assert!(
            t.contains("\x1b[1m\x1b[31m") || t.contains("\x1b[31"),
            "{t:?}"
        );
    }
}
