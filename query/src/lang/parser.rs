//! Text → [`Query`]: a recursive-descent parser with positions in its errors and hard limits.
//!
//! Grammar (`OR` binds loosest, then `AND` — also implied between neighbours — then `NOT`/`-`):
//!
//! ```text
//! query   := or?
//! or      := and ("OR" and)*
//! and     := unary (("AND")? unary)*
//! unary   := ("NOT" | "-") unary | primary
//! primary := "(" or ")" | "*" | phrase | regex | word | name ":" value
//! value   := phrase | regex | word | ("<" | "<=" | ">" | ">=") word
//!          | ("[" | "{") word "TO" word ("]" | "}")
//! ```

use super::ast::{Field, Predicate, Query};

mod lexer;
mod values;

/// Bounds that keep a hostile query from costing more than a bad answer.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Longest query accepted, in bytes.
    pub max_len: usize,
    /// Deepest nesting of parentheses and negations.
    pub max_depth: usize,
    /// Most leaf conditions in one query.
    pub max_clauses: usize,
    /// Longest regex pattern, in bytes.
    pub max_regex_len: usize,
    /// Largest compiled regex program, in bytes (the regex engine runs in linear time, so this
    /// bounds a regex's cost per byte of message).
    pub regex_size_limit: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_len: 4096,
            max_depth: 32,
            max_clauses: 256,
            max_regex_len: 1024,
            regex_size_limit: 1 << 20,
        }
    }
}

/// Why a query was refused, and where: `position` counts characters from 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at position {position}")]
pub struct ParseError {
    pub message: String,
    pub position: usize,
}

/// Parses a query with the default [`Limits`].
pub fn parse(src: &str) -> Result<Query, ParseError> {
    parse_with(src, &Limits::default())
}

/// Parses a query; an empty query (or `*`) matches everything.
pub fn parse_with(src: &str, limits: &Limits) -> Result<Query, ParseError> {
    let mut p = Parser {
        src,
        pos: 0,
        depth: 0,
        clauses: 0,
        limits,
    };
    if src.len() > limits.max_len {
        return Err(p.error_at(
            floor_char_boundary(src, limits.max_len),
            format!(
                "query is too long ({} bytes, limit {})",
                src.len(),
                limits.max_len
            ),
        ));
    }
    p.skip_ws();
    if p.at_end() {
        return Ok(Query::All);
    }
    let query = p.or()?;
    p.skip_ws();
    if !p.at_end() {
        return Err(p.error("unexpected ')'"));
    }
    Ok(query)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

struct Parser<'a> {
    src: &'a str,
    /// Byte offset of the next character.
    pos: usize,
    depth: usize,
    clauses: usize,
    limits: &'a Limits,
}

/// A word as written: its text with escapes resolved, and whether it ended in an unescaped `*`.
struct Word {
    text: String,
    star: bool,
    start: usize,
}

impl Parser<'_> {
    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(self.error(format!(
                "query is nested too deeply (limit {})",
                self.limits.max_depth
            )));
        }
        Ok(())
    }

    fn leaf(&mut self, start: usize, field: Field, pred: Predicate) -> Result<Query, ParseError> {
        self.clauses += 1;
        if self.clauses > self.limits.max_clauses {
            return Err(self.error_at(
                start,
                format!(
                    "query has too many conditions (limit {})",
                    self.limits.max_clauses
                ),
            ));
        }
        Ok(Query::Leaf(field, pred))
    }

    fn or(&mut self) -> Result<Query, ParseError> {
        let mut items = vec![self.and()?];
        loop {
            self.skip_ws();
            if !self.eat_keyword("OR") {
                break;
            }
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Query::Or(items)
        })
    }

    fn and(&mut self) -> Result<Query, ParseError> {
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.at_end() || self.peek() == Some(')') || self.at_keyword("OR") {
                break;
            }
            if self.at_keyword("AND") {
                if items.is_empty() {
                    return Err(self.error("expected a term before AND"));
                }
                self.pos += 3;
                self.skip_ws();
                if self.at_end() || self.peek() == Some(')') || self.at_keyword("OR") {
                    return Err(self.error("expected a term after AND"));
                }
            }
            items.push(self.unary()?);
        }
        match items.len() {
            0 => Err(self.error("expected a term")),
            1 => Ok(items.remove(0)),
            _ => Ok(Query::And(items)),
        }
    }

    fn unary(&mut self) -> Result<Query, ParseError> {
        self.skip_ws();
        let negated = if self.eat_keyword("NOT") {
            self.skip_ws();
            true
        } else if self.peek() == Some('-') && self.peek_second().is_some_and(|c| !c.is_whitespace())
        {
            self.bump();
            true
        } else {
            false
        };
        if !negated {
            return self.primary();
        }
        if self.at_end() || self.peek() == Some(')') {
            return Err(self.error("expected a term after NOT"));
        }
        self.enter()?;
        let inner = self.unary()?;
        self.depth -= 1;
        Ok(Query::Not(Box::new(inner)))
    }

    fn primary(&mut self) -> Result<Query, ParseError> {
        let start = self.pos;
        match self.peek() {
            None => Err(self.error("expected a term")),
            Some(')') => Err(self.error("unexpected ')'")),
            Some('(') => {
                self.enter()?;
                self.bump();
                let inner = self.or()?;
                self.skip_ws();
                if self.peek() != Some(')') {
                    return Err(self.error_at(start, "unclosed '('"));
                }
                self.bump();
                self.depth -= 1;
                Ok(inner)
            }
            Some('"') => {
                let (text, star) = self.phrase()?;
                let pred = self.message_text(start, text, star)?;
                self.leaf(start, Field::Message, pred)
            }
            Some('/') => {
                let pred = self.regex()?;
                self.leaf(start, Field::Message, pred)
            }
            Some(_) => {
                let word = self.word(true)?;
                if self.peek() == Some(':') && is_field_name(&word) {
                    self.bump();
                    return self.field_value(start, Field::named(&word.text));
                }
                if word.star && word.text.is_empty() {
                    return Ok(Query::All);
                }
                let pred = self.message_text(word.start, word.text, word.star)?;
                self.leaf(start, Field::Message, pred)
            }
        }
    }
}

/// Can this word be the name in `name:value`? Letters, digits, `_`, `-`, `@` and `.` for paths.
fn is_field_name(word: &Word) -> bool {
    !word.star
        && word
            .text
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '@')
        && word
            .text
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'))
}
