//! The HTTP status a record carries: in its fields (access logs, JSON request logs), as a
//! gRPC code, or in a request line the app wrote in its text.

use std::sync::OnceLock;

use aho_corasick::AhoCorasick;
use firewatch_ingest::LogRecord;
use serde_json::Value;

/// The HTTP status a record carries in its fields (access logs, request logs), if any.
pub fn http_status(rec: &LogRecord) -> Option<u16> {
    // Where a status may be, first place first: looked for in one pass over the record's
    // top-level keys (a lookup per place cost `analyze` a tenth of its time in comparisons).
    const PATHS: [&[&str]; 13] = [
        &["status"],
        &["status_code"],
        &["statusCode"],
        // Serilog's request logging (.NET).
        &["StatusCode"],
        &["http", "status"],
        &["http", "status_code"],
        &["res", "statusCode"],
        &["res", "status"],
        &["response", "status"],
        &["response_status"],
        &["http", "response", "status_code"],
        // Traefik's access log: the status its client got.
        &["DownstreamStatus"],
        &["http_status"],
    ];
    let status = |v: &Value| {
        match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| (100..600).contains(n))
    };
    let mut best: Option<(usize, u16)> = None;
    let mut grpc = None;
    for (key, value) in &rec.fields {
        match key.as_str() {
            "grpc.code" | "grpc_code" => grpc = grpc.or(Some(value)),
            "grpc" => grpc = grpc.or(value.get("code")),
            _ => {}
        }
        for (place, path) in PATHS.iter().enumerate() {
            if path[0] != key || best.is_some_and(|(b, _)| b <= place) {
                continue;
            }
            let found = path[1..].iter().try_fold(value, |v, k| v.get(k));
            if let Some(s) = found.and_then(status) {
                best = Some((place, s));
            }
        }
    }
    best.map(|(_, s)| s)
        .or_else(|| grpc_status(grpc?))
        .or_else(|| text_status(&rec.message))
}

/// A gRPC call's status code (`grpc.code=Unavailable`, `"grpc.code":"DeadlineExceeded"`,
/// `UNAVAILABLE`, `14`) as the HTTP status gateways map it to: Unavailable 503,
/// DeadlineExceeded 504, Internal, Unknown and DataLoss 500, Unimplemented 501, the client's
/// faults 4xx, OK 200.
fn grpc_status(code: &Value) -> Option<u16> {
    const CODES: [(&str, u16); 17] = [
        ("ok", 200),
        ("canceled", 499),
        ("unknown", 500),
        ("invalidargument", 400),
        ("deadlineexceeded", 504),
        ("notfound", 404),
        ("alreadyexists", 409),
        ("permissiondenied", 403),
        ("resourceexhausted", 429),
        ("failedprecondition", 400),
        ("aborted", 409),
        ("outofrange", 400),
        ("unimplemented", 501),
        ("internal", 500),
        ("unavailable", 503),
        ("dataloss", 500),
        ("unauthenticated", 401),
    ];
    let index = match code {
        Value::Number(n) => usize::try_from(n.as_u64()?).ok()?,
        Value::String(s) if s.len() <= 24 => {
            let mut name = [0u8; 24];
            let mut len = 0;
            for b in s.bytes().filter(|b| *b != b'_') {
                name[len] = b.to_ascii_lowercase();
                len += 1;
            }
            let name = &name[..len];
            match std::str::from_utf8(name).ok()? {
                // The proto enum's spelling.
                "cancelled" => 1,
                name => match name.parse::<usize>() {
                    Ok(n) => n,
                    Err(_) => CODES.iter().position(|(c, _)| *c == name)?,
                },
            }
        }
        _ => return None,
    };
    CODES.get(index).map(|(_, status)| *status)
}

/// How far into a message a request line is looked for: request logs put it first.
const REQUEST_LINE_WITHIN: usize = 512;

/// Where a status follows in a request line that an app logs in its text: after a quoted
/// request (`"GET /x HTTP/1.1" 504`, as uvicorn, aiohttp, gunicorn and werkzeug write it),
/// after a method and path (`POST /v1/quotes -> 200 (13 ms)`, `GET /api 500 12.3 ms`), after
/// Rails's `Completed `.
fn request_marks() -> &'static AhoCorasick {
    static MARKS: OnceLock<AhoCorasick> = OnceLock::new();
    MARKS.get_or_init(|| {
        AhoCorasick::new([
            "HTTP/",
            "Completed ",
            "GET /",
            "POST /",
            "PUT /",
            "PATCH /",
            "DELETE /",
            "HEAD /",
            "OPTIONS /",
        ])
        .expect("request marks are valid patterns")
    })
}

/// The status of a request line in a message's text, if it has one.
fn text_status(message: &str) -> Option<u16> {
    let b = message.as_bytes();
    let b = &b[..b.len().min(REQUEST_LINE_WITHIN)];
    request_marks().find_iter(b).find_map(|m| {
        let rest = &b[m.end()..];
        let rest = match m.pattern().as_usize() {
            // `HTTP/1.1" 504`: the version, the closing quote, the status.
            0 => {
                let version = rest
                    .iter()
                    .take_while(|c| c.is_ascii_digit() || **c == b'.');
                rest[version.count()..].strip_prefix(b"\" ")?
            }
            1 => rest,
            // A method and a path: the status is the next word, or follows an arrow.
            _ => {
                let path = rest.iter().take_while(|c| !c.is_ascii_whitespace()).count();
                let rest = rest[path..].strip_prefix(b" ")?;
                match ["-> ", "=> ", "- "]
                    .iter()
                    .find_map(|arrow| rest.strip_prefix(arrow.as_bytes()))
                {
                    Some(after_arrow) => after_arrow,
                    // Without an arrow, a number after a path is a status only if what follows
                    // reads like a request log's (a size, a time, a reason), not a sentence's
                    // (`GET /items 500 times`).
                    None if reads_as_request_detail(rest.get(3..)?) => rest,
                    None => return None,
                }
            }
        };
        status_word(rest)
    })
}

