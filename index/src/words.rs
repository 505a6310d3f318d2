//! Which words of a message the index holds.
//!
//! A message mixes words that repeat (`connection`, `refused`, `checkout`) with *variables*:
//! ids, counts, addresses, durations, hashes (`8f3a2c01`, `10`, `1532ms`, `req42`). Variables
//! are most of a message index's distinct terms and a large part of its postings, yet each
//! is in few records. So the index keeps only the words without a digit; a word with one is
//! found through the archive's block filters and checked on the records (see the query
//! crate's search plans), which is how `grep` over a data directory finds any literal.
//!
//! A variable leaves one trace in the index: its letters before the first digit, marked with
//! [`STEM_MARK`] (`req42` → `\u{1}req`). A prefix query without digits (`message:re*`) then
//! stays exact: its words are a term range, and the records whose variables start with it
//! are a range of marked stems. Stems repeat, so they cost little.
//!
//! ```
//! use firewatch_index::words::{is_indexed, Words};
//! use tantivy::tokenizer::{TokenStream, Tokenizer};
//!
//! assert!(is_indexed("refused") && !is_indexed("10"));
//! let mut words = Words::default();
//! let mut stream = words.token_stream("Connection refused: req42 after 3 tries");
//! let mut terms = Vec::new();
//! while stream.advance() {
//!     terms.push(stream.token().text.clone());
//! }
//! assert_eq!(terms, ["connection", "refused", "\u{1}req", "after", "tries"]);
//! ```

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// The name the message tokenizer is registered under.
pub const TOKENIZER: &str = "words";

/// Words of this many bytes or more are not indexed (as tantivy's default tokenizer does).
pub const MAX_WORD_BYTES: usize = 40;

/// What a variable's stem term starts with; no word does (words are alphanumeric).
pub const STEM_MARK: char = '\u{1}';

/// Is this word (as split from the text, before lowercasing) a term of the index?
pub fn is_indexed(word: &str) -> bool {
    word.len() < MAX_WORD_BYTES && !word.chars().any(char::is_numeric)
}

/// The letters of a variable before its first digit, lowercased; empty when it starts with
/// one.
pub fn stem(word: &str) -> String {
    let end = word.find(char::is_numeric).unwrap_or(word.len());
    word[..end].to_lowercase()
}

/// Splits text at every character that is not alphanumeric, lowercases, and keeps the words
/// [`is_indexed`] accepts and the stems of the others.
#[derive(Debug, Clone, Default)]
pub struct Words {
    token: Token,
}

/// The words of one text.
pub struct WordStream<'a> {
    text: &'a str,
    at: usize,
    token: &'a mut Token,
}

impl Words {
    /// The identity of a message's [word set](crate::schema::WordSets): a hash of its terms in
    /// order, or `None` when it has none. Messages with the same terms have the same identity;
    /// two with different terms share one with odds of about 2^-64 per pair.
    pub fn word_set(&mut self, message: &str) -> Option<u64> {
        let mut stream = self.token_stream(message);
        let mut hash = xxhash_rust::xxh3::Xxh3::new();
        let mut any = false;
        while stream.advance() {
            hash.update(stream.token().text.as_bytes());
            // Terms are alphanumeric, so a 0 byte parts them unambiguously.
            hash.update(&[0]);
            any = true;
        }
        any.then(|| hash.digest())
    }
}

impl Tokenizer for Words {
    type TokenStream<'a> = WordStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordStream<'a> {
        self.token.reset();
        WordStream {
            text,
            at: 0,
            token: &mut self.token,
        }
    }
}

