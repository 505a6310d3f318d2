//! Fingerprints: the identity of "the same underlying error".
//!
//! Like Sentry's grouping: the error type, its message with variable parts masked (numbers, ids,
//! hex, addresses, quoted values) and the top application stack frames (function and file,
//! without line numbers, which move with every deploy). With frames, only the message's first
//! two words count. Pure functions, no state.

use std::sync::LazyLock;

use regex::Regex;

/// How many application frames take part in a fingerprint.
const TOP_FRAMES: usize = 3;

/// The parts a fingerprint is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorShape {
    /// `TypeError`, `java.lang.IllegalStateException`, `UnhandledPromiseRejection`…
    pub error_type: String,
    /// The message with variable parts masked.
    pub message: String,
    /// Top application frames, `function@file`.
    pub frames: Vec<String>,
    /// The coroutine of a Python task whose exception nobody retrieved, `function@file`: the
    /// bug is where the task was started without being awaited, whatever it raised (a relay
    /// that is down fails one task with `ConnectTimeout`, the next with `ConnectError`), so
    /// it alone names the error.
    pub task: Option<String>,
}

impl ErrorShape {
    /// The fingerprint string: 16 hex digits of a stable hash over kind, service and shape.
    pub fn fingerprint(&self, kind: &str, service: &str) -> String {
        let mut h = Fnv::new();
        if let Some(task) = &self.task {
            for part in [kind, service, "task", task] {
                h.write(part.as_bytes());
                h.write(&[0]);
            }
            return format!("{:016x}", h.0);
        }
        // With application frames, where it was thrown and how its message starts say which
        // error it is; the rest of the message may carry values no mask knows (`stale quote
        // for USD/JPY`).
        let message = if self.frames.is_empty() {
            self.message.as_str()
        } else {
            leading_words(&self.message)
        };
        for part in [kind, service, &self.error_type, message] {
            h.write(part.as_bytes());
            h.write(&[0]);
        }
        for f in &self.frames {
            h.write(f.as_bytes());
            h.write(&[0]);
        }
        format!("{:016x}", h.0)
    }
}

/// The first two words of a masked message, fewer when a masked value comes first.
fn leading_words(message: &str) -> &str {
    let mut end = 0;
    for word in message.split(' ').take(2) {
        if word.contains(['#', '*']) {
            break;
        }
        end += usize::from(end > 0) + word.len();
    }
    &message[..end]
}

/// Stable 64-bit FNV-1a: fingerprints must not change between runs or releases, which rules
/// out std's randomly seeded hasher.
pub struct Fnv(pub u64);

impl Fnv {
    pub fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

impl Default for Fnv {
    fn default() -> Self {
        Fnv::new()
    }
}

/// A stable fingerprint for any list of parts (spikes, leaks).
pub fn fingerprint_of(parts: &[&str]) -> String {
    let mut h = Fnv::new();
    for p in parts {
        h.write(p.as_bytes());
        h.write(&[0]);
    }
    format!("{:016x}", h.0)
}

static HEADER: LazyLock<Regex> = LazyLock::new(|| {
    // `TypeError: msg`, `java.io.IOException: msg`, `Error [ERR_X]: msg`, `panic: msg`.
    Regex::new(
        r"(?m)^[\s>]*(?:Uncaught (?:\(in promise\) )?)?(?:error: Uncaught (?:\(in promise\) )?)?((?:[A-Za-z_$][\w$]*\.)*[A-Za-z_$][\w$]*(?:Error|Exception|Rejection|Fault|Panic|Timeout|Err)|Error|panic)(?: \[[A-Z0-9_]+\])?(?::\s*(.*)|\s*$)",
    )
    .expect("valid header regex")
});

/// asyncio's repr of a task: `coro=<Relay.forward() done, defined at /app/relay.py:27>`.
static TASK_CORO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"coro=<([\w.]+)\(\)[^>]*? defined at ([^:>]+):\d+>").expect("valid task regex")
});

