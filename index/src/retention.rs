//! Retention: which sealed segments to remove, by age and by total size. Pure, so it is tested
//! without a store.

use crate::catalog::SegmentInfo;
use crate::config::StoreConfig;

/// Ids of the sealed segments (oldest first in `sealed`) to remove now: those whose newest record
/// is older than `retention_age_secs`, then the oldest ones while the store (archives plus a
/// per-record share of the index) is larger than `retention_bytes`.
///
/// A record stamped later than its segment was sealed (a host whose clock is years ahead, a
/// misparsed date) counts as sealed then: otherwise one such record would keep its whole
/// segment from ever aging out.
pub fn select(
    sealed: &[SegmentInfo],
    cfg: &StoreConfig,
    now_ns: i64,
    index_bytes: u64,
) -> Vec<u64> {
    let mut drop = Vec::new();
    if cfg.retention_age_secs > 0 {
        let horizon =
            now_ns.saturating_sub((cfg.retention_age_secs as i64).saturating_mul(1_000_000_000));
        let newest = |s: &SegmentInfo| match s.sealed_at {
            0 => s.max_ts,
            at => s.max_ts.min(at),
        };
        drop.extend(sealed.iter().filter(|s| newest(s) < horizon).map(|s| s.id));
    }
    if cfg.retention_bytes > 0 {
        let records: u64 = sealed.iter().map(|s| s.records).sum::<u64>().max(1);
        let cost = |s: &SegmentInfo| s.archive_bytes + index_bytes * s.records / records;
        let mut total: u64 = sealed.iter().map(cost).sum();
        for s in sealed {
            if total <= cfg.retention_bytes {
                break;
            }
            total = total.saturating_sub(cost(s));
            if !drop.contains(&s.id) {
                drop.push(s.id);
            }
        }
    }
    drop
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(id: u64, max_ts: i64, bytes: u64) -> SegmentInfo {
        SegmentInfo {
            records: 100,
            archive_bytes: bytes,
            min_ts: max_ts - 10,
            max_ts,
            sealed: true,
            ..SegmentInfo::new(id)
        }
    }

    #[test]
    fn age_removes_only_old_segments() {
        let cfg = StoreConfig {
            retention_age_secs: 60,
            ..Default::default()
        };
        let now = 1_000 * 1_000_000_000;
        let segs = [seg(1, now - 120_000_000_000, 10), seg(2, now - 1, 10)];
        assert_eq!(select(&segs, &cfg, now, 0), vec![1]);
    }

    #[test]
    fn a_record_from_the_future_does_not_keep_its_segment_forever() {
        let cfg = StoreConfig {
            retention_age_secs: 60,
            ..Default::default()
        };
        let sec = 1_000_000_000;
        let now = 1_000 * sec;
        let year_2200 = 7_258_118_400 * sec;
        let sealed_at = |mut s: SegmentInfo, at| {
            s.sealed_at = at;
            s
        };
        let segs = [
            // Sealed two minutes ago, holding a record stamped in the year 2200: goes.
            sealed_at(seg(1, year_2200, 10), now - 120 * sec),
            // Sealed a second ago: stays, whatever its records say.
            sealed_at(seg(2, year_2200, 10), now - sec),
            // Sealed a second ago with records from two minutes ago: their time decides.
            sealed_at(seg(3, now - 120 * sec, 10), now - sec),
            // Sealed before the manifest kept that time: its records decide, as before.
            seg(4, year_2200, 10),
        ];
        assert_eq!(select(&segs, &cfg, now, 0), vec![1, 3]);
    }

    #[test]
    fn size_removes_oldest_until_under_limit() {
        let cfg = StoreConfig {
            retention_bytes: 250,
            ..Default::default()
        };
        let segs = [seg(1, 1, 100), seg(2, 2, 100), seg(3, 3, 100)];
        // 300 archive bytes + 60 of index: drop 1 (→ 240).
        assert_eq!(select(&segs, &cfg, 0, 60), vec![1]);
        assert!(select(&segs, &StoreConfig::default(), 0, 60).is_empty());
    }
}
