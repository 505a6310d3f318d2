//! Apache/nginx access logs: the Common Log Format and its "combined" extension,
//! `client ident user [20/Nov/2026:10:00:00 +0000] "GET /path HTTP/1.1" 200 512 "ref" "agent"`,
//! optionally followed by the request duration (nginx `$request_time` in seconds when it has a
//! decimal point, Apache `%D` in microseconds when it is an integer).

use chrono::NaiveDate;
use serde_json::{json, Map, Value};

use super::Parts;
use crate::record::{Level, Nanos};

/// Does `line` start as an access-log line does (client, ident, user, `[time]`)? Such a line
/// is a record of its own: in a file that mixes nginx's error log with its access log, it
/// must not continue the error line before it.
pub fn is_line(line: &str) -> bool {
    let mut rest = line;
    let mut head = || {
        for _ in 0..3 {
            word(&mut rest)?;
        }
        let stamp = rest.trim_start_matches(' ').strip_prefix('[')?;
        clf_time(&stamp[..stamp.find(']')?])
    };
    head().is_some()
}

/// Parses an access-log line; `None` if it is not one.
pub fn parse(line: &str) -> Option<Parts> {
    let mut rest = line;
    let client = word(&mut rest)?;
    let _ident = word(&mut rest)?;
    let user = word(&mut rest)?;
    let stamp = rest.trim_start_matches(' ').strip_prefix('[')?;
    let close = stamp.find(']')?;
    let timestamp = clf_time(&stamp[..close])?;
    rest = stamp[close + 1..].strip_prefix(' ')?;
    let request = quoted(&mut rest)?;
    let status: u16 = word(&mut rest)?.parse().ok()?;
    let bytes = word(&mut rest).unwrap_or("-");

    let mut http = Map::new();
    request_fields(&mut http, request);
    http.insert("status".into(), json!(status));
    if let Ok(b) = bytes.parse::<u64>() {
        http.insert("bytes".into(), json!(b));
    }
    if let Some(referer) = quoted(&mut rest) {
        http.insert("referer".into(), json!(referer));
        if let Some(agent) = quoted(&mut rest) {
            http.insert("user_agent".into(), json!(agent));
        }
    }
    if let Some(ms) = word(&mut rest).and_then(duration_ms) {
        http.insert("duration_ms".into(), json!(ms));
    }

    let mut fields = Map::new();
    fields.insert("client".into(), json!(client));
    if user != "-" {
        fields.insert("user".into(), json!(user));
    }
    Some(parts(line, timestamp, status, http, fields))
}

/// Envoy's default access log after its `[start time]`:
/// `"GET /path HTTP/1.1" 503 UH 0 19 2 - "xff" "agent" "request id" "authority" "upstream"`;
/// `line` is the whole line, the message. `None` if `rest` is not one.
pub fn envoy(rest: &str, line: &str, timestamp: Nanos) -> Option<Parts> {
    let mut rest = rest;
    let request = quoted(&mut rest)?;
    let status: u16 = word(&mut rest)?.parse().ok()?;
    let flags = word(&mut rest)?;
    let received = word(&mut rest)?;
    let sent = word(&mut rest)?;
    let duration = word(&mut rest)?;
    let mut http = Map::new();
    request_fields(&mut http, request);
    http.insert("status".into(), json!(status));
    for (key, w) in [("bytes_received", received), ("bytes", sent)] {
        if let Ok(b) = w.parse::<u64>() {
            http.insert(key.into(), json!(b));
        }
    }
    if let Ok(ms) = duration.parse::<u64>() {
        http.insert("duration_ms".into(), json!(ms));
    }
    if flags != "-" {
        http.insert("response_flags".into(), json!(flags));
    }
    let _upstream_time = word(&mut rest);
    let mut fields = Map::new();
    if let Some(client) = quoted(&mut rest).filter(|c| *c != "-") {
        fields.insert("client".into(), json!(client));
    }
    if let Some(agent) = quoted(&mut rest) {
        http.insert("user_agent".into(), json!(agent));
    }
    Some(parts(line, timestamp, status, http, fields))
}

/// HAProxy's HTTP log after its syslog header: `client:port [20/Nov/2026:10:00:00.589]
/// frontend backend/server Tq/Tw/Tc/Tr/Ta status bytes … "GET /path HTTP/1.1"`. `None` if
/// `line` is not one.
pub fn haproxy(line: &str) -> Option<Parts> {
    let mut rest = line;
    let client = word(&mut rest)?;
    let stamp = rest.strip_prefix(" [")?;
    let close = stamp.find(']')?;
    let time = &stamp[..close];
    let mut timestamp = clf_time(time)?;
    if let Some(ms) = time.get(20..).and_then(|f| f.strip_prefix('.')) {
        let ms: i64 = ms.get(..3)?.parse().ok()?;
        timestamp += ms * 1_000_000;
    }
    rest = &stamp[close + 1..];
    let frontend = word(&mut rest)?;
    let backend = word(&mut rest)?;
    let timers = word(&mut rest)?;
    if !backend.contains('/') || timers.split('/').count() != 5 {
        return None;
    }
    let status: u16 = word(&mut rest)?.parse().ok()?;
    let mut http = Map::new();
    http.insert("status".into(), json!(status));
    if let Some(b) = word(&mut rest).and_then(|b| b.parse::<u64>().ok()) {
        http.insert("bytes".into(), json!(b));
    }
    if let Some(total) = timers
        .rsplit('/')
        .next()
        .and_then(|t| t.parse::<i64>().ok())
    {
        http.insert("duration_ms".into(), json!(total));
    }
    if let Some(at) = rest.find(" \"") {
        if let Some(request) = quoted(&mut &rest[at..]) {
            request_fields(&mut http, request);
        }
    }
    let mut fields = Map::new();
    fields.insert("client".into(), json!(client));
    fields.insert("frontend".into(), json!(frontend));
    fields.insert("backend".into(), json!(backend));
    Some(parts(line, timestamp, status, http, fields))
}

