//! The signature pack: failure signatures of many runtimes and libraries, recognized in one pass.
//!
//! All literals go into one Aho-Corasick automaton (ASCII case-insensitive), so a record that
//! holds none of them costs a single scan. Only candidates are checked further (position,
//! level, regexes) by [`SignaturePack::classify`], which says what a record is: a signature of
//! some alert kind, a continuation of one already seen (Node's follow-up warning lines), or
//! nothing. Pure: no state, no time.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use firewatch_ingest::{Level, LogRecord};
use regex::Regex;

use crate::alert::AlertKind;

/// Which rule a literal belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Node ≤ 14 `UnhandledPromiseRejectionWarning: <reason>`.
    NodeWarning,
    /// Node's follow-up lines (the generic explanation, DEP0018): part of an occurrence.
    Continuation,
    /// Node ≥ 15 crash `triggerUncaughtException(err, true /* fromPromise */)`.
    FromPromise,
    /// Node ≥ 15 crash `triggerUncaughtException(err, false)`: an uncaught exception.
    NotFromPromise,
    /// The rest of Node ≥ 15 crash blocks (source line, caret, error, `Node.js vX`): a
    /// rejection when the stack shows async code (`processTicksAndRejections`, `at async`).
    NodeCrash,
    /// `[UnhandledPromiseRejection: … reason "…"]`, `ERR_UNHANDLED_REJECTION`.
    NodeReason,
    /// Browsers, Deno, Bun: `Uncaught (in promise) <error>`.
    InPromise,
    /// .NET: the runtime's `A Task's exception(s) were not observed …` (an unobserved task
    /// exception, as `TaskScheduler.UnobservedTaskException` handlers log it).
    Unobserved,
    /// Python asyncio: `Task/Future exception was never retrieved`.
    NeverRetrieved,
    /// A handler's own log line: `unhandledRejection: …`, `Unhandled Rejection at: …`.
    HandlerRejection,
    /// A handler's own log line for `uncaughtException`.
    HandlerException,
    /// Java `Exception in thread "main" …`, Deno `error: Uncaught …`.
    Uncaught,
    /// Rust `panicked at`; Go `panic: ` / `fatal error: ` at a line start.
    Panic,
    Oom,
    Pool,
    Timeout,
    Breaker,
    RateLimit,
}

/// Redis at `maxmemory` with `noeviction` refusing writes: out of memory, though no process
/// ended (see [`crate::inhibit`]).
pub const REDIS_REFUSAL: &str = "OOM command not allowed";

const LITERALS: &[(&str, Rule)] = &[
    (
        "Unhandled promise rejection. This error originated",
        Rule::Continuation,
    ),
    ("[DEP0018]", Rule::Continuation),
    ("PromiseRejectionHandledWarning", Rule::Continuation),
    ("UnhandledPromiseRejectionWarning", Rule::NodeWarning),
    ("triggerUncaughtException(err, true", Rule::FromPromise),
    ("triggerUncaughtException(err, false", Rule::NotFromPromise),
    ("\nNode.js v", Rule::NodeCrash),
    ("[UnhandledPromiseRejection:", Rule::NodeReason),
    ("ERR_UNHANDLED_REJECTION", Rule::NodeReason),
    ("Uncaught (in promise)", Rule::InPromise),
    ("exception was never retrieved", Rule::NeverRetrieved),
    ("exception(s) were not observed", Rule::Unobserved),
    ("unhandledRejection", Rule::HandlerRejection),
    ("unhandled rejection", Rule::HandlerRejection),
    ("unhandled promise rejection", Rule::HandlerRejection),
    ("uncaughtException", Rule::HandlerException),
    ("uncaught exception", Rule::HandlerException),
    ("Out of memory: Killed process", Rule::Oom),
    ("OOMKilled", Rule::Oom),
    ("JavaScript heap out of memory", Rule::Oom),
    ("java.lang.OutOfMemoryError", Rule::Oom),
    ("runtime: out of memory", Rule::Oom),
    ("memory allocation of ", Rule::Oom),
    (REDIS_REFUSAL, Rule::Oom),
    ("Exception in thread ", Rule::Uncaught),
    ("error: Uncaught ", Rule::Uncaught),
    ("panicked at", Rule::Panic),
    ("panic: ", Rule::Panic),
    ("fatal error: ", Rule::Panic),
    ("Connection is not available, request timed out", Rule::Pool),
    ("remaining connection slots are reserved", Rule::Pool),
    ("too many clients", Rule::Pool),
    ("Timeout acquiring a connection", Rule::Pool),
    ("QueuePool limit of size", Rule::Pool),
    ("Too many connections", Rule::Pool),
    ("ETIMEDOUT", Rule::Timeout),
    ("ESOCKETTIMEDOUT", Rule::Timeout),
    ("context deadline exceeded", Rule::Timeout),
    ("SocketTimeoutException", Rule::Timeout),
    ("DEADLINE_EXCEEDED", Rule::Timeout),
    ("CallNotPermittedException", Rule::Breaker),
    ("short-circuited and is OPEN", Rule::Breaker),
    ("Breaker is open", Rule::Breaker),
    ("circuit breaker is open", Rule::Breaker),
    ("Too Many Requests", Rule::RateLimit),
    ("rate limit exceeded", Rule::RateLimit),
    ("ThrottlingException", Rule::RateLimit),
];

