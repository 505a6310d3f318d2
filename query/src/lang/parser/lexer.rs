//! The characters of a query: whitespace, keywords, words, phrases and regexes, and errors
//! that point at them.

use regex::RegexBuilder;

use super::{ParseError, Parser, Predicate, Word};

impl Parser<'_> {
    pub(super) fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    pub(super) fn peek_second(&self) -> Option<char> {
        self.src[self.pos..].chars().nth(1)
    }

    pub(super) fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.pos += c.len_utf8();
        }
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    pub(super) fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    pub(super) fn error(&self, message: impl Into<String>) -> ParseError {
        self.error_at(self.pos, message)
    }

    pub(super) fn error_at(&self, byte: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            message: message.into(),
            position: self.src[..byte].chars().count(),
        }
    }

    /// Is the operator `kw` next (a whole word, followed by space, a parenthesis or the end)?
    pub(super) fn at_keyword(&self, kw: &str) -> bool {
        let rest = &self.src[self.pos..];
        rest.starts_with(kw)
            && rest[kw.len()..]
                .chars()
                .next()
                .is_none_or(|c| c.is_whitespace() || c == '(' || c == ')')
    }

    pub(super) fn eat_keyword(&mut self, kw: &str) -> bool {
        let found = self.at_keyword(kw);
        if found {
            self.pos += kw.len();
        }
        found
    }

    /// A word up to whitespace or a parenthesis (and, for the name part of `name:value`, a
    /// colon). `\` escapes the next character; `*` is allowed only at the end.
    pub(super) fn word(&mut self, stop_at_colon: bool) -> Result<Word, ParseError> {
        let start = self.pos;
        let mut text = String::new();
        let mut star = false;
        while let Some(c) = self.peek() {
            if c.is_whitespace() || c == '(' || c == ')' || c == '"' || (stop_at_colon && c == ':')
            {
                break;
            }
            if star {
                return Err(self.error_at(
                    self.pos - 1,
                    "'*' is only supported at the end of a word (escape it as \\*)",
                ));
            }
            self.bump();
            match c {
                '\\' => match self.peek() {
                    Some(escaped) => {
                        text.push(escaped);
                        self.bump();
                    }
                    None => return Err(self.error("nothing to escape after '\\'")),
                },
                '*' => star = true,
                _ => text.push(c),
            }
        }
        Ok(Word { text, star, start })
    }

    /// `"a phrase"`; an unescaped `*` just before the closing quote makes its last word a
    /// prefix (`"connection res*"`).
    pub(super) fn phrase(&mut self) -> Result<(String, bool), ParseError> {
        let start = self.pos;
        self.bump();
        let mut text = String::new();
        let mut star = false;
        loop {
            match self.peek() {
                None => return Err(self.error_at(start, "unclosed '\"'")),
                Some('"') => {
                    self.bump();
                    return Ok((text, star));
                }
                Some('\\') => {
                    self.bump();
                    match self.peek() {
                        Some(c) => {
                            if star {
                                text.push('*');
                            }
                            star = false;
                            text.push(c);
                            self.bump();
                        }
                        None => return Err(self.error_at(start, "unclosed '\"'")),
                    }
                }
                Some(c) => {
                    if star {
                        text.push('*');
                    }
                    star = c == '*';
                    if !star {
                        text.push(c);
                    }
                    self.bump();
                }
            }
        }
    }

    /// `/pattern/`; `\/` stands for a slash, other escapes go to the regex engine as written.
    pub(super) fn regex(&mut self) -> Result<Predicate, ParseError> {
        let start = self.pos;
        self.bump();
        let mut pattern = String::new();
        loop {
            match self.peek() {
                None => return Err(self.error_at(start, "unclosed '/'")),
                Some('/') => {
                    self.bump();
                    break;
                }
                Some('\\') => {
                    self.bump();
                    match self.peek() {
                        Some('/') => pattern.push('/'),
                        Some(c) => {
                            pattern.push('\\');
                            pattern.push(c);
                        }
                        None => return Err(self.error_at(start, "unclosed '/'")),
                    }
                    self.bump();
                }
                Some(c) => {
                    pattern.push(c);
                    self.bump();
                }
            }
        }
        if pattern.len() > self.limits.max_regex_len {
            return Err(self.error_at(
                start,
                format!(
                    "regex is too long ({} bytes, limit {})",
                    pattern.len(),
                    self.limits.max_regex_len
                ),
            ));
        }
        RegexBuilder::new(&pattern)
            .size_limit(self.limits.regex_size_limit)
            .dfa_size_limit(self.limits.regex_size_limit)
            .nest_limit(self.limits.max_depth as u32 * 2)
            .build()
            .map(Predicate::Regex)
            .map_err(|e| {
                let message = match e {
                    regex::Error::CompiledTooBig(limit) => {
                        format!("regex is too costly (compiled size limit {limit} bytes)")
                    }
                    other => format!(
                        "invalid regex: {}",
                        other.to_string().lines().last().unwrap_or_default().trim()
                    ),
                };
                self.error_at(start, message)
            })
    }
}
