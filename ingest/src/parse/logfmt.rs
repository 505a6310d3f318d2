//! logfmt: `ts=… level=error msg="…" key=value` (Go's log/slog, logrus, Heroku, Grafana).

use serde_json::{Map, Value};

use super::{level, Parts, TimeHints};
use crate::record::Nanos;

/// Does the text start like logfmt (`key=`)? A cheap test before [`parse`].
pub fn looks_like(s: &str) -> bool {
    let key_len = s
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'@'))
        .count();
    key_len > 0 && s.as_bytes().get(key_len) == Some(&b'=')
}

/// Does the text start with a logfmt record's usual first key? Such a line is an event of its
/// own, never the continuation of another.
pub fn is_record(s: &str) -> bool {
    ["level=", "ts=", "time=", "msg=", "lvl=", "t=", "timestamp="]
        .iter()
        .any(|k| s.starts_with(k))
}

/// Parses logfmt pairs. The message is `msg`/`message`, else `line` (the whole line the pairs
/// are part of).
pub fn parse(s: &str, line: &str, observed: Nanos, hints: TimeHints<'_>) -> Parts {
    let mut parts = Parts::default();
    let mut fields = Map::new();
    let mut message = None;
    for (key, value) in pairs(s) {
        let is_time = match hints.field {
            Some(field) => key == field,
            None => matches!(key, "ts" | "time" | "timestamp" | "t"),
        };
        match key {
            _ if is_time && parts.timestamp.is_none() => {
                parts.timestamp = hints.value(&value, observed);
                if parts.timestamp.is_none() {
                    fields.insert(key.to_string(), Value::String(value));
                }
            }
            "level" | "lvl" | "severity" if parts.level.is_none() => match level::word(&value) {
                Some(l) => parts.level = Some((l, value)),
                None => {
                    fields.insert(key.to_string(), Value::String(value));
                }
            },
            "msg" | "message" if message.is_none() => message = Some(value),
            "service" | "app" | "service.name" | "application" if parts.service.is_none() => {
                parts.service = Some(value)
            }
            _ => {
                fields.insert(key.to_string(), Value::String(value));
            }
        }
    }
    parts.message = message.unwrap_or_else(|| line.to_string());
    parts.fields = fields;
    parts
}

/// Iterates `key=value`, `key="quoted \" value"` and bare `key` pairs.
fn pairs(s: &str) -> impl Iterator<Item = (&str, String)> {
    let b = s.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        if i >= b.len() {
            return None;
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b' ' {
            i += 1;
        }
        let key = &s[start..i];
        if i >= b.len() || b[i] == b' ' {
            return Some((key, String::from("true")));
        }
        i += 1;
        if b.get(i) == Some(&b'"') {
            i += 1;
            let mut value = String::new();
            let mut seg = i;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    value.push_str(&s[seg..i]);
                    let esc = b[i + 1];
                    if esc.is_ascii() {
                        value.push(match esc {
                            b'n' => '\n',
                            b't' => '\t',
                            _ => esc as char,
                        });
                        i += 2;
                    } else {
                        // A backslash before a multi-byte char: keep the char as it is.
                        i += 1;
                    }
                    seg = i;
                    continue;
                }
                i += 1;
            }
            value.push_str(&s[seg..i.min(b.len())]);
            i += 1;
            Some((key, value))
        } else {
            let vstart = i;
            while i < b.len() && b[i] != b' ' {
                i += 1;
            }
            Some((key, s[vstart..i].to_string()))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Level;

    #[test]
    fn parses_pairs() {
        let p = parse(
            r#"ts=2026-11-20T10:00:00Z level=error msg="payment \"failed\"" order=42 retry app=pay"#,
            "",
            0,
            TimeHints::default(),
        );
        assert_eq!(p.timestamp, Some(1_795_168_800_000_000_000));
        assert_eq!(p.level, Some((Level::Error, "error".into())));
        assert_eq!(p.message, r#"payment "failed""#);
        assert_eq!(p.service.as_deref(), Some("pay"));
        assert_eq!(p.fields["order"], "42");
        assert_eq!(p.fields["retry"], "true");
    }

    #[test]
    fn detection_and_odd_input() {
        assert!(looks_like("level=info msg=x"));
        assert!(!looks_like("Error: x=1"));
        assert!(!looks_like("=x"));
        let p = parse(r#"msg="unterminated \"é"#, "", 0, TimeHints::default());
        assert_eq!(p.message, "unterminated \"é");
        let p = parse(r#"msg="\é" x=\"#, "", 0, TimeHints::default());
        assert_eq!(p.message, "é");
        assert_eq!(p.fields["x"], "\\");
        let p = parse(
            "level=warn x=1",
            "10:00 level=warn x=1",
            0,
            TimeHints::default(),
        );
        assert_eq!(p.message, "10:00 level=warn x=1");
    }

    #[test]
    fn configured_time_field_and_format() {
        let hints = TimeHints {
            field: Some("when"),
            format: Some("%d/%m/%Y %H:%M:%S"),
        };
        let p = parse(r#"ts=x when="20/11/2026 10:00:00" msg=m"#, "", 0, hints);
        assert_eq!(p.timestamp, Some(1_795_168_800_000_000_000));
        assert_eq!(p.fields["ts"], "x", "not the time field any more");
        let p = parse("when=garbage msg=m", "", 0, hints);
        assert_eq!(p.timestamp, None);
        assert_eq!(p.fields["when"], "garbage");
    }
}
