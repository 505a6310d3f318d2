//! Demand a service states itself: how many sessions, users or clients it is serving, how
//! fast work arrives into its queues.
//!
//! A websocket server's memory grows with its open sessions; the rate of its records does not
//! (it logs stats every 15 s whatever the load), so only the number it reports tells that the
//! growth is the morning's users rather than a leak. A cache filling up to the capacity it
//! states (`entries=1625263 capacity=2000000`) is bounded the same way: its memory follows its
//! entries.

use std::collections::VecDeque;

use firewatch_ingest::LogRecord;

use crate::gauges::number;

/// The entries of a cache whose record states its capacity (in fields, or as `name=value` in
/// its text), while they fit in it.
pub(super) fn cache_fill(rec: &LogRecord) -> Option<f64> {
    const CAPACITY: [&str; 5] = [
        "capacity",
        "max_entries",
        "max_size",
        "max_capacity",
        "maxsize",
    ];
    const ENTRIES: [&str; 5] = ["entries", "items", "keys", "size", "len"];
    // Runs on every record of a service with gauges: the text is searched only when it says
    // `capacity=`.
    let line = rec.message.lines().next().unwrap_or("");
    let in_text = line.contains("capacity=");
    let value = |names: &[&str]| {
        names.iter().find_map(|n| match rec.fields.get(*n) {
            Some(v) => number(v),
            None if in_text => text_value(line, n),
            None => None,
        })
    };
    let capacity = value(&CAPACITY)?;
    let entries = value(&ENTRIES)?;
    (entries >= 0.0 && entries <= capacity).then_some(entries)
}

/// The number after `name=` in a line, where `name` starts a word.
fn text_value(line: &str, name: &str) -> Option<f64> {
    let mut from = 0;
    while let Some(i) = line[from..].find(name) {
        let at = from + i;
        from = at + name.len();
        let starts_word = at == 0 || line.as_bytes()[at - 1] == b' ';
        if let Some(rest) = line[from..].strip_prefix('=').filter(|_| starts_word) {
            return leading_number(rest);
        }
    }
    None
}

/// The number a value starts with (`48.4` of `48.4/s`).
fn leading_number(s: &str) -> Option<f64> {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    s[..end].parse().ok()
}

/// The rate at which work arrives into a queue, as the service states it (RabbitMQ's
/// `publish_rate`, a consumer's `in_rate`): a queue filling while its inflow jumped is a
/// surge its consumers cannot keep up with, which drains once it is over, not a leak.
pub(super) fn inflow_of(rec: &LogRecord) -> Option<f64> {
    let inflow = |name: &str| {
        let n = name.to_ascii_lowercase();
        n.ends_with("rate")
            && [
                "publish", "in_", "incoming", "enqueue", "produce", "arrival",
            ]
            .iter()
            .any(|w| n.starts_with(w))
    };
    let field = rec.fields.iter().find_map(|(k, v)| {
        // Runs on every field of every record of a service with gauges: the last letters first.
        if !k.ends_with("rate") && !k.ends_with("Rate") {
            return None;
        }
        number(v).filter(|_| inflow(k))
    });
    if field.is_some() {
        return field;
    }
    let line = rec.message.lines().next().unwrap_or("");
    if !line.contains("rate=") && !line.contains("Rate=") {
        return None;
    }
    // `publish_rate=48.4/s`: a name, `=`, a number, perhaps a unit.
    line.split([' ', ',', ';']).find_map(|word| {
        let (name, value) = word.split_once('=')?;
        inflow(name).then(|| leading_number(value)).flatten()
    })
}

