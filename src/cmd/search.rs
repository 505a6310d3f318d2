//! `firewatch search`: asks a node's query API and prints the hits for people or scripts.
//!
//! Exit codes: 0 when something matched, 1 when nothing did, 2 on any error (bad query,
//! node unreachable, timeout). With `--follow` the live tail keeps printing until the node
//! closes the stream or the user interrupts.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use anyhow::Context;
use firewatch_ingest::record::rfc3339_nanos;
use firewatch_ingest::{Level, LogRecord};
use firewatch_query::api::types::SearchResponse;
use firewatch_query::api::QueryErrorBody;
use firewatch_query::lang::{self, time::parse_time};

/// Most hits one request asks for; larger `--limit`s are fetched page by page.
const PAGE: usize = 10_000;

#[derive(clap::Args)]
pub struct Args {
    /// The query (see "Query language" in the README); empty or `*` matches everything.
    #[arg(default_value = "")]
    query: String,
    /// Oldest records to include: RFC 3339, `now-15m`, or a duration back from now (`15m`).
    #[arg(long, default_value = "15m")]
    since: String,
    /// Newest records to include (exclusive), in the same forms as `--since`.
    #[arg(long)]
    until: Option<String>,
    /// Most hits to print, newest first.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// Print hits as NDJSON records instead of aligned text.
    #[arg(long)]
    json: bool,
    /// The node's address.
    #[arg(
        long,
        env = "FIREWATCH_SERVER",
        default_value = "http://127.0.0.1:7600"
    )]
    server: String,
    /// Keep printing new matching records as they arrive (the live tail).
    #[arg(long, short)]
    follow: bool,
    /// Seconds to wait for an answer.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Colour the human output: auto (when stdout is a terminal), always, never.
    #[arg(long, default_value = "auto", value_parser = ["auto", "always", "never"])]
    color: String,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Check locally first so a typo gets its caret without a round trip.
    if let Err(e) = lang::parse(&args.query) {
        report_query_error(&args.query, &e.message, e.position);
        return Ok(ExitCode::from(2));
    }
    let now = now_nanos();
    for t in [Some(&args.since), args.until.as_ref()]
        .into_iter()
        .flatten()
    {
        parse_time(t, now)?;
    }
    let base = args.server.trim_end_matches('/').to_string();
    let colors = use_colors(&args.color);
    let mut out = Printer::new(args.json, colors);
    if args.follow {
        return follow(&base, &args, &mut out);
    }
    let client = reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(args.timeout))
        .build()?;
    let mut cursor: Option<String> = None;
    let mut printed = 0usize;
    let mut total = 0;
    let mut unreadable = 0u64;
    while printed < args.limit {
        let mut query = vec![
            ("q", args.query.clone()),
            ("start", args.since.clone()),
            ("limit", (args.limit - printed).min(PAGE).to_string()),
        ];
        if let Some(u) = &args.until {
            query.push(("end", u.clone()));
        }
        if let Some(c) = &cursor {
            query.push(("cursor", c.clone()));
        }
        let response = client
            .get(format!("{base}/api/v1/search"))
            .query(&query)
            .send()
            .with_context(|| format!("cannot reach {base}"))?;
        let page: SearchResponse = answer(response, &args.query)?;
        total = page.total;
        for hit in &page.hits {
            out.print(hit)?;
        }
        printed += page.hits.len();
        unreadable += page.unreadable;
        match page.next_cursor {
            Some(c) if !page.hits.is_empty() || page.unreadable > 0 => cursor = Some(c),
            _ => break,
        }
    }
    if unreadable > 0 {
        eprintln!("{unreadable} matches left out: their archive block on the node is damaged");
    }
    if !args.json {
        eprintln!("{printed} of {total} matches");
    }
    Ok(ExitCode::from(if total > 0 { 0 } else { 1 }))
}

/// `--color auto|always|never`: auto colours only when stdout is a terminal.
pub(crate) fn use_colors(choice: &str) -> bool {
    match choice {
        "always" => true,
        "never" => false,
        _ => io::stdout().is_terminal(),
    }
}

pub(crate) fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// The body of a successful answer, or the node's error made readable.
pub(crate) fn answer<T: serde::de::DeserializeOwned>(
    response: reqwest::blocking::Response,
    query: &str,
) -> anyhow::Result<T> {
    let status = response.status();
    if status.is_success() {
        return response.json().context("unreadable answer from the node");
    }
    Err(refusal(status, &response.text().unwrap_or_default(), query))
}

fn refusal(status: reqwest::StatusCode, text: &str, query: &str) -> anyhow::Error {
    match serde_json::from_str::<QueryErrorBody>(text) {
        Ok(body) => match body.position {
            Some(position) => {
                report_query_error(query, &body.message, position);
                anyhow::anyhow!("query refused by the node")
            }
            None => anyhow::anyhow!("{} ({}): {}", body.error, status.as_u16(), body.message),
        },
        Err(_) => anyhow::anyhow!("node answered {status}: {}", text.trim()),
    }
}

fn report_query_error(query: &str, message: &str, position: usize) {
    eprintln!("error: {message} at position {position}");
    eprintln!("  {query}");
    eprintln!("  {}^", " ".repeat(position));
}

