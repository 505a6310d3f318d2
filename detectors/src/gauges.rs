//! Gauges: numbers in records that describe a level (memory, queue depth, connections…).
//!
//! From structured fields (JSON, logfmt) whose names say "gauge" (`rss`, `heapUsed`,
//! `heap_*`, `mem*`, `*_bytes`, queue depth/length, connections, goroutines, open fds) and are
//! not counters (`*_total`, `*_count`, uptime, sequence numbers, offsets); and from GC logs:
//! Node `--trace-gc`, JVM unified and legacy, Go `gctrace`, where the heap after collection is
//! the gauge. Also limits (heap limit, configured max) for projecting exhaustion. Pure.

use std::sync::LazyLock;

use firewatch_ingest::LogRecord;
use regex::Regex;
use serde_json::{Map, Value};

/// One gauge sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Dotted field path, or `gc_heap_after` for GC logs.
    pub name: String,
    pub value: f64,
    /// The capacity this gauge can grow to, when the same line says it (JVM `(1024M)`).
    pub capacity: Option<f64>,
}

impl Sample {
    /// A sample without a known capacity.
    fn of(name: String, value: f64) -> Sample {
        Sample {
            name,
            value,
            capacity: None,
        }
    }
}

/// What a record says about a limit of the service's memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryLimit(pub f64);

const MB: f64 = 1024.0 * 1024.0;

static NODE_GC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Sweep|Mark-Compact \(reduce\))\S*\s+[\d.]+ \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB")
        .expect("valid regex")
});
static JVM_UNIFIED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"GC\(\d+\) Pause .*?(\d+)([KMG])->(\d+)([KMG])\((\d+)([KMG])\)")
        .expect("valid regex")
});
static JVM_LEGACY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\d+)([KMG])->(\d+)([KMG])\((\d+)([KMG])\)").expect("valid regex")
});
/// ZGC: `GC(7422) Garbage Collection (Allocation Rate) 2665M(65%)->1043M(25%)`, the share of
/// the heap's capacity in parentheses.
static ZGC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"GC\(\d+\) Garbage Collection \([^)]*\) \d+[KMG]\(\d+%\)->(\d+)([KMG])\((\d+)%\)")
        .expect("valid regex")
});
static GO_GC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"gc \d+ @[\d.]+s .*?(\d+)->(\d+)->(\d+) MB").expect("valid regex")
});
static LIMIT_FLAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:--max-old-space-size=(\d+))|(?:-Xmx(\d+)([kKmMgG]))|(?:GOMEMLIMIT=(\d+)([KMG]i?B)?)",
    )
    .expect("valid regex")
});

fn unit(u: &str) -> f64 {
    match u.as_bytes().first() {
        Some(b'K' | b'k') => 1024.0,
        Some(b'M' | b'm') => MB,
        Some(b'G' | b'g') => 1024.0 * MB,
        _ => 1.0,
    }
}