/// The demand a record states: a numeric field named for sessions, users, clients or
/// subscribers being served now (`sessions=977`, `active_users`, `connected_clients`), not a
/// count of those that came or went (`sessions_total`, `opened_15s`).
pub(super) fn demand_of(rec: &LogRecord) -> Option<f64> {
    rec.fields.iter().find_map(|(k, v)| {
        // Runs on every field of every record: the last word first, without allocating.
        if !k.ends_with(['s', 'S']) {
            return None;
        }
        let word = k.rsplit(['_', '.']).next().unwrap_or(k);
        let serving = ["sessions", "users", "clients", "subscribers"]
            .iter()
            .any(|w| word.eq_ignore_ascii_case(w));
        if !serving {
            return None;
        }
        let name = k.to_ascii_lowercase();
        let counter = [
            "total", "count", "new", "opened", "closed", "max", "limit", "peak",
        ]
        .iter()
        .any(|c| name.contains(c));
        if counter {
            return None;
        }
        number(v).filter(|x| *x >= 0.0)
    })
}

/// A service's stated demand, averaged per bucket.
#[derive(Default)]
pub(super) struct Demand {
    /// (bucket index, sum, samples), oldest first.
    buckets: VecDeque<(i64, f64, u32)>,
}

impl Demand {
    /// Notes a stated demand in `bucket`, keeping at most `keep` buckets.
    pub(super) fn note(&mut self, bucket: i64, value: f64, keep: usize) {
        match self.buckets.back_mut() {
            Some((b, sum, n)) if *b == bucket => {
                *sum += value;
                *n += 1;
            }
            Some((b, _, _)) if *b > bucket => {}
            _ => {
                self.buckets.push_back((bucket, value, 1));
                while self.buckets.len() > keep {
                    self.buckets.pop_front();
                }
            }
        }
    }

    /// How the mean demand of the last third of buckets `first..=last` compares with the first
    /// third's; `None` without demand stated in both.
    pub(super) fn growth(&self, first: i64, last: i64) -> Option<f64> {
        let third = ((last - first + 1) / 3).max(1);
        let mean = |from: i64, to: i64| {
            let (sum, n) = self
                .buckets
                .iter()
                .filter(|(b, _, _)| (from..=to).contains(b))
                .fold((0.0, 0u32), |(s, n), (_, bs, bn)| (s + bs, n + bn));
            (n > 0).then(|| sum / f64::from(n))
        };
        let early = mean(first, first + third - 1).filter(|e| *e > 0.0)?;
        Some(mean(last - third + 1, last)? / early)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::rec;
    use serde_json::Value;

    #[test]
    fn sessions_served_are_demand_and_their_churn_is_not() {
        let mut r = rec(0, "ws stats");
        r.fields.insert("opened_15s".into(), Value::from(27));
        r.fields
            .insert("sessions_total".into(), Value::from(90_000));
        assert_eq!(demand_of(&r), None);
        r.fields.insert("sessions".into(), Value::from("977"));
        assert_eq!(demand_of(&r), Some(977.0));
        let mut r = rec(0, "stats");
        r.fields.insert("active_users".into(), Value::from(12.0));
        assert_eq!(demand_of(&r), Some(12.0));
    }

    #[test]
    fn a_queue_s_stated_inflow_is_read_from_fields_or_text() {
        let r = rec(
            0,
            "amqp queue chat.push: messages=12662 consumers=4 publish_rate=48.4/s deliver_rate=23.9/s",
        );
        assert_eq!(inflow_of(&r), Some(48.4));
        let mut r = rec(0, "queue stats");
        r.fields.insert("in_rate".into(), Value::from(529.1));
        r.fields.insert("out_rate".into(), Value::from(319.0));
        assert_eq!(inflow_of(&r), Some(529.1));
        assert_eq!(
            inflow_of(&rec(0, "deliver_rate=23.9/s error_rate=0.1")),
            None
        );
    }

    #[test]
    fn growth_compares_the_last_third_with_the_first() {
        let mut d = Demand::default();
        for b in 0..9 {
            d.note(b, 1000.0 * (b / 3 + 1) as f64, 100);
            d.note(b, 1000.0 * (b / 3 + 1) as f64, 100);
        }
        assert_eq!(d.growth(0, 8), Some(3.0));
        assert_eq!(d.growth(20, 29), None);
    }
}
