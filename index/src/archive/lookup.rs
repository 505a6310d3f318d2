//! Which records of an archive hold given ids: the id table narrows each id to a block or two
//! (none for a new record), whose ids are then decoded to answer exactly.

use std::collections::{BTreeMap, HashMap};

use super::{read_block_with, Archive, Data};
use crate::block;
use crate::error::StoreError;
use crate::ids::IdKey;

impl Archive {
    /// Marks `found[i]` for every `ids[i]` stored in this archive. Each candidate block is
    /// decoded once per call, so a resent batch costs a block or two, not one per record.
    pub fn find_ids(&self, ids: &[&str], found: &mut [bool]) -> Result<(), StoreError> {
        self.locate(ids, |i, _| found[i] = true)
    }

    /// The ordinal of the record with this id, if it is stored here.
    pub fn ord_of(&self, id: &str) -> Result<Option<u64>, StoreError> {
        let mut ord = None;
        self.locate(&[id], |_, o| ord = Some(o))?;
        Ok(ord)
    }

    /// Calls `hit(i, ord)` for every `ids[i]` stored here.
    fn locate(&self, ids: &[&str], mut hit: impl FnMut(usize, u64)) -> Result<(), StoreError> {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        let mut by_block: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        let mut cands = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            if let Data::Active { pending_ids, .. } = &st.data {
                if let Some(ord) = pending_ids.get(*id) {
                    hit(i, *ord);
                    continue;
                }
            }
            cands.clear();
            st.ids.candidates(IdKey::of(id), &mut cands);
            for b in &cands {
                by_block.entry(*b).or_default().push(i);
            }
        }
        for (b, wanted) in by_block {
            let block = *st
                .blocks
                .get(b as usize)
                .ok_or_else(|| StoreError::Corrupt {
                    what: "id table names a missing block".into(),
                })?;
            let stored = read_block_with(&st.data, block, block::decode_ids)?;
            let index: HashMap<&str, usize> = stored
                .iter()
                .enumerate()
                .map(|(k, id)| (id.as_str(), k))
                .collect();
            for i in wanted {
                if let Some(k) = index.get(ids[i]) {
                    hit(i, block.first_ord + *k as u64);
                }
            }
        }
        Ok(())
    }
}
