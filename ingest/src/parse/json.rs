//! JSON lines: the common field aliases of structured loggers (pino, bunyan, winston, zap,
//! logrus, slog, ECS), and docker's json-file wrapper.

use serde_json::{Map, Value};

use super::{level, time, Parts, TimeHints};
use crate::record::{Level, Nanos};

/// Time keys, first first; log4j2's JsonLayout writes `instant` (`{"epochSecond": …,
/// "nanoOfSecond": …}`) or, before 2.11, `timeMillis`; Serilog's compact JSON `@t`; monolog's
/// `datetime`; Python's JSON formatters `asctime`, or only the record's `created` (epoch
/// seconds).
const TIME_KEYS: [&str; 11] = [
    "ts",
    "time",
    "timestamp",
    "@timestamp",
    "t",
    "@t",
    "datetime",
    "instant",
    "timeMillis",
    "asctime",
    "created",
];
/// Python's `levelname`, monolog's `level_name` (its `level` is a number of its own scale,
/// 100–600), Serilog's `@l`.
const LEVEL_KEYS: [&str; 8] = [
    "level_name",
    "levelname",
    "level",
    "severity",
    "lvl",
    "log.level",
    "loglevel",
    "@l",
];
/// Serilog's compact JSON: `@m` the rendered message, `@mt` its template.
const MESSAGE_KEYS: [&str; 5] = ["msg", "message", "@message", "@m", "@mt"];
const SERVICE_KEYS: [&str; 4] = ["service", "service.name", "app", "application"];

/// What a JSON line turned out to be.
pub enum Json {
    /// A structured record.
    Record(Parts),
    /// docker json-file: the wrapped line, to be parsed like any other line.
    Docker {
        log: String,
        stream: Option<String>,
        time: Option<Nanos>,
    },
}

/// Parses a line that looks like a JSON object; `None` if it is not one.
pub fn parse(line: &str, observed: Nanos, hints: TimeHints<'_>) -> Option<Json> {
    let trimmed = line.trim();
    if !trimmed.starts_with('{') || !trimmed.ends_with('}') {
        return None;
    }
    let mut map: Map<String, Value> = serde_json::from_str(trimmed).ok()?;
    if let Some(docker) = docker(&mut map, observed) {
        return Some(docker);
    }
    let mut parts = Parts::default();
    // A value that does not read as a time or level stays in the fields under its own key.
    let configured;
    let time_keys: &[&str] = match hints.field {
        Some(field) => {
            configured = [field];
            &configured
        }
        None => &TIME_KEYS,
    };
    if let Some((key, v)) = take(&mut map, time_keys) {
        match time_of(&v, observed, hints) {
            Some(t) => parts.timestamp = Some(t),
            None => {
                map.insert(key.into(), v);
            }
        }
    }
    if let Some((key, v)) = take(&mut map, &LEVEL_KEYS) {
        parts.level = level_of(&v);
        if parts.level.is_none() {
            map.insert(key.into(), v);
        }
    }
    match take(&mut map, &MESSAGE_KEYS) {
        Some(("@mt", Value::String(s))) => parts.message = render(&s, &map),
        Some((_, Value::String(s))) => parts.message = s,
        Some((_, other)) => parts.message = other.to_string(),
        None => parts.message = trimmed.to_string(),
    }
    parts.service = service_of(&mut map);
    parts.fields = map;
    Some(Json::Record(parts))
}

/// A Serilog message template (`Transfer {TransferId} failed`) with its properties put in, as
/// Serilog renders it when it writes text: a search for the id finds the record. A hole without
/// a property stays as written; formats and alignments (`{Elapsed:0.00}`) are not applied.
fn render(template: &str, properties: &Map<String, Value>) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        let hole = tail
            .strip_prefix('{')
            .and_then(|t| t.find('}').map(|end| &t[..end]));
        let Some(hole) = hole else {
            out.push_str(&tail[..1]);
            rest = &tail[1..];
            continue;
        };
        let name = hole.split([':', ',']).next().unwrap_or(hole);
        match properties.get(name.trim_start_matches(['@', '$'])) {
            Some(Value::String(s)) => out.push_str(s),
            Some(v) => out.push_str(&v.to_string()),
            None => {
                out.push('{');
                out.push_str(hole);
                out.push('}');
            }
        }
        rest = &tail[hole.len() + 2..];
    }
    out.push_str(rest);
    out
}

