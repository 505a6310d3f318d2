//! A record's time as its message spells it, for templates that refer to it (layout 5). Pure.
//!
//! Text logs keep their timestamp in the message (`2026-11-20 00:00:43,455 INFO …`, an access
//! log's `[20/Nov/2026:00:00:12 +0000]`). The block already stores the record's time, so a
//! template that holds the rendered text stores it twice, and its changing digits were the
//! most costly bytes of such templates: about a twelfth of a compressed block of a mixed
//! corpus. A template instead refers to the time by the number of its [format](FORMATS), and
//! reading renders it again. A reference is made only where the rendering equals the text, so
//! a log in another time zone, or a time that is not the record's, is simply kept as text.
//!
//! ```text
//! spec letters: Y year (4 digits)  m month  d day  e day, space-padded  b month abbreviation
//!               H hour  M minute  S second  f u n milli-, micro-, nanoseconds (truncated)
//!               any other byte is itself
//! ```

use chrono::{DateTime, Datelike, Timelike};

/// The formats a template may refer to, by their place here: blocks store that place, so
/// formats are only ever appended. Longer forms come before the forms they start or end with,
/// so that the longest text found is the one referred to.
pub(crate) const FORMATS: [&str; 19] = [
    "Y-m-dTH:M:S.nZ",
    "Y-m-dTH:M:S.uZ",
    "Y-m-dTH:M:S.fZ",
    "Y-m-dTH:M:SZ",
    "Y-m-dTH:M:S.n",
    "Y-m-dTH:M:S.u",
    "Y-m-dTH:M:S.f",
    "Y-m-dTH:M:S",
    "Y-m-d H:M:S,f",
    "Y-m-d H:M:S.u",
    "Y-m-d H:M:S.f",
    "Y-m-d H:M:S",
    "d/b/Y:H:M:S +0000",
    "Y/m/d H:M:S.u",
    "Y/m/d H:M:S",
    "b e H:M:S",
    "H:M:S.u",
    "H:M:S.f",
    "H:M:S",
];

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// How far into a message a time is looked for: timestamps lead a line, or follow a short
/// prefix such as an access log's client address.
const LOOK_WITHIN: usize = 256;

/// A time's calendar parts, UTC.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parts {
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
}

impl Parts {
    /// The parts of `ns` since the epoch; `None` outside years 0–9999, which no format spells.
    pub(crate) fn of(ns: i64) -> Option<Parts> {
        let t = DateTime::from_timestamp_nanos(ns);
        (0..=9999).contains(&t.year()).then(|| Parts {
            year: t.year(),
            month: t.month(),
            day: t.day(),
            hour: t.hour(),
            minute: t.minute(),
            second: t.second(),
            nanos: t.nanosecond(),
        })
    }

    /// Appends the time in format `f`; `None` if there is no such format.
    pub(crate) fn render(&self, f: u8, out: &mut Vec<u8>) -> Option<()> {
        for &c in FORMATS.get(f as usize)?.as_bytes() {
            match c {
                b'Y' => digits(self.year as u32, 4, out),
                b'm' => digits(self.month, 2, out),
                b'd' => digits(self.day, 2, out),
                b'e' => {
                    if self.day < 10 {
                        out.push(b' ');
                    }
                    digits(self.day, if self.day < 10 { 1 } else { 2 }, out);
                }
                b'b' => out.extend_from_slice(MONTHS[self.month as usize - 1]),
                b'H' => digits(self.hour, 2, out),
                b'M' => digits(self.minute, 2, out),
                b'S' => digits(self.second, 2, out),
                b'f' => digits(self.nanos / 1_000_000, 3, out),
                b'u' => digits(self.nanos / 1_000, 6, out),
                b'n' => digits(self.nanos, 9, out),
                other => out.push(other),
            }
        }
        Some(())
    }
}

/// Appends `v`'s last `width` decimal digits, zero-padded.
fn digits(v: u32, width: u32, out: &mut Vec<u8>) {
    for p in (0..width).rev() {
        out.push(b'0' + (v / 10u32.pow(p) % 10) as u8);
    }
}

/// Where each format's `H:M:S` starts in its rendering: every letter before it renders to a
/// fixed width.
fn time_at(f: usize) -> usize {
    let spec = FORMATS[f].as_bytes();
    let before = &spec[..spec.iter().position(|&c| c == b'H').unwrap_or(0)];
    before
        .iter()
        .map(|&c| match c {
            b'Y' => 4,
            b'm' | b'd' | b'e' => 2,
            b'b' => 3,
            _ => 1,
        })
        .sum()
}

