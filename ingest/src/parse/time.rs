//! Timestamps at the start of a line, and timestamp values of structured fields.
//!
//! The scanners read fixed shapes byte by byte (no regex: this runs on every line) and leave
//! calendar arithmetic to chrono. A time without a zone is taken as UTC. A time without a year
//! (syslog RFC 3164, logcat, glog) gets the most recent year that does not put it more than a
//! month after the moment the line was read (offline, the file's last write), so December lines
//! read on 1 January land in the old year, while a writer whose clock or zone runs days ahead
//! stays in this one (rsyslog keeps the current year but across a New Year).

use chrono::{DateTime, Datelike, NaiveDate};

use crate::record::Nanos;

const DAY: Nanos = 86_400 * 1_000_000_000;
/// How far after the moment it is read a time without a year may fall in that year.
const AHEAD: Nanos = 31 * DAY;
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];
const WEEKDAYS: [&[u8; 3]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];

/// A timestamp found at the start of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leading {
    pub nanos: Nanos,
    /// Bytes taken by the timestamp, including the brackets around it if it had them.
    pub len: usize,
    /// RFC 3339 with `T` and a zone: the shape runtimes (docker, CRI) prepend.
    pub rfc3339: bool,
    /// A glog header (`E1120 10:00:00.123456`): its first letter is the level.
    pub glog: bool,
    /// The level came first, bracketed (Akka: `[INFO] [12/04/2026 06:00:30.006] …`).
    pub level_first: bool,
}

/// The civil parts of a timestamp, before the calendar checks.
#[derive(Default)]
struct Civil {
    year: Option<i32>,
    month: u32,
    day: u32,
    hour: u32,
    min: u32,
    sec: u32,
    nanos: u32,
    /// Offset east of UTC, seconds.
    offset: i32,
}

impl Civil {
    fn resolve(&self, observed: Nanos) -> Option<Nanos> {
        let at = |year: i32| -> Option<Nanos> {
            let t = NaiveDate::from_ymd_opt(year, self.month, self.day)?
                .and_hms_nano_opt(self.hour, self.min, self.sec, self.nanos)?
                .and_utc()
                .timestamp_nanos_opt()?;
            t.checked_sub(i64::from(self.offset) * 1_000_000_000)
        };
        match self.year {
            Some(y) => at(y),
            None => {
                let now_year = DateTime::from_timestamp_nanos(observed).year();
                let limit = observed.saturating_add(AHEAD);
                // Back to four years before, for 29 February.
                (now_year - 4..=now_year + 1)
                    .rev()
                    .filter_map(at)
                    .find(|&t| t <= limit)
            }
        }
    }
}

/// A timestamp in a configured chrono format at the very start of `s`; without a zone in the
/// format it is UTC.
pub fn with_format(s: &str, format: &str) -> Option<Leading> {
    let (nanos, rest) = match DateTime::parse_and_remainder(s, format) {
        Ok((t, rest)) => (t.timestamp_nanos_opt()?, rest),
        Err(_) => {
            let (t, rest) = chrono::NaiveDateTime::parse_and_remainder(s, format).ok()?;
            (t.and_utc().timestamp_nanos_opt()?, rest)
        }
    };
    Some(Leading {
        nanos,
        len: s.len() - rest.len(),
        rfc3339: false,
        glog: false,
        level_first: false,
    })
}

/// Finds a timestamp at the very start of `s` (optionally inside `[` `]`), or after one
/// bracketed level word (Akka: `[INFO] [12/04/2026 06:00:30.006]`).
pub fn leading(s: &str, observed: Nanos) -> Option<Leading> {
    if let Some(after) = bracketed_level(s.as_bytes()) {
        // Once only: a line of `[INFO] [INFO] …` must not recurse its length deep.
        let time = leading_at_start(&s[after..], observed)?;
        return Some(Leading {
            len: after + time.len,
            level_first: true,
            ..time
        });
    }
    leading_at_start(s, observed)
}

