//! Which lines continue the event before them: stack traces and crash reports of Java, Python,
//! Node, Go and Rust, and indented continuations. Pure decisions on one line at a time; the
//! event being assembled lives in [`SourceParser`](super::SourceParser).

use crate::record::Level;

/// What kind of event is being assembled; decides which lines still belong to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// A plain event: indented lines, `Caused by:`, `... N more`, closing braces continue it;
    /// in a source whose events start with a timestamp, so does any line without one.
    #[default]
    Plain,
    /// A Python traceback, before its final exception line.
    Python,
    /// After the final exception line: only a chained traceback continues.
    PythonEnd,
    /// Node ≥ 15 crash block: everything up to the `Node.js vX` line.
    NodeCrash,
    /// Node's out-of-memory report (`<--- Last few GCs --->`, `FATAL ERROR: …`, native frames).
    NodeOom,
    /// A Go panic or fatal error with its goroutine dump.
    GoPanic,
    /// A Rust panic; `message` while the panic message line is still to come.
    RustPanic { message: bool },
}

/// What to do with a line while an event is pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Glue {
    /// The line belongs to the pending event, which may continue in this mode.
    Continue(Mode),
    /// The line is the last one of the pending event.
    Last,
    /// The line starts a new event.
    No,
}

/// Decides whether `body` continues the pending event. `headed` says the line carries its own
/// timestamp (or is a JSON record): such a line always starts a new event. `timestamped`: the
/// event's first line has a timestamp, so a line without one continues the event, except
/// that a traceback or crash report starts its own unless the pending event is an error
/// (`logger.exception(…)` writes the traceback under its error line; an uncaught exception
/// after an info line is an event of its own). `after_error`: the pending event is an error.
pub fn glue(mode: Mode, body: &str, headed: bool, timestamped: bool, after_error: bool) -> Glue {
    if headed {
        return Glue::No;
    }
    let blank = body.trim().is_empty();
    let indented = body.starts_with([' ', '\t']);
    match mode {
        Mode::NodeCrash if body.starts_with("Node.js v") => Glue::Last,
        Mode::NodeCrash => Glue::Continue(mode),
        Mode::Python => {
            if blank || indented || chained_python(body) || body.starts_with("Traceback ") {
                Glue::Continue(Mode::Python)
            } else {
                Glue::Continue(Mode::PythonEnd)
            }
        }
        Mode::PythonEnd if chained_python(body) => Glue::Continue(Mode::Python),
        Mode::PythonEnd if blank || indented => Glue::Continue(mode),
        Mode::NodeOom if blank || indented || node_oom_line(body) => Glue::Continue(mode),
        Mode::GoPanic if blank || indented || go_panic_line(body) => Glue::Continue(mode),
        Mode::RustPanic { message: true } => Glue::Continue(Mode::RustPanic { message: false }),
        Mode::RustPanic { .. }
            if indented || body.starts_with("note: ") || body.starts_with("stack backtrace:") =>
        {
            Glue::Continue(mode)
        }
        Mode::Plain if blank || explicit(body) => Glue::Continue(mode),
        // After an error line a traceback is the one it logged; a runtime's crash report
        // (Node, Go, Rust) is the process dying, an event of its own. So is the JVM's default
        // handler printing an uncaught exception, unless it follows an error line.
        Mode::Plain
            if timestamped
                && match start(body).0 {
                    Mode::Plain => after_error || !uncaught_jvm(body),
                    Mode::Python => after_error,
                    _ => false,
                } =>
        {
            Glue::Continue(mode)
        }
        _ => Glue::No,
    }
}

