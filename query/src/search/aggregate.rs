//! Counts over a search's matches: histograms (per interval, optionally split by a keyword
//! field) and a field's most frequent values. Exact plans count from the index's fast fields;
//! inexact ones count the records that pass the check.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use firewatch_index::schema::widen_range;
use firewatch_index::Snapshot;
use firewatch_ingest::Nanos;

use super::count::{Histogram, KeywordValues};
use super::engine::{Engine, Scope, SearchError};
use super::values::{keyword_name, values_of};
use crate::lang::Field;

/// Most buckets one histogram may have.
pub const MAX_BUCKETS: i64 = 10_000;

/// One histogram bucket: its start (ns), its count, and the counts per group when split.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramBucket {
    pub start: Nanos,
    pub count: u64,
    pub groups: BTreeMap<String, u64>,
}

/// The most frequent values of a field over the matches.
#[derive(Debug, Clone, PartialEq)]
pub struct TopValues {
    pub values: Vec<(String, u64)>,
    /// Matches in total, and matches whose value is not among `values` (or that have none).
    pub total: u64,
    pub other: u64,
    /// Records left out because their archive block is damaged (when values had to be read
    /// from the records).
    pub unreadable: u64,
}

/// A histogram's buckets, oldest first, and the records it left out because their archive
/// block is damaged (when matches had to be checked against their records).
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets {
    pub buckets: Vec<HistogramBucket>,
    pub unreadable: u64,
}

impl Engine {
    /// An interval splitting the scope's time span into about 60 buckets, rounded to a
    /// familiar unit.
    pub fn auto_interval(&self, scope: &Scope) -> i64 {
        const S: i64 = 1_000_000_000;
        const NICE: [i64; 14] = [
            S,
            5 * S,
            10 * S,
            30 * S,
            60 * S,
            300 * S,
            600 * S,
            1800 * S,
            3600 * S,
            3 * 3600 * S,
            6 * 3600 * S,
            12 * 3600 * S,
            86_400 * S,
            7 * 86_400 * S,
        ];
        let (lo, hi) = time_span(&self.reader.snapshot(), scope);
        let span = hi.saturating_sub(lo).max(1);
        NICE.iter()
            .copied()
            .find(|i| span / i <= 60)
            .unwrap_or_else(|| (span / 60).max(NICE[13]))
    }

    /// Counts per `interval` (ns), optionally split by a keyword field (`level`, `service`,
    /// `host`, `source`); empty buckets between the first and last are included.
    pub fn histogram(
        &self,
        scope: &Scope,
        interval: i64,
        by: Option<&str>,
        timeout: Duration,
    ) -> Result<Buckets, SearchError> {
        if interval <= 0 {
            return Err(SearchError::Invalid("interval must be positive".into()));
        }
        let p = self.prepare(scope, timeout);
        let (lo, hi) = time_span(&p.ctx.snapshot, scope);
        if hi > lo && (hi - lo) / interval > MAX_BUCKETS {
            return Err(SearchError::Invalid(format!(
                "interval too small: more than {MAX_BUCKETS} buckets"
            )));
        }
        let counts = if p.verify.is_none() {
            let collector = Histogram {
                ctx: p.ctx.clone(),
                interval,
                by: by.map(str::to_string),
            };
            p.ctx.snapshot.searcher().search(&p.query, &collector)?
        } else {
            let by = by.map(Field::named);
            let mut counts = HashMap::new();
            p.each_record(&mut |key, record| {
                let bucket = key.timestamp.div_euclid(interval) * interval;
                let group = match &by {
                    Some(f) => values_of(f, &record).into_iter().next().unwrap_or_default(),
                    None => String::new(),
                };
                *counts.entry((bucket, group)).or_default() += 1;
                true
            })?;
            counts
        };
        p.finish(())?;
        let mut buckets: BTreeMap<i64, HistogramBucket> = BTreeMap::new();
        for ((start, group), n) in counts {
            let b = buckets.entry(start).or_insert_with(|| empty_bucket(start));
            b.count += n;
            if by.is_some() {
                *b.groups.entry(group).or_default() += n;
            }
        }
        if let (Some(&first), Some(&last)) = (buckets.keys().next(), buckets.keys().last()) {
            let mut t = first;
            while t < last {
                buckets.entry(t).or_insert_with(|| empty_bucket(t));
                t += interval;
            }
        }
        Ok(Buckets {
            buckets: buckets.into_values().collect(),
            unreadable: p.ctx.snapshot.unreadable(),
        })
    }

    /// The `k` most frequent values of `field` over the matches.
    pub fn top(
        &self,
        scope: &Scope,
        field: &Field,
        k: usize,
        timeout: Duration,
    ) -> Result<TopValues, SearchError> {
        let p = self.prepare(scope, timeout);
        let (counts, total) = match keyword_name(field) {
            Some(name) if p.verify.is_none() => {
                let collector = KeywordValues {
                    ctx: p.ctx.clone(),
                    field: name.to_string(),
                };
                p.ctx.snapshot.searcher().search(&p.query, &collector)?
            }
            _ => {
                let mut counts: HashMap<String, u64> = HashMap::new();
                let total = p.each_record(&mut |_, record| {
                    for v in values_of(field, &record) {
                        *counts.entry(v).or_default() += 1;
                    }
                    true
                })?;
                (counts, total)
            }
        };
        p.finish(())?;
        let mut values: Vec<(String, u64)> = counts.into_iter().collect();
        values.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        values.truncate(k);
        let shown: u64 = values.iter().map(|v| v.1).sum();
        Ok(TopValues {
            values,
            total,
            other: total.saturating_sub(shown),
            unreadable: p.ctx.snapshot.unreadable(),
        })
    }
}

fn empty_bucket(start: Nanos) -> HistogramBucket {
    HistogramBucket {
        start,
        count: 0,
        groups: BTreeMap::new(),
    }
}

/// The time span a histogram covers: the scope's (as the index sees it), else the stored
/// records'.
fn time_span(snapshot: &Snapshot, scope: &Scope) -> (i64, i64) {
    let segments = snapshot.segments();
    let (start, end) = widen_range(scope.start, scope.end);
    let lo = start.unwrap_or_else(|| segments.iter().map(|s| s.min_ts).min().unwrap_or(0));
    let hi = end.unwrap_or_else(|| {
        segments
            .iter()
            .map(|s| s.max_ts.saturating_add(1))
            .max()
            .unwrap_or(0)
    });
    (lo, hi)
}
