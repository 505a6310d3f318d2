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

use firewatch_ingest::record::Level;

use super::ast::{Bound, Field, Predicate, Query, RangeBounds, Scalar, TextMatch};
use super::eval::tokens;

mod lexer;

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

    fn field_value(&mut self, start: usize, field: Field) -> Result<Query, ParseError> {
        let value_start = self.pos;
        let pred = match self.peek() {
            None => return Err(self.error("expected a value after ':'")),
            Some(c) if c.is_whitespace() || c == ')' => {
                return Err(self.error("expected a value after ':'"))
            }
            Some('(') => {
                return Err(self.error(
                    "a field applies to one value; write (service:a OR service:b) for several",
                ))
            }
            Some('"') => {
                let (text, star) = self.phrase()?;
                self.field_text(&field, value_start, text, star)?
            }
            // Elsewhere a leading slash is text: `source:/var/log/app.log`.
            Some('/') if field == Field::Message => self.regex()?,
            Some('<' | '>') => self.comparison(&field)?,
            Some('[' | '{') => self.range(&field)?,
            Some(_) => {
                let word = self.word(false)?;
                if word.star && word.text.is_empty() {
                    Predicate::Exists
                } else {
                    self.field_text(&field, word.start, word.text, word.star)?
                }
            }
        };
        self.leaf(start, field, pred)
    }

    /// `word`, `"phrase"` or `prefix*` on a field.
    fn field_text(
        &self,
        field: &Field,
        at: usize,
        text: String,
        star: bool,
    ) -> Result<Predicate, ParseError> {
        match field {
            Field::Message => self.message_text(at, text, star),
            Field::Level if star => Err(self.error_at(at, "a level cannot be a prefix")),
            Field::Level => Ok(Predicate::Level(self.level(at, &text)?)),
            _ if star => Ok(Predicate::Text(TextMatch::Prefix(text))),
            _ => Ok(Predicate::Text(TextMatch::Exact(text))),
        }
    }

    fn message_text(&self, at: usize, text: String, star: bool) -> Result<Predicate, ParseError> {
        if tokens(&text).next().is_none() {
            return Err(self.error_at(at, format!("nothing to search for in {text:?}")));
        }
        Ok(Predicate::Text(if star {
            TextMatch::Prefix(text)
        } else {
            TextMatch::Exact(text)
        }))
    }

    fn level(&self, at: usize, text: &str) -> Result<Level, ParseError> {
        text.parse::<Level>()
            .map_err(|e| self.error_at(at, e.to_string()))
    }

    fn scalar(&self, field: &Field, at: usize, text: String) -> Result<Scalar, ParseError> {
        Ok(match field {
            Field::Message => return Err(self.error_at(at, "the message has no ranges")),
            Field::Level => Scalar::Level(self.level(at, &text)?),
            Field::Path(_) => match text.parse::<f64>() {
                Ok(n) if n.is_finite() => Scalar::Number(n),
                _ => Scalar::Text(text),
            },
            _ => Scalar::Text(text),
        })
    }

    /// `>500`, `>=warn`, `<10`, `<=1.5`.
    fn comparison(&mut self, field: &Field) -> Result<Predicate, ParseError> {
        let greater = self.peek() == Some('>');
        self.bump();
        let inclusive = self.peek() == Some('=');
        if inclusive {
            self.bump();
        }
        let word = self.word(false)?;
        if word.text.is_empty() || word.star {
            return Err(self.error_at(word.start, "expected a value to compare with"));
        }
        let value = self.scalar(field, word.start, word.text)?;
        let bound = if inclusive {
            Bound::Included(value)
        } else {
            Bound::Excluded(value)
        };
        Ok(Predicate::Range(if greater {
            RangeBounds {
                lower: bound,
                upper: Bound::Unbounded,
            }
        } else {
            RangeBounds {
                lower: Bound::Unbounded,
                upper: bound,
            }
        }))
    }

    /// `[a TO b]`, `{a TO b}` or a mix; `*` leaves an end open.
    fn range(&mut self, field: &Field) -> Result<Predicate, ParseError> {
        let open_start = self.pos;
        let lower_inclusive = self.peek() == Some('[');
        self.bump();
        self.skip_ws();
        let lower = self.bound(field, lower_inclusive)?;
        self.skip_ws();
        if !self.eat_keyword("TO") {
            return Err(self.error("expected TO in range"));
        }
        self.skip_ws();
        let upper_start = self.pos;
        let mut end = self.pos;
        while let Some(c) = self.peek() {
            if c.is_whitespace() || c == ']' || c == '}' {
                break;
            }
            self.bump();
            end = self.pos;
        }
        self.skip_ws();
        let upper_inclusive = match self.peek() {
            Some(']') => true,
            Some('}') => false,
            _ => return Err(self.error_at(open_start, "unclosed range")),
        };
        self.bump();
        let text = self.src[upper_start..end].to_string();
        let upper = self.make_bound(field, upper_start, text, upper_inclusive)?;
        Ok(Predicate::Range(RangeBounds { lower, upper }))
    }

    fn bound(&mut self, field: &Field, inclusive: bool) -> Result<Bound, ParseError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| !c.is_whitespace()) {
            self.bump();
        }
        let text = self.src[start..self.pos].to_string();
        self.make_bound(field, start, text, inclusive)
    }

    fn make_bound(
        &self,
        field: &Field,
        at: usize,
        text: String,
        inclusive: bool,
    ) -> Result<Bound, ParseError> {
        if text.is_empty() {
            return Err(self.error_at(at, "expected a range bound"));
        }
        if text == "*" {
            return Ok(Bound::Unbounded);
        }
        let value = self.scalar(field, at, text)?;
        Ok(if inclusive {
            Bound::Included(value)
        } else {
            Bound::Excluded(value)
        })
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
