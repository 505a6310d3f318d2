//! The record-reading phase: hits whose records are needed (to check a `/regex/` candidate, to
//! export, to count a structured field's values) are read segment by segment in archive order,
//! so each compressed block is decompressed once rather than once per hit.
//!
//! A segment still being written is read into memory first (bounded by the segment size) so a
//! slow consumer never holds its lock and stalls ingest; sealed segments stream straight to the
//! consumer.

use std::collections::BTreeMap;

use firewatch_ingest::LogRecord;

use super::engine::SearchError;
use super::scan::{Key, Ords, ScanCtx};
use crate::lang::{matches, Query};

/// Calls `each` with every candidate that `verify` (when given) accepts, until it returns
/// `false`; returns how many were passed.
pub fn for_each_match(
    ctx: &ScanCtx,
    candidates: BTreeMap<u64, Ords>,
    verify: Option<&Query>,
    each: &mut dyn FnMut(Key, LogRecord) -> bool,
) -> Result<u64, SearchError> {
    let sealed: BTreeMap<u64, bool> = ctx
        .snapshot
        .segments()
        .into_iter()
        .map(|s| (s.id, s.sealed))
        .collect();
    let mut passed = 0;
    let mut stopped = false;
    let mut since_clock = 0u32;
    for (segment, ords) in candidates {
        if stopped || ctx.expired() {
            break;
        }
        let mut held = Vec::new();
        let stream_through = sealed.get(&segment).copied().unwrap_or(false);
        ctx.snapshot.scan_segment(segment, |ptr, record| {
            if stopped || !ords.contains(ptr.ord) {
                return;
            }
            since_clock += 1;
            if since_clock >= 256 {
                since_clock = 0;
                if ctx.expired() {
                    stopped = true;
                    return;
                }
            }
            if verify.is_some_and(|q| !matches(q, &record)) {
                return;
            }
            let key = Key {
                timestamp: record.timestamp,
                segment,
                ord: ptr.ord,
            };
            if stream_through {
                passed += 1;
                stopped = !each(key, record);
            } else {
                held.push((key, record));
            }
        })?;
        for (key, record) in held {
            if stopped {
                break;
            }
            passed += 1;
            stopped = !each(key, record);
        }
    }
    Ok(passed)
}
