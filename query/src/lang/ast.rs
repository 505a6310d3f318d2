//! The parsed form of a query. Every leaf says which part of a record it looks at and how.

use firewatch_ingest::record::Level;
use regex::Regex;

/// A parsed query.
#[derive(Debug, Clone)]
pub enum Query {
    /// Every record (`*`, or an empty query).
    All,
    /// All of these (`a AND b`, or `a b`).
    And(Vec<Query>),
    /// Any of these (`a OR b`).
    Or(Vec<Query>),
    /// Not this (`NOT a`, `-a`).
    Not(Box<Query>),
    /// A condition on one part of a record.
    Leaf(Field, Predicate),
}

/// The part of a record a leaf looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// The message, searched as text (bare words, phrases, `/regex/`).
    Message,
    Level,
    Service,
    Host,
    Source,
    /// The record's id.
    Id,
    /// A structured field by dotted path (`http.status`, `user_id`).
    Path(String),
}

impl Field {
    /// The field a name refers to: the record's own parts by name, anything else a structured
    /// field.
    pub fn named(name: &str) -> Field {
        match name {
            "message" | "msg" => Field::Message,
            "level" => Field::Level,
            "service" => Field::Service,
            "host" => Field::Host,
            "source" => Field::Source,
            "id" => Field::Id,
            other => Field::Path(other.to_string()),
        }
    }
}

/// What a leaf asks of its field.
#[derive(Debug, Clone)]
pub enum Predicate {
    /// The field has some value (`field:*`).
    Exists,
    /// Equality: on the message, a run of words; elsewhere the whole value.
    Text(TextMatch),
    /// The level is exactly this.
    Level(Level),
    /// The value lies in a range (numbers by value, levels by severity, text by byte order).
    Range(RangeBounds),
    /// The message matches a regular expression (compiled with a size limit).
    Regex(Regex),
}

/// A textual condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextMatch {
    /// `word` or `"a phrase"`: on the message, these tokens appear consecutively; elsewhere the
    /// value equals the text.
    Exact(String),
    /// `conn*`: on the message, a token starts with this (after the preceding tokens, if the
    /// prefix has several); elsewhere the value starts with it.
    Prefix(String),
}

/// A range: `>500`, `<=9`, `[500 TO 599]`, `{a TO b}`, `[* TO 10]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeBounds {
    pub lower: Bound,
    pub upper: Bound,
}

/// One end of a range.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    Unbounded,
    Included(Scalar),
    Excluded(Scalar),
}

/// A range end as written: a number when it reads as one, a level on the level field, else text.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Number(f64),
    Level(Level),
    Text(String),
}

impl Query {
    /// Does this query match every record without looking at it?
    pub fn is_all(&self) -> bool {
        matches!(self, Query::All)
    }
}