static JS_FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^\s*at (?:async )?(?:(.+?) \()?([^()\s]+?):\d+(?::\d+)?\)?\s*$")
        .expect("valid frame regex")
});

static PY_FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^\s*File "([^"]+)", line \d+, in (\S+)"#).expect("valid frame regex")
});

static JAVA_FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^\s*at ([\w$.<>]+)\(([\w$.]+):\d+\)").expect("valid frame regex")
});

/// Finds the first error header (`Type: message`) in `text`.
pub fn error_header(text: &str) -> Option<(String, String)> {
    let c = HEADER.captures(text)?;
    let ty = c.get(1)?.as_str().to_string();
    let msg = c.get(2).map_or("", |m| m.as_str()).trim().to_string();
    Some((ty, msg))
}

/// The top application frames of a stack trace in `text` (JavaScript, Java or Python).
pub fn app_frames(text: &str) -> Vec<String> {
    let mut frames = Vec::new();
    for c in JAVA_FRAME.captures_iter(text) {
        let func = &c[1];
        if !is_library_java(func) {
            frames.push(func.to_string());
        }
    }
    if frames.is_empty() {
        for c in JS_FRAME.captures_iter(text) {
            let file = &c[2];
            if is_library_js(file) {
                continue;
            }
            let func = c.get(1).map_or("<anonymous>", |m| m.as_str());
            frames.push(format!("{func}@{}", file_name(file)));
        }
    }
    if frames.is_empty() {
        // Python prints the innermost frame last.
        let mut py: Vec<String> = PY_FRAME
            .captures_iter(text)
            .filter(|c| !c[1].contains("site-packages") && !c[1].contains("/lib/python"))
            .map(|c| format!("{}@{}", &c[2], file_name(&c[1])))
            .collect();
        py.reverse();
        frames = py;
    }
    frames.truncate(TOP_FRAMES);
    frames
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn is_library_js(file: &str) -> bool {
    file.contains("node_modules")
        || file.starts_with("node:")
        || file.starts_with("internal/")
        || file.starts_with("ext:")
        // Core modules of older runtimes print bare names (`events.js`, `_stream_readable.js`).
        || !file.contains(['/', '\\'])
}

fn is_library_java(func: &str) -> bool {
    [
        "java.",
        "javax.",
        "jdk.",
        "sun.",
        "kotlin.",
        "scala.",
        "org.springframework.",
        "org.apache.",
        "com.zaxxer.",
        "io.netty.",
        "reactor.",
    ]
    .iter()
    .any(|p| func.starts_with(p))
}

/// Masks the variable parts of a message: quoted values, tokens holding digits (numbers, ids,
/// hex, addresses, versions), long hex words. Whitespace is normalized.
pub fn mask(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' | '`' => {
                // A quote opens a value only at a word boundary (not in `don't`).
                let boundary = out.chars().last().is_none_or(|p| !p.is_alphanumeric());
                if boundary && chars.clone().any(|n| n == c) {
                    for n in chars.by_ref() {
                        if n == c {
                            break;
                        }
                    }
                    out.push(c);
                    out.push('*');
                    out.push(c);
                } else {
                    out.push(c);
                }
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut token = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_alphanumeric() || matches!(n, '_' | '-' | '.' | ':') {
                        token.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                // Trailing punctuation belongs to the sentence, not the token.
                let trimmed = token.trim_end_matches(['.', ':', '-']);
                let tail = &token[trimmed.len()..];
                if is_variable(trimmed) {
                    out.push('#');
                } else {
                    out.push_str(trimmed);
                }
                out.push_str(tail);
            }
            c if c.is_whitespace() => {
                if !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            c => out.push(c),
        }
    }
    out.trim().to_string()
}

fn is_variable(token: &str) -> bool {
    token.bytes().any(|b| b.is_ascii_digit())
        || (token.len() >= 8 && token.bytes().all(|b| b.is_ascii_hexdigit()))
        || prefixed_id(token)
}

