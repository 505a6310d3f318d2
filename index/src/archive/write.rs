//! Writing an active segment's archive: records appended in memory, a block compressed and
//! written once its records' JSON passes `block_bytes`, and the footer written and fsynced when
//! the segment is sealed.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, RwLock};

use firewatch_ingest::LogRecord;
use memmap2::Mmap;

use super::{footer, Archive, Block, Data, State, HEADER_LEN, MAGIC, NEXT_UID, VERSION};
use crate::block;
use crate::block_filter::FilterBuilder;
use crate::ids::IdTable;

impl Archive {
    /// Creates the archive file of a new, active segment.
    pub fn create(path: &Path, block_bytes: usize, level: i32) -> io::Result<Archive> {
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(path)?;
        file.write_all(MAGIC)?;
        file.write_all(&VERSION.to_le_bytes())?;
        Ok(Archive {
            state: RwLock::new(State {
                data: Data::Active {
                    file,
                    end: HEADER_LEN,
                    pending: Vec::new(),
                    pending_bytes: 0,
                    cuts: Vec::new(),
                    open_mixed: false,
                    pending_ids: HashMap::new(),
                    filters: Vec::new(),
                },
                blocks: Vec::new(),
                ids: IdTable::default(),
                records: 0,
            }),
            uid: NEXT_UID.fetch_add(1, Relaxed),
            block_bytes,
            level,
            flushing: Mutex::default(),
        })
    }

    /// Appends one record (`json_len`: the size of its JSON, for block sizing) and returns its
    /// ordinal. The record is readable at once; [`Archive::flush_full`] writes full blocks out.
    pub fn append(&self, rec: impl Into<Arc<LogRecord>>, json_len: usize) -> u64 {
        let rec = rec.into();
        let mut st = self.state.write().unwrap_or_else(|e| e.into_inner());
        let ord = st.records;
        if let Data::Active {
            pending,
            pending_bytes,
            cuts,
            open_mixed,
            pending_ids,
            ..
        } = &mut st.data
        {
            let open = cuts.last().copied().unwrap_or(0) < pending.len();
            if open && pending.last().is_some_and(|p| p.source != rec.source) {
                if !*open_mixed && *pending_bytes >= self.block_bytes / 4 {
                    cuts.push(pending.len());
                    *pending_bytes = 0;
                } else {
                    *open_mixed = true;
                }
            }
            pending_ids.insert(rec.id.clone(), ord);
            pending.push(rec);
            *pending_bytes += json_len;
            if *pending_bytes >= self.block_bytes {
                cuts.push(pending.len());
                *pending_bytes = 0;
                *open_mixed = false;
            }
            st.records += 1;
        }
        ord
    }

    /// Compresses and writes the pending blocks that are full. On error nothing is lost: the
    /// blocks stay pending and are written by a later call.
    pub fn flush_full(&self) -> io::Result<()> {
        let mut builder = self.flushing.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(records) = self.next_block(false) {
            self.write_block(&records, &mut builder)?;
        }
        Ok(())
    }

    /// The records of the next block to write: the first full one, or with `all` every
    /// pending record; `None` when there is none.
    fn next_block(&self, all: bool) -> Option<Vec<Arc<LogRecord>>> {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        let Data::Active { pending, cuts, .. } = &st.data else {
            return None;
        };
        let n = if all { pending.len() } else { *cuts.first()? };
        (n > 0).then(|| pending[..n].to_vec())
    }

    /// Writes `records`, the first pending ones, as a block (the caller holds `flushing`).
    /// They are encoded, compressed and filtered with no lock held: every batch's duplicate
    /// check reads this archive's ids, and compressing a 4 MiB block under the write lock
    /// held it up.
    fn write_block(
        &self,
        records: &[Arc<LogRecord>],
        builder: &mut FilterBuilder,
    ) -> io::Result<()> {
        let mut plain = Vec::with_capacity(self.block_bytes.min(64 << 20));
        block::encode(records, &mut plain);
        // The frame's checksum (4 bytes in ~100 KB) lets a reader tell a damaged block from a
        // good one: a flipped bit in the literals would otherwise decode into wrong text.
        let mut zstd = zstd::bulk::Compressor::new(self.level)?;
        zstd.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))?;
        let frame = zstd.compress(&plain)?;
        let filter = builder.build_for_records(records);
        let n = records.len();
        let mut guard = self.state.write().unwrap_or_else(|e| e.into_inner());
        let st = &mut *guard;
        let first_ord = st.blocks.last().map_or(0, |b| b.first_ord + b.count as u64);
        let Data::Active {
            file,
            end,
            pending,
            pending_bytes,
            cuts,
            open_mixed,
            pending_ids,
            filters,
        } = &mut st.data
        else {
            return Ok(());
        };
        file.write_all_at(&frame, *end)?;
        filters.push(filter);
        let block = Block {
            first_ord,
            offset: *end,
            len: frame.len() as u32,
            count: n as u32,
        };
        *end += frame.len() as u64;
        st.ids.add_block(
            st.blocks.len() as u32,
            records.iter().map(|r| r.id.as_str()),
        );
        for r in pending.drain(..n) {
            pending_ids.remove(&r.id);
        }
        cuts.retain_mut(|c| {
            *c = c.saturating_sub(n);
            *c > 0
        });
        if pending.is_empty() {
            *pending_bytes = 0;
            *open_mixed = false;
        }
        st.blocks.push(block);
        Ok(())
    }

    /// Writes the last blocks and the footer, fsyncs, and switches to reading through a map.
    pub fn seal(&self) -> io::Result<u64> {
        let mut builder = self.flushing.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            while let Some(records) = self.next_block(false) {
                self.write_block(&records, &mut builder)?;
            }
            if let Some(records) = self.next_block(true) {
                self.write_block(&records, &mut builder)?;
            }
            let mut guard = self.state.write().unwrap_or_else(|e| e.into_inner());
            let st = &mut *guard;
            match &st.data {
                Data::Sealed { map, .. } => return Ok(map.len() as u64),
                // Appended to since: write those first.
                Data::Active { pending, .. } if !pending.is_empty() => continue,
                Data::Active { .. } => {}
            }
            let Data::Active {
                file, end, filters, ..
            } = &mut st.data
            else {
                return Ok(0);
            };
            let (footer, spans) = footer::encode(&st.blocks, &st.ids, filters, *end);
            file.write_all_at(&footer, *end)?;
            file.sync_all()?;
            let size = *end + footer.len() as u64;
            // SAFETY: as in `open_sealed`, the file is complete and never written again.
            let map = unsafe { Mmap::map(&*file)? };
            st.data = Data::Sealed {
                map,
                filters: spans,
            };
            return Ok(size);
        }
    }
}
