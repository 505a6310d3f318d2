//! [`Engine`]: one method per kind of question, each over a fresh snapshot and with a deadline:
//! pages of hits and exports here, histograms and top values in `aggregate`.
//!
//! Exact plans are answered from the index alone (fast fields); inexact plans (a `/regex/`, a
//! phrase, a structured field, a word with a digit) first collect candidates from the index,
//! then check each candidate's record.

use std::cell::Cell;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use firewatch_index::schema::widen_range;
use firewatch_index::{Reader, StoreError};
use firewatch_ingest::{LogRecord, Nanos};
use tantivy::query::Query as TQuery;

use super::chunks::{ChunkHits, Needles};
use super::collect::{sort_keys, Candidates, Order, Ranked, TopKeys};
use super::records::for_each_match;
use super::scan::{DocMaps, Key, Ords, ScanCtx};
use super::time::InTime;
use super::translate::{translate, Lookups};
use super::word_sets::DefinedSets;
use crate::lang::Query;

/// Bytes of candidate sets one search may hold by default (a bit per record of a segment, per
/// structured predicate).
const MAX_CANDIDATE_BYTES: usize = 64 << 20;

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

/// A prepared search: the tantivy query, the shared context, and the query to check candidates
/// against when the plan is inexact.
pub(super) struct Prepared {
    pub(super) query: Box<dyn TQuery>,
    pub(super) ctx: Arc<ScanCtx>,
    pub(super) verify: Option<Arc<Query>>,
    needles: Needles,
    timeout: Duration,
}

impl Prepared {
    pub(super) fn finish<T>(&self, value: T) -> Result<T, SearchError> {
        if self.ctx.timed_out.load(Relaxed) {
            return Err(SearchError::Timeout(self.timeout));
        }
        Ok(value)
    }

    /// Every match, record by record (see [`for_each_match`]).
    pub(super) fn each_record(
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
    pub(super) reader: Reader,
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

    pub(super) fn prepare(&self, scope: &Scope, timeout: Duration) -> Prepared {
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
                word_sets: &|q| snapshot.searcher().search(q, &DefinedSets).ok(),
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
