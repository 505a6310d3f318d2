//! Skipping archive blocks that cannot hold a match, before decoding them.
//!
//! A record is searched as `TIMESTAMP LEVEL SERVICE MESSAGE FIELDS` ([`super::archive`]); in
//! blocks of layouts before 2 the service, message and fields are stored verbatim in the
//! decompressed body, the rest is rendered (layout 2 stores messages as templates over typed
//! field columns, so its bodies are only ruled out by their filter). From the patterns we take
//! literals every match must contain: the patterns
//! themselves when they are literals, else the regex's prefix literals as the regex crate's own
//! parser extracts them. Each literal is cut at spaces and newlines and its longest piece kept:
//! such a piece cannot span two parts of the text, so an occurrence lies inside one part. It is
//! in the body verbatim unless that part is the timestamp or the level word, and a piece that
//! could be inside those (only timestamp characters, or a substring of a level word) disables
//! the prefilter. A block whose body holds none of the pieces then has no match.
//!
//! Before that, a block can be ruled out without decompressing it: its [`BlockFilter`] knows the
//! trigrams of its service, message and fields text, and a match needs, for one of the
//! literals, every piece of it that cannot be rendered.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use firewatch_index::block_filter::BlockFilter;
use firewatch_ingest::Level;
use regex_syntax::hir::literal::Extractor;
use regex_syntax::ParserBuilder;

/// Every byte a rendered timestamp (`2026-11-20T10:00:00.000000000Z`) can hold.
const STAMP_BYTES: &[u8] = b"0123456789-:.TZ";

/// Literals one of which every matching record's body holds.
#[derive(Debug, Clone)]
pub struct Prefilter {
    pieces: AhoCorasick,
    /// Per literal, the pieces a block's verbatim text must all hold for that literal to match.
    needles: Vec<Vec<Vec<u8>>>,
}

impl Prefilter {
    /// For literal patterns, searched ASCII case-insensitively with `ignore_case`.
    pub fn for_literals(patterns: &[String], ignore_case: bool) -> Option<Prefilter> {
        Prefilter::build(patterns.iter().map(|p| p.as_bytes()), ignore_case)
    }

    /// For a regex as `regex::bytes::RegexBuilder` compiles it with these flags. `None` when it
    /// does not parse here or has no usable literals (`\w+`, `a*`, …).
    pub fn for_regex(pattern: &str, ignore_case: bool) -> Option<Prefilter> {
        let hir = ParserBuilder::new()
            .case_insensitive(ignore_case)
            .multi_line(true)
            .utf8(false)
            .build()
            .parse(pattern)
            .ok()?;
        let seq = Extractor::new().extract(&hir);
        // Case folding is already spelled out in the extracted literals.
        Prefilter::build(seq.literals()?.iter().map(|l| l.as_bytes()), false)
    }

    fn build<'a>(literals: impl Iterator<Item = &'a [u8]>, ignore_case: bool) -> Option<Prefilter> {
        let mut pieces = Vec::new();
        let mut needles = Vec::new();
        for lit in literals {
            let parts: Vec<&[u8]> = lit.split(|&c| c == b' ' || c == b'\n').collect();
            let piece = parts
                .iter()
                .copied()
                .max_by_key(|p| p.len())
                .unwrap_or_default();
            if piece.is_empty() || may_be_rendered(piece, ignore_case) {
                return None;
            }
            pieces.push(piece);
            let checkable = parts
                .iter()
                .filter(|p| p.len() >= 3 && !may_be_rendered(p, ignore_case));
            needles.push(checkable.map(|p| p.to_vec()).collect());
        }
        if pieces.is_empty() {
            return None;
        }
        // Leftmost-first lets aho-corasick use its SIMD (Teddy) searcher; "is there any match"
        // is the same question under every match kind.
        let pieces = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostFirst)
            .ascii_case_insensitive(ignore_case)
            .build(&pieces)
            .ok()?;
        Some(Prefilter { pieces, needles })
    }

    /// Can a block whose filter is `filter` hold a match? Asked before decompressing it.
    pub fn may_pass(&self, filter: BlockFilter) -> bool {
        self.needles
            .iter()
            .any(|pieces| pieces.iter().all(|p| filter.may_contain(p)))
    }

    /// Can a block with this decompressed body hold a match?
    pub fn may_match(&self, body: &[u8]) -> bool {
        self.pieces.is_match(body)
    }
}

/// Could `piece` occur inside a rendered timestamp or level word?
fn may_be_rendered(piece: &[u8], ignore_case: bool) -> bool {
    let folded = if ignore_case {
        piece.to_ascii_lowercase()
    } else {
        piece.to_vec()
    };
    let in_level = Level::ALL.iter().any(|l| {
        l.as_str()
            .as_bytes()
            .windows(folded.len())
            .any(|w| w == folded)
    });
    let in_stamp = piece
        .iter()
        .all(|c| STAMP_BYTES.contains(c) || (ignore_case && matches!(c, b't' | b'z')));
    in_level || in_stamp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(patterns: &[&str], ignore_case: bool) -> Option<Prefilter> {
        let p: Vec<String> = patterns.iter().map(|s| s.to_string()).collect();
        Prefilter::for_literals(&p, ignore_case)
    }

    #[test]
    fn literals_that_may_be_rendered_disable_it() {
        // Level words and their pieces, in any case with -i.
        assert!(lits(&["error"], false).is_none());
        assert!(lits(&["arn"], false).is_none());
        assert!(lits(&["ERROR"], true).is_none());
        assert!(lits(&["timeout", "fatal"], false).is_none());
        // Timestamp text.
        assert!(lits(&["2026-11-20"], false).is_none());
        assert!(lits(&["10:00:00"], false).is_none());
        assert!(lits(&["503"], false).is_none());
        assert!(lits(&["20t10"], true).is_none());
        // Only separators, or nothing.
        assert!(lits(&[" "], false).is_none());
        assert!(lits(&[""], false).is_none());
    }

    #[test]
    fn other_literals_keep_their_longest_piece() {
        // "ERROR" is not the rendered level word "error" when case matters.
        let p = lits(&["ERROR"], false).unwrap();
        assert!(p.may_match(b"..ERROR..") && !p.may_match(b"..error.."));
        // Spanning `SERVICE MESSAGE`: the longer piece is searched.
        let p = lits(&["api GETting"], false).unwrap();
        assert!(p.may_match(b"GETting") && !p.may_match(b"api"));
        // A piece touching the level word ("info x") is still inside the body as "x…".
        let p = lits(&["info checkout"], false).unwrap();
        assert!(p.may_match(b"checkout") && !p.may_match(b"info"));
        let p = lits(&["Timeout"], true).unwrap();
        assert!(p.may_match(b"TIMEOUT"));
    }

    #[test]
    fn regex_literals_come_from_the_parser() {
        let p = Prefilter::for_regex(r"(?:connect (ECONNREFUSED|ETIMEDOUT) \d+)", false).unwrap();
        assert!(p.may_match(b"ETIMEDOUT") && !p.may_match(b"connect"));
        let p = Prefilter::for_regex("timeout", true).unwrap();
        assert!(p.may_match(b"TimeOut") && !p.may_match(b"time"));
        for unusable in [r"\w+", "a*", "^", r"err(or)?", r"\d{4}-\d\d", "(", r"x|\S+"] {
            assert!(
                Prefilter::for_regex(unusable, false).is_none(),
                "{unusable}"
            );
        }
    }
}
