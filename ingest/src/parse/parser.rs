//! [`SourceParser`]: one source's state, and the path of a line through prefix peeling, partial
//! line joining, JSON unwrapping and multiline assembly.

use super::event::{self, Pending, Source};
use super::multiline::{self, Glue, Mode};
use super::{
    access, json, level, logfmt, prefix, time, w3c, At, Format, Outer, ParseOptions, SourceInfo,
    TimeHints,
};
use crate::record::{LogRecord, Nanos};

/// Events assembled at once in one source, in as many contexts.
const MAX_OPEN: usize = 4;

/// A level padded to five characters after the time (Spring Boot's `%5p`: ` INFO`): the
/// start of an event, though the line after the time starts with a space.
fn padded_level(body: &str) -> bool {
    let Some(rest) = body.strip_prefix(' ') else {
        return false;
    };
    ["INFO ", "WARN ", "DEBUG ", "TRACE ", "ERROR ", "FATAL "]
        .iter()
        .any(|l| rest.trim_start_matches(' ').starts_with(l))
        && rest.len() - rest.trim_start_matches(' ').len() <= 1
}
/// At most this many lines join an event only because they carry no timestamp of their own.
const MAX_TIMESTAMPLESS_LINES: usize = 1000;

/// Lines that a runtime's wrapper (CRI, docker) stamps further apart than this are not one
/// event, whatever their shape: a program writes a stack trace at once. Offline, where every
/// line is read at the same moment, nothing else stops an indented line from joining an event
/// of an hour before.
const MAX_WRAPPED_GAP: Nanos = 2_000_000_000;

/// Per-source parsing state: the detected format and the event being assembled.
pub struct SourceParser {
    source: Source,
    opts: ParseOptions,
    /// Events being assembled, one per context (program, stream), oldest first: stderr's stack
    /// trace goes on while stdout writes, and syslog programs interleave.
    pending: Vec<Pending>,
    /// A CRI/docker partial line waiting for its end.
    partial: Option<Partial>,
    /// RFC 3339 prefixes in this source have been seen in front of the program's own timestamp
    /// or JSON: they are docker's, not the program's.
    docker_prefix: bool,
    /// The columns the last W3C `#Fields:` directive named (IIS logs).
    w3c: Option<w3c::Columns>,
    /// The context of the last line behind an `aws logs tail` prefix: the lines of a CloudWatch
    /// event after its first come bare, and continue it.
    log_stream: Option<u64>,
}

struct Partial {
    at: At,
    text: String,
    time: Option<Nanos>,
    stream: Option<String>,
    /// Parts come wrapped in docker json-file lines, not behind CRI prefixes.
    docker: bool,
    /// Observed time of the last part.
    since: Nanos,
}

impl SourceParser {
    pub fn new(info: SourceInfo, opts: ParseOptions) -> Self {
        SourceParser {
            source: Source::new(info),
            opts,
            pending: Vec::new(),
            w3c: None,
            partial: None,
            docker_prefix: false,
            log_stream: None,
        }
    }

    /// Feeds one line (without its line terminator; a `\r` left of a `\r\n` is dropped) that starts
    /// at byte `offset` of the source and was read at `observed`. Completed events are appended
    /// to `out`. A line longer than `max_line_bytes` is cut and marked: pass it whole, or cut to
    /// at least `max_line_bytes + 1` bytes, for the mark to be set.
    pub fn push_line(
        &mut self,
        line: &[u8],
        offset: u64,
        observed: Nanos,
        out: &mut Vec<LogRecord>,
    ) {
        self.flush_older(observed, out);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let truncated = line.len() > self.opts.max_line_bytes;
        let line = &line[..line.len().min(self.opts.max_line_bytes)];
        let text = String::from_utf8_lossy(line);
        let at = At {
            offset,
            observed,
            truncated,
        };
        self.take_line(&text, at, Outer::default(), out);
    }

