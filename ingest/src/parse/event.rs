//! From parsed lines to records: the head of an event (its first line, in whatever format the
//! source writes), the event being assembled, and the record finally built from them.

use serde_json::{Map, Value};

use super::multiline::{self, Mode};
use super::prefix::Peeled;
use super::time::Leading;
use super::{access, lambda, level, logfmt, At, Format, Parts, SourceInfo, TimeHints};
use crate::record::{Level, LogRecord, Nanos};

/// What every record of a source shares.
pub struct Source {
    info: SourceInfo,
    /// Service name from the file name, when neither the configuration nor the line gives one.
    stem: String,
    /// The last event was an access-log line: the access-log parser is tried first on the next
    /// one, without the cheap shape test.
    access: bool,
}

impl Source {
    pub fn new(info: SourceInfo) -> Self {
        Source {
            stem: stem(&info.source),
            info,
            access: false,
        }
    }

    /// Parses the first line of an event. `body` is the line without runtime prefix, `own` its
    /// leading timestamp; the message starts as `message_line`. `format` says which shapes are
    /// tried.
    pub fn head(
        &mut self,
        body: &str,
        message_line: &str,
        own: Option<Leading>,
        observed: Nanos,
        format: Format,
        hints: TimeHints<'_>,
    ) -> Parts {
        if let (Format::Auto, Some(l)) = (format, own) {
            if let Some(parts) = lambda::parse(body, l) {
                self.access = false;
                return parts;
            }
        }
        if format == Format::Auto && (self.access || looks_like_access(body)) {
            if let Some(parts) = access::parse(body).or_else(|| access::haproxy(body)) {
                self.access = true;
                return parts;
            }
        }
        self.access = false;
        let rest = match own {
            Some(l) => body[l.len..].trim_start_matches([' ', ']', ',', ':', '|']),
            None => body,
        };
        if let (Format::Auto, Some(l), Some(b'"')) = (format, own, rest.as_bytes().first()) {
            if let Some(parts) = access::envoy(rest, message_line, l.nanos) {
                return parts;
            }
        }
        let logfmt = match format {
            Format::Auto => logfmt::looks_like(rest),
            Format::Logfmt => true,
            Format::Json | Format::Text => false,
        };
        if logfmt {
            let mut parts = logfmt::parse(rest, message_line, observed, hints);
            if parts.timestamp.is_none() {
                parts.timestamp = own.map(|l| l.nanos);
            }
            if parts.level.is_none() {
                parts.level = level::in_text(rest).map(|(l, raw)| (l, raw.to_string()));
            }
            return parts;
        }
        let found = match own {
            Some(l) if l.glog => level::letter(body.as_bytes()[0]).map(|l| (l, &body[..1])),
            Some(l) if l.level_first => level::in_text(body),
            _ => level::in_text(rest),
        };
        Parts {
            timestamp: own.map(|l| l.nanos),
            level: found.map(|(l, raw)| (l, raw.to_string())),
            message: message_line.to_string(),
            service: None,
            fields: Map::new(),
        }
    }

    /// The record of a finished event.
    pub fn record(&self, parts: Parts, offset: u64, observed: Nanos) -> LogRecord {
        let (level, level_raw) = match parts.level {
            Some((l, raw)) => (l, Some(raw).filter(|r| !r.is_empty())),
            None => (Level::Info, None),
        };
        let service = self
            .info
            .service
            .clone()
            .or(parts.service)
            .unwrap_or_else(|| self.stem.clone());
        LogRecord {
            id: LogRecord::file_id(self.info.fingerprint, offset),
            timestamp: parts.timestamp.unwrap_or(observed),
            observed,
            service,
            host: self.info.host.clone(),
            source: self.info.source.clone(),
            level,
            level_raw,
            message: parts.message,
            fields: parts.fields,
        }
    }
}

/// `client ident user [` near the start: worth trying the access-log parser.
fn looks_like_access(body: &str) -> bool {
    let head = &body.as_bytes()[..body.len().min(80)];
    head.windows(2).any(|w| w == b" [")
        && head
            .first()
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b':')
}

/// The service a file name suggests: `/var/log/checkout.log` → `checkout`,
/// `app.log.1` → `app`, `server.log.2016-12-19-16` → `server`.
pub fn stem(source: &str) -> String {
    let name = source.rsplit(['/', '\\']).next().unwrap_or(source);
    let mut name = name;
    while let Some((head, ext)) = name.rsplit_once('.') {
        let rotation = !ext.is_empty()
            && ext
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'-' || b == b'_');
        let known = matches!(
            ext,
            "log" | "txt" | "out" | "err" | "gz" | "zst" | "json" | "jsonl" | "ndjson" | "old"
        );
        if head.is_empty() || !(rotation || known) {
            break;
        }
        name = head;
    }
    name.to_string()
}