fn leading_at_start(s: &str, observed: Nanos) -> Option<Leading> {
    let b = s.as_bytes();
    // Ruby's Logger (Rails): `I, [2026-11-21T14:04:17.577207 #41211]  INFO -- : …`.
    if b.get(1..4) == Some(b", [") && matches!(b[0], b'D' | b'I' | b'W' | b'E' | b'F' | b'A') {
        let (c, n, _) = iso(&b[4..])?;
        let end = 4 + n + b[4 + n..].iter().position(|&c| c == b']')?;
        let pid = &b[4 + n..end];
        if !(pid.starts_with(b" #") && pid[2..].iter().all(u8::is_ascii_digit)) {
            return None;
        }
        return Some(Leading {
            nanos: c.resolve(observed)?,
            len: end + 1,
            rfc3339: false,
            glog: false,
            level_first: false,
        });
    }
    if b.starts_with(b"[Nest] ") {
        let (c, len) = nest(b)?;
        return Some(Leading {
            nanos: c.resolve(observed)?,
            len,
            rfc3339: false,
            glog: false,
            level_first: false,
        });
    }
    if b.first() == Some(&b'[') {
        let inner = leading_bare(&b[1..], observed)?;
        return match b.get(1 + inner.len) {
            Some(b']') => Some(Leading {
                len: inner.len + 2,
                ..inner
            }),
            // env_logger: `[2026-12-05T09:00:31Z INFO  actix_web::middleware::logger] …`, the
            // level and module path inside the time's bracket; the level is read after it.
            Some(b' ') if env_logger_rest(&b[2 + inner.len..]) => Some(Leading {
                len: inner.len + 1,
                ..inner
            }),
            _ => None,
        };
    }
    leading_bare(b, observed)
}

/// ` LEVEL module::path] ` of env_logger, after its time: a level word, and the bracket closed
/// further on.
fn env_logger_rest(b: &[u8]) -> bool {
    let word = b
        .iter()
        .take(6)
        .take_while(|c| c.is_ascii_alphabetic())
        .count();
    let level = std::str::from_utf8(&b[..word]).is_ok_and(|w| super::level::word(w).is_some());
    level
        && matches!(b.get(word), Some(b' ' | b']'))
        && b.iter().skip(word).take(256).any(|&c| c == b']')
}

/// Where the text after a bracketed level word and its space (a tab in Lambda's Python runtime:
/// `[ERROR]\t2026-11-24T09:05:43.882Z\t…`) starts (`[INFO] `, `[warn] `).
fn bracketed_level(b: &[u8]) -> Option<usize> {
    let close = b.iter().take(10).position(|&c| c == b']')?;
    let word = b.get(1..close)?;
    let level = b.first() == Some(&b'[')
        && !word.is_empty()
        && word.iter().all(u8::is_ascii_alphabetic)
        && std::str::from_utf8(word).is_ok_and(|w| super::level::word(w).is_some());
    (level && matches!(b.get(close + 1), Some(b' ' | b'\t'))).then_some(close + 2)
}

fn leading_bare(b: &[u8], observed: Nanos) -> Option<Leading> {
    let first = *b.first()?;
    let found = if first.is_ascii_digit() {
        iso(b)
            .map(|(c, n, rfc)| (c, n, rfc, false))
            .or_else(|| short_date(b).map(|(c, n)| (c, n, false, false)))
    } else if first.is_ascii_alphabetic() {
        month_first(b)
            .or_else(|| ctime(b))
            .map(|(c, n)| (c, n, false, false))
            .or_else(|| glog(b).map(|(c, n)| (c, n, false, true)))
    } else {
        None
    };
    if let Some((civil, len, rfc3339, glog)) = found {
        return Some(Leading {
            nanos: civil.resolve(observed)?,
            len,
            rfc3339,
            glog,
            level_first: false,
        });
    }
    if first.is_ascii_digit() {
        let (nanos, len) = epoch(b)?;
        return Some(Leading {
            nanos,
            len,
            rfc3339: false,
            glog: false,
            level_first: false,
        });
    }
    None
}