/// What a record is, for the signature detector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// An occurrence of a failure of `kind`. `detail` is the text that describes the error
    /// (after the signature), `needs_detail` is set when that text is expected to follow in
    /// the next records (a crash banner printed line by line).
    Occurrence {
        kind: AlertKind,
        detail: String,
        needs_detail: bool,
        /// Counted in a rate window before alerting (timeouts, 429s) rather than alerting at once.
        storm: bool,
    },
    /// A follow-up line of an occurrence already seen.
    Continuation,
}

/// The compiled signature pack.
pub struct SignaturePack {
    ac: AhoCorasick,
}

static PANIC_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^(?:panic: |fatal error: |thread '[^']*' panicked at)").expect("valid regex")
});
static REASON: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?s)reason "(.*?)"\.?\]"#).expect("valid regex"));

impl Default for SignaturePack {
    fn default() -> Self {
        SignaturePack::new()
    }
}

impl SignaturePack {
    pub fn new() -> Self {
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(LITERALS.iter().map(|(l, _)| l))
            .expect("signature literals build an automaton");
        SignaturePack { ac }
    }

    /// Classifies a record: `None` for the vast majority that hold no signature.
    pub fn classify(&self, rec: &LogRecord, status: Option<u16>) -> Option<Signature> {
        let text = rec.message.as_str();
        // Every literal found is a candidate; the first in LITERALS order that checks out wins,
        // so specific signatures (OOM) beat generic ones (`Exception in thread`).
        let mut best: Option<(usize, Signature)> = None;
        for m in self.ac.find_overlapping_iter(text) {
            let idx = m.pattern().as_usize();
            if best.as_ref().is_some_and(|(b, _)| *b <= idx) {
                continue;
            }
            if let Some(sig) = self.check(LITERALS[idx].1, rec, m.start(), m.end()) {
                best = Some((idx, sig));
            }
        }
        let mut found = best.map(|(_, sig)| sig);
        if found.is_none() && status == Some(429) {
            found = Some(occurrence(AlertKind::RateLimited, text, false, true));
        }
        found
    }

    fn check(&self, rule: Rule, rec: &LogRecord, start: usize, end: usize) -> Option<Signature> {
        let text = rec.message.as_str();
        let rest = text[end..].trim_start_matches([':', ' ', ')']);
        let occ = |kind, detail: &str, needs| Some(occurrence(kind, detail, needs, false));
        match rule {
            Rule::Continuation => Some(Signature::Continuation),
            Rule::NodeWarning => {
                // The generic explanation Node prints after each warning names no error.
                if rest.starts_with("Unhandled promise rejection.") {
                    return Some(Signature::Continuation);
                }
                occ(AlertKind::UnhandledRejection, rest, false)
            }
            Rule::FromPromise => match node_reason(text) {
                Some(reason) => occ(AlertKind::UnhandledRejection, &reason, false),
                None => occ(AlertKind::UnhandledRejection, after_caret(text, end), true),
            },
            Rule::NotFromPromise => occ(AlertKind::UncaughtException, after_caret(text, end), true),
            Rule::NodeCrash => {
                // The error starts after the caret line under the source line.
                let caret = text[..start].split_inclusive('\n').scan(0, |at, line| {
                    *at += line.len();
                    let t = line.trim();
                    Some((*at, !t.is_empty() && t.bytes().all(|b| b == b'^')))
                });
                let after = caret.filter(|(_, is)| *is).map(|(at, _)| at).next()?;
                let error = text[after..].trim_start();
                let error = &error[..error.find("\nNode.js v").unwrap_or(error.len())];
                let from_promise = error.contains("processTicksAndRejections")
                    || error.contains("\n    at async ");
                let kind = if from_promise {
                    AlertKind::UnhandledRejection
                } else {
                    AlertKind::UncaughtException
                };
                occ(kind, error.trim_end(), false)
            }
            Rule::NodeReason => {
                let detail = node_reason(text).unwrap_or_default();
                if detail.is_empty() {
                    // `code: 'ERR_UNHANDLED_REJECTION'` inside a banner already seen.
                    return Some(Signature::Continuation);
                }
                occ(AlertKind::UnhandledRejection, &detail, false)
            }
            Rule::InPromise => occ(AlertKind::UnhandledRejection, rest, false),
            // asyncio's own words name the task or future; a hint about "tasks whose
            // exception was never retrieved" (`PYTHONASYNCIODEBUG`) is no occurrence.
            Rule::NeverRetrieved
                if !(text[..start].ends_with("Task ") || text[..start].ends_with("Future ")) =>
            {
                None
            }
            Rule::NeverRetrieved => occ(AlertKind::UnhandledRejection, rest, true),
            Rule::Unobserved => {
                // From the exception's line on: its type, inner exceptions and frames.
                let line = text[..start].rfind('\n').map_or(0, |i| i + 1);
                occ(
                    AlertKind::UnhandledRejection,
                    text[line..].trim_start(),
                    false,
                )
            }
            Rule::HandlerRejection | Rule::HandlerException => {
                // Only the handler's own report: at the start of the message, logged as a
                // problem. Mentions (`installed handler for unhandledRejection`, health counters
                // like `"unhandledRejections":0`) are not incidents.
                let at_start = after_header(&text[..start]);
                let word_ends = !text[end..].starts_with(|c: char| c.is_alphanumeric());
                let after = &text[end..];
                let problem = rec.level >= Level::Warn
                    || (rec.level_raw.is_none()
                        && (after.starts_with(':') || after.starts_with(" at")));
                if !(at_start && word_ends && problem) {
                    return None;
                }
                let kind = if rule == Rule::HandlerRejection {
                    AlertKind::UnhandledRejection
                } else {
                    AlertKind::UncaughtException
                };
                let detail = detail_with_stack(rest, rec);
                occ(kind, &detail, false)
            }
            Rule::Uncaught if from_coroutine(text) => {
                occ(AlertKind::UnhandledRejection, rest, false)
            }
            Rule::Uncaught => occ(AlertKind::UncaughtException, rest, false),
            Rule::Panic => {
                if !PANIC_LINE.is_match(text) {
                    return None;
                }
                occ(AlertKind::Panic, &text[start..], false)
            }
            Rule::Oom => occ(AlertKind::Oom, &text[start..], false),
            Rule::Pool => occ(AlertKind::PoolExhaustion, &text[start..], false),
            Rule::Timeout => Some(occurrence(AlertKind::TimeoutStorm, text, false, true)),
            Rule::Breaker => occ(AlertKind::CircuitBreakerOpen, &text[start..], false),
            Rule::RateLimit => Some(occurrence(AlertKind::RateLimited, text, false, true)),
        }
    }
}