    /// The longest line kept; longer ones are cut and marked.
    pub fn max_line_bytes(&self) -> usize {
        self.opts.max_line_bytes
    }

    /// Emits the pending events, if any: at end of input, or when
    /// [`pending_since`](Self::pending_since) is older than the flush timeout.
    pub fn flush(&mut self, out: &mut Vec<LogRecord>) {
        self.finish_partial(out);
        while !self.pending.is_empty() {
            self.emit(0, out);
        }
    }

    /// Emits what has waited longer than the flush timeout at `observed`.
    fn flush_older(&mut self, observed: Nanos, out: &mut Vec<LogRecord>) {
        let timeout = self.opts.multiline_flush;
        let stale = move |since: Nanos| observed.saturating_sub(since) > timeout;
        if self.partial.as_ref().is_some_and(|p| stale(p.since)) {
            self.finish_partial(out);
        }
        let mut i = 0;
        while i < self.pending.len() {
            if stale(self.pending[i].since) {
                self.emit(i, out);
            } else {
                i += 1;
            }
        }
    }

    /// Byte offset where the earliest pending (not yet emitted) event starts, if one is pending.
    /// A checkpoint must not advance past it.
    pub fn pending_offset(&self) -> Option<u64> {
        let event = self.pending.iter().map(|p| p.offset).min();
        let partial = self.partial.as_ref().map(|p| p.at.offset);
        match (event, partial) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Observed time of the last line added to a pending event. When it is older than the flush
    /// timeout, no line has come for any pending event for that long: [`flush`](Self::flush) is
    /// due. (While lines come, `push_line` emits each event that has waited past the timeout.)
    pub fn pending_since(&self) -> Option<Nanos> {
        let event = self.pending.iter().map(|p| p.since).max();
        let partial = self.partial.as_ref().map(|p| p.since);
        event.max(partial)
    }

    fn take_line(&mut self, text: &str, at: At, outer: Outer<'_>, out: &mut Vec<LogRecord>) {
        let peeled = prefix::peel(text, at.observed);
        let outer = Outer {
            time: outer.time.or(peeled.time),
            stream: outer.stream.or(peeled.stream),
        };
        // A docker json-file partial waits for the next JSON line, unwrapped below.
        let cri_partial = self.partial.as_ref().is_some_and(|p| !p.docker);
        if peeled.partial || cri_partial {
            self.join_partial(peeled.body, peeled.partial, false, at, outer, out);
            return;
        }
        // What the program wrote starts after `kubectl logs --prefix`'s pod and container.
        let text = peeled.kube.map_or(text, |k| k.line);
        self.take_body(&peeled, text, at, outer, out);
    }

    /// The context of a line's event, and whether the line is a bare one taking the context of
    /// the last CloudWatch log stream.
    fn context(
        &mut self,
        peeled: &prefix::Peeled<'_>,
        text: &str,
        outer: Outer<'_>,
    ) -> (u64, bool) {
        let context = event::context(peeled, outer.stream);
        if peeled.log_stream.is_some() {
            self.log_stream = Some(context);
            return (context, false);
        }
        let bare = peeled.body.len() == text.len()
            && outer.time.is_none()
            && outer.stream.is_none()
            && peeled.syslog.is_none()
            && peeled.kube.is_none();
        match self.log_stream {
            Some(stream) if bare => (stream, true),
            _ => (context, false),
        }
    }

    /// Joins CRI/docker partial lines; the whole line takes the first part's offset.
    fn join_partial(
        &mut self,
        body: &str,
        more: bool,
        docker: bool,
        at: At,
        outer: Outer<'_>,
        out: &mut Vec<LogRecord>,
    ) {
        let limit = self.opts.max_line_bytes;
        let p = self.partial.get_or_insert_with(|| Partial {
            at,
            text: String::new(),
            time: outer.time,
            stream: outer.stream.map(str::to_string),
            docker,
            since: at.observed,
        });
        let room = limit.saturating_sub(p.text.len());
        if body.len() > room {
            p.text.push_str(&body[..level::floor_boundary(body, room)]);
            p.at.truncated = true;
        } else {
            p.text.push_str(body);
        }
        p.at.truncated |= at.truncated;
        p.since = at.observed;
        if !more || p.text.len() >= limit {
            self.finish_partial(out);
        }
    }

    /// Parses the joined partial line, if there is one.
    fn finish_partial(&mut self, out: &mut Vec<LogRecord>) {
        if let Some(p) = self.partial.take() {
            let outer = Outer {
                time: p.time,
                stream: p.stream.as_deref(),
            };
            let peeled = prefix::Peeled {
                body: &p.text,
                ..Default::default()
            };
            self.take_body(&peeled, &p.text, p.at, outer, out);
        }
    }

    fn take_body(
        &mut self,
        peeled: &prefix::Peeled<'_>,
        text: &str,
        at: At,
        outer: Outer<'_>,
        out: &mut Vec<LogRecord>,
    ) {
        let body = peeled.body;
        let format = self.opts.format;
        if text.starts_with('#') {
            if let Some(columns) = w3c::Columns::directive(text) {
                self.w3c = Some(columns);
            }
        } else if let Some(parts) = self.w3c.as_ref().and_then(|c| c.parse(text)) {
            let (context, _) = self.context(peeled, text, outer);
            if let Some(i) = self.pending.iter().position(|p| p.context == context) {
                self.emit(i, out);
            }
            out.push(self.source.record(parts, at.offset, at.observed));
            return;
        }
        if body.starts_with('{') {
            match json::parse(body, at.observed, self.time_hints()) {
                Some(json::Json::Docker { log, stream, time }) => {
                    let (line, more) = match log.strip_suffix('\n') {
                        Some(l) => (l.strip_suffix('\r').unwrap_or(l), false),
                        None => (log.as_str(), true),
                    };
                    let outer = Outer {
                        time: time.or(outer.time),
                        stream: stream.as_deref().or(outer.stream),
                    };
                    if more || self.partial.is_some() {
                        self.join_partial(line, more, true, at, outer, out);
                    } else {
                        self.take_line(line, at, outer, out);
                    }
                    return;
                }
                // A JSON line in a source configured as text or logfmt is a message.
                Some(json::Json::Record(mut parts))
                    if matches!(format, Format::Auto | Format::Json) =>
                {
                    let (context, _) = self.context(peeled, text, outer);
                    if let Some(i) = self.pending.iter().position(|p| p.context == context) {
                        self.emit(i, out);
                    }
                    if peeled.iso.is_some() {
                        self.docker_prefix = true;
                    }
                    event::add_context(&mut parts, peeled, outer.time, outer.stream, at.truncated);
                    out.push(self.source.record(parts, at.offset, at.observed));
                    return;
                }
                _ => {}
            }
        }
        // The configured format first, then what the prefix scan found, then the known shapes.
        let configured =
            (self.opts.timestamp_format.as_deref()).and_then(|f| time::with_format(body, f));
        let own = match (configured, peeled.lead) {
            (Some(lead), _) => Some(lead),
            (None, Some(lead)) => lead,
            (None, None) => time::leading(body, at.observed),
        };
        if peeled.iso.is_some() && own.is_some() {
            self.docker_prefix = true;
        }
        let iso_is_own = peeled.iso.is_some() && !self.docker_prefix;
        let headed = own.is_some()
            || body.starts_with("{\"")
            || match format {
                Format::Auto => logfmt::is_record(body),
                Format::Logfmt => logfmt::looks_like(body),
                Format::Json | Format::Text => false,
            }
            || peeled.syslog.as_ref().is_some_and(|s| !s.continuable())
            || peeled.lambda
            || multiline::marked(body);
        let (context, bare_in_stream) = self.context(peeled, text, outer);

        let mut open = self.pending.iter().position(|p| p.context == context);
        if let Some(i) = open {
            let p = &mut self.pending[i];
            // An RFC 3339 prefix still taken for the program's own time heads a new event,
            // unless the line continues by its shape (indented…) or a crash report is being
            // read: then the prefix shows itself to be docker's.
            let iso_headed = iso_is_own
                && p.mode == Mode::Plain
                && (!multiline::explicit(body) || padded_level(body));
            // A timestamp that turned out to be docker's says nothing about how the program
            // starts its events; and no run of timestamp-less lines makes an endless event. A
            // bare line after a CloudWatch event is its message's next line.
            let timestamped = (bare_in_stream
                || p.timestamped && !(p.iso_stamped && self.docker_prefix))
                && p.lines < MAX_TIMESTAMPLESS_LINES;
            // An access-log line has its time inside: it heads its own record, though a
            // timestamped event is pending.
            let headed = headed || (timestamped && format == Format::Auto && access::is_line(body));
            let apart = matches!((p.wrapped_at, outer.time), (Some(a), Some(b)) if b.abs_diff(a) > MAX_WRAPPED_GAP as u64);
            let glue = match &self.opts.multiline_start {
                Some(start) if start.is_match(body) => Glue::No,
                Some(_) => Glue::Continue(Mode::Plain),
                None => multiline::glue(
                    p.mode,
                    body,
                    headed || iso_headed || apart,
                    timestamped,
                    p.is_error(),
                ),
            };
            if glue != Glue::No {
                if let (Some(_), Some(len)) = (peeled.iso, p.iso_prefix.take()) {
                    // The event's first line kept its RFC 3339 prefix as the program's own
                    // timestamp; a continuation behind the same prefix shows it is docker's.
                    self.docker_prefix = true;
                    p.message.drain(..len.min(p.message.len()));
                }
                if p.message.len() + body.len() < self.opts.max_line_bytes {
                    p.append(body, at);
                    p.wrapped_at = outer.time.or(p.wrapped_at);
                    if let Glue::Continue(mode) = glue {
                        p.mode = mode;
                    } else {
                        self.emit(i, out);
                    }
                    return;
                }
                // Too big: the event is cut here, the rest continues as a new record.
                self.emit(i, out);
                open = None;
            }
        }
        if body.trim().is_empty() {
            return;
        }
        if let Some(i) = open {
            self.emit(i, out);
        }
        let message_line = if iso_is_own { text } else { body };
        let (mode, implied) = multiline::start(body);
        let hints = TimeHints {
            field: self.opts.timestamp_field.as_deref(),
            format: self.opts.timestamp_format.as_deref(),
        };
        let mut parts = self
            .source
            .head(body, message_line, own, at.observed, format, hints);
        event::add_context(&mut parts, peeled, outer.time, outer.stream, at.truncated);
        let kept_prefix = iso_is_own && parts.message == text;
        let mut pending = Pending::new(parts, implied, mode, context, at);
        pending.iso_prefix = peeled.iso.filter(|_| kept_prefix);
        pending.timestamped = own.is_some() || iso_is_own;
        pending.wrapped_at = outer.time;
        pending.iso_stamped = own.is_none() && iso_is_own;
        if self.pending.len() == MAX_OPEN {
            self.emit(0, out);
        }
        self.pending.push(pending);
    }

    fn time_hints(&self) -> TimeHints<'_> {
        TimeHints {
            field: self.opts.timestamp_field.as_deref(),
            format: self.opts.timestamp_format.as_deref(),
        }
    }

    /// Emits the `i`th pending event.
    fn emit(&mut self, i: usize, out: &mut Vec<LogRecord>) {
        let (parts, offset, observed) = self.pending.remove(i).finish();
        out.push(self.source.record(parts, offset, observed));
    }
}