/// Parses a whole string as a timestamp: the value of a `time` field.
pub fn value(s: &str, observed: Nanos) -> Option<Nanos> {
    let s = s.trim();
    match leading(s, observed) {
        Some(l) if l.len == s.len() => Some(l.nanos),
        _ => None,
    }
}

/// Integer epoch of seconds, milliseconds, microseconds or nanoseconds, exactly.
pub fn epoch_integer(x: i64) -> Option<Nanos> {
    let scale = match x {
        ..=0 => return None,
        1..=99_999_999_999 => 1_000_000_000,
        100_000_000_000..=99_999_999_999_999 => 1_000_000,
        100_000_000_000_000..=99_999_999_999_999_999 => 1_000,
        _ => 1,
    };
    x.checked_mul(scale)
}

/// A decimal epoch (`1763632800.25`, `1763632800123`), exactly: the integer part's magnitude
/// gives the unit, the fraction refines it.
pub fn epoch_decimal(s: &str) -> Option<Nanos> {
    let (int, frac) = s.split_once(['.', ',']).unwrap_or((s, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = int.parse().ok()?;
    let ns = epoch_integer(whole)?;
    let unit = ns / whole;
    let mut extra = 0i64;
    let mut scale = unit;
    for d in frac.bytes() {
        if !d.is_ascii_digit() {
            return None;
        }
        scale /= 10;
        extra += i64::from(d - b'0') * scale;
    }
    ns.checked_add(extra)
}

/// Epoch number of seconds, milliseconds, microseconds or nanoseconds, told apart by magnitude.
pub fn epoch_number(x: f64) -> Option<Nanos> {
    if !x.is_finite() || x <= 0.0 {
        return None;
    }
    let scale = if x < 1e11 {
        1e9
    } else if x < 1e14 {
        1e6
    } else if x < 1e17 {
        1e3
    } else {
        1.0
    };
    let ns = x * scale;
    (ns < 9.2e18).then_some(ns as Nanos)
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

fn digits_or_space(b: &[u8], at: usize) -> Option<u32> {
    // Day of month in syslog/ctime: two digits, or a space then one digit.
    match b.get(at) {
        Some(b' ') => digits(b, at + 1, 1),
        _ => digits(b, at, 2),
    }
}

/// `HH:MM:SS` then an optional `.fff`/`,fff` fraction. Returns the new position.
fn clock(b: &[u8], at: usize, c: &mut Civil) -> Option<usize> {
    c.hour = digits(b, at, 2)?;
    (b.get(at + 2) == Some(&b':')).then_some(())?;
    c.min = digits(b, at + 3, 2)?;
    (b.get(at + 5) == Some(&b':')).then_some(())?;
    c.sec = digits(b, at + 6, 2)?.min(59);
    let mut i = at + 8;
    if matches!(b.get(i), Some(b'.' | b',')) && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i += 1;
        let mut scale = 100_000_000u32;
        while let Some(&d) = b.get(i).filter(|d| d.is_ascii_digit()) {
            c.nanos += u32::from(d - b'0') * scale;
            scale /= 10;
            i += 1;
        }
    }
    Some(i)
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.f][zone]` (also `/` between date parts, as nginx writes).
fn iso(b: &[u8]) -> Option<(Civil, usize, bool)> {
    let sep = *b.get(4)?;
    if sep != b'-' && sep != b'/' || b.get(7) != Some(&sep) {
        return None;
    }
    let mut c = Civil {
        year: Some(digits(b, 0, 4)? as i32),
        month: digits(b, 5, 2)?,
        day: digits(b, 8, 2)?,
        ..Civil::default()
    };
    // `_`: runit's svlogd -tt (`2026-11-24_06:00:00.13981`).
    let t = *b.get(10)?;
    if !matches!(t, b'T' | b't' | b' ' | b'_') {
        return None;
    }
    let mut i = clock(b, 11, &mut c)?;
    let zoned = match b.get(i) {
        Some(b'Z' | b'z') => {
            i += 1;
            true
        }
        Some(&sign @ (b'+' | b'-')) => match zone_offset(b, i + 1) {
            Some((off, n)) => {
                c.offset = if sign == b'-' { -off } else { off };
                i += 1 + n;
                true
            }
            None => false,
        },
        // gunicorn's `[2026-11-20 12:00:02 +0000]`: a full offset after a space (a shorter
        // one would be a number in the message).
        Some(b' ') => match (b.get(i + 1), zone_offset(b, i + 2)) {
            (Some(&sign @ (b'+' | b'-')), Some((off, n @ (4 | 5))))
                if !b.get(i + 2 + n).is_some_and(u8::is_ascii_digit) =>
            {
                c.offset = if sign == b'-' { -off } else { off };
                i += 2 + n;
                true
            }
            _ => false,
        },
        _ => false,
    };
    Some((c, i, matches!(t, b'T' | b't') && zoned && sep == b'-'))
}

/// `HH:MM`, `HHMM` or `HH` after a zone sign: (seconds, bytes).
fn zone_offset(b: &[u8], at: usize) -> Option<(i32, usize)> {
    let h = digits(b, at, 2)?;
    let (m, n) = if b.get(at + 2) == Some(&b':') {
        (digits(b, at + 3, 2)?, 5)
    } else if let Some(m) = digits(b, at + 2, 2) {
        (m, 4)
    } else {
        (0, 2)
    };
    (h <= 14 && m < 60).then_some(((h * 3600 + m * 60) as i32, n))
}

/// Short dates: `yyMMdd HHmmss` (HDFS), `yy/MM/dd HH:MM:SS` (Spark), `MM-DD HH:MM:SS.f` (logcat),
/// and slashed dates with the year last: `MM/dd/yyyy HH:MM:SS.f` (Akka, US locales), read day
/// first when the first number cannot be a month.
fn short_date(b: &[u8]) -> Option<(Civil, usize)> {
    let mut c = Civil::default();
    if b.get(2) == Some(&b'/') && b.get(5) == Some(&b'/') && b.get(10) == Some(&b' ') {
        let (first, second) = (digits(b, 0, 2)?, digits(b, 3, 2)?);
        (c.month, c.day) = if first > 12 {
            (second, first)
        } else {
            (first, second)
        };
        c.year = Some(digits(b, 6, 4)? as i32);
        let end = clock(b, 11, &mut c)?;
        return Some((c, end));
    }
    if b.get(2) == Some(&b'/') && b.get(5) == Some(&b'/') && b.get(8) == Some(&b' ') {
        c.year = Some(2000 + digits(b, 0, 2)? as i32);
        c.month = digits(b, 3, 2)?;
        c.day = digits(b, 6, 2)?;
        let end = clock(b, 9, &mut c)?;
        return Some((c, end));
    }
    // php-fpm, PHP's error log, Tomcat: `02-Dec-2026 14:12:05[.f]`, PHP's with ` UTC` after.
    if b.get(2) == Some(&b'-') && b.get(6) == Some(&b'-') && b.get(11) == Some(&b' ') {
        c.day = digits(b, 0, 2)?;
        c.month = month(b, 3)?;
        c.year = Some(digits(b, 7, 4)? as i32);
        let end = clock(b, 12, &mut c)?;
        let utc =
            b[end..].starts_with(b" UTC") && !b.get(end + 4).is_some_and(u8::is_ascii_alphanumeric);
        return Some((c, if utc { end + 4 } else { end }));
    }
    if b.get(2) == Some(&b'-') && b.get(5) == Some(&b' ') {
        c.month = digits(b, 0, 2)?;
        c.day = digits(b, 3, 2)?;
        let end = clock(b, 6, &mut c)?;
        return Some((c, end));
    }
    if b.get(6) == Some(&b' ') && b.get(13).is_none_or(|&x| x == b' ') {
        c.year = Some(2000 + digits(b, 0, 2)? as i32);
        c.month = digits(b, 2, 2)?;
        c.day = digits(b, 4, 2)?;
        c.hour = digits(b, 7, 2)?;
        c.min = digits(b, 9, 2)?;
        c.sec = digits(b, 11, 2)?;
        return Some((c, 13));
    }
    None
}

fn frac_len(b: &[u8], at: usize) -> usize {
    if matches!(b.get(at), Some(b'.' | b',')) {
        1 + b[at + 1..]
            .iter()
            .take_while(|d| d.is_ascii_digit())
            .count()
    } else {
        0
    }
}

fn month(b: &[u8], at: usize) -> Option<u32> {
    month_number(b.get(at..at + 3)?)
}

/// `Jan` → 1 … `Dec` → 12.
pub fn month_number(m: &[u8]) -> Option<u32> {
    MONTHS
        .iter()
        .position(|x| x[..] == *m)
        .map(|p| p as u32 + 1)
}

/// `Mmm dd HH:MM:SS[.f]` (RFC 3164, journald short), with an optional ` YYYY` after the time.
fn month_first(b: &[u8]) -> Option<(Civil, usize)> {
    let mut c = Civil {
        month: month(b, 0)?,
        ..Civil::default()
    };
    (b.get(3) == Some(&b' ')).then_some(())?;
    c.day = digits_or_space(b, 4)?;
    (b.get(6) == Some(&b' ')).then_some(())?;
    let mut i = clock(b, 7, &mut c)?;
    if b.get(i) == Some(&b' ') && !b.get(i + 5).is_some_and(u8::is_ascii_digit) {
        if let Some(y) = digits(b, i + 1, 4) {
            c.year = Some(y as i32);
            i += 5;
        }
    }
    Some((c, i))
}

/// `Www Mmm dd HH:MM:SS[.f] YYYY` (ctime, Apache error log).
fn ctime(b: &[u8]) -> Option<(Civil, usize)> {
    let wd = b.get(0..3)?;
    WEEKDAYS.iter().any(|x| x[..] == *wd).then_some(())?;
    (b.get(3) == Some(&b' ')).then_some(())?;
    let (c, i) = month_first(&b[4..])?;
    Some((c, i + 4))
}

/// NestJS's console logger: `[Nest] 1234  - 11/20/2026, 9:43:43 AM`, its time in the
/// process's locale (`en-US` by default; Node ≥ 20 puts U+202F before the AM/PM).
fn nest(b: &[u8]) -> Option<(Civil, usize)> {
    let mut i = "[Nest] ".len();
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    (b.get(i..i + 2)? == b"- ").then_some(())?;
    i += 2;
    let number = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) && *i - start < 4 {
            *i += 1;
        }
        digits(b, start, *i - start)
    };
    let month = number(&mut i)?;
    (b.get(i) == Some(&b'/')).then_some(())?;
    i += 1;
    let day = number(&mut i)?;
    (b.get(i) == Some(&b'/')).then_some(())?;
    i += 1;
    let year = number(&mut i)?;
    (b.get(i..i + 2)? == b", ").then_some(())?;
    i += 2;
    let mut hour = number(&mut i)?;
    (b.get(i) == Some(&b':')).then_some(())?;
    let min = digits(b, i + 1, 2)?;
    (b.get(i + 3) == Some(&b':')).then_some(())?;
    let sec = digits(b, i + 4, 2)?;
    i += 6;
    i += if b.get(i) == Some(&b' ') {
        1
    } else if b.get(i..i + 3)? == "\u{202f}".as_bytes() {
        3
    } else {
        return None;
    };
    match b.get(i..i + 2)? {
        b"AM" if hour == 12 => hour = 0,
        b"AM" => {}
        b"PM" if hour < 12 => hour += 12,
        b"PM" => {}
        _ => return None,
    }
    (hour < 24).then_some(())?;
    let c = Civil {
        year: Some(year as i32),
        month,
        day,
        hour,
        min,
        sec: sec.min(59),
        ..Civil::default()
    };
    Some((c, i + 2))
}

/// glog: `Lmmdd HH:MM:SS.ffffff` where L is I, W, E or F.
fn glog(b: &[u8]) -> Option<(Civil, usize)> {
    if !matches!(b.first(), Some(b'I' | b'W' | b'E' | b'F')) || b.get(5) != Some(&b' ') {
        return None;
    }
    let mut c = Civil {
        month: digits(b, 1, 2)?,
        day: digits(b, 3, 2)?,
        ..Civil::default()
    };
    let i = clock(b, 6, &mut c)?;
    Some((c, i))
}

/// An epoch number (10, 13, 16 or 19 digits, optional fraction) followed by a space or the end.
fn epoch(b: &[u8]) -> Option<(Nanos, usize)> {
    let int = b.iter().take_while(|d| d.is_ascii_digit()).count();
    if !matches!(int, 10 | 13 | 16 | 19) {
        return None;
    }
    let len = int + frac_len(b, int);
    if b.get(len).is_some_and(|&x| x != b' ' && x != b'\t') {
        return None;
    }
    // A leading number is only a time if it falls in 2000–2100: IDs and counters start lines too.
    const PLAUSIBLE: std::ops::RangeInclusive<Nanos> =
        946_684_800_000_000_000..=4_102_444_800_000_000_000;
    let n = std::str::from_utf8(&b[..len])
        .ok()
        .and_then(epoch_decimal)
        .filter(|n| PLAUSIBLE.contains(n))?;
    Some((n, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_23_2026: Nanos = 1_795_435_200_000_000_000;

    fn at(s: &str) -> Option<(Nanos, usize)> {
        leading(s, NOV_23_2026).map(|l| (l.nanos, l.len))
    }

    fn utc(s: &str) -> Nanos {
        crate::record::rfc3339_nanos::parse(s).unwrap()
    }

    #[test]
    fn iso_zones_and_fractions() {
        let t = utc("2026-11-20T10:00:00Z");
        assert_eq!(at("2026-11-20T10:00:00Z x"), Some((t, 20)));
        assert_eq!(at("2026-11-20T12:00:00+02:00 x"), Some((t, 25)));
        assert_eq!(at("2026-11-20T12:00:00+0200 x"), Some((t, 24)));
        assert_eq!(at("2026-11-20T07:00:00-03 x"), Some((t, 22)));
        assert_eq!(at("2026-11-20 10:00:00 - INFO"), Some((t, 19)));
        assert_eq!(at("2026-11-20_10:00:00.00000 x"), Some((t, 25)));
        assert_eq!(
            at("2026-11-20T10:00:00.1234567891234Z"),
            Some((t + 123_456_789, 34))
        );
        assert!(leading("2026-11-20T10:00:00Z", 0).unwrap().rfc3339);
        assert!(!leading("2026-11-20 10:00:00Z", 0).unwrap().rfc3339);
    }

    #[test]
    fn slashed_dates_with_the_year_last_and_a_level_first() {
        let t = utc("2026-12-04T06:00:30.006Z");
        assert_eq!(at("12/04/2026 06:00:30.006 x"), Some((t, 23)));
        let akka = "[INFO] [12/04/2026 06:00:30.006] [dispatcher-19] lag=20650";
        let l = leading(akka, 0).unwrap();
        assert_eq!((l.nanos, l.len, l.level_first), (t, 32, true));
        assert_eq!(
            at("25/12/2026 10:00:00 x").map(|t| t.0),
            Some(utc("2026-12-25T10:00:00Z"))
        );
        assert_eq!(at("13/13/2026 10:00:00 x"), None);
        // A bracketed word that is no level is no prefix.
        assert_eq!(at("[main] [12/04/2026 06:00:30.006] x"), None);
        // One level only, and a hostile run of them is read without recursing.
        assert_eq!(at("[INFO] [INFO] [12/04/2026 06:00:30.006] x"), None);
        assert_eq!(at(&"[INFO] ".repeat(200_000)), None);
    }

    #[test]
    fn day_month_name_year_as_php_and_tomcat_write_it() {
        let t = utc("2026-12-02T14:12:05Z");
        assert_eq!(at("[02-Dec-2026 14:12:05] NOTICE: exiting"), Some((t, 22)));
        assert_eq!(
            at("[02-Dec-2026 14:12:05 UTC] PHP Warning: x"),
            Some((t, 26))
        );
        assert_eq!(
            at("02-Dec-2026 14:12:05.250 INFO [main] x"),
            Some((t + 250_000_000, 24))
        );
        assert_eq!(at("[02-Dec-2026 14:12:05 UTCX] x"), None);
        assert_eq!(at("02-Foo-2026 14:12:05 x"), None);
    }

    #[test]
    fn levels_inside_or_before_the_bracket() {
        let t = utc("2026-12-05T09:00:31Z");
        // env_logger: the bracket holds the level and module too; the time is what is taken.
        let line = "[2026-12-05T09:00:31Z INFO  actix_web::middleware::logger] 10.3.5.155 \"GET /v2/search?q=boots HTTP/1.1\" 200";
        assert_eq!(at(line), Some((t, 21)));
        assert_eq!(at("[2026-12-05T09:00:31Z ERROR hyper] x"), Some((t, 21)));
        assert_eq!(at("[2026-12-05T09:00:31Z WARN ] x"), Some((t, 21)));
        assert_eq!(at("[2026-12-05T09:00:31Z main] x"), None);
        assert_eq!(at("[2026-12-05T09:00:31Z INFO no bracket"), None);
        // Lambda's Python runtime: a tab after the level.
        let l = leading("[ERROR]\t2026-12-05T09:00:31Z\tid\tx", 0).unwrap();
        assert_eq!((l.nanos, l.len, l.level_first), (t, 28, true));
    }

    #[test]
    fn rejects_impossible_and_partial_times() {
        assert_eq!(at("2026-02-30 10:00:00 x"), None);
        assert_eq!(at("2026-11-20 25:00:00 x"), None);
        assert_eq!(at("2026-11-20"), None);
        assert_eq!(at("[2026-11-20 10:00:00 x"), None);
        assert_eq!(at("12345678901 x"), None);
        assert_eq!(at("0000000042 x"), None);
        assert_eq!(at("Foo 20 10:00:00 x"), None);
        assert_eq!(
            at("Feb 29 10:00:00 x").map(|t| t.0),
            Some(utc("2024-02-29T10:00:00Z"))
        );
    }

    #[test]
    fn epochs() {
        assert_eq!(at("1795168800 x"), Some((utc("2026-11-20T10:00:00Z"), 10)));
        assert_eq!(
            at("1795168800123456789"),
            Some((1_795_168_800_123_456_789, 19))
        );
        assert_eq!(
            epoch_decimal("1795168800.000000001"),
            Some(1_795_168_800_000_000_001)
        );
        assert_eq!(
            epoch_decimal("1795168800123.5"),
            Some(1_795_168_800_123_500_000)
        );
        assert_eq!(epoch_decimal("-1"), None);
        assert_eq!(epoch_decimal("99999999999999999999"), None);
        assert_eq!(
            value(" 2026-11-20T10:00:00Z ", 0),
            Some(utc("2026-11-20T10:00:00Z"))
        );
        assert_eq!(value("2026-11-20T10:00:00Z and more", 0), None);
    }
}
