//! Severity as lines spell it: words (`ERROR`, `[error]`, `Warning:`), pino/bunyan numbers,
//! syslog priorities, logcat and glog letters.

use crate::record::Level;

/// A level and the exact text it was read from.
pub type Found<'a> = (Level, &'a str);

/// The spellings [`Level::from_str`](std::str::FromStr) knows, matched here without its
/// lowercase copy: this runs on several words of every text line.
const WORDS: [(&str, Level); 26] = [
    ("trace", Level::Trace),
    ("trc", Level::Trace),
    ("finest", Level::Trace),
    ("finer", Level::Trace),
    ("debug", Level::Debug),
    ("dbg", Level::Debug),
    ("fine", Level::Debug),
    ("verbose", Level::Debug),
    ("info", Level::Info),
    ("inf", Level::Info),
    ("information", Level::Info),
    ("notice", Level::Info),
    ("informational", Level::Info),
    ("warn", Level::Warn),
    ("warning", Level::Warn),
    ("wrn", Level::Warn),
    ("error", Level::Error),
    ("err", Level::Error),
    ("severe", Level::Error),
    ("fatal", Level::Fatal),
    ("critical", Level::Fatal),
    ("crit", Level::Fatal),
    ("emerg", Level::Fatal),
    ("emergency", Level::Fatal),
    ("alert", Level::Fatal),
    ("panic", Level::Fatal),
];

/// A level word, in any case.
pub fn word(w: &str) -> Option<Level> {
    if w.len() < 3 || w.len() > 13 {
        return None;
    }
    WORDS
        .iter()
        .find(|(name, _)| name.len() == w.len() && name.eq_ignore_ascii_case(w))
        .map(|&(_, level)| level)
}

/// pino/bunyan numeric levels (10 trace … 60 fatal).
pub fn number(n: f64) -> Option<Level> {
    Some(match n as i64 {
        ..=14 => Level::Trace,
        15..=24 => Level::Debug,
        25..=34 => Level::Info,
        35..=44 => Level::Warn,
        45..=54 => Level::Error,
        _ => Level::Fatal,
    })
    .filter(|_| n.is_finite() && n > 0.0)
}

/// Syslog severity (the low 3 bits of the priority).
pub fn syslog_severity(pri: u32) -> Level {
    match pri % 8 {
        0..=2 => Level::Fatal,
        3 => Level::Error,
        4 => Level::Warn,
        5 | 6 => Level::Info,
        _ => Level::Debug,
    }
}

/// Logcat and glog one-letter levels.
pub fn letter(c: u8) -> Option<Level> {
    Some(match c {
        b'V' => Level::Trace,
        b'D' => Level::Debug,
        b'I' => Level::Info,
        b'W' => Level::Warn,
        b'E' => Level::Error,
        b'F' | b'A' => Level::Fatal,
        _ => return None,
    })
}

/// Looks for a level among the first words of a text (what follows a leading timestamp).
///
/// The first word may be in any case (`Info`, `error:`); later words count only in capitals or
/// brackets (`INFO`, `[error]`), so that "worker in error state" is not an error. A logcat
/// `pid tid L` triple gives the letter.
pub fn in_text(text: &str) -> Option<Found<'_>> {
    let head = &text[..floor_boundary(text, 96)];
    let mut numbers = 0;
    let mut i = 0;
    // `[0.750s][info][gc]` (JVM unified logging) is three bracketed words.
    let words = head.split_ascii_whitespace().take(8).flat_map(|raw| {
        let bracketed = raw.starts_with(['[', '<', '(']);
        raw.split("][").map(move |w| (raw, w, bracketed))
    });
    for (raw, w, bracketed) in words {
        let w = w.trim_matches(|c: char| !c.is_ascii_alphanumeric());
        // Apache 2.4 writes `[core:error]`, Monolog `app.ERROR:`.
        let w = w.rsplit(':').next().unwrap_or(w);
        let w = match w.rsplit_once('.') {
            Some((_, level)) if level.bytes().all(|b| b.is_ascii_uppercase()) => level,
            _ => w,
        };
        if w.is_empty() {
            continue;
        }
        i += 1;
        if i > 6 {
            break;
        }
        if w.bytes().all(|b| b.is_ascii_digit()) {
            numbers += 1;
            continue;
        }
        if w.len() == 1 && numbers >= 2 {
            if let Some(l) = letter(w.as_bytes()[0]) {
                return Some((l, w));
            }
        }
        let upper = w.bytes().all(|b| !b.is_ascii_lowercase());
        if i == 1 || bracketed || upper {
            if let Some(l) = word(w) {
                return Some((l, w));
            }
        }
        if raw.contains('=') {
            if let Some(v) = raw.strip_prefix("level=") {
                let v = v.trim_matches('"');
                if let Some(l) = word(v) {
                    return Some((l, v));
                }
            }
        }
    }
    None
}

/// The largest char boundary at or below `at`.
pub fn floor_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    (0..=at).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_levels_in_text() {
        let cases = [
            ("INFO [main] started", Some(Level::Info)),
            ("[error] mod_jk child in error state", Some(Level::Error)),
            ("[notice] workerEnv.init() ok", Some(Level::Info)),
            ("- WARN  [SendWorker] - leaving", Some(Level::Warn)),
            ("148 INFO dfs.DataNode: x", Some(Level::Info)),
            (", Info                  CBS    Loaded", Some(Level::Info)),
            (" 1702  2395 D WindowManager: x", Some(Level::Debug)),
            ("[core:error] [pid 12] boom", Some(Level::Error)),
            ("error: Received disconnect", Some(Level::Error)),
            ("worker in error state", None),
            ("mod_jk child workerEnv in error state 6", None),
            ("CRITICAL disk full", Some(Level::Fatal)),
            ("app level=warn msg=x", Some(Level::Warn)),
            // Monolog: channel.LEVEL.
            ("app.ERROR: SyncPaymentStatus failed", Some(Level::Error)),
            (
                "messenger.WARNING: Error thrown while handling",
                Some(Level::Warn),
            ),
            ("loaded config.error handler", None),
            ("authentication failure; logname=", None),
            (
                "[0.750s][warning][gc] to-space exhausted",
                Some(Level::Warn),
            ),
            (
                "[0,750s][info][exceptions   ] Exception <a",
                Some(Level::Info),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(in_text(text).map(|f| f.0), want, "{text:?}");
        }
    }

    #[test]
    fn words_agree_with_the_record_model() {
        for (name, level) in WORDS {
            assert_eq!(name.parse::<Level>(), Ok(level));
            assert_eq!(word(&name.to_uppercase()), Some(level));
        }
        assert_eq!(word("worker"), None);
    }

    #[test]
    fn numbers_and_priorities() {
        assert_eq!(number(30.0), Some(Level::Info));
        assert_eq!(number(50.0), Some(Level::Error));
        assert_eq!(number(60.0), Some(Level::Fatal));
        assert_eq!(number(f64::NAN), None);
        assert_eq!(syslog_severity(165), Level::Info);
        assert_eq!(syslog_severity(11), Level::Error);
        assert_eq!(syslog_severity(34), Level::Fatal);
    }
}
