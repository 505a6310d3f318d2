//! The record-reading phase: hits whose records are needed (to check a `/regex/` candidate, to
//! export, to count a structured field's values) are read segment by segment in archive order,
//! so each compressed block is decompressed once rather than once per hit, and only the
//! candidates' records are decoded.
//!
//! The store holds no lock while `each` runs, so a slow consumer (an export to a slow client)
//! never stalls ingest into the segment being written.

use firewatch_index::archive::{Everything, Prefilter};
use firewatch_index::block_filter::BlockFilter;
use firewatch_ingest::LogRecord;

use super::chunks::Needles;
use super::engine::SearchError;
use super::scan::{Key, RecordSet, ScanCtx};
use crate::lang::{matches, Query};

/// Calls `each` with every candidate that `verify` (when given) accepts, until it returns
/// `false`; returns how many were passed. Candidates in blocks that `needles` rule out are
/// not read.
pub fn for_each_match(
    ctx: &ScanCtx,
    candidates: RecordSet,
    verify: Option<&Query>,
    needles: &Needles,
    each: &mut dyn FnMut(Key, LogRecord) -> bool,
) -> Result<u64, SearchError> {
    let matcher = needles.matcher();
    let pre = Check {
        needles: match &matcher {
            Some(m) => m,
            None => &Everything,
        },
        verify,
        ctx,
    };
    let mut passed = 0;
    let mut stopped = false;
    let mut since_clock = 0u32;
    for (segment, ords) in candidates {
        if stopped || ctx.expired() {
            break;
        }
        ctx.snapshot
            .scan_ords(segment, ords.iter(), &pre, |ptr, record| {
                since_clock += 1;
                if since_clock >= 256 {
                    since_clock = 0;
                    if ctx.expired() {
                        stopped = true;
                        return false;
                    }
                }
                let key = Key {
                    timestamp: record.timestamp,
                    segment,
                    ord: ptr.ord,
                };
                passed += 1;
                stopped = !each(key, record);
                !stopped
            })?;
    }
    Ok(passed)
}

/// The needles' prefilter, and the query every candidate is checked against: both run where
/// the archive decodes blocks, in parallel, so only matches reach `each`. Past the deadline
/// no further block is read.
struct Check<'a> {
    needles: &'a dyn Prefilter,
    verify: Option<&'a Query>,
    ctx: &'a ScanCtx,
}

impl Prefilter for Check<'_> {
    fn block(&self, filter: BlockFilter<'_>) -> bool {
        !self.ctx.expired() && self.needles.block(filter)
    }

    fn tests_text(&self) -> bool {
        self.needles.tests_text()
    }

    fn text(&self, service: &str, text: &[u8]) -> bool {
        self.needles.text(service, text)
    }

    fn record(&self, record: &LogRecord) -> bool {
        self.verify.is_none_or(|q| matches(q, record))
    }
}