fn occurrence(kind: AlertKind, detail: &str, needs_detail: bool, storm: bool) -> Signature {
    Signature::Occurrence {
        kind,
        detail: detail.to_string(),
        needs_detail: needs_detail && detail.trim().is_empty(),
        storm,
    }
}

/// Is `before`, what precedes a handler's words on their line, nothing, a mark (Next.js:
/// ` ⨯ `) or a log header that ends with a context, at error level or worse (NestJS: `…
/// ERROR [Process] `)? A sentence that mentions the words (`installed a handler for
/// unhandledRejection`) is not one.
fn after_header(before: &str) -> bool {
    let line = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
    let head = line.trim_end();
    !head.contains(char::is_alphanumeric)
        || (head.ends_with([']', '-', ':', '|', '>'])
            && head.split(|c: char| !c.is_ascii_alphabetic()).any(|w| {
                [
                    "error", "err", "fatal", "crit", "critical", "emerg", "alert", "severe",
                ]
                .iter()
                .any(|l| w.eq_ignore_ascii_case(l))
            }))
}

/// Did a Kotlin coroutine throw this, with nobody to handle it? kotlinx.coroutines hands a
/// `launch`ed coroutine's exception to the thread's default handler, which prints `Exception
/// in thread "DefaultDispatcher-worker-3"`; since 1.7 the coroutine's context is attached as a
/// suppressed `DiagnosticCoroutineContextException`. The async error nobody awaited, as an
/// unhandled rejection is in Node.
fn from_coroutine(text: &str) -> bool {
    text.contains("DiagnosticCoroutineContextException")
        || text.contains("Exception in thread \"DefaultDispatcher-worker-")
}

/// The reason of a Node ≥ 15 crash on a non-error rejection, as an error header.
fn node_reason(text: &str) -> Option<String> {
    REASON
        .captures(text)
        .map(|c| format!("UnhandledPromiseRejection: {}", &c[1]))
}

/// Node ≥ 15 prints the reason after the source line and a `^` marker; in a multiline record
/// it follows in the same text.
fn after_caret(text: &str, from: usize) -> &str {
    let tail = &text[from..];
    match tail.find("\n") {
        Some(nl) => {
            let body = &tail[nl + 1..];
            let body = body.trim_start();
            body.strip_prefix('^').unwrap_or(body).trim_start()
        }
        None => "",
    }
}

/// A structured logger puts the stack in a field; take it along for the frames.
fn detail_with_stack(rest: &str, rec: &LogRecord) -> String {
    let stack = ["stack", "err", "error", "reason"].iter().find_map(|k| {
        let v = rec.fields.get(*k)?;
        v.as_str()
            .map(str::to_string)
            .or_else(|| v.get("stack").and_then(|s| s.as_str()).map(str::to_string))
    });
    match stack {
        Some(s) if !rest.contains(&s) => format!("{rest}\n{s}"),
        _ => rest.to_string(),
    }
}

#[cfg(test)]
mod tests;