/// Does `after` (what follows a status) end the text or go on with a number, a dash, a
/// bracket, a quote or a capitalised reason (`OK`, `Internal Server Error`)?
fn reads_as_request_detail(after: &[u8]) -> bool {
    match after {
        [] | [b'\n' | b'\r', ..] => true,
        [b' ' | b'\t'] => true,
        [b' ' | b'\t', next, ..] => {
            next.is_ascii_digit() || next.is_ascii_uppercase() || b"-([\"".contains(next)
        }
        _ => false,
    }
}

/// A three-digit status from 100 to 599 that is a whole word at the start of `text`.
fn status_word(text: &[u8]) -> Option<u16> {
    let digits = text.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) || text.get(3).is_some_and(u8::is_ascii_alphanumeric)
    {
        return None;
    }
    let status = digits
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    (100..600).contains(&status).then_some(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::is_error;
    use crate::testutil::rec;
    use firewatch_ingest::Level;

    #[test]
    fn errors_are_levels_or_5xx_statuses() {
        let is_error_event = |r: &LogRecord| is_error(r.level, http_status(r));
        let mut r = rec(0, "GET / 200");
        assert!(!is_error_event(&r));
        r.fields.insert("status".into(), Value::from(503));
        assert!(is_error_event(&r));
        r.fields.insert("status".into(), Value::from("404"));
        assert!(!is_error_event(&r));
        r.fields.clear();
        r.fields
            .insert("res".into(), serde_json::json!({"statusCode": 502}));
        assert!(is_error_event(&r));
        r.fields.clear();
        r.fields.insert("DownstreamStatus".into(), Value::from(502));
        assert_eq!(http_status(&r), Some(502));
        r.fields.clear();
        r.message = "[b102a1b3] Completed 503 Service Unavailable in 31ms".into();
        assert_eq!(http_status(&r), Some(503));
        r.message = "Completed 3 of 5 steps".into();
        assert_eq!(http_status(&r), None);
        r.fields.clear();
        r.level = Level::Fatal;
        assert!(is_error_event(&r));
    }

    #[test]
    fn grpc_codes_read_as_the_http_statuses_gateways_give_them() {
        let status = |fields: serde_json::Value| {
            let mut r = rec(0, "finished unary call");
            r.fields = fields.as_object().cloned().unwrap_or_default();
            http_status(&r)
        };
        assert_eq!(
            status(serde_json::json!({"grpc.code": "Unavailable"})),
            Some(503)
        );
        assert_eq!(
            status(serde_json::json!({"grpc.code": "DEADLINE_EXCEEDED"})),
            Some(504)
        );
        assert_eq!(status(serde_json::json!({"grpc": {"code": 13}})), Some(500));
        assert_eq!(
            status(serde_json::json!({"grpc_code": "CANCELLED"})),
            Some(499)
        );
        assert_eq!(status(serde_json::json!({"grpc.code": "OK"})), Some(200));
        assert_eq!(
            status(serde_json::json!({"grpc.code": "NotFound"})),
            Some(404)
        );
        assert_eq!(status(serde_json::json!({"grpc.code": "Bogus"})), None);
        assert_eq!(status(serde_json::json!({"grpc.code": 17})), None);
    }

    #[test]
    fn request_lines_in_text_give_their_status() {
        let cases = [
            (
                r#"10.8.3.207:44726 - "GET /v1/quotes HTTP/1.1" 504 Gateway Timeout"#,
                Some(504),
            ),
            (
                r#"10.42.9.14 "GET /api/exports/exp_2f840c/status HTTP/1.1" 200 94 0.011692"#,
                Some(200),
            ),
            (r#""POST /x HTTP/2" 502 -"#, Some(502)),
            ("POST /v1/quotes/evaluate -> 200 (13 ms)", Some(200)),
            ("POST /webhooks/psp 503 6ms", Some(503)),
            ("GET /api/users 500 12.345 ms - 45", Some(500)),
            (
                "[b102a1b3] Completed 503 Service Unavailable in 31ms",
                Some(503),
            ),
            ("Completed 3 of 5 steps", None),
            ("GET /items 3 times", None),
            ("GET /items 500 times", None),
            ("GET /items 500 (cached)", Some(500)),
            ("GET /health 200", Some(200)),
            ("GET /health 503\nupstream gone", Some(503)),
            ("GET /v1/x 502 Bad Gateway", Some(502)),
            ("GET /items 5000 bytes", None),
            ("POST /v1/orders 999 x", None),
            (r#""GET / HTTP/1.1" 20"#, None),
            ("fetching GET /v1/rates from cache", None),
            ("HTTP/1.1 is the protocol", None),
        ];
        for (message, status) in cases {
            assert_eq!(text_status(message), status, "{message}");
        }
        // Only the start of a long message is looked at.
        let late = format!("{} GET /x 503 1ms", "a".repeat(REQUEST_LINE_WITHIN));
        assert_eq!(text_status(&late), None);
    }

    #[test]
    fn a_status_field_comes_before_the_text() {
        let mut r = rec(0, "GET /x 503 1ms");
        assert_eq!(http_status(&r), Some(503));
        r.fields.insert("status".into(), Value::from(200));
        assert_eq!(http_status(&r), Some(200));
        // Serilog's request logging.
        let mut r = rec(0, "HTTP POST /api/transfers responded 500 in 5012.3748 ms");
        r.fields.insert("StatusCode".into(), Value::from(500));
        assert_eq!(http_status(&r), Some(500));
    }
}
