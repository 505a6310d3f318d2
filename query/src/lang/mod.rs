//! The query language: text → [`Query`] (an AST) → a yes/no answer per record.
//!
//! [`parse`] is a hand-written recursive-descent parser: the grammar is small, errors must name a
//! position, and hostile input (deep nesting, huge regexes, endless clauses) must be refused by
//! explicit [`Limits`] rather than by running out of stack or time. [`matches()`] defines the
//! semantics exactly on one [`LogRecord`](firewatch_ingest::record::LogRecord): it is the filter
//! of the live tail and the brute-force oracle the index-backed search is tested against.
//! [`time`] parses the `start`/`end` parameters (RFC 3339 or relative, `now-15m`).

mod ast;
mod eval;
mod parser;
pub mod time;

pub use ast::{Bound, Field, Predicate, Query, RangeBounds, Scalar, TextMatch};
pub use eval::{lookup, matches, tokens, MAX_TOKEN_BYTES};
pub use parser::{parse, parse_with, Limits, ParseError};

#[cfg(test)]
mod tests;
