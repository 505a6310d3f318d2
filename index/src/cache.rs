//! A small cache of decompressed archive blocks, shared by every reader of a store.
//!
//! Fetching a page of hits decompresses the blocks holding them; people page through results,
//! refine a query and re-run it, so the same few blocks are read again and again. The cache
//! keeps the most recently used ones, bounded by their decompressed size, and counts hits and
//! misses (`firewatch_block_cache_*` on `/metrics`).
//!
//! Blocks are keyed by the archive they belong to (a process-unique number, so a key never
//! outlives a removed or replaced archive's meaning) and their offset in it; a block's bytes
//! never change once written, so an entry never goes stale.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

use lru::LruCache;

use crate::metrics::StoreMetrics;

/// Which block: the archive's process-unique number and the block's offset in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockKey {
    pub archive: u64,
    pub offset: u64,
}

struct Lru {
    blocks: LruCache<BlockKey, Arc<Vec<u8>>>,
    bytes: usize,
}

/// Least-recently-used decompressed blocks, at most `capacity` bytes of them.
pub struct BlockCache {
    lru: Mutex<Lru>,
    capacity: usize,
    metrics: Arc<StoreMetrics>,
}

impl BlockCache {
    /// A cache holding at most `capacity` bytes of blocks (0: keeps nothing).
    pub fn new(capacity: usize, metrics: Arc<StoreMetrics>) -> BlockCache {
        BlockCache {
            lru: Mutex::new(Lru {
                blocks: LruCache::unbounded(),
                bytes: 0,
            }),
            capacity,
            metrics,
        }
    }

    /// The block at `key`, from the cache or else from `load` (called without holding the
    /// cache's lock, so readers of other blocks are not held up by a decompression).
    pub fn get_or_load<E>(
        &self,
        key: BlockKey,
        load: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<Arc<Vec<u8>>, E> {
        if let Some(block) = self.lock().blocks.get(&key) {
            self.metrics.block_cache_hits.fetch_add(1, Relaxed);
            return Ok(block.clone());
        }
        self.metrics.block_cache_misses.fetch_add(1, Relaxed);
        let block = Arc::new(load()?);
        self.insert(key, block.clone());
        Ok(block)
    }

    /// Bytes of blocks held.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn insert(&self, key: BlockKey, block: Arc<Vec<u8>>) {
        let size = block.len();
        if size > self.capacity {
            return;
        }
        let mut lru = self.lock();
        // Two readers may have loaded the same block at once; the second replaces the first.
        if let Some(old) = lru.blocks.put(key, block) {
            lru.bytes -= old.len();
        }
        lru.bytes += size;
        while lru.bytes > self.capacity {
            match lru.blocks.pop_lru() {
                Some((_, old)) => lru.bytes -= old.len(),
                None => break,
            }
        }
        self.metrics
            .block_cache_bytes
            .store(lru.bytes as u64, Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.lru.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    fn key(offset: u64) -> BlockKey {
        BlockKey { archive: 1, offset }
    }

    fn load(byte: u8, len: usize) -> impl FnOnce() -> Result<Vec<u8>, Infallible> {
        move || Ok(vec![byte; len])
    }

    #[test]
    fn second_read_is_a_hit() {
        let m = Arc::new(StoreMetrics::default());
        let cache = BlockCache::new(1000, m.clone());
        let a = cache.get_or_load(key(8), load(1, 100)).unwrap();
        let b = cache
            .get_or_load(key(8), || -> Result<Vec<u8>, Infallible> {
                panic!("a cached block is loaded again")
            })
            .unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(m.block_cache_hits.load(Relaxed), 1);
        assert_eq!(m.block_cache_misses.load(Relaxed), 1);
        // Same offset, another archive: another block.
        let other = BlockKey {
            archive: 2,
            offset: 8,
        };
        assert_eq!(*cache.get_or_load(other, load(2, 10)).unwrap(), vec![2; 10]);
        assert_eq!(m.block_cache_misses.load(Relaxed), 2);
    }

    #[test]
    fn stays_within_its_bytes_and_evicts_least_recently_used() {
        let m = Arc::new(StoreMetrics::default());
        let cache = BlockCache::new(300, m.clone());
        for offset in 0..3 {
            cache.get_or_load(key(offset), load(0, 100)).unwrap();
        }
        // Touch block 0 so block 1 is now the least recently used.
        cache.get_or_load(key(0), load(9, 100)).unwrap();
        cache.get_or_load(key(3), load(0, 100)).unwrap();
        assert_eq!(cache.bytes(), 300);
        assert_eq!(m.block_cache_bytes.load(Relaxed), 300);
        let misses = m.block_cache_misses.load(Relaxed);
        cache.get_or_load(key(0), load(9, 100)).unwrap();
        assert_eq!(m.block_cache_misses.load(Relaxed), misses, "0 was kept");
        cache.get_or_load(key(1), load(0, 100)).unwrap();
        assert_eq!(
            m.block_cache_misses.load(Relaxed),
            misses + 1,
            "1 was evicted"
        );
        assert!(cache.bytes() <= 300);
    }

    #[test]
    fn a_block_larger_than_the_cache_is_served_but_not_kept() {
        let m = Arc::new(StoreMetrics::default());
        let cache = BlockCache::new(50, m.clone());
        assert_eq!(cache.get_or_load(key(0), load(7, 51)).unwrap().len(), 51);
        assert_eq!(cache.bytes(), 0);
        let off = BlockCache::new(0, m);
        off.get_or_load(key(0), load(7, 1)).unwrap();
        assert_eq!(off.bytes(), 0);
    }

    #[test]
    fn a_failed_load_is_not_cached() {
        let cache = BlockCache::new(100, Arc::new(StoreMetrics::default()));
        let err = cache.get_or_load(key(0), || Err::<Vec<u8>, _>("corrupt"));
        assert_eq!(err.unwrap_err(), "corrupt");
        assert_eq!(cache.bytes(), 0);
        assert_eq!(*cache.get_or_load(key(0), load(1, 3)).unwrap(), vec![1; 3]);
    }

    #[test]
    fn concurrent_readers_get_the_right_bytes_and_the_bound_holds() {
        let cache = Arc::new(BlockCache::new(1_000, Arc::new(StoreMetrics::default())));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let cache = cache.clone();
                std::thread::spawn(move || {
                    for i in 0..2_000u64 {
                        let offset = (i * 7 + t) % 40;
                        let len = 10 + (offset as usize % 5) * 20;
                        let block = cache
                            .get_or_load(key(offset), load(offset as u8, len))
                            .unwrap();
                        assert_eq!(*block, vec![offset as u8; len]);
                        assert!(cache.bytes() <= 1_000);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(cache.bytes() <= 1_000);
    }
}
