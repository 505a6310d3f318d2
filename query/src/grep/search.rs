//! Finding matching lines in a buffer: the pure core of `grep`.
//!
//! The whole buffer is searched with one automaton (aho-corasick for literals, a regex
//! otherwise) rather than line by line: the automaton skips over non-matching text at memory
//! speed, and line boundaries are only looked up around the hits. Large buffers are cut at line
//! boundaries into chunks searched in parallel; line numbers are stitched afterwards.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use rayon::prelude::*;
use regex::bytes::{Regex, RegexBuilder};

use super::prefilter::Prefilter;
use super::GrepError;

/// Regex metacharacters: a pattern holding any of them is a regex unless `--fixed-strings`.
const META: &[char] = &[
    '\\', '.', '^', '$', '*', '+', '?', '(', ')', '[', ']', '{', '}', '|',
];

/// How patterns are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PatternKind {
    /// Regex if a pattern has metacharacters, else literal.
    #[default]
    Auto,
    Literal,
    Regex,
}

/// The compiled patterns.
#[derive(Debug, Clone)]
pub struct Matcher {
    engine: Engine,
    prefilter: Option<Prefilter>,
}

#[derive(Debug, Clone)]
enum Engine {
    Literals(AhoCorasick),
    Regex(Regex),
}

impl Matcher {
    pub fn new(
        patterns: &[String],
        kind: PatternKind,
        ignore_case: bool,
    ) -> Result<Self, GrepError> {
        if patterns.is_empty() {
            return Err(GrepError::NoPattern);
        }
        let regex = match kind {
            PatternKind::Regex => true,
            PatternKind::Literal => false,
            PatternKind::Auto => patterns.iter().any(|p| p.contains(META)),
        };
        if !regex {
            let ac = AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostFirst)
                .ascii_case_insensitive(ignore_case)
                .build(patterns)
                .map_err(|e| GrepError::Pattern(e.to_string()))?;
            return Ok(Matcher {
                engine: Engine::Literals(ac),
                prefilter: Prefilter::for_literals(patterns, ignore_case),
            });
        }
        let alternation = patterns
            .iter()
            .map(|p| match kind {
                PatternKind::Literal => regex::escape(p),
                _ => p.clone(),
            })
            .map(|p| format!("(?:{p})"))
            .collect::<Vec<_>>()
            .join("|");
        let re = RegexBuilder::new(&alternation)
            .case_insensitive(ignore_case)
            // `^` and `$` mean line starts and ends, since the whole buffer is searched.
            .multi_line(true)
            .size_limit(64 << 20)
            .build()
            .map_err(|e| GrepError::Pattern(e.to_string()))?;
        Ok(Matcher {
            engine: Engine::Regex(re),
            prefilter: Prefilter::for_regex(&alternation, ignore_case),
        })
    }

    /// What archive blocks must hold to be worth decoding, if the patterns tell.
    pub fn prefilter(&self) -> Option<&Prefilter> {
        self.prefilter.as_ref()
    }

    /// The same patterns without a prefilter, to check what it skips.
    #[cfg(test)]
    pub fn without_prefilter(&self) -> Matcher {
        Matcher {
            engine: self.engine.clone(),
            prefilter: None,
        }
    }

    /// Start of the first match in `hay[from..]`, as an index into `hay`.
    fn find(&self, hay: &[u8], from: usize) -> Option<usize> {
        match &self.engine {
            Engine::Literals(ac) => ac
                .find(aho_corasick::Input::new(hay).span(from..hay.len()))
                .map(|m| m.start()),
            Engine::Regex(re) => re.find_at(hay, from).map(|m| m.start()),
        }
    }

    /// Does this one line match?
    pub fn is_match(&self, line: &[u8]) -> bool {
        match &self.engine {
            Engine::Literals(ac) => ac.is_match(line),
            Engine::Regex(re) => re.is_match(line),
        }
    }
}

/// A matching line: its byte range in the buffer (without the newline) and its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub start: usize,
    pub end: usize,
    /// 1-based line number.
    pub line: u64,
}

/// Buffers larger than this are searched in parallel chunks.
pub const CHUNK: usize = 8 << 20;

/// Every matching line of `buf`, in order. `chunk` is the parallel split size.
pub fn search(matcher: &Matcher, buf: &[u8], chunk: usize) -> Vec<Hit> {
    let bounds = chunk_bounds(buf, chunk.max(1));
    let parts: Vec<(Vec<Hit>, u64)> = bounds
        .par_windows(2)
        .map(|w| search_chunk(matcher, buf, w[0], w[1]))
        .collect();
    let mut hits = Vec::new();
    let mut base = 0;
    for (part, newlines) in parts {
        hits.extend(part.into_iter().map(|h| Hit {
            line: h.line + base,
            ..h
        }));
        base += newlines;
    }
    hits
}

/// Chunk boundaries, each just after a newline (or the buffer's ends).
fn chunk_bounds(buf: &[u8], chunk: usize) -> Vec<usize> {
    let mut bounds = vec![0];
    let mut at = 0;
    while buf.len() - at > chunk {
        match memchr::memchr(b'\n', &buf[at + chunk..]) {
            Some(i) if at + chunk + i + 1 < buf.len() => at += chunk + i + 1,
            _ => break,
        }
        bounds.push(at);
    }
    bounds.push(buf.len());
    bounds
}

/// Hits in `buf[from..to]` with line numbers relative to `from`, and the newlines in it.
fn search_chunk(matcher: &Matcher, buf: &[u8], from: usize, to: usize) -> (Vec<Hit>, u64) {
    let hay = &buf[..to];
    let mut hits = Vec::new();
    let mut line = 1;
    let mut counted = from;
    let mut at = from;
    while at < to {
        let Some(m) = matcher.find(hay, at) else {
            break;
        };
        if m >= to {
            break;
        }
        // `at` is always a line start, so the hit's line starts at or after it.
        let start = memchr::memrchr(b'\n', &hay[at..m]).map_or(at, |i| at + i + 1);
        let end = memchr::memchr(b'\n', &hay[m..]).map_or(to, |i| m + i);
        // A regex may match across a newline; only lines that match on their own count.
        let whole_line =
            matches!(matcher.engine, Engine::Literals(_)) || matcher.is_match(&hay[start..end]);
        if whole_line {
            line += memchr::memchr_iter(b'\n', &hay[counted..start]).count() as u64;
            counted = start;
            hits.push(Hit { start, end, line });
        }
        at = end + 1;
    }
    let newlines = memchr::memchr_iter(b'\n', &buf[from..to]).count() as u64;
    (hits, newlines)
}
