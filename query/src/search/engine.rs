//! [`Engine`]: one method per kind of question, each over a fresh snapshot and with a deadline.
//!
//! Exact plans are answered from the index alone (fast fields); inexact plans (a `/regex/`, a
//! phrase, a structured field, a word with a digit) first collect candidates from the index,
//! then check each candidate's record.

use std::cell::Cell;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use firewatch_index::schema::widen_range;
use firewatch_index::{Reader, Snapshot, StoreError};
use firewatch_ingest::{LogRecord, Nanos};
use tantivy::query::Query as TQuery;

use super::chunks::{ChunkHits, Needles};
use super::collect::{sort_keys, Candidates, Histogram, KeywordValues, Order, Ranked, TopKeys};
use super::records::for_each_match;
use super::scan::{DocMaps, Key, Ords, ScanCtx};
use super::time::InTime;
use super::translate::{translate, Lookups};
use super::values::{keyword_name, values_of};
use crate::lang::{Field, Query};

/// Bytes of candidate sets one search may hold by default (a bit per record of a segment, per
/// structured predicate).
const MAX_CANDIDATE_BYTES: usize = 64 << 20;

/// Most buckets one histogram may have.
pub const MAX_BUCKETS: i64 = 10_000;

/// What to search: a query and a time range (`start` inclusive, `end` exclusive). The index
/// tells times apart to the millisecond, so the range is widened to whole milliseconds
/// ([`widen_range`]): it holds every record of each millisecond it touches.
#[derive(Debug, Clone)]
pub struct Scope {
    pub query: Arc<Query>,
    pub start: Option<Nanos>,
    pub end: Option<Nanos>,
}

/// Why a search produced no answer.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("query timed out after {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error("{0}")]
    Invalid(String),
    #[error("index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// An export passed over records it could not read; it must not end as if complete.
    #[error("{0} matches left out: their archive block is damaged")]
    Unreadable(u64),
}

/// One page of hits.
#[derive(Debug)]
pub struct SearchPage {
    pub hits: Vec<LogRecord>,
    /// Every match in the time range, regardless of the cursor.
    pub total: u64,
    /// Where the next page starts, when there is one.
    pub next: Option<Key>,
    /// Matches left out because their archive block is damaged (the hits are fewer, or the
    /// total smaller, by as many).
    pub unreadable: u64,
}

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

/// A prepared search: the tantivy query, the shared context, and the query to check candidates
/// against when the plan is inexact.
struct Prepared {
    query: Box<dyn TQuery>,
    ctx: Arc<ScanCtx>,
    verify: Option<Arc<Query>>,
    needles: Needles,
    timeout: Duration,
}

impl Prepared {
    fn finish<T>(&self, value: T) -> Result<T, SearchError> {
        if self.ctx.timed_out.load(Relaxed) {
            return Err(SearchError::Timeout(self.timeout));
        }
        Ok(value)
    }

    /// Every match, record by record (see [`for_each_match`]).
    fn each_record(
        &self,
        each: &mut dyn FnMut(Key, LogRecord) -> bool,
    ) -> Result<u64, SearchError> {
        let candidates = self.ctx.snapshot.searcher().search(
            &self.query,
            &Candidates {
                ctx: self.ctx.clone(),
            },
        )?;
        for_each_match(
            &self.ctx,
            candidates,
            self.verify.as_deref(),
            &self.needles,
            each,
        )
    }
}

/// Answers questions over the index through a [`Reader`].
#[derive(Clone)]
pub struct Engine {
    reader: Reader,
    candidate_bytes: usize,
    maps: DocMaps,
}

impl Engine {
    pub fn new(reader: Reader) -> Engine {
        Engine {
            reader,
            candidate_bytes: MAX_CANDIDATE_BYTES,
            maps: DocMaps::default(),
        }
    }

    /// The same engine, holding at most `bytes` of candidate sets per search.
    pub fn with_candidate_budget(self, bytes: usize) -> Engine {
        Engine {
            candidate_bytes: bytes,
            ..self
        }
    }