fn docker(map: &mut Map<String, Value>, observed: Nanos) -> Option<Json> {
    let is_docker = map.len() <= 4
        && map.get("log").is_some_and(Value::is_string)
        && (map.contains_key("stream") || map.contains_key("time"));
    if !is_docker {
        return None;
    }
    let Some(Value::String(log)) = map.remove("log") else {
        return None;
    };
    let stream = match map.remove("stream") {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    let time = map
        .get("time")
        .and_then(|v| time_of(v, observed, TimeHints::default()));
    Some(Json::Docker { log, stream, time })
}

fn take<'k>(map: &mut Map<String, Value>, keys: &[&'k str]) -> Option<(&'k str, Value)> {
    keys.iter().find_map(|k| map.remove(*k).map(|v| (*k, v)))
}

fn time_of(v: &Value, observed: Nanos, hints: TimeHints<'_>) -> Option<Nanos> {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => time::epoch_integer(i),
            None => time::epoch_decimal(&n.to_string())
                .or_else(|| n.as_f64().and_then(time::epoch_number)),
        },
        Value::String(s) => hints.value(s, observed),
        Value::Object(o) => {
            let seconds = o.get("epochSecond")?.as_i64()?;
            let nanos = o.get("nanoOfSecond").and_then(Value::as_i64).unwrap_or(0);
            seconds
                .checked_mul(1_000_000_000)?
                .checked_add(nanos.clamp(0, 999_999_999))
        }
        _ => None,
    }
}

fn level_of(v: &Value) -> Option<(Level, String)> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .and_then(level::number)
            .map(|l| (l, n.to_string())),
        Value::String(s) => level::word(s).map(|l| (l, s.clone())),
        _ => None,
    }
}

