//! The text lines of AWS Lambda's managed runtimes, as CloudWatch Logs holds them: Node.js
//! (`<time>\t<request id>\t<LEVEL>\t<message>`) and Python (`[LEVEL]\t<time>\t<request id>\t
//! <message>`). The runtime's own lines (`START RequestId: …`, `REPORT …`) are plain text.

use serde_json::{Map, Value};

use super::time::Leading;
use super::{level, Parts};

/// Parses a runtime line whose leading time `own` (after a bracketed level, for Python) is
/// followed by a tab; `None` for any other line, at the cost of a byte or two.
pub fn parse(body: &str, own: Leading) -> Option<Parts> {
    let rest = body.get(own.len..)?.strip_prefix('\t')?;
    let (raw, id, message) = if own.level_first {
        let (raw, after) = body.strip_prefix('[')?.split_once(']')?;
        after.starts_with('\t').then_some(())?;
        let (id, message) = request_id(rest)?;
        (Some(raw), id, message)
    } else if own.rfc3339 {
        let (id, rest) = request_id(rest)?;
        // Node ≤ 10 wrote no level.
        let tab = rest.bytes().take(9).position(|c| c == b'\t');
        match tab.filter(|&t| level::word(&rest[..t]).is_some()) {
            Some(t) => (Some(&rest[..t]), id, &rest[t + 1..]),
            None => (None, id, rest),
        }
    } else {
        return None;
    };
    let mut fields = Map::new();
    if !id.is_empty() {
        fields.insert("request_id".into(), Value::String(id.to_string()));
    }
    Some(Parts {
        timestamp: Some(own.nanos),
        level: raw.and_then(|r| level::word(r).map(|l| (l, r.to_string()))),
        message: message.to_string(),
        service: None,
        fields,
    })
}

/// The request id at the start of `s` and what follows its tab: a UUID, `undefined` (Node,
/// outside a request) or nothing (Python, outside a request).
fn request_id(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    let len = if b.first() == Some(&b'\t') {
        0
    } else if b.starts_with(b"undefined\t") {
        9
    } else if b.get(36) == Some(&b'\t') && uuid(&b[..36]) {
        36
    } else {
        return None;
    };
    Some((&s[..len], &s[len + 1..]))
}

fn uuid(b: &[u8]) -> bool {
    b.iter().enumerate().all(|(i, c)| match i {
        8 | 13 | 18 | 23 => *c == b'-',
        _ => c.is_ascii_hexdigit(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::time;
    use crate::record::Level;

    fn lambda(line: &str) -> Option<Parts> {
        parse(line, time::leading(line, 0)?)
    }

    #[test]
    fn node_and_python_runtime_lines() {
        let p = lambda("2026-11-24T09:05:43.882Z\tcf4fbbb7-3584-4aaf-a5d5-b215c38540cb\tERROR\tUnhandled Promise Rejection \t{\"errorType\":\"Runtime.UnhandledPromiseRejection\"}").unwrap();
        assert_eq!(p.timestamp, Some(1_795_511_143_882_000_000));
        assert_eq!(p.level, Some((Level::Error, "ERROR".into())));
        assert_eq!(
            p.message,
            "Unhandled Promise Rejection \t{\"errorType\":\"Runtime.UnhandledPromiseRejection\"}"
        );
        assert_eq!(
            p.fields["request_id"],
            "cf4fbbb7-3584-4aaf-a5d5-b215c38540cb"
        );

        let p = lambda("2026-11-24T09:05:40.001Z\tundefined\tINFO\tLoaded config").unwrap();
        assert_eq!(p.level.map(|l| l.0), Some(Level::Info));
        assert_eq!(p.message, "Loaded config");
        assert_eq!(p.fields["request_id"], "undefined");

        let p = lambda("[ERROR]\t2026-11-24T09:05:43.882Z\t3f8920ae-446c-4479-8857-5c5799310082\tSomething failed").unwrap();
        assert_eq!(p.timestamp, Some(1_795_511_143_882_000_000));
        assert_eq!(p.level, Some((Level::Error, "ERROR".into())));
        assert_eq!(p.message, "Something failed");
        assert_eq!(
            p.fields["request_id"],
            "3f8920ae-446c-4479-8857-5c5799310082"
        );
        // Python outside a request: no id.
        let p = lambda("[WARNING]\t2026-11-24T09:05:40.001Z\t\tcold start").unwrap();
        assert_eq!(p.level.map(|l| l.0), Some(Level::Warn));
        assert_eq!(p.message, "cold start");
        assert!(p.fields.is_empty());
    }

    #[test]
    fn other_tabbed_lines_are_not_lambdas() {
        for line in [
            "2026-11-24T09:05:43.882Z INFO started",
            "2026-11-24T09:05:43.882Z\tnot-an-id\tERROR\tx",
            "2026-11-24 09:05:43.882\tcf4fbbb7-3584-4aaf-a5d5-b215c38540cb\tERROR\tx",
            "[INFO] 2026-11-24T09:05:43.882Z\tcf4fbbb7-3584-4aaf-a5d5-b215c38540cb\tx",
        ] {
            assert!(lambda(line).is_none(), "{line}");
        }
    }
}