/// Lines of one event come from the same program: same syslog tag and pid, same stream, same
/// CloudWatch log stream, same pod and container.
pub fn context(peeled: &Peeled<'_>, stream: Option<&str>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    if let Some(s) = &peeled.syslog {
        (s.host, s.app, s.pid).hash(&mut h);
    }
    stream.hash(&mut h);
    // Hashed only when there, so that lines without these prefixes cost no more.
    if let Some(s) = peeled.log_stream {
        s.hash(&mut h);
    }
    if let Some(k) = peeled.kube {
        (k.pod, k.container).hash(&mut h);
    }
    h.finish()
}

/// Adds what the runtime prefix and wrappers said where the line itself said nothing (time,
/// syslog priority, program name), the syslog header, stream, CloudWatch log stream, pod and
/// container as fields, and the truncation mark.
pub fn add_context(
    parts: &mut Parts,
    peeled: &Peeled<'_>,
    time: Option<Nanos>,
    stream: Option<&str>,
    truncated: bool,
) {
    parts.timestamp = parts.timestamp.or(time);
    if parts.level.is_none() {
        parts.level = peeled.level.clone();
    }
    // A syslog program name (`node`, `systemd`) names the process, not the service: it goes
    // to the fields, and the service stays the record's own or the file's stem.
    let fields = &mut parts.fields;
    if let Some(s) = &peeled.syslog {
        let mut put = |k: &str, v: Option<&str>| {
            if let Some(v) = v {
                fields
                    .entry(k)
                    .or_insert_with(|| Value::String(v.to_string()));
            }
        };
        put("hostname", s.host);
        put("appname", s.app);
        put("pid", s.pid);
        put("msgid", s.msgid);
        put("structured_data", s.structured);
    }
    let kube = peeled.kube.as_ref();
    let wrapper = [
        ("stream", stream),
        ("log_stream", peeled.log_stream),
        ("pod", kube.map(|k| k.pod)),
        ("container", kube.map(|k| k.container)),
    ];
    for (k, v) in wrapper {
        if let Some(v) = v {
            fields
                .entry(k)
                .or_insert_with(|| Value::String(v.to_string()));
        }
    }
    if truncated {
        fields.insert("truncated".into(), Value::Bool(true));
    }
}

/// An event being assembled.
pub struct Pending {
    pub offset: u64,
    pub observed: Nanos,
    /// Observed time of its last line.
    pub since: Nanos,
    pub mode: Mode,
    pub context: u64,
    pub message: String,
    /// The first line carries its own timestamp: later lines without one continue the event.
    pub timestamped: bool,
    /// That timestamp was an RFC 3339 prefix, which may yet show itself to be docker's.
    pub iso_stamped: bool,
    /// Lines glued so far, to bound how much a timestamp-less run can add to one event.
    pub lines: usize,
    /// Length of an RFC 3339 prefix kept at the start of `message` as the program's own.
    pub iso_prefix: Option<usize>,
    /// The time a runtime's wrapper (CRI, docker) gave its last line.
    pub wrapped_at: Option<Nanos>,
    parts: Parts,
    /// The level its kind implies (a traceback is an error) when the line names none.
    implied: Option<Level>,
    stack: bool,
}

impl Pending {
    pub fn new(mut parts: Parts, implied: Option<Level>, mode: Mode, context: u64, at: At) -> Self {
        Pending {
            offset: at.offset,
            observed: at.observed,
            since: at.observed,
            mode,
            context,
            message: std::mem::take(&mut parts.message),
            iso_prefix: None,
            wrapped_at: None,
            timestamped: false,
            iso_stamped: false,
            lines: 1,
            parts,
            implied,
            stack: false,
        }
    }

    /// Does the event's first line name a level of error or worse?
    pub fn is_error(&self) -> bool {
        self.parts
            .level
            .as_ref()
            .is_some_and(|(l, _)| *l >= Level::Error)
    }

    pub fn append(&mut self, line: &str, at: At) {
        self.message.push('\n');
        self.message.push_str(line);
        self.lines += 1;
        self.since = at.observed;
        self.stack |= multiline::is_stack_frame(line);
        if at.truncated {
            self.parts
                .fields
                .insert("truncated".into(), Value::Bool(true));
        }
    }

    /// The event's parts, offset and observed time.
    pub fn finish(mut self) -> (Parts, u64, Nanos) {
        // Blank lines glued at the end belong to no one; trailing spaces of a line stay.
        let last = self.message.trim_end().len();
        let kept = self.message[last..]
            .find('\n')
            .map_or(self.message.len(), |n| last + n);
        self.message.truncate(kept);
        self.parts.message = self.message;
        if self.parts.level.is_none() {
            let implied = self.implied.or(self.stack.then_some(Level::Error));
            self.parts.level = implied.map(|l| (l, String::new()));
        }
        (self.parts, self.offset, self.observed)
    }
}

#[cfg(test)]
mod tests {
    use super::stem;

    #[test]
    fn stems() {
        assert_eq!(stem("/var/log/checkout.log"), "checkout");
        assert_eq!(stem("app.log.1"), "app");
        assert_eq!(stem("/k/server.log.2016-12-19-16"), "server");
        assert_eq!(stem("C:\\logs\\api.log.gz"), "api");
        assert_eq!(stem(".log"), ".log");
        assert_eq!(stem("api"), "api");
        assert_eq!(stem("my.service.log"), "my.service");
    }
}