fn service_of(map: &mut Map<String, Value>) -> Option<String> {
    if let Some(Value::Object(svc)) = map.get("service") {
        if let Some(Value::String(name)) = svc.get("name") {
            return Some(name.clone());
        }
    }
    for key in SERVICE_KEYS {
        if let Some(Value::String(s)) = map.get(key) {
            let s = s.clone();
            map.remove(key);
            return Some(s);
        }
    }
    // pino's and bunyan's `name` is the app's (they write `pid` and `hostname` beside it);
    // Python's is a logger's (`asyncio`, `aiohttp.access`), not a service.
    let from_node = map.contains_key("pid") || map.contains_key("hostname");
    match map.get("name") {
        Some(Value::String(s)) if from_node => Some(s.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(line: &str) -> Parts {
        match parse(line, 0, TimeHints::default()) {
            Some(Json::Record(p)) => p,
            _ => panic!("not a record: {line}"),
        }
    }

    #[test]
    fn aliases() {
        let p = record(r#"{"level":30,"time":1763632800123,"pid":1,"name":"api","msg":"up"}"#);
        assert_eq!(p.timestamp, Some(1_763_632_800_123_000_000));
        assert_eq!(p.level, Some((Level::Info, "30".into())));
        assert_eq!(p.message, "up");
        assert_eq!(p.service.as_deref(), Some("api"));
        assert_eq!(p.fields["pid"], 1);

        let p = record(
            r#"{"@timestamp":"2026-11-20T10:00:00.5+01:00","severity":"ERROR","message":"x","service":{"name":"pay"}}"#,
        );
        assert_eq!(p.timestamp, Some(1_795_165_200_500_000_000));
        assert_eq!(p.level.map(|l| l.0), Some(Level::Error));
        assert_eq!(p.service.as_deref(), Some("pay"));

        let p = record(r#"{"ts":1763632800.25,"lvl":"warn","msg":"m","app":"a"}"#);
        assert_eq!(p.timestamp, Some(1_763_632_800_250_000_000));
        assert_eq!(p.service.as_deref(), Some("a"));
        assert!(!p.fields.contains_key("app"));

        let p = record(
            r#"{"timestamp":1763632800123456789,"level":"fatal","message":"m","application":"b"}"#,
        );
        assert_eq!(p.timestamp, Some(1_763_632_800_123_456_789));
        assert_eq!(p.service.as_deref(), Some("b"));

        let p = record(r#"{"time":"1763632800","level":60,"service.name":"c"}"#);
        assert_eq!(p.timestamp, Some(1_763_632_800_000_000_000));
        assert_eq!(p.level.map(|l| l.0), Some(Level::Fatal));
        assert_eq!(p.service.as_deref(), Some("c"));
    }

    #[test]
    fn python_monolog_and_serilog_keys() {
        // python-json-logger with only the record's epoch seconds; `name` is a logger's.
        let p = record(
            r#"{"created": 1796754605.105301, "levelname": "ERROR", "name": "asyncio", "message": "Task exception was never retrieved"}"#,
        );
        assert_eq!(p.timestamp, Some(1_796_754_605_105_301_000));
        assert_eq!(p.level.map(|l| l.0), Some(Level::Error));
        assert_eq!(p.service, None);
        assert_eq!(p.fields["name"], "asyncio");
        let p = record(
            r#"{"asctime": "2026-11-20 10:00:00,250", "levelname": "WARNING", "message": "m"}"#,
        );
        assert_eq!(p.timestamp, Some(1_795_168_800_250_000_000));
        // monolog: `level` is its own scale (200 = info), `level_name` says it.
        let p = record(
            r#"{"message":"m","context":{},"level":200,"level_name":"INFO","channel":"app","datetime":"2026-11-20T11:00:00.250000+01:00"}"#,
        );
        assert_eq!(p.timestamp, Some(1_795_168_800_250_000_000));
        assert_eq!(p.level.map(|l| l.0), Some(Level::Info));
        // Serilog's compact JSON.
        let p = record(
            r#"{"@t":"2026-11-20T10:00:00.2500000Z","@mt":"Order {Id} failed","@l":"Error","Id":7}"#,
        );
        assert_eq!(p.timestamp, Some(1_795_168_800_250_000_000));
        assert_eq!(p.level.map(|l| l.0), Some(Level::Error));
        assert_eq!(p.message, "Order 7 failed");
        assert_eq!(p.fields["Id"], 7);
        let p = record(
            r#"{"@t":"2026-11-20T10:00:00Z","@mt":"{{literal}} {Path:l} took {Elapsed:0.00} ms, {Missing} {@Obj} {","Path":"/x","Elapsed":1.5,"Obj":{"a":1}}"#,
        );
        assert_eq!(
            p.message,
            r#"{literal} /x took 1.5 ms, {Missing} {"a":1} {"#
        );
        // The rendered message wins when there is one.
        let p = record(
            r#"{"@t":"2026-11-20T10:00:00Z","@m":"Order 8 failed","@mt":"Order {Id} failed","Id":8}"#,
        );
        assert_eq!(p.message, "Order 8 failed");
    }

    #[test]
    fn unknown_values_stay_in_fields() {
        let p = record(r#"{"t":"later","severity":"loud","msg":"m"}"#);
        assert_eq!(p.timestamp, None);
        assert_eq!(p.level, None);
        assert_eq!(p.fields["t"], "later");
        assert_eq!(p.fields["severity"], "loud");
        let p = record(
            r#"{"instant":{"epochSecond":1763632800,"nanoOfSecond":37000000},"level":"INFO","message":"m"}"#,
        );
        assert_eq!(p.timestamp, Some(1_763_632_800_037_000_000));
        let p = record(r#"{"timeMillis":1763632800123,"level":"WARN","message":"m"}"#);
        assert_eq!(p.timestamp, Some(1_763_632_800_123_000_000));
        let p = record(r#"{"ts":1763632800123456,"msg":"µs"}"#);
        assert_eq!(p.timestamp, Some(1_763_632_800_123_456_000));
    }

    #[test]
    fn docker_json_file_is_unwrapped() {
        let line = r#"{"log":"    at f (x.js:1:2)\n","stream":"stderr","time":"2026-11-20T10:00:00.000000001Z"}"#;
        match parse(line, 0, TimeHints::default()) {
            Some(Json::Docker { log, stream, time }) => {
                assert_eq!(log, "    at f (x.js:1:2)\n");
                assert_eq!(stream.as_deref(), Some("stderr"));
                assert_eq!(time, Some(1_795_168_800_000_000_001));
            }
            _ => panic!("not unwrapped"),
        }
    }

    #[test]
    fn not_json() {
        assert!(parse("{not json}", 0, TimeHints::default()).is_none());
        assert!(parse("[1,2]", 0, TimeHints::default()).is_none());
    }
}
