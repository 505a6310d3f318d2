//! JSON lines: the common field aliases of structured loggers (pino, bunyan, winston, zap,
//! logrus, slog, ECS), docker's json-file wrapper, and the records of systems with keys of their
//! own: systemd's journal (`journalctl -o json`), Google Cloud Logging's LogEntry, MongoDB's
//! structured log, Kubernetes Events.

use serde_json::{Map, Value};

use super::{level, time, Parts, TimeHints};
use crate::record::{Level, Nanos};

/// Time keys, first first; log4j2's JsonLayout writes `instant` (`{"epochSecond": …,
/// "nanoOfSecond": …}`) or, before 2.11, `timeMillis`; Serilog's compact JSON `@t`; monolog's
/// `datetime`; Python's JSON formatters `asctime`, or only the record's `created` (epoch
/// seconds); Kubernetes Events `eventTime` (events.k8s.io/v1, often null in core/v1) or their
/// last and first occurrence.
const TIME_KEYS: [&str; 14] = [
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
    "eventTime",
    "lastTimestamp",
    "firstTimestamp",
];
/// The journal's: when the program logged (given by the client), else when journald received
/// the entry; microseconds since the epoch.
const JOURNAL_TIME_KEYS: [&str; 2] = ["_SOURCE_REALTIME_TIMESTAMP", "__REALTIME_TIMESTAMP"];
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
/// A LogEntry's payload, one of them.
const LOG_ENTRY_PAYLOADS: [&str; 4] = ["textPayload", "jsonPayload", "protoPayload", "httpRequest"];

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
    let mut extended_json = false;
    parts.timestamp = take_first(&mut map, time_keys, |v| {
        extended_json = v.get("$date").is_some();
        time_of(v, observed, hints)
    });
    parts.level = take_first(&mut map, &LEVEL_KEYS, level_of);
    let mut message = match take(&mut map, &MESSAGE_KEYS) {
        Some(("@mt", Value::String(s))) => Some(render(&s, &map)),
        Some((_, v)) => Some(text(v)),
        None => None,
    };
    // Serilog's exception, on the lines after the message, as its text sinks write it: the
    // error and its stack are what detectors and searches look at.
    if let Some(m) = &mut message {
        if let Some(x) = take_string(&mut map, "@x") {
            m.push('\n');
            m.push_str(&x);
        }
    }
    // The systems with keys of their own leave out a message (journal, LogEntry) or a level
    // (MongoDB, Kubernetes Events) under the usual keys: only then are their keys looked for,
    // and a record of the usual keys costs nothing more.
    if message.is_none() && is_journal(&map) {
        if parts.timestamp.is_none() {
            parts.timestamp = take_first(&mut map, &JOURNAL_TIME_KEYS, |v| {
                time_of(v, observed, hints)
            });
        }
        if parts.level.is_none() {
            parts.level = take_first(&mut map, &["PRIORITY"], journal_priority);
        }
        message = journal_message(&mut map);
        parts.service = journal_service(&map);
    } else if message.is_none() && is_log_entry(&map) {
        message = log_entry_message(&mut map);
        // The payload's keys are the record's now: a level or time the entry lacked.
        if parts.level.is_none() {
            parts.level = take_first(&mut map, &LEVEL_KEYS, level_of);
        }
        if parts.timestamp.is_none() {
            parts.timestamp = take_first(&mut map, time_keys, |v| time_of(v, observed, hints));
        }
        parts.service = log_entry_service(&map);
    } else if parts.level.is_none() {
        // MongoDB's `s` is a severity only beside its Extended JSON `t`; `type` only in an
        // Event.
        parts.level = if extended_json {
            take_first(&mut map, &["s"], mongo_severity)
        } else if is_kube_event(&map) {
            take_first(&mut map, &["type"], event_type)
        } else {
            None
        };
    }
    if message.is_none() {
        // structlog's JSON renderer names its message `event`; elsewhere, beside a message,
        // an `event` is a field.
        message = take_string(&mut map, "event");
    }
    parts.message = message.unwrap_or_else(|| trimmed.to_string());
    if parts.service.is_none() {
        parts.service = service_of(&mut map);
    }
    parts.fields = map;
    Some(Json::Record(parts))
}