/// The mode of an event that starts with `body`, and the level it implies when the line names
/// none.
pub fn start(body: &str) -> (Mode, Option<Level>) {
    let b = body.as_bytes();
    match b.first() {
        Some(b'T') if body.starts_with("Traceback (most recent call last)") => {
            (Mode::Python, Some(Level::Error))
        }
        Some(b'p') if body.starts_with("panic: ") => (Mode::GoPanic, Some(Level::Fatal)),
        Some(b'f') if body.starts_with("fatal error: ") => (Mode::GoPanic, Some(Level::Fatal)),
        Some(b't') if body.starts_with("thread '") && body.contains("' panicked at ") => (
            Mode::RustPanic {
                message: body.ends_with(':'),
            },
            Some(Level::Fatal),
        ),
        Some(b'<') if body.starts_with("<--- Last few GCs --->") => {
            (Mode::NodeOom, Some(Level::Fatal))
        }
        Some(b'F') if body.starts_with("FATAL ERROR: ") => (Mode::NodeOom, Some(Level::Fatal)),
        _ if node_crash_header(body) => (Mode::NodeCrash, Some(Level::Fatal)),
        _ if uncaught_jvm(body) => (Mode::Plain, Some(Level::Error)),
        _ => (Mode::Plain, None),
    }
}

/// Does a glued line show that the event is a stack trace (an error, when it had no level)?
/// A line that a console logger opens with a status mark behind its indent (Next.js's
/// ` ⨯ Error: …`, ` ⚠ …`, consola's `✖ …`): an event of its own, though indented.
pub fn marked(body: &str) -> bool {
    const MARKS: [char; 12] = ['⨯', '✖', '✗', '✘', '×', '⚠', '✓', '✔', '○', '●', '▲', 'ℹ'];
    let mut chars = body.trim_start_matches(' ').chars();
    chars.next().is_some_and(|c| MARKS.contains(&c)) && chars.next() == Some(' ')
}

pub fn is_stack_frame(body: &str) -> bool {
    let t = body.trim_start();
    t.starts_with("at ") || t.starts_with("File \"") || t.starts_with("Caused by:")
}

/// A line that by its shape continues whatever came before: indented, a Java `Caused by:` or
/// `... N more`, a closing brace.
pub fn explicit(body: &str) -> bool {
    body.starts_with([' ', '\t']) || java_line(body) || closing(body)
}

/// `Exception in thread "main" java.lang.IllegalStateException: …`: the JVM's default handler.
fn uncaught_jvm(body: &str) -> bool {
    body.starts_with("Exception in thread ")
}

fn chained_python(body: &str) -> bool {
    body.starts_with("During handling of the above exception")
        || body.starts_with("The above exception was the direct cause")
}

fn java_line(body: &str) -> bool {
    body.starts_with("Caused by:")
        || body.starts_with("Suppressed:")
        || (body.starts_with("... ") && body.ends_with(" more"))
}

/// Node's `util.inspect` closes an error's extra properties with `}` on its own line.
fn closing(body: &str) -> bool {
    matches!(body.trim_end(), "}" | "]" | "})" | "]}")
}

/// `node:internal/process/promises:288`, `/app/server.js:10`, `file:///app/x.mjs:3`,
/// `C:\app\x.js:3`: the first line of a Node ≥ 15 crash block.
fn node_crash_header(body: &str) -> bool {
    let Some((path, line)) = body.rsplit_once(':') else {
        return false;
    };
    let script = [".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".jsx", ".tsx"]
        .iter()
        .any(|ext| path.ends_with(ext));
    let pathlike = path.starts_with("node:")
        || script
            && (path.starts_with('/')
                || path.starts_with("file://")
                || path.as_bytes().get(1..3) == Some(b":\\"));
    pathlike && !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) && !path.contains(' ')
}

fn node_oom_line(body: &str) -> bool {
    body.starts_with('[')
        || body.starts_with("<--- ")
        || body.starts_with("FATAL ERROR: ")
        || body.starts_with("----- ")
        || body.starts_with("Security context:")
        || body.starts_with("Aborted")
}

