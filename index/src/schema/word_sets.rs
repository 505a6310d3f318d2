//! Which records carry their message's words, and which only their word set. Pure.
//!
//! Most messages come from a few templates: the records of one template share their indexed
//! words (variables leave only stems, see [`crate::words`]). A 1 M-line corpus had 112
//! distinct word sets over 9.3 words a record; 58 files of real logs, 12 k sets over 134 k
//! records. So instead of a posting per word and record, a record whose set is known in its
//! segment has one term, its set's identity
//! ([`Words::word_set`](crate::words::Words::word_set)), and a set's words are indexed on the
//! document that defines it, which also carries the identity in a column. A query for a word takes the documents with the word, reads the sets they
//! define, and adds the records of those sets (the query crate's message plans): still exact,
//! still from the index alone.
//!
//! A set is defined on its second sight in a segment, so a message seen once costs no more
//! than before (an identity is 8 bytes in a column, where a set seen often costs one term a
//! record). Definitions are per segment, so dropping or merging a segment takes its
//! definitions with its records; a restart begins again with nothing defined, which only
//! defines some sets twice.

use std::collections::HashMap;

use crate::words::Words;

/// Most word sets one segment's state holds: past it, records of sets not yet seen carry
/// their words (8 bytes each, at most 1.5 MB).
pub const MAX_WORD_SETS: usize = 1 << 16;

/// How a record's message is indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Its words, on its own document.
    Words,
    /// Its words and its set's identity: the set's definition.
    Define(u64),
    /// Only its set's identity, defined on an earlier document of its segment.
    Refer(u64),
}

/// The word sets one segment's documents have seen and defined so far.
#[derive(Debug, Default)]
pub struct WordSets {
    segment: Option<u64>,
    /// Identity → whether a document defines it (else it was seen once).
    seen: HashMap<u64, bool>,
    /// The tokenizer's buffer, kept from one message to the next.
    words: Words,
}

impl WordSets {
    /// Where the next record of `segment` with `message` goes.
    pub fn place_message(&mut self, segment: u64, message: &str) -> Place {
        let set = self.words.word_set(message);
        self.place(segment, set)
    }

    /// Where the next record of `segment` whose message has word set `set` goes.
    pub fn place(&mut self, segment: u64, set: Option<u64>) -> Place {
        if self.segment != Some(segment) {
            self.segment = Some(segment);
            self.seen.clear();
        }
        let Some(set) = set else {
            return Place::Words;
        };
        let full = self.seen.len() >= MAX_WORD_SETS;
        match self.seen.get_mut(&set) {
            Some(true) => Place::Refer(set),
            Some(defined) => {
                *defined = true;
                Place::Define(set)
            }
            None if full => Place::Words,
            None => {
                self.seen.insert(set, false);
                Place::Words
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_is_defined_on_its_second_sight_and_referred_to_after() {
        let mut sets = WordSets::default();
        assert_eq!(sets.place(1, Some(7)), Place::Words);
        assert_eq!(sets.place(1, Some(7)), Place::Define(7));
        assert_eq!(sets.place(1, Some(7)), Place::Refer(7));
        assert_eq!(sets.place(1, Some(8)), Place::Words);
        assert_eq!(sets.place(1, None), Place::Words);
        assert_eq!(sets.place(1, Some(7)), Place::Refer(7));
    }

    #[test]
    fn each_segment_defines_its_own_sets() {
        let mut sets = WordSets::default();
        sets.place(1, Some(7));
        sets.place(1, Some(7));
        assert_eq!(sets.place(2, Some(7)), Place::Words);
        assert_eq!(sets.place(2, Some(7)), Place::Define(7));
    }

    #[test]
    fn past_the_limit_new_sets_keep_their_words() {
        let mut sets = WordSets::default();
        for set in 0..MAX_WORD_SETS as u64 {
            sets.place(1, Some(set));
        }
        assert_eq!(sets.place(1, Some(u64::MAX)), Place::Words);
        assert_eq!(sets.place(1, Some(u64::MAX)), Place::Words);
        // Sets seen before the limit are still defined and referred to.
        assert_eq!(sets.place(1, Some(3)), Place::Define(3));
        assert_eq!(sets.place(1, Some(3)), Place::Refer(3));
    }
}
