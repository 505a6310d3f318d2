//! W3C extended log files (IIS, and others that write them): a `#Fields:` directive names the
//! space-separated columns of the lines after it, until the next one.
//!
//! ```text
//! #Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken
//! 2026-12-04 13:00:00 10.20.1.15 GET /category/running - 443 - 185.60.113.101 Mozilla/5.0+(…) - 200 0 0 51
//! ```
//!
//! Times are UTC. The request's columns become `http` fields as in the other access logs
//! (`method`, `path`, `status`, `bytes`, `duration_ms` from `time-taken`, `user_agent`,
//! `referer`), the client's address `client`; other columns keep their W3C names.

use chrono::NaiveDateTime;
use serde_json::{json, Map, Value};

use super::{access, Parts};

/// The columns a `#Fields:` directive named.
#[derive(Debug, Clone)]
pub struct Columns {
    names: Vec<String>,
}

impl Columns {
    /// The columns of a `#Fields:` directive line; `None` for any other line.
    pub fn directive(line: &str) -> Option<Columns> {
        let names: Vec<String> = line
            .strip_prefix("#Fields:")?
            .split_ascii_whitespace()
            .map(str::to_string)
            .collect();
        (!names.is_empty() && names.len() <= 64).then_some(Columns { names })
    }

    /// A line of the log; `None` if its columns are not those named, or it has no time.
    pub fn parse(&self, line: &str) -> Option<Parts> {
        let values: Vec<&str> = line.split(' ').collect();
        if values.len() != self.names.len() {
            return None;
        }
        let (mut date, mut time) = (None, None);
        let (mut http, mut fields) = (Map::new(), Map::new());
        let (mut path, mut query, mut status) = (None, None, None);
        for (name, value) in self.names.iter().zip(&values) {
            if *value == "-" {
                continue;
            }
            let number = || value.parse::<u64>().ok().map(|n| json!(n));
            let (map, key, v): (&mut Map<String, Value>, &str, Option<Value>) = match name.as_str()
            {
                "date" => {
                    date = Some(*value);
                    continue;
                }
                "time" => {
                    time = Some(*value);
                    continue;
                }
                "cs-uri-stem" => {
                    path = Some(*value);
                    continue;
                }
                "cs-uri-query" => {
                    query = Some(*value);
                    continue;
                }
                "sc-status" => {
                    status = value.parse::<u16>().ok();
                    (&mut http, "status", number())
                }
                "cs-method" => (&mut http, "method", Some(json!(value))),
                "sc-bytes" => (&mut http, "bytes", number()),
                "time-taken" => (&mut http, "duration_ms", number()),
                "cs(User-Agent)" => (&mut http, "user_agent", Some(json!(value))),
                "cs(Referer)" => (&mut http, "referer", Some(json!(value))),
                "cs-version" => (&mut http, "protocol", Some(json!(value))),
                "c-ip" => (&mut fields, "client", Some(json!(value))),
                "cs-username" => (&mut fields, "user", Some(json!(value))),
                other => (
                    &mut fields,
                    other,
                    Some(number().unwrap_or_else(|| json!(value))),
                ),
            };
            if let Some(v) = v {
                map.insert(key.to_string(), v);
            }
        }
        let stamp = format!("{} {}", date?, time?);
        let at = NaiveDateTime::parse_from_str(&stamp, "%Y-%m-%d %H:%M:%S%.f").ok()?;
        let timestamp = at.and_utc().timestamp_nanos_opt()?;
        if let Some(path) = path {
            let full = match query {
                Some(q) => format!("{path}?{q}"),
                None => path.to_string(),
            };
            http.insert("path".into(), json!(full));
        }
        Some(access::parts(line, timestamp, status?, http, fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &str = "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken";

    #[test]
    fn lines_are_read_by_the_columns_their_directive_names() {
        let columns = Columns::directive(FIELDS).unwrap();
        let p = columns
            .parse("2026-12-04 13:00:07 10.20.1.15 GET /cart page=2 443 - 185.60.113.101 Mozilla/5.0+(X11) - 500 0 64 15230")
            .unwrap();
        assert_eq!(p.timestamp, Some(1_796_389_207_000_000_000));
        assert_eq!(
            p.level.as_ref().map(|l| l.0),
            Some(crate::record::Level::Error)
        );
        let http = &p.fields["http"];
        assert_eq!(http["status"], 500);
        assert_eq!(http["method"], "GET");
        assert_eq!(http["path"], "/cart?page=2");
        assert_eq!(http["duration_ms"], 15230);
        assert_eq!(p.fields["client"], "185.60.113.101");
        assert_eq!(p.fields["sc-win32-status"], 64);
        // Another shape, or no directive: not this format.
        assert!(columns.parse("2026-12-04 13:00:07 GET /cart 200").is_none());
        assert!(
            Columns::directive("#Software: Microsoft Internet Information Services 10.0").is_none()
        );
    }
}