    fn prepare(&self, scope: &Scope, timeout: Duration) -> Prepared {
        let snapshot = self.reader.snapshot();
        self.maps.forget_merged(&snapshot);
        let f = snapshot.fields();
        // Each structured predicate's candidates are held until the search ends; past a
        // budget, further ones become "every record, checked" so memory stays bounded.
        let held = Cell::new(0usize);
        let chunks = |q: &dyn TQuery, hits: ChunkHits| {
            if held.get() >= self.candidate_bytes {
                return None;
            }
            let set = snapshot.searcher().search(q, &hits).ok()?;
            held.set(held.get() + set.values().map(Ords::bytes).sum::<usize>());
            Some(set)
        };
        let plan = translate(
            &scope.query,
            &f,
            Lookups {
                locate: &|id| snapshot.locate(id),
                chunks: &chunks,
                maps: &self.maps,
            },
        );
        let query: Box<dyn TQuery> = match widen_range(scope.start, scope.end) {
            (None, None) => plan.query,
            (start, end) => Box::new(InTime {
                inner: plan.query,
                field: f.timestamp,
                start,
                end,
            }),
        };
        Prepared {
            query,
            ctx: Arc::new(ScanCtx {
                snapshot,
                maps: self.maps.clone(),
                deadline: Instant::now() + timeout,
                timed_out: AtomicBool::new(false),
            }),
            verify: (!plan.exact).then(|| scope.query.clone()),
            needles: plan.needles,
            timeout,
        }
    }

    /// The first `limit` matches in `order` after `cursor`, with the exact total.
    pub fn search(
        &self,
        scope: &Scope,
        order: Order,
        limit: usize,
        cursor: Option<Key>,
        timeout: Duration,
    ) -> Result<SearchPage, SearchError> {
        let p = self.prepare(scope, timeout);
        let snapshot = &p.ctx.snapshot;
        let (total, after_cursor, hits) = if p.verify.is_none() {
            let collector = TopKeys {
                ctx: p.ctx.clone(),
                order,
                limit,
                cursor,
            };
            let page = p.finish(snapshot.searcher().search(&p.query, &collector)?)?;
            let ptrs: Vec<_> = page.keys.iter().map(|k| k.ptr()).collect();
            let records = snapshot.fetch_readable(&ptrs)?;
            let hits: Vec<(Key, Option<LogRecord>)> =
                page.keys.iter().copied().zip(records).collect();
            (page.total, page.after_cursor, hits)
        } else {
            let (mut total, mut after) = (0, 0);
            let mut best: BinaryHeap<Ranked> = BinaryHeap::new();
            let mut records: HashMap<Key, LogRecord> = HashMap::new();
            p.each_record(&mut |key, record| {
                total += 1;
                if cursor.is_some_and(|c| !order.before(&c, &key)) || limit == 0 {
                    return true;
                }
                after += 1;
                best.push(Ranked { key, order });
                records.insert(key, record);
                if best.len() > limit {
                    if let Some(dropped) = best.pop() {
                        records.remove(&dropped.key);
                    }
                }
                true
            })?;
            p.finish(())?;
            let mut keys: Vec<Key> = best.into_iter().map(|r| r.key).collect();
            sort_keys(&mut keys, order);
            let hits = keys
                .into_iter()
                .filter_map(|k| records.remove(&k).map(|r| (k, Some(r))))
                .collect();
            (total, after, hits)
        };
        let next = if after_cursor > hits.len() as u64 {
            hits.last().map(|(k, _)| *k)
        } else {
            None
        };
        Ok(SearchPage {
            hits: hits.into_iter().filter_map(|(_, r)| r).collect(),
            total,
            next,
            unreadable: snapshot.unreadable(),
        })
    }

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

    /// Calls `each` with every match, in storage order (segment by segment, oldest segment
    /// first), until it returns `false`; returns how many were passed. Records of a damaged
    /// archive block are passed over, and the export then ends with an error.
    pub fn export(
        &self,
        scope: &Scope,
        timeout: Duration,
        mut each: impl FnMut(LogRecord) -> bool,
    ) -> Result<u64, SearchError> {
        let p = self.prepare(scope, timeout);
        let n = p.each_record(&mut |_, record| each(record))?;
        match p.ctx.snapshot.unreadable() {
            0 => p.finish(n),
            lost => Err(SearchError::Unreadable(lost)),
        }
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
