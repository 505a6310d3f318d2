//! Record timestamps as RFC 3339 text, fast enough to render every record of a block.
//!
//! The general formatter (chrono, through `rfc3339_nanos::format`) costs more than searching
//! the line it starts. Consecutive records of a block almost always share their day, so the
//! date part is taken from the general formatter once per day and only the time of day is
//! written by hand; the output is the same text, `YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ`.

use firewatch_ingest::record::rfc3339_nanos;

const SECOND: i64 = 1_000_000_000;
const DAY: i64 = 86_400 * SECOND;

/// Writes timestamps, remembering the date part of the last day seen.
#[derive(Debug, Default)]
pub struct StampWriter {
    day: Option<i64>,
    /// `YYYY-MM-DDT` of `day`.
    date: Vec<u8>,
}

impl StampWriter {
    /// Appends `ns` (nanoseconds since the epoch) as `rfc3339_nanos::format` writes it.
    pub fn write(&mut self, ns: i64, out: &mut Vec<u8>) {
        let day = ns.div_euclid(DAY);
        if self.day != Some(day) {
            let full = rfc3339_nanos::format(ns);
            let date_len = full.find('T').map_or(full.len(), |t| t + 1);
            self.date.clear();
            self.date.extend_from_slice(&full.as_bytes()[..date_len]);
            self.day = Some(day);
        }
        out.extend_from_slice(&self.date);
        let in_day = ns.rem_euclid(DAY);
        let (secs, nanos) = (in_day / SECOND, in_day % SECOND);
        let mut time = *b"00:00:00.000000000Z";
        two_digits(&mut time[0..2], secs / 3600);
        two_digits(&mut time[3..5], secs / 60 % 60);
        two_digits(&mut time[6..8], secs % 60);
        let mut n = nanos;
        for d in time[9..18].iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        out.extend_from_slice(&time);
    }
}

fn two_digits(to: &mut [u8], v: i64) {
    to[0] = b'0' + (v / 10) as u8;
    to[1] = b'0' + (v % 10) as u8;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(w: &mut StampWriter, ns: i64) {
        let mut out = Vec::new();
        w.write(ns, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            rfc3339_nanos::format(ns),
            "{ns}"
        );
    }

    #[test]
    fn agrees_with_the_general_formatter_at_the_edges() {
        let mut w = StampWriter::default();
        for ns in [0, -1, 1, i64::MIN, i64::MAX, DAY - 1, DAY, -DAY, -DAY - 1] {
            check(&mut w, ns);
        }
        // Records crossing midnight, forwards and back, with the cached day in use.
        let midnight = 1_763_596_800 * SECOND;
        for ns in (midnight - 3 * SECOND..midnight + 3 * SECOND).step_by(250_000_001) {
            check(&mut w, ns);
        }
        for ns in [midnight, midnight - 1, midnight + 1, midnight - 1, midnight] {
            check(&mut w, ns);
        }
    }

    proptest! {
        #[test]
        fn agrees_with_the_general_formatter(start in any::<i64>(), steps in proptest::collection::vec(-DAY..DAY, 0..20)) {
            let mut w = StampWriter::default();
            let mut ns = start;
            check(&mut w, ns);
            for s in steps {
                ns = ns.saturating_add(s);
                check(&mut w, ns);
            }
        }
    }
}