fn num(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Is this a garbage collector's line without a heap sample (the JVM's `GC(12)` phases and
/// `[gc…]` tags)? Collections come more often as a heap fills: they say nothing of the load.
pub fn is_gc_line(message: &str) -> bool {
    // Node's and Go's collection lines all carry a heap sample, and so never get here; the
    // JVM's phases and concurrent cycles do not.
    message.contains("GC(") || message.contains("[gc")
}

/// The heap after collection in a GC log line, in bytes.
pub fn gc_sample(message: &str) -> Option<Sample> {
    // Cheap guards first: most records are not GC lines.
    if !message.contains("->") {
        return None;
    }
    if let Some(c) = NODE_GC.captures(message) {
        return Some(Sample::of("gc_heap_after".into(), num(&c[1])? * MB));
    }
    if let Some(c) = GO_GC.captures(message) {
        return Some(Sample::of("gc_heap_after".into(), num(&c[3])? * MB));
    }
    if let Some(c) = ZGC.captures(message) {
        let after = num(&c[1])? * unit(&c[2]);
        let share = num(&c[3])?;
        return Some(Sample {
            name: "gc_heap_after".into(),
            value: after,
            capacity: (share > 0.0).then(|| after * 100.0 / share),
        });
    }
    let c = JVM_UNIFIED
        .captures(message)
        .or_else(|| JVM_LEGACY.captures_iter(message).last())?;
    Some(Sample {
        name: "gc_heap_after".into(),
        value: num(&c[3])? * unit(&c[4]),
        capacity: Some(num(&c[5])? * unit(&c[6])),
    })
}

/// Is a field name a gauge (and not a counter, an id, a time, a limit)?
pub fn is_gauge_name(name: &str) -> bool {
    // Called for every numeric field of every record: no allocation for the common names.
    if name.len() > 64 {
        return false;
    }
    let mut buf = [0u8; 64];
    let n = &mut buf[..name.len()];
    n.copy_from_slice(name.as_bytes());
    n.make_ascii_lowercase();
    let n = std::str::from_utf8(n).unwrap_or("");
    // A word of the name at its start or end, between `_` or `.`; inside the name too
    // (`jvm.threads.live`, `redis.used_memory_mb`).
    let mut seps = [0usize; 8];
    let mut nseps = 0;
    for (at, c) in n.bytes().enumerate() {
        if matches!(c, b'_' | b'.') && nseps < seps.len() {
            seps[nseps] = at;
            nseps += 1;
        }
    }
    let word = |w: &str| {
        n == w
            || n.strip_suffix(w).is_some_and(|p| p.ends_with(['_', '.']))
            || n.strip_prefix(w).is_some_and(|r| r.starts_with(['_', '.']))
            || seps[..nseps].iter().any(|&at| {
                // After a separator: no substring search, which cost `analyze` a fifth.
                n[at + 1..].starts_with(w)
                    && matches!(n.as_bytes().get(at + 1 + w.len()), Some(b'_' | b'.'))
            })
    };
    // What names a level first: most names do not, and are done with here.
    let level = n == "rss"
        || n.starts_with("heap")
        || n.starts_with("mem")
        || n.ends_with("_bytes")
        || n.contains("queue") && (n.contains("depth") || n.contains("len") || n.contains("size"))
        || n.starts_with("connections")
        || n.ends_with("connections")
        || word("in_use")
        || word("memory")
        || word("rss")
        || word("threads")
        || word("checked_out")
        // JVM class metadata: grows with every class loaded and never unloaded.
        || n.contains("metaspace")
        // PostgreSQL's name for client connections (`pg_stat_activity` backends).
        || word("backends")
        // Work waiting: a consumer's lag, a backlog.
        || word("lag")
        || word("backlog")
        || n == "inuse"
        || n == "conns"
        || n.contains("goroutines")
        || n.contains("open_fds")
        || n == "fds"
        || n.contains("open_files")
        || counted_level(n);
    let counter = || {
        ["seq", "offset", "sequence", "id", "pid"]
            .iter()
            .any(|c| word(c))
            || n.ends_with("count") && !counted_level(n)
            || n.ends_with("total")
            || n.starts_with("max")
            || n.contains("limit")
            || n.contains("uptime")
            || n.contains("peak")
            // Go's Sys and HeapSys: what was ever taken from the OS, a high-water mark.
            || n.ends_with("sys")
            || n.contains("sys_")
            // What is unused: given back to the OS, idle spans and connections, free memory.
            || n.contains("released")
            || n.contains("idle")
            || n.contains("free")
            || n.ends_with("_ms")
            || n.ends_with("_s")
    };
    level && !counter()
}

/// A count of things open right now (`connectionCount`, MongoDB's; `thread_count`, .NET's
/// `HandleCount`), not of things that happened (`request_count`). `n` is lowercase.
fn counted_level(n: &str) -> bool {
    let Some(what) = n.strip_suffix("count") else {
        return false;
    };
    let what = what.trim_end_matches(['_', '.']);
    let what = what.strip_suffix('s').unwrap_or(what);
    [
        "connection",
        "thread",
        "goroutine",
        "fd",
        "socket",
        "handle",
        "open_file",
    ]
    .iter()
    .any(|w| what.ends_with(w))
}

/// A number, or a string that is one (logfmt values are strings: `open_connections=12`).
pub(crate) fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s)
            if s.len() <= 24 && s.as_bytes().first().is_some_and(u8::is_ascii_digit) =>
        {
            num(s)
        }
        _ => None,
    }
}

