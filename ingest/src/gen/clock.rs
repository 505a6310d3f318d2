//! The generator's simulated clock and the timestamp spellings of each log format.
//!
//! Event time never comes from the wall clock: it starts at a configured instant and advances by
//! a jittered step per line, so a run is reproducible and a million lines written in a second
//! still span hours of event time. Civil-date fields are computed once per simulated second and
//! cached, because formatting dates with a calendar library on every line would dominate the
//! generator's cost.

use chrono::{DateTime, Datelike, Timelike, Utc};

use crate::record::Nanos;

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// The timestamp spellings of one simulated second, refreshed when the second changes.
pub(crate) struct Stamps {
    second: i64,
    /// `2026-11-20T10:00:00`
    iso: [u8; 19],
    /// `20/Nov/2026:10:00:00 +0000`
    clf: [u8; 26],
    /// `Nov 20 10:00:00` (day padded with a space, as syslog does)
    bsd: [u8; 15],
}

impl Stamps {
    pub(crate) fn new() -> Self {
        Stamps {
            second: i64::MIN,
            iso: [b'0'; 19],
            clf: [b'0'; 26],
            bsd: [b'0'; 15],
        }
    }

    /// Makes the cached spellings describe `ns`.
    pub(crate) fn set(&mut self, ns: Nanos) {
        let second = ns.div_euclid(1_000_000_000);
        if second == self.second {
            return;
        }
        self.second = second;
        let t = DateTime::<Utc>::from_timestamp(second, 0).unwrap_or_default();
        let (y, mo, d) = (t.year().clamp(0, 9999) as u32, t.month(), t.day());
        let (h, mi, s) = (t.hour(), t.minute(), t.second());
        let month = MONTHS[(mo as usize - 1) % 12];

        let iso = &mut self.iso;
        digits(&mut iso[0..4], y);
        iso[4] = b'-';
        digits(&mut iso[5..7], mo);
        iso[7] = b'-';
        digits(&mut iso[8..10], d);
        iso[10] = b'T';
        time(&mut iso[11..19], h, mi, s);

        let clf = &mut self.clf;
        digits(&mut clf[0..2], d);
        clf[2] = b'/';
        clf[3..6].copy_from_slice(month);
        clf[6] = b'/';
        digits(&mut clf[7..11], y);
        clf[11] = b':';
        time(&mut clf[12..20], h, mi, s);
        clf[20..26].copy_from_slice(b" +0000");

        let bsd = &mut self.bsd;
        bsd[0..3].copy_from_slice(month);
        bsd[3] = b' ';
        digits(&mut bsd[4..6], d);
        if d < 10 {
            bsd[4] = b' ';
        }
        bsd[6] = b' ';
        time(&mut bsd[7..15], h, mi, s);
    }

    /// RFC 3339 in UTC with milliseconds: `2026-11-20T10:00:00.123Z`.
    pub(crate) fn rfc3339_ms(&self, ns: Nanos, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.iso);
        out.push(b'.');
        push_ms(ns, out);
        out.push(b'Z');
    }

    /// log4j's default date: `2026-11-20 10:00:00,123`.
    pub(crate) fn log4j(&self, ns: Nanos, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.iso[..10]);
        out.push(b' ');
        out.extend_from_slice(&self.iso[11..]);
        out.push(b',');
        push_ms(ns, out);
    }

    /// nginx `$time_local` (the generated hosts run in UTC): `20/Nov/2026:10:00:00 +0000`.
    pub(crate) fn clf(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.clf);
    }

    /// RFC 3164 syslog: `Nov 20 10:00:00`.
    pub(crate) fn bsd(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.bsd);
    }
}

/// Epoch milliseconds, as pino writes `time`.
pub(crate) fn epoch_ms(ns: Nanos, out: &mut Vec<u8>) {
    push_int(out, ns.div_euclid(1_000_000));
}

fn push_ms(ns: Nanos, out: &mut Vec<u8>) {
    let mut ms = [0u8; 3];
    digits(&mut ms, (ns.rem_euclid(1_000_000_000) / 1_000_000) as u32);
    out.extend_from_slice(&ms);
}

fn time(out: &mut [u8], h: u32, m: u32, s: u32) {
    digits(&mut out[0..2], h);
    out[2] = b':';
    digits(&mut out[3..5], m);
    out[5] = b':';
    digits(&mut out[6..8], s);
}

/// Writes `v` zero-padded into exactly `out.len()` digits.
fn digits(out: &mut [u8], mut v: u32) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Appends an integer in decimal.
pub(crate) fn push_int<I: itoa::Integer>(out: &mut Vec<u8>, v: I) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Appends `thousandths / 1000` with `decimals` (1..=3) digits after the point, e.g.
/// `push_fixed(out, 12_345, 3)` writes `12.345`.
pub(crate) fn push_fixed(out: &mut Vec<u8>, thousandths: u64, decimals: usize) {
    push_int(out, thousandths / 1000);
    out.push(b'.');
    let mut frac = [0u8; 3];
    digits(&mut frac, (thousandths % 1000) as u32);
    out.extend_from_slice(&frac[..decimals.clamp(1, 3)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Nanos = 1_793_872_805_007_000_000; // 2026-11-05T10:00:05.007Z

    fn spell(f: impl Fn(&Stamps, &mut Vec<u8>)) -> String {
        let mut s = Stamps::new();
        s.set(T);
        let mut out = Vec::new();
        f(&s, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn formats_each_spelling() {
        assert_eq!(spell(|s, o| s.rfc3339_ms(T, o)), "2026-11-05T10:00:05.007Z");
        assert_eq!(spell(|s, o| s.log4j(T, o)), "2026-11-05 10:00:05,007");
        assert_eq!(spell(|s, o| s.clf(o)), "05/Nov/2026:10:00:05 +0000");
        assert_eq!(spell(|s, o| s.bsd(o)), "Nov  5 10:00:05");
        let mut out = Vec::new();
        epoch_ms(T, &mut out);
        assert_eq!(out, b"1793872805007");
    }

    #[test]
    fn cache_follows_the_second() {
        let mut s = Stamps::new();
        s.set(T);
        s.set(T + 3_600_000_000_000);
        let mut out = Vec::new();
        s.rfc3339_ms(T + 3_600_000_000_000, &mut out);
        assert_eq!(out, b"2026-11-05T11:00:05.007Z");
    }

    #[test]
    fn fixed_point() {
        let mut out = Vec::new();
        push_fixed(&mut out, 12_345, 3);
        out.push(b' ');
        push_fixed(&mut out, 7, 2);
        assert_eq!(out, b"12.345 0.00");
    }
}