impl TokenStream for WordStream<'_> {
    fn advance(&mut self) -> bool {
        while let Some(start) = self.text[self.at..].find(char::is_alphanumeric) {
            let from = self.at + start;
            let len = self.text[from..]
                .find(|c: char| !c.is_alphanumeric())
                .unwrap_or(self.text.len() - from);
            let to = from + len;
            self.at = to;
            let word = &self.text[from..to];
            let text = &mut self.token.text;
            text.clear();
            if is_indexed(word) {
                if word.is_ascii() {
                    text.push_str(word);
                    text.make_ascii_lowercase();
                } else {
                    text.push_str(&word.to_lowercase());
                }
            } else if word.len() < MAX_WORD_BYTES {
                let stem = stem(word);
                if stem.is_empty() {
                    continue;
                }
                text.push(STEM_MARK);
                text.push_str(&stem);
            } else {
                continue;
            }
            self.token.offset_from = from;
            self.token.offset_to = to;
            self.token.position = self.token.position.wrapping_add(1);
            return true;
        }
        self.at = self.text.len();
        false
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// The name the tokenizer of structured string values is registered under.
pub const VALUE_TOKENIZER: &str = "values";

/// Registers the tokenizers the schema names with `index`.
pub fn register(index: &tantivy::Index) {
    let t = index.tokenizers();
    t.register(TOKENIZER, Words::default());
    t.register(VALUE_TOKENIZER, Values::default());
}

/// A structured string value as one term, unless it holds a digit (an id, a duration, a
/// version): then as the empty term, which keeps `path:*` answerable while the value itself
/// is found like a message's variables.
#[derive(Clone, Default)]
pub struct Values {
    token: Token,
}

/// The one term of a value.
pub struct ValueStream<'a> {
    token: &'a mut Token,
    pending: bool,
}

impl Tokenizer for Values {
    type TokenStream<'a> = ValueStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> ValueStream<'a> {
        self.token.reset();
        self.token.position = 0;
        self.token.offset_to = text.len();
        if !text.chars().any(char::is_numeric) {
            self.token.text.push_str(text);
        }
        ValueStream {
            token: &mut self.token,
            pending: true,
        }
    }
}

impl TokenStream for ValueStream<'_> {
    fn advance(&mut self) -> bool {
        std::mem::replace(&mut self.pending, false)
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str) -> Vec<String> {
        let mut words = Words::default();
        let mut stream = words.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        out
    }

    #[test]
    fn messages_with_the_same_terms_have_one_word_set() {
        let mut words = Words::default();
        let mut word_set = |m: &str| words.word_set(m);
        let set = word_set("Connection refused: req42 after 3 tries").unwrap();
        assert_eq!(
            word_set("connection REFUSED req7 after 12 tries"),
            Some(set)
        );
        assert_ne!(word_set("connection refused after tries"), Some(set));
        assert_ne!(word_set("refused connection req1 after 3 tries"), Some(set));
        assert_ne!(word_set("connectionrefused req1 after 3 tries"), Some(set));
        assert_eq!(word_set("42 17 -- 9"), None);
    }

    #[test]
    fn variables_leave_only_their_stem() {
        assert_eq!(
            terms("GET /api/v2/users/8812 took 35ms from 10.0.0.7"),
            ["get", "api", "\u{1}v", "users", "took", "from"]
        );
        assert_eq!(terms("Ünïcode ÉCOLE ٣ x٣"), ["ünïcode", "école", "\u{1}x"]);
        assert!(terms("").is_empty() && terms(" ,;- ").is_empty());
    }

    #[test]
    fn long_words_are_dropped_like_the_default_tokenizer() {
        let long = "a".repeat(MAX_WORD_BYTES);
        let just = "b".repeat(MAX_WORD_BYTES - 1);
        assert_eq!(terms(&format!("{long} {just} x")), [just.as_str(), "x"]);
        assert_eq!(terms(&format!("{long}1 y")), ["y"]);
    }

    #[test]
    fn values_with_a_digit_are_the_empty_term() {
        let mut v = Values::default();
        let mut one = |text: &str| {
            let mut s = v.token_stream(text);
            assert!(s.advance());
            let t = s.token().text.clone();
            assert!(!s.advance());
            t
        };
        assert_eq!(one("ams-east"), "ams-east");
        assert_eq!(one("SKU-84224"), "");
        assert_eq!(one(""), "");
    }

    #[test]
    fn stems_stop_at_the_first_digit() {
        assert_eq!(stem("Req42x"), "req");
        assert_eq!(stem("42abc"), "");
    }
}
