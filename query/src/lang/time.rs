//! The `start`/`end` parameters: RFC 3339 (`2026-11-20T10:00:00Z`), `now`, `now-15m`, `now+1h`,
//! or a bare duration (`15m`, `2h`, `7d`) meaning that long before now.

use firewatch_ingest::record::{rfc3339_nanos, Nanos};

/// A time parameter firewatch cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid time {input:?}: expected RFC 3339 (2026-11-20T10:00:00Z), now, now-15m or 15m (units ms, s, m, h, d, w)")]
pub struct TimeError {
    pub input: String,
}

/// Reads a time parameter relative to `now` (nanoseconds since the epoch).
pub fn parse_time(input: &str, now: Nanos) -> Result<Nanos, TimeError> {
    let s = input.trim();
    let err = || TimeError {
        input: input.to_string(),
    };
    if let Some(ns) = rfc3339_nanos::parse(s) {
        return Ok(ns);
    }
    let Some(rest) = s.strip_prefix("now") else {
        return now
            .checked_sub(parse_duration(s).ok_or_else(err)?)
            .ok_or_else(err);
    };
    if rest.is_empty() {
        return Ok(now);
    }
    let (sign, dur) = rest.split_at(1);
    let d = parse_duration(dur).ok_or_else(err)?;
    match sign {
        "-" => now.checked_sub(d),
        "+" => now.checked_add(d),
        _ => None,
    }
    .ok_or_else(err)
}

/// `15m` → nanoseconds. Units: `ms`, `s`, `m`, `h`, `d`, `w`.
pub fn parse_duration(s: &str) -> Option<Nanos> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = s.split_at(split);
    let n: i64 = digits.parse().ok()?;
    let unit_ns: i64 = match unit {
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60 * 1_000_000_000,
        "h" => 3_600 * 1_000_000_000,
        "d" => 86_400 * 1_000_000_000,
        "w" => 7 * 86_400 * 1_000_000_000,
        _ => return None,
    };
    n.checked_mul(unit_ns)
}