/// The bytes in one unit a gauge's name says its value is in (`heap_sys_mb`, `rss_kb`); 1
/// without one.
fn name_unit(name: &str) -> f64 {
    let lower = |suffix: &str| {
        name.len() > suffix.len()
            && name.as_bytes()[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    };
    // camelCase too: `heapUsedMB`, `rssMb`.
    let camel = |prefix: char| {
        let b = name.as_bytes();
        [&b"B"[..], b"b", b"iB"].iter().any(|rest| {
            let len = 1 + rest.len();
            b.len() > len
                && b[b.len() - len] == prefix as u8
                && &b[b.len() - rest.len()..] == *rest
                && b[b.len() - len - 1].is_ascii_lowercase()
        })
    };
    if lower("_kb") || lower("_kib") || camel('K') {
        1024.0
    } else if lower("_mb") || lower("_mib") || camel('M') {
        MB
    } else if lower("_gb") || lower("_gib") || camel('G') {
        1024.0 * MB
    } else {
        1.0
    }
}

/// Gauge samples among the numeric fields (top level and one nested level), in bytes when
/// their name gives a unit.
pub fn field_samples(fields: &Map<String, Value>, out: &mut Vec<Sample>) {
    field_samples_about(fields, || fields.contains_key("queue"), out);
}

/// [`field_samples`], where `about_queue` says whether the record is about queues, so that
/// `webhooks.size` is a queue's depth.
fn field_samples_about(
    fields: &Map<String, Value>,
    about_queue: impl Fn() -> bool,
    out: &mut Vec<Sample>,
) {
    for (k, v) in fields {
        match v {
            Value::Object(inner) if inner.len() <= 32 => {
                for (k2, v2) in inner {
                    if let Some(x) = number(v2).filter(|_| is_gauge_name(k2)) {
                        out.push(Sample::of(format!("{k}.{k2}"), x * name_unit(k2)));
                    }
                }
            }
            _ => {
                if let Some(x) = number(v).filter(|_| is_gauge_name(k)) {
                    out.push(Sample::of(k.clone(), x * name_unit(k)));
                } else if let (Some(x), Some(queue)) = (
                    number(v).filter(|_| is_depth_name(k)),
                    fields.get("queue").and_then(Value::as_str),
                ) {
                    // A record about a queue: `{"queue": "webhooks", "size": 120}`.
                    out.push(Sample::of(format!("queue.{queue}.{k}"), x));
                } else if let Some(x) = number(v).filter(|_| is_queue_depth_name(k)) {
                    if about_queue() {
                        out.push(Sample::of(format!("queue.{k}"), x));
                    }
                } else if let (Some(x), Some(pool)) = (
                    number(v).filter(|_| pools::is_active_name(k)),
                    fields.get("pool").and_then(Value::as_str),
                ) {
                    // A record about a pool: `{"pool": "primary", "active": 12}`.
                    out.push(Sample::of(format!("pool.{pool}.{k}"), x));
                }
            }
        }
    }
}

/// A size unit right after a number in text (`353.7MB`, `12kB`, `1.2GiB`; not `1.2M`, which
/// may count users): its length and bytes per unit.
fn size_unit(b: &[u8]) -> Option<(usize, f64)> {
    let scale = match b.first()? {
        b'K' | b'k' => 1024.0,
        b'M' => MB,
        b'G' => 1024.0 * MB,
        _ => return None,
    };
    let len = if b.get(1) == Some(&b'i') { 2 } else { 1 };
    (b.get(len) == Some(&b'B')).then_some((len + 1, scale))
}

/// A name that, with a size in bytes, is still no level to watch: a limit, a peak, what is
/// free.
fn is_bound_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["limit", "max", "peak", "free", "avail", "capacity"]
        .iter()
        .any(|w| n.contains(w))
}