fn go_panic_line(body: &str) -> bool {
    const STARTS: [&str; 9] = [
        "goroutine ",
        "created by ",
        "[signal ",
        "exit status ",
        "panic: ",
        "fatal error: ",
        "runtime stack:",
        "[recovered]",
        "signal ",
    ];
    if STARTS.iter().any(|s| body.starts_with(s)) {
        return true;
    }
    // A frame: `main.main()`, `main.(*T).f(0xc000010000, 0x1)`, `runtime.gopark(...)`.
    let t = body.trim_end();
    match (t.find('('), t.find(' ')) {
        (Some(open), space) => t.ends_with(')') && space.is_none_or(|s| s > open),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts() {
        assert_eq!(start("Traceback (most recent call last):").0, Mode::Python);
        assert_eq!(start("panic: boom").0, Mode::GoPanic);
        assert_eq!(
            start("thread 'main' panicked at src/main.rs:2:5:").0,
            Mode::RustPanic { message: true }
        );
        assert_eq!(
            start("node:internal/process/promises:288").0,
            Mode::NodeCrash
        );
        assert_eq!(start("/app/server.js:10").0, Mode::NodeCrash);
        assert_eq!(start("Listening on :8080").0, Mode::Plain);
        assert_eq!(start("see /tmp/x: 3").0, Mode::Plain);
        assert_eq!(start("/api/users:3").0, Mode::Plain);
        assert_eq!(start("file:///app/x.mjs:3").0, Mode::NodeCrash);
        assert_eq!(start("C:\\app\\x.js:3").0, Mode::NodeCrash);
    }

    #[test]
    fn plain_continuations() {
        let g = |b| glue(Mode::Plain, b, false, false, false);
        assert_eq!(g("\tat a.B.c(B.java:1)"), Glue::Continue(Mode::Plain));
        assert_eq!(
            g("Caused by: java.io.IOException: x"),
            Glue::Continue(Mode::Plain)
        );
        assert_eq!(g("... 12 more"), Glue::Continue(Mode::Plain));
        assert_eq!(g("}"), Glue::Continue(Mode::Plain));
        assert_eq!(g("next event"), Glue::No);
        assert_eq!(
            glue(Mode::Plain, "java.io.IOException: x", false, true, false),
            Glue::Continue(Mode::Plain)
        );
        assert_eq!(glue(Mode::Plain, "    at x", true, true, false), Glue::No);
    }

    #[test]
    fn tracebacks_in_timestamped_sources() {
        let tb = "Traceback (most recent call last):";
        assert_eq!(
            glue(Mode::Plain, tb, false, true, true),
            Glue::Continue(Mode::Plain)
        );
        assert_eq!(glue(Mode::Plain, tb, false, true, false), Glue::No);
    }

    #[test]
    fn uncaught_jvm_exceptions_in_timestamped_sources() {
        let jvm = "Exception in thread \"DefaultDispatcher-worker-11\" java.lang.IllegalStateException: boom";
        assert_eq!(glue(Mode::Plain, jvm, false, true, false), Glue::No);
        assert_eq!(
            glue(Mode::Plain, jvm, false, true, true),
            Glue::Continue(Mode::Plain)
        );
        assert_eq!(start(jvm), (Mode::Plain, Some(Level::Error)));
        // Its frames and causes still continue it.
        for line in [
            "\tat io.ktor.client.plugins.X.invokeSuspend(X.kt:54)",
            "Caused by: java.io.IOException: reset",
            "\tSuppressed: kotlinx.coroutines.internal.DiagnosticCoroutineContextException",
            "Suppressed: java.io.IOException: x",
        ] {
            assert_eq!(
                glue(Mode::Plain, line, false, true, false),
                Glue::Continue(Mode::Plain),
                "{line}"
            );
        }
    }

    #[test]
    fn go_frames() {
        assert!(go_panic_line("main.main()"));
        assert!(go_panic_line("main.(*T).f(0xc000010000, 0x1)"));
        assert!(!go_panic_line("server started (pid 1)"));
    }
}