/// A message value as text: a string as it is, anything else as its JSON.
fn text(v: Value) -> String {
    match v {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

/// The string under `key`, taken out of the map; any other value stays.
fn take_string(map: &mut Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key) {
        Some(Value::String(_)) => match map.remove(key) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

/// `journalctl -o json`: its receive time, or a message with its priority or program.
fn is_journal(map: &Map<String, Value>) -> bool {
    let has = |k: &str| map.contains_key(k);
    has("__REALTIME_TIMESTAMP")
        || has("MESSAGE") && (has("PRIORITY") || has("_SYSTEMD_UNIT") || has("SYSLOG_IDENTIFIER"))
}

/// A Cloud Logging LogEntry: its log's name or monitored resource, and a payload.
fn is_log_entry(map: &Map<String, Value>) -> bool {
    let entry = map.get("logName").is_some_and(Value::is_string)
        || map.get("resource").is_some_and(Value::is_object);
    entry && LOG_ENTRY_PAYLOADS.iter().any(|k| map.contains_key(*k))
}

/// A Kubernetes Event: a reason, and the object it is about or the component that reports it.
fn is_kube_event(map: &Map<String, Value>) -> bool {
    map.contains_key("reason") && (map.contains_key("involvedObject") || map.contains_key("source"))
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

/// The value of the first of `keys` the map has (a null is none: an Event's `eventTime` in
/// core/v1), read and taken out; a value that does not read stays, and hides later keys.
fn take_first<T>(
    map: &mut Map<String, Value>,
    keys: &[&str],
    mut read: impl FnMut(&Value) -> Option<T>,
) -> Option<T> {
    // Taken out and put back when it does not read: one lookup for a key that is there.
    for key in keys {
        let Some(v) = map.remove(*key) else {
            continue;
        };
        let found = if v.is_null() { None } else { read(&v) };
        if found.is_none() {
            let null = v.is_null();
            map.insert((*key).to_string(), v);
            if null {
                continue;
            }
        }
        return found;
    }
    None
}

fn time_of(v: &Value, observed: Nanos, hints: TimeHints<'_>) -> Option<Nanos> {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => time::epoch_integer(i),
            None => time::epoch_decimal(&n.to_string())
                .or_else(|| n.as_f64().and_then(time::epoch_number)),
        },
        Value::String(s) => hints.value(s, observed),
        // MongoDB's Extended JSON: `{"$date": "<RFC 3339>"}`, `{"$date": <epoch ms>}`, or
        // canonically `{"$date": {"$numberLong": "<epoch ms>"}}`.
        Value::Object(o) if o.contains_key("$date") => {
            let ms = match &o["$date"] {
                Value::String(s) => return hints.value(s, observed),
                Value::Number(n) => n.as_i64(),
                Value::Object(long) => long.get("$numberLong")?.as_str()?.parse().ok(),
                _ => None,
            };
            ms?.checked_mul(1_000_000)
        }
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

/// A journal `PRIORITY`: a syslog severity, 0–7, as a string.
fn journal_priority(v: &Value) -> Option<(Level, String)> {
    let raw = v.as_str()?;
    let n: u32 = raw.parse().ok().filter(|n| *n < 8)?;
    Some((level::syslog_severity(n), raw.to_string()))
}

/// MongoDB's `s`: `F`, `E`, `W`, `I`, or `D1` to `D5` (`D` before 4.4's structured log).
fn mongo_severity(v: &Value) -> Option<(Level, String)> {
    let raw = v.as_str()?;
    let level = match raw.as_bytes() {
        [c] => level::letter(*c)?,
        [b'D', b'1'..=b'5'] => Level::Debug,
        _ => return None,
    };
    Some((level, raw.to_string()))
}

/// A Kubernetes Event's `type`.
fn event_type(v: &Value) -> Option<(Level, String)> {
    let level = match v.as_str()? {
        "Warning" => Level::Warn,
        "Normal" => Level::Info,
        _ => return None,
    };
    Some((level, v.as_str()?.to_string()))
}

/// A journal `MESSAGE`; journalctl writes one that is not UTF-8 as an array of its bytes.
/// Anything else stays in the fields.
fn journal_message(map: &mut Map<String, Value>) -> Option<String> {
    let bytes: Option<Vec<u8>> = match map.get("MESSAGE")? {
        Value::String(_) => None,
        Value::Array(bytes) => bytes
            .iter()
            .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
            .collect(),
        _ => return None,
    };
    match (bytes, map.remove("MESSAGE")?) {
        (Some(bytes), _) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        (None, Value::String(s)) => Some(s),
        (None, other) => {
            // An array that is not bytes.
            map.insert("MESSAGE".into(), other);
            None
        }
    }
}

/// The program a journal entry names: its syslog identifier, else its unit, else its command.
fn journal_service(map: &Map<String, Value>) -> Option<String> {
    let get = |k: &str| map.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    get("SYSLOG_IDENTIFIER")
        .or_else(|| get("_SYSTEMD_UNIT").map(|u| u.strip_suffix(".service").unwrap_or(u)))
        .or_else(|| get("_COMM"))
        .map(str::to_string)
}

/// A LogEntry's message: its `textPayload`, else `jsonPayload`'s `message` (its other keys
/// become the record's, where the entry has no key of that name), else the request of a request
/// log (`GET https://… 503`), else an audit log's method.
fn log_entry_message(map: &mut Map<String, Value>) -> Option<String> {
    if let Some(s) = take_string(map, "textPayload") {
        return Some(s);
    }
    let mut message = None;
    if let Some(Value::Object(mut payload)) = map.remove("jsonPayload") {
        message = take(&mut payload, &["message", "msg"]).map(|(_, v)| text(v));
        let mut clashing = Map::new();
        for (k, v) in payload {
            if map.contains_key(&k) {
                clashing.insert(k, v);
            } else {
                map.insert(k, v);
            }
        }
        if !clashing.is_empty() {
            map.insert("jsonPayload".into(), Value::Object(clashing));
        }
    }
    message
        .or_else(|| map.get("httpRequest").and_then(request_line))
        .or_else(|| {
            let method = map.get("protoPayload")?.get("methodName")?.as_str()?;
            Some(method.to_string())
        })
}

/// `GET https://x.a.run.app/v1/carts 503` of a LogEntry's `httpRequest`.
fn request_line(http: &Value) -> Option<String> {
    let mut line = String::new();
    for key in ["requestMethod", "requestUrl", "status"] {
        match http.get(key) {
            Some(Value::String(s)) if !s.is_empty() => line.push_str(s),
            Some(Value::Number(n)) => line.push_str(&n.to_string()),
            _ => continue,
        }
        line.push(' ');
    }
    line.pop()?;
    Some(line)
}

/// The service a LogEntry's monitored resource names: Cloud Run's, GKE's container, Cloud
/// Functions'.
fn log_entry_service(map: &Map<String, Value>) -> Option<String> {
    let labels = map.get("resource")?.get("labels")?;
    ["service_name", "container_name", "function_name"]
        .iter()
        .find_map(|k| labels.get(*k)?.as_str().filter(|s| !s.is_empty()))
        .map(str::to_string)
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

        let p = record(
            r#"{"event": "job started", "job": "export", "level": "info", "timestamp": "2026-12-12T01:00:02.000050Z"}"#,
        );
        assert_eq!(p.message, "job started");
        assert_eq!(p.fields["job"], "export");
        assert!(!p.fields.contains_key("event"));
        let p = record(r#"{"event":"user.login","msg":"ok"}"#);
        assert_eq!(
            (p.message.as_str(), &p.fields["event"]),
            ("ok", &Value::from("user.login"))
        );

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
        // Its exception follows the message.
        let p = record(
            r#"{"@t":"2026-11-20T10:00:00Z","@mt":"Unobserved task exception","@l":"Error","@x":"System.AggregateException: A Task's exception(s) were not observed\n   at X.Y()"}"#,
        );
        assert_eq!(
            p.message,
            "Unobserved task exception\nSystem.AggregateException: A Task's exception(s) were not observed\n   at X.Y()"
        );
        assert!(!p.fields.contains_key("@x"));
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
    fn journal_export() {
        let p = record(
            r#"{"__CURSOR":"s=965c;i=2a41c00","__REALTIME_TIMESTAMP":"1795752003016423","__MONOTONIC_TIMESTAMP":"1047604250990","PRIORITY":"3","SYSLOG_FACILITY":"3","SYSLOG_IDENTIFIER":"ingest-worker","_TRANSPORT":"journal","_SOURCE_REALTIME_TIMESTAMP":"1795752003016100","MESSAGE":"Task exception was never retrieved\nfuture: <Task finished name='Task-49197' coro=<Enricher.enrich() done, defined at /opt/ingest/ingest/enrich.py:70> exception=KeyError('tenant_id')>","_PID":"2211","_COMM":"python3.11","_SYSTEMD_UNIT":"ingest-worker.service","_HOSTNAME":"ingest-03"}"#,
        );
        // The program's own time, not journald's.
        assert_eq!(p.timestamp, Some(1_795_752_003_016_100_000));
        assert_eq!(p.level, Some((Level::Error, "3".into())));
        assert!(p
            .message
            .starts_with("Task exception was never retrieved\nfuture: <Task finished"));
        assert_eq!(p.service.as_deref(), Some("ingest-worker"));
        // Nothing else lost.
        assert_eq!(p.fields["__REALTIME_TIMESTAMP"], "1795752003016423");
        assert_eq!(p.fields["_PID"], "2211");
        assert_eq!(p.fields["_SYSTEMD_UNIT"], "ingest-worker.service");
        assert_eq!(p.fields["_HOSTNAME"], "ingest-03");
        for gone in ["PRIORITY", "MESSAGE", "_SOURCE_REALTIME_TIMESTAMP"] {
            assert!(!p.fields.contains_key(gone), "{gone}");
        }

        // A unit's entry without an identifier, its message not UTF-8.
        let p = record(
            r#"{"__REALTIME_TIMESTAMP":"1795752003016423","PRIORITY":"4","MESSAGE":[108,111,119,32,100,105,115,107,32,255],"_SYSTEMD_UNIT":"backup.service","_COMM":"tar"}"#,
        );
        assert_eq!(p.timestamp, Some(1_795_752_003_016_423_000));
        assert_eq!(p.level.map(|l| l.0), Some(Level::Warn));
        assert_eq!(p.message, "low disk \u{fffd}");
        assert_eq!(p.service.as_deref(), Some("backup"));
        let p = record(r#"{"MESSAGE":"oom-kill","PRIORITY":"0","_COMM":"kernel"}"#);
        assert_eq!(p.level.map(|l| l.0), Some(Level::Fatal));
        assert_eq!(p.service.as_deref(), Some("kernel"));
        // `MESSAGE` alone is no journal: an app's own key.
        let p = record(r#"{"MESSAGE":"m","level":"info"}"#);
        assert_eq!(p.message, "{\"MESSAGE\":\"m\",\"level\":\"info\"}");
    }

    #[test]
    fn cloud_logging_entries() {
        let p = record(
            r#"{"insertId":"ba50","jsonPayload":{"message":"request failed","err":{"type":"FetchError","message":"socket hang up"},"route":"/v1/carts"},"labels":{"instanceId":"13f8"},"logName":"projects/acme/logs/run.googleapis.com%2Fstdout","receiveTimestamp":"2026-11-25T13:30:01.204746055Z","resource":{"type":"cloud_run_revision","labels":{"project_id":"acme","service_name":"checkout-api","revision_name":"checkout-api-00042-abc","location":"europe-west1"}},"severity":"ERROR","timestamp":"2026-11-25T13:30:01.198000Z"}"#,
        );
        assert_eq!(p.timestamp, Some(1_795_613_401_198_000_000));
        assert_eq!(p.level.map(|l| l.0), Some(Level::Error));
        assert_eq!(p.message, "request failed");
        assert_eq!(p.service.as_deref(), Some("checkout-api"));
        assert_eq!(p.fields["route"], "/v1/carts");
        assert_eq!(p.fields["err"]["message"], "socket hang up");
        assert_eq!(p.fields["labels"]["instanceId"], "13f8");
        assert!(!p.fields.contains_key("jsonPayload"));

        let p = record(
            r#"{"insertId":"77a1","textPayload":"Starting new instance. Reason: DEPLOYMENT_ROLLOUT - Instance started due to traffic shifting between revisions.","logName":"projects/acme/logs/run.googleapis.com%2Fvarlog%2Fsystem","resource":{"type":"cloud_run_revision","labels":{"service_name":"checkout-api"}},"severity":"INFO","timestamp":"2026-11-25T13:31:12.347Z"}"#,
        );
        assert!(p.message.starts_with("Starting new instance. Reason:"));
        assert_eq!(p.level.map(|l| l.0), Some(Level::Info));
        assert!(!p.fields.contains_key("textPayload"));

        let p = record(
            r#"{"httpRequest":{"requestMethod":"GET","requestUrl":"https://x.a.run.app/v1/carts/c_1","status":503,"latency":"1.492495s","protocol":"HTTP/1.1"},"logName":"projects/acme/logs/run.googleapis.com%2Frequests","resource":{"type":"cloud_run_revision","labels":{"service_name":"checkout-api"}},"severity":"ERROR","timestamp":"2026-11-25T13:31:22.101Z","trace":"projects/acme/traces/abc"}"#,
        );
        assert_eq!(p.message, "GET https://x.a.run.app/v1/carts/c_1 503");
        assert_eq!(p.fields["httpRequest"]["status"], 503);
        assert_eq!(p.fields["trace"], "projects/acme/traces/abc");
        assert_eq!(p.service.as_deref(), Some("checkout-api"));

        // GKE: pino's record as the payload, the entry's severity unknown; an audit log.
        let p = record(
            r#"{"jsonPayload":{"level":50,"time":1795613401198,"pid":1,"hostname":"web-7f9c","msg":"db down","severity":"x"},"resource":{"type":"k8s_container","labels":{"container_name":"web","namespace_name":"shop"}},"severity":"DEFAULT","timestamp":"2026-11-25T13:30:01.198Z"}"#,
        );
        assert_eq!(p.message, "db down");
        assert_eq!(p.level.map(|l| l.0), Some(Level::Error));
        assert_eq!(p.service.as_deref(), Some("web"));
        assert_eq!(p.fields["severity"], "DEFAULT");
        assert_eq!(p.fields["jsonPayload"]["severity"], "x");
        assert_eq!(p.fields["time"], 1_795_613_401_198_i64);
        let p = record(
            r#"{"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","methodName":"google.cloud.run.v1.Services.ReplaceService"},"resource":{"type":"cloud_run_revision","labels":{"function_name":"resize"}},"logName":"projects/acme/logs/cloudaudit.googleapis.com%2Factivity","severity":"NOTICE","timestamp":"2026-11-25T13:31:22.101Z"}"#,
        );
        assert_eq!(p.message, "google.cloud.run.v1.Services.ReplaceService");
        assert_eq!(p.service.as_deref(), Some("resize"));
        assert!(p.fields.contains_key("protoPayload"));
    }

    #[test]
    fn mongodb_structured_log() {
        let p = record(
            r#"{"t":{"$date":"2026-12-03T07:05:04.059+00:00"},"s":"I",  "c":"NETWORK",  "id":22943,   "ctx":"listener","msg":"Connection accepted","attr":{"remote":"10.4.9.5:39737","connectionId":47331,"connectionCount":58}}"#,
        );
        assert_eq!(p.timestamp, Some(1_796_281_504_059_000_000));
        assert_eq!(p.level, Some((Level::Info, "I".into())));
        assert_eq!(p.message, "Connection accepted");
        assert_eq!(p.fields["attr"]["connectionCount"], 58);
        assert_eq!(p.fields["c"], "NETWORK");
        assert!(!p.fields.contains_key("s"));
        let p = record(
            r#"{"t":{"$date":1796281504059},"s":"D2","c":"QUERY","id":1,"ctx":"conn7","msg":"m"}"#,
        );
        assert_eq!(p.timestamp, Some(1_796_281_504_059_000_000));
        assert_eq!(p.level.map(|l| l.0), Some(Level::Debug));
        let p = record(
            r#"{"t":{"$date":{"$numberLong":"1796281504059"}},"s":"F","c":"-","id":2,"ctx":"main","msg":"m"}"#,
        );
        assert_eq!(p.timestamp, Some(1_796_281_504_059_000_000));
        assert_eq!(p.level.map(|l| l.0), Some(Level::Fatal));
        // `s` is no severity elsewhere.
        let p = record(r#"{"ts":1796281504,"s":"E","msg":"m"}"#);
        assert_eq!(p.level, None);
        assert_eq!(p.fields["s"], "E");
    }

    #[test]
    fn kubernetes_events() {
        let p = record(
            r#"{"metadata":{"name":"x.1","namespace":"payments","creationTimestamp":"2026-11-28T09:01:00Z"},"reason":"OOMKilling","message":"Memory cgroup out of memory: Killed process 4242 (ledger-api)","source":{"component":"kernel-monitor"},"firstTimestamp":"2026-11-28T12:23:50Z","lastTimestamp":"2026-11-28T12:23:50Z","count":1,"type":"Warning"}"#,
        );
        assert_eq!(p.timestamp, Some(1_795_868_630_000_000_000));
        assert_eq!(p.level, Some((Level::Warn, "Warning".into())));
        assert!(p.message.starts_with("Memory cgroup out of memory"));
        assert_eq!(p.fields["reason"], "OOMKilling");
        assert_eq!(p.fields["firstTimestamp"], "2026-11-28T12:23:50Z");
        // core/v1 leaves `eventTime` null: the last occurrence is read past it.
        let p = record(
            r#"{"involvedObject":{"kind":"Pod","name":"web-1"},"reason":"Pulled","message":"Container image already present","eventTime":null,"firstTimestamp":"2026-11-28T12:00:00Z","lastTimestamp":"2026-11-28T12:23:50Z","type":"Normal"}"#,
        );
        assert_eq!(p.timestamp, Some(1_795_868_630_000_000_000));
        assert_eq!(p.level.map(|l| l.0), Some(Level::Info));
        assert_eq!(p.fields["eventTime"], Value::Null);
        // `type` is no level elsewhere.
        let p = record(r#"{"type":"Warning","msg":"m"}"#);
        assert_eq!(p.level, None);
    }

    #[test]
    fn not_json() {
        assert!(parse("{not json}", 0, TimeHints::default()).is_none());
        assert!(parse("[1,2]", 0, TimeHints::default()).is_none());
    }
}