/// Silence after which the tail connection counts as dead (the node sends keep-alives every
/// 15 s).
const TAIL_READ_TIMEOUT: Duration = Duration::from_secs(45);

/// Reads the Server-Sent Events of `/api/v1/tail`, printing each record.
fn follow(base: &str, args: &Args, out: &mut Printer) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(TAIL_READ_TIMEOUT)
            .build()?;
        let mut response = client
            .get(format!("{base}/api/v1/tail"))
            .query(&[("q", args.query.as_str())])
            .send()
            .await
            .with_context(|| format!("cannot reach {base}"))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(refusal(status, &text, &args.query));
        }
        let mut events = SseLines::default();
        let mut seen = false;
        while let Some(chunk) = response.chunk().await.context("tail stream broke")? {
            for data in events.push(&chunk) {
                let record: LogRecord = serde_json::from_str(&data).context("unreadable record")?;
                out.print(&record)?;
                seen = true;
            }
        }
        Ok(ExitCode::from(if seen { 0 } else { 1 }))
    })
}

/// Splits a Server-Sent Events byte stream into the data of its events.
#[derive(Default)]
struct SseLines {
    pending: Vec<u8>,
    data: String,
}

impl SseLines {
    fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(bytes);
        let mut done = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if let Some(d) = line.strip_prefix("data:") {
                self.data.push_str(d.strip_prefix(' ').unwrap_or(d));
            } else if line.is_empty() && !self.data.is_empty() {
                done.push(std::mem::take(&mut self.data));
            }
        }
        done
    }
}

/// Prints records as aligned, optionally coloured lines, or as NDJSON.
struct Printer {
    json: bool,
    colors: bool,
    service_width: usize,
    out: io::BufWriter<io::Stdout>,
}

impl Printer {
    fn new(json: bool, colors: bool) -> Printer {
        Printer {
            json,
            colors,
            service_width: 8,
            out: io::BufWriter::new(io::stdout()),
        }
    }

    fn print(&mut self, r: &LogRecord) -> io::Result<()> {
        if self.json {
            serde_json::to_writer(&mut self.out, r)?;
            writeln!(self.out)?;
            return self.out.flush();
        }
        // Widths only grow, so columns stay aligned down the page.
        self.service_width = self.service_width.max(r.service.chars().count().min(24));
        let line = format_line(r, self.service_width, self.colors);
        self.out.write_all(line.as_bytes())?;
        self.out.flush()
    }
}

/// `time  LEVEL  service  message`; continuation lines of a multiline message are indented
/// under the message column.
fn format_line(r: &LogRecord, service_width: usize, colors: bool) -> String {
    let time = rfc3339_nanos::format(r.timestamp);
    // 2026-11-20T10:00:00.123456789Z → millisecond precision keeps the column narrow.
    let time = match time.len() {
        30 => format!("{}Z", &time[..23]),
        _ => time,
    };
    let level = r.level.as_str().to_ascii_uppercase();
    let style = if colors {
        level_style(r.level)
    } else {
        Style::new()
    };
    let dim = if colors {
        Style::new().dimmed()
    } else {
        Style::new()
    };
    let indent = " ".repeat(time.len() + 2 + 5 + 2 + service_width + 2);
    let mut message = r.message.lines();
    let mut s = format!(
        "{dim}{time}{dim:#}  {style}{level:<5}{style:#}  {service:<width$}  {first}\n",
        service = r.service,
        width = service_width,
        first = message.next().unwrap_or(""),
    );
    for more in message {
        s.push_str(&indent);
        s.push_str(more);
        s.push('\n');
    }
    s
}

fn level_style(level: Level) -> Style {
    let color = match level {
        Level::Trace | Level::Debug => return Style::new().dimmed(),
        Level::Info => AnsiColor::Green,
        Level::Warn => AnsiColor::Yellow,
        Level::Error => AnsiColor::Red,
        Level::Fatal => return Style::new().fg_color(Some(AnsiColor::Red.into())).bold(),
    };
    Style::new().fg_color(Some(color.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(message: &str, level: Level) -> LogRecord {
        serde_json::from_value(serde_json::json!({
            "id": "a", "timestamp": "2025-11-20T10:00:00.123456789Z", "observed": 0,
            "service": "api", "level": level, "message": message
        }))
        .unwrap()
    }

    #[test]
    fn aligns_columns_and_indents_continuations() {
        let line = format_line(&rec("boom\n  at main", Level::Error), 8, false);
        assert_eq!(
            line,
            "2025-11-20T10:00:00.123Z  ERROR  api       boom\n\
             \x20                                            at main\n"
        );
    }

    #[test]
    fn splits_server_sent_events_across_chunks() {
        let mut sse = SseLines::default();
        assert!(sse.push(b"event: record\ndata: {\"a\"").is_empty());
        assert!(sse.push(b":1}\n").is_empty());
        assert_eq!(
            sse.push(b"\n: keep-alive\n\ndata: 2\n\n"),
            ["{\"a\":1}", "2"]
        );
    }

    #[test]
    fn colours_only_when_asked() {
        let plain = format_line(&rec("x", Level::Warn), 8, false);
        assert!(!plain.contains('\x1b'));
        let coloured = format_line(&rec("x", Level::Warn), 8, true);
        assert!(coloured.contains("\x1b[33mWARN \x1b[0m"), "{coloured:?}");
    }
}