/// A generated id behind a type prefix, as many APIs make them (`dlv_GyFEXYrdQdll`,
/// `cus_NffrFeUfNV`): a short lowercase prefix, `_`, then at least 8 letters of both cases.
/// (With a digit it is a variable anyway.)
fn prefixed_id(token: &str) -> bool {
    let Some((prefix, id)) = token.split_once('_') else {
        return false;
    };
    (1..=6).contains(&prefix.len())
        && prefix.bytes().all(|b| b.is_ascii_lowercase())
        && id.len() >= 8
        && id.bytes().all(|b| b.is_ascii_alphabetic())
        && id.bytes().any(|b| b.is_ascii_uppercase())
        && id.bytes().any(|b| b.is_ascii_lowercase())
}

/// The shape of an error described in `text`: header, masked message and app frames. Without a
/// recognizable header, the first non-empty line is the message.
pub fn shape_of(text: &str) -> ErrorShape {
    let (error_type, message) = error_header(text).unwrap_or_else(|| {
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        (String::new(), first.to_string())
    });
    ErrorShape {
        error_type,
        message: mask(&message),
        frames: app_frames(text),
        task: TASK_CORO
            .captures(text)
            .map(|c| format!("{}@{}", &c[1], file_name(&c[2]))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_numbers_ids_hex_and_quotes() {
        assert_eq!(
            mask("reservation failed for sku=JKT-8815-OLV-L (409 Conflict)"),
            "reservation failed for sku=# (# Conflict)"
        );
        assert_eq!(
            mask("user 'bob' not found at 0x7ffd1234, id deadbeefcafe"),
            "user '*' not found at #, id #"
        );
        assert_eq!(mask("don't   panic."), "don't panic.");
        assert_eq!(
            mask("connect ECONNREFUSED 10.0.0.1:5432"),
            "connect ECONNREFUSED #"
        );
        // Generated ids without a digit; words and identifiers stay.
        assert_eq!(
            mask("delivery dlv_GyFEXYrdQdll to ep_rsgEpvtJLq failed: WebhookDeliveryError at HTTPServer"),
            "delivery # to # failed: WebhookDeliveryError at HTTPServer"
        );
        assert_eq!(
            mask("getElementById of XMLHttpRequest"),
            "getElementById of XMLHttpRequest"
        );
    }

    #[test]
    fn finds_headers_of_several_runtimes() {
        let h = |t: &str| error_header(t).unwrap();
        assert_eq!(h("TypeError: x is undefined").0, "TypeError");
        assert_eq!(
            h("Exception in thread \"main\"\njava.lang.IllegalStateException: bad").0,
            "java.lang.IllegalStateException"
        );
        assert_eq!(h("Error [ERR_HTTP]: boom").1, "boom");
        assert_eq!(h("panic: runtime error: index out of range").0, "panic");
        assert_eq!(h("  ValueError: bad value 3").1, "bad value 3");
        assert!(error_header("all good here").is_none());
    }

    #[test]
    fn keeps_application_frames_only() {
        let js = "Error: x\n    at InventoryClient.reserve (/app/src/clients/inventory.js:57:13)\n    at processTicksAndRejections (internal/process/task_queues.js:95:5)\n    at async Promise.all (index 0)\n    at Object.f (/app/node_modules/axios/lib/core.js:1:1)\n    at /app/src/services/pricing.js:88:41";
        assert_eq!(
            app_frames(js),
            vec![
                "InventoryClient.reserve@inventory.js",
                "<anonymous>@pricing.js"
            ]
        );
        let java = "java.lang.NullPointerException\n\tat java.util.Objects.requireNonNull(Objects.java:1)\n\tat com.shop.Cart.total(Cart.java:42)";
        assert_eq!(app_frames(java), vec!["com.shop.Cart.total"]);
        let py = "Traceback (most recent call last):\n  File \"/app/main.py\", line 3, in run\n  File \"/app/db.py\", line 9, in query\nValueError: x";
        assert_eq!(app_frames(py), vec!["query@db.py", "run@main.py"]);
    }

    #[test]
    fn with_frames_the_message_counts_by_its_first_words() {
        let at = "\n    at QuoteBook.require (file:///app/src/quotes.ts:44:13)";
        let fp = |m: &str| shape_of(&format!("Error: {m}{at}")).fingerprint("k", "s");
        assert_eq!(
            fp("stale quote for USD/JPY (age 184s > 120s)"),
            fp("stale quote for EUR/TRY (age 131s > 120s)")
        );
        assert_ne!(
            fp("stale quote for USD/JPY"),
            fp("missing quote for USD/JPY")
        );
        assert_ne!(
            fp("connect ECONNREFUSED 10.0.0.1:5432"),
            fp("connect ETIMEDOUT")
        );
        // Without frames the whole masked message does.
        let bare = |m: &str| shape_of(&format!("Error: {m}")).fingerprint("k", "s");
        assert_ne!(
            bare("stale quote for USD/JPY"),
            bare("stale quote for EUR/TRY")
        );
        assert_eq!(leading_words("'*' not found"), "");
        assert_eq!(leading_words("user # not found"), "user");
        assert_eq!(leading_words("timeout"), "timeout");
    }

    #[test]
    fn same_error_same_fingerprint_different_error_different() {
        let a = shape_of("Error: reservation failed for sku=A-1 (409 Conflict)\n    at R.reserve (/app/r.js:1:1)");
        let b = shape_of("Error: reservation failed for sku=B-22 (409 Conflict)\n    at R.reserve (/app/r.js:9:9)");
        let c = shape_of(
            "TypeError: Cannot read property 'price' of undefined\n    at P.apply (/app/p.js:1:1)",
        );
        assert_eq!(a.fingerprint("k", "s"), b.fingerprint("k", "s"));
        assert_ne!(a.fingerprint("k", "s"), c.fingerprint("k", "s"));
        assert_ne!(a.fingerprint("k", "s"), a.fingerprint("k", "t"));
        assert_eq!(fingerprint_of(&["a", "b"]), fingerprint_of(&["a", "b"]));
        assert_ne!(fingerprint_of(&["ab", ""]), fingerprint_of(&["a", "b"]));
    }

    #[test]
    fn a_task_nobody_awaited_is_one_error_whatever_it_raised() {
        let report = |exc: &str| {
            format!(
                "Task exception was never retrieved\nfuture: <Task finished name='Task-{n}' coro=<forward_to_audit() done, defined at /app/ingest/audit.py:27> exception={exc}('')>\nTraceback (most recent call last):\n  File \"/app/ingest/audit.py\", line 31, in forward_to_audit\n    await client.post(url)\nhttpcore.{exc}: ''",
                n = exc.len()
            )
        };
        let timeout = shape_of(&report("ConnectTimeout"));
        let refused = shape_of(&report("ConnectError"));
        assert_eq!(timeout.task.as_deref(), Some("forward_to_audit@audit.py"));
        assert_eq!(timeout.error_type, "httpcore.ConnectTimeout");
        assert_eq!(
            timeout.fingerprint("unhandled_rejection", "api"),
            refused.fingerprint("unhandled_rejection", "api")
        );
        let other =
            shape_of(&report("ConnectTimeout").replace("forward_to_audit()", "Enricher.enrich()"));
        assert_eq!(other.task.as_deref(), Some("Enricher.enrich@audit.py"));
        assert_ne!(
            other.fingerprint("unhandled_rejection", "api"),
            timeout.fingerprint("unhandled_rejection", "api")
        );
        // Without a task, the error's type still tells errors apart.
        assert_eq!(
            shape_of("TypeError: x\n    at f (/app/a.js:1:1)").task,
            None
        );
    }
}
