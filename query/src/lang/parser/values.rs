//! Values after `name:`: text, levels, scalars, comparisons and ranges, each checked for the
//! field it is for.

use firewatch_ingest::record::Level;

use super::super::ast::{Bound, Field, Predicate, Query, RangeBounds, Scalar, TextMatch};
use super::super::eval::tokens;
use super::{ParseError, Parser};

impl Parser<'_> {
    pub(super) fn field_value(&mut self, start: usize, field: Field) -> Result<Query, ParseError> {
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

    pub(super) fn message_text(
        &self,
        at: usize,
        text: String,
        star: bool,
    ) -> Result<Predicate, ParseError> {
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