/// Gauge samples written into a text line as `name=12`, `name:12` or `name: 12` (`pool stats:
/// active=3 threads=210`, Redis's INFO `used_memory:1048576`, a watchdog's `rss: 212.4 MiB`): a
/// gauge name, or any name with a size, then a number that ends the word. In a line about a
/// queue, `size`, `depth`, `length`, `backlog`, `pending` and `enqueued` are its depth, named
/// after the queue when the line names it (`queue stats queue=webhooks size=120` →
/// `queue.webhooks.size`).
pub fn text_samples(text: &str, out: &mut Vec<Sample>) {
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(at) = memchr::memchr2(b'=', b':', &b[i..]) {
        let sep = i + at;
        i = sep + 1;
        // `name: 12`, one space after a colon.
        let from = if b[sep] == b':' && b.get(sep + 1) == Some(&b' ') {
            sep + 2
        } else {
            sep + 1
        };
        if !b.get(from).is_some_and(u8::is_ascii_digit) {
            continue;
        }
        let start = b[..sep]
            .iter()
            .rposition(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.')))
            .map_or(0, |p| p + 1);
        let end = b[from..]
            .iter()
            .position(|c| !(c.is_ascii_digit() || *c == b'.'))
            .map_or(b.len(), |p| from + p);
        // `212.4MiB` or `212.4 MiB`.
        let unit = size_unit(&b[end..])
            .map(|(len, scale)| (end + len, scale))
            .or_else(|| {
                (b.get(end) == Some(&b' '))
                    .then(|| size_unit(&b[end + 1..]))
                    .flatten()
                    .map(|(len, scale)| (end + 1 + len, scale))
            });
        let after = unit.map_or(end, |(after, _)| after);
        let ends_word = b
            .get(after)
            .is_none_or(|c| matches!(c, b' ' | b',' | b';' | b'\n' | b'\r' | b'\t'));
        let mut name = &text[start..sep];
        // Micrometer's logging registry: `jvm.threads.live{} value=63 threads`, the metric
        // and its tags before the value.
        if name == "value" {
            if let Some(metric) = text[..start].strip_suffix(' ').and_then(metric_before) {
                name = metric;
            }
        }
        if start == sep || !ends_word {
            continue;
        }
        let Some(value) = num(&text[from..end]) else {
            continue;
        };
        let (name, value) = match unit {
            // A size says the number is memory, whatever the name (`binary=138.4MB`).
            Some(_) if is_bound_name(name) => continue,
            Some((_, scale)) if !is_memory(name) => (format!("{name}_bytes"), value * scale),
            Some((_, scale)) => (name.to_string(), value * scale),
            // `rss_mb=412`: the name gives the unit, as in a field.
            None if is_gauge_name(name) => (name.to_string(), value * name_unit(name)),
            None if is_depth_name(name) => match queue_label(text) {
                Some(Some(queue)) => (format!("queue.{queue}.{name}"), value),
                Some(None) => (format!("queue.{name}"), value),
                None => continue,
            },
            None if is_queue_depth_name(name) && queue_label(text).is_some() => {
                (format!("queue.{name}"), value)
            }
            None if pools::is_active_name(name) => match pools::pool_label(text) {
                Some(Some(pool)) => (format!("pool.{pool}.{name}"), value),
                Some(None) => (format!("pool.{name}"), value),
                None => continue,
            },
            None => continue,
        };
        out.push(Sample::of(name, value));
    }
    phrases::phrase_samples(text, out);
}

/// The Micrometer metric ending `text`: `jvm.memory.used{area=heap,id=G1 Old Gen}`, with its
/// tags when it has some.
fn metric_before(text: &str) -> Option<&str> {
    let open = text.strip_suffix('}')?.rfind('{')?;
    let start = text[..open]
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_')))
        .map_or(0, |p| p + 1);
    let metric = &text[start..open];
    (!metric.is_empty()).then(|| {
        if open + 2 == text.len() {
            metric
        } else {
            &text[start..]
        }
    })
}

/// Names of a queue's depth in a line or record about a queue.
fn is_depth_name(name: &str) -> bool {
    [
        "size",
        "depth",
        "length",
        "len",
        "backlog",
        "pending",
        "enqueued",
        // RabbitMQ's: ready to deliver, and those with what is delivered but not acked.
        "messages_ready",
        "messages",
    ]
    .iter()
    .any(|n| name.eq_ignore_ascii_case(n))
}

/// A queue's depth named after it, as Sidekiq-style stats of several queues write them:
/// `webhooks.size=120 default.size=2`.
fn is_queue_depth_name(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(queue, depth)| !queue.is_empty() && is_depth_name(depth))
}