/// `GET /path HTTP/1.1` as `method`, `path` and `protocol`; anything else as `request`.
fn request_fields(http: &mut Map<String, Value>, request: &str) {
    let mut req = request.splitn(3, ' ');
    match (req.next(), req.next()) {
        (Some(method), Some(path)) => {
            http.insert("method".into(), json!(method));
            http.insert("path".into(), json!(path));
            if let Some(proto) = req.next() {
                http.insert("protocol".into(), json!(proto));
            }
        }
        _ => {
            http.insert("request".into(), json!(request));
        }
    }
}

/// The parts of an access line: the level from its status, `http` among its fields.
pub(super) fn parts(
    line: &str,
    timestamp: Nanos,
    status: u16,
    http: Map<String, Value>,
    mut fields: Map<String, Value>,
) -> Parts {
    fields.insert("http".into(), Value::Object(http));
    Parts {
        timestamp: Some(timestamp),
        level: Some((level_of(status), status.to_string())),
        message: line.to_string(),
        service: None,
        fields,
    }
}

fn level_of(status: u16) -> Level {
    match status {
        500.. => Level::Error,
        400..=499 => Level::Warn,
        _ => Level::Info,
    }
}

fn word<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let s = rest.trim_start_matches(' ');
    if s.is_empty() {
        return None;
    }
    let end = s.find(' ').unwrap_or(s.len());
    *rest = &s[end..];
    Some(&s[..end])
}

/// A `"…"` field; `\"` inside is kept as is.
fn quoted<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let s = rest.trim_start_matches(' ').strip_prefix('"')?;
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => {
                *rest = &s[i + 1..];
                return Some(&s[..i]);
            }
            _ => i += 1,
        }
    }
    None
}

fn duration_ms(w: &str) -> Option<f64> {
    let v: f64 = w.parse().ok()?;
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    Some(if w.contains('.') { v * 1e3 } else { v / 1e3 })
}

/// `20/Nov/2026:10:00:00 +0000`.
fn clf_time(s: &str) -> Option<Nanos> {
    let b = s.as_bytes();
    if b.len() < 20 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
    let month = super::time::month_number(&b[3..6])?;
    let date = NaiveDate::from_ymd_opt(num(7..11)? as i32, month, num(0..2)?)?;
    let t = date
        .and_hms_opt(num(12..14)?, num(15..17)?, num(18..20)?)?
        .and_utc()
        .timestamp_nanos_opt()?;
    let zone = s[20..].trim();
    let offset = if zone.len() == 5 {
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let h: i64 = zone.get(1..3)?.parse().ok()?;
        let m: i64 = zone.get(3..5)?.parse().ok()?;
        sign * (h * 3600 + m * 60)
    } else {
        0
    };
    t.checked_sub(offset * 1_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_with_duration() {
        let p = parse(r#"10.0.0.1 - bob [20/Nov/2026:10:00:00 +0100] "POST /api/pay HTTP/1.1" 503 12 "-" "curl/8.0" 0.250"#).unwrap();
        assert_eq!(p.timestamp, Some(1_795_165_200_000_000_000));
        assert_eq!(p.level, Some((Level::Error, "503".into())));
        let http = &p.fields["http"];
        assert_eq!(http["method"], "POST");
        assert_eq!(http["path"], "/api/pay");
        assert_eq!(http["status"], 503);
        assert_eq!(http["bytes"], 12);
        assert_eq!(http["user_agent"], "curl/8.0");
        assert_eq!(http["duration_ms"], 250.0);
        assert_eq!(p.fields["user"], "bob");
    }

    #[test]
    fn common_format_and_rejects() {
        let p = parse(r#"::1 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.0" 404 -"#).unwrap();
        assert_eq!(p.level.map(|l| l.0), Some(Level::Warn));
        assert!(p.fields["http"].get("bytes").is_none());
        assert!(parse("a b c [not a date] \"GET /\" 200 1").is_none());
        assert!(parse("hello world").is_none());
        assert!(parse(r#"a b c [20/Nov/2026:10:00:00 +0000] "GET /" x"#).is_none());
    }
}