/// Finds the record's time `ns` in `message`: the byte range of the longest rendering that is
/// there, around the first place its `HH:MM:SS` is, and the format's number. `scratch` is
/// reused between calls.
pub(crate) fn find(message: &str, ns: i64, scratch: &mut Vec<u8>) -> Option<(usize, usize, u8)> {
    let m = message.as_bytes();
    let within = &m[..m.len().min(LOOK_WITHIN)];
    // The clock is arithmetic; the calendar is worked out only for a message that holds it
    // (most do not: JSON logs keep their time apart).
    let second_of_day = ns.div_euclid(1_000_000_000).rem_euclid(86_400);
    let mut clock = *b"00:00:00";
    for (i, v) in [
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    ]
    .into_iter()
    .enumerate()
    {
        clock[i * 3] = b'0' + (v / 10) as u8;
        clock[i * 3 + 1] = b'0' + (v % 10) as u8;
    }
    let at = memchr::memmem::find(within, &clock)?;
    let parts = Parts::of(ns)?;
    (0..FORMATS.len()).find_map(|f| {
        let start = at.checked_sub(time_at(f))?;
        scratch.clear();
        parts.render(f as u8, scratch)?;
        m[start..]
            .starts_with(scratch)
            .then(|| (start, start + scratch.len(), f as u8))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(rfc3339: &str) -> i64 {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_nanos_opt()
            .unwrap()
    }

    fn found(message: &str, time: &str) -> Option<(usize, usize, &'static str)> {
        let (s, e, f) = find(message, ns(time), &mut Vec::new())?;
        Some((s, e, FORMATS[f as usize]))
    }

    #[test]
    fn every_format_renders_its_spec() {
        let parts = Parts::of(ns("2026-03-05T07:08:09.012345678Z")).unwrap();
        let all: Vec<String> = (0..FORMATS.len() as u8)
            .map(|f| {
                let mut out = Vec::new();
                parts.render(f, &mut out).unwrap();
                String::from_utf8(out).unwrap()
            })
            .collect();
        assert_eq!(all[0], "2026-03-05T07:08:09.012345678Z");
        assert_eq!(all[8], "2026-03-05 07:08:09,012");
        assert_eq!(all[12], "05/Mar/2026:07:08:09 +0000");
        assert_eq!(all[15], "Mar  5 07:08:09");
        assert_eq!(all[18], "07:08:09");
        for (f, text) in all.iter().enumerate() {
            assert_eq!(
                &text[time_at(f)..time_at(f) + 8],
                "07:08:09",
                "{}",
                FORMATS[f]
            );
        }
        assert!(parts.render(FORMATS.len() as u8, &mut Vec::new()).is_none());
    }

    #[test]
    fn the_longest_rendering_of_the_records_own_time_is_found() {
        let t = "2026-11-20T00:00:43.455Z";
        assert_eq!(
            found("2026-11-20 00:00:43,455 INFO  [main] started", t),
            Some((0, 23, "Y-m-d H:M:S,f"))
        );
        assert_eq!(
            found(
                "10.0.0.1 - - [20/Nov/2026:00:00:43 +0000] \"GET / HTTP/1.1\"",
                t
            ),
            Some((14, 40, "d/b/Y:H:M:S +0000"))
        );
        assert_eq!(
            found("at 2026-11-20T00:00:43.455Z done", t),
            Some((3, 27, "Y-m-dTH:M:S.fZ"))
        );
        assert_eq!(
            found("I1120 00:00:43.455000 main.cc", t),
            Some((6, 21, "H:M:S.u"))
        );
        assert_eq!(
            found("I1120 00:00:43.455123 main.cc", t),
            Some((6, 18, "H:M:S.f")),
            "the digits past the record's precision stay text"
        );
    }

    #[test]
    fn other_times_and_zones_are_left_as_text() {
        let t = "2026-11-20T00:00:43.455Z";
        assert_eq!(found("2026-11-20 01:00:43,455 +01:00", t), None);
        assert_eq!(
            found("[20/Nov/2026:00:00:43 +0100]", t),
            Some((13, 21, "H:M:S")),
            "the clock only: the zone is not UTC"
        );
        assert_eq!(found("request completed", t), None);
        assert_eq!(
            found(&format!("{} 2026-11-20 00:00:43", "x".repeat(300)), t),
            None,
            "too far in"
        );
    }
}