/// For a line about a queue (`None` if not), the queue's name when the line gives it
/// (`queue=webhooks`, `queue:webhooks`).
fn queue_label(text: &str) -> Option<Option<&str>> {
    let b = text.as_bytes();
    let mut about = false;
    for at in
        (0..b.len().saturating_sub(4)).filter(|i| b[*i..*i + 5].eq_ignore_ascii_case(b"queue"))
    {
        about = true;
        let rest = &text[at + 5..];
        let Some(r) = rest.strip_prefix('=').or_else(|| rest.strip_prefix(':')) else {
            continue;
        };
        // Dotted names are common (`notify.email`); a sentence's full stop is not the name's.
        let len = r
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .unwrap_or(r.len());
        let len = r[..len].trim_end_matches('.').len();
        if len > 0 && !r.as_bytes()[0].is_ascii_digit() {
            return Some(Some(&r[..len]));
        }
    }
    about.then_some(None)
}

/// All gauge samples of a record.
pub fn samples(rec: &LogRecord) -> Vec<Sample> {
    let mut out = Vec::new();
    let line = rec.message.lines().next().unwrap_or("");
    let about_queue = || rec.fields.contains_key("queue") || queue_label(line).is_some();
    field_samples_about(&rec.fields, about_queue, &mut out);
    // A line may report numbers in its text; a structured one as `name=value` (Sidekiq's JSON
    // around a `queue stats queue=webhooks size=120` message). Its other colons are times and
    // addresses, and scanning them cost `analyze` 7%.
    if out.is_empty() && (rec.fields.is_empty() || line.contains('=')) {
        text_samples(line, &mut out);
    }
    if let Some(s) = gc_sample(&rec.message) {
        out.push(s);
    }
    out
}

/// A memory limit the record states: `--max-old-space-size=N` (MB), `-Xmx`, `GOMEMLIMIT`, or a
/// field like `maxOldSpaceSize`, `heap_limit_bytes`, `memory_limit`.
pub fn memory_limit(rec: &LogRecord) -> Option<MemoryLimit> {
    for (k, v) in &rec.fields {
        let Some(x) = v.as_f64() else { continue };
        let lower = |w: &str| {
            k.as_bytes()
                .windows(w.len())
                .any(|s| s.eq_ignore_ascii_case(w.as_bytes()))
        };
        if !(lower("max") || lower("limit")) {
            continue;
        }
        let n = k.to_ascii_lowercase().replace('_', "");
        if n == "maxoldspacesize" {
            return Some(MemoryLimit(x * MB));
        }
        if (n.contains("heap") || n.contains("mem"))
            && (n.contains("limit") || n.starts_with("max"))
        {
            return Some(MemoryLimit(if n.contains("mb") { x * MB } else { x }));
        }
    }
    let text = rec.message.as_str();
    if !(text.contains("max-old-space-size")
        || text.contains("-Xmx")
        || text.contains("GOMEMLIMIT"))
    {
        return None;
    }
    let c = LIMIT_FLAG.captures(text)?;
    if let Some(mb) = c.get(1) {
        return Some(MemoryLimit(num(mb.as_str())? * MB));
    }
    if let (Some(v), Some(u)) = (c.get(2), c.get(3)) {
        return Some(MemoryLimit(num(v.as_str())? * unit(u.as_str())));
    }
    let v = num(c.get(4)?.as_str())?;
    Some(MemoryLimit(v * c.get(5).map_or(1.0, |u| unit(u.as_str()))))
}

/// Whether a gauge measures memory (so a memory limit applies to it).
pub fn is_memory(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.contains("heap")
        || n.contains("rss")
        || n.contains("mem")
        || n.contains("bytes")
        || n.contains("working_set")
        || n.contains("resident")
        || n == "gc_heap_after"
}

mod phrases;
mod pools;
#[cfg(test)]
mod tests;
