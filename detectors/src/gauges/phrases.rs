//! Memory levels written as prose rather than as `name=value`.

use super::{is_bound_name, num, size_unit, Sample};

/// Gauge samples of memory a line states in words: `GC heap size 212 MB, working set 413 MB`
/// (.NET runtime metrics), `resident memory 1.2 GiB`. A number with a size unit after a short
/// phrase (up to four words, back to a `,`, `:` or bracket) that names memory and no bound; the
/// phrase, in lowercase joined by `_`, names the gauge. Rates (`15.1 MB/s`) are no levels.
pub(super) fn phrase_samples(text: &str, out: &mut Vec<Sample>) {
    let b = text.as_bytes();
    for last in memchr::memchr_iter(b'B', b) {
        // The unit ends at `last`: `MB`, `MiB`, `kB`, `GiB`.
        let unit = match last.checked_sub(2).map(|i| &b[i..last]) {
            Some([_, b'i']) => last - 2,
            _ if last > 0 => last - 1,
            _ => continue,
        };
        let Some((len, scale)) = b.get(unit..).and_then(size_unit) else {
            continue;
        };
        if unit + len != last + 1
            || b.get(last + 1)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'/')
        {
            continue;
        }
        let end = if unit > 0 && b[unit - 1] == b' ' {
            unit - 1
        } else {
            unit
        };
        let start = b[..end]
            .iter()
            .rposition(|c| !(c.is_ascii_digit() || *c == b'.'))
            .map_or(0, |p| p + 1);
        if start == end || start == 0 || b[start - 1] != b' ' {
            continue;
        }
        let Some(value) = num(&text[start..end]) else {
            continue;
        };
        let phrase_from = b[..start - 1]
            .iter()
            .rposition(|c| matches!(c, b',' | b';' | b':' | b'(' | b'[' | b'|' | b'=' | b'"'))
            .map_or(0, |p| p + 1);
        let phrase = &text[phrase_from..start - 1];
        let words = phrase.split_whitespace().count();
        if !(1..=4).contains(&words)
            || !phrase
                .bytes()
                .all(|c| c.is_ascii_alphabetic() || matches!(c, b' ' | b'_' | b'-'))
        {
            continue;
        }
        let name = phrase
            .split_whitespace()
            .map(str::to_ascii_lowercase)
            .collect::<Vec<_>>()
            .join("_");
        let memory = ["heap", "memory", "rss", "working_set", "resident"]
            .iter()
            .any(|w| name.contains(w));
        if memory && !is_bound_name(&name) && !name.contains("total") {
            out.push(Sample::of(name, value * scale));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: f64 = 1024.0 * 1024.0;

    fn got(text: &str) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        phrase_samples(text, &mut out);
        out.into_iter().map(|s| (s.name, s.value)).collect()
    }

    #[test]
    fn memory_stated_in_words() {
        assert_eq!(
            got("[INF] Runtime metrics: GC heap size 212 MB, working set 413 MB, allocation rate 15.1 MB/s, thread pool threads 14"),
            [("gc_heap_size".to_string(), 212.0 * MB), ("working_set".to_string(), 413.0 * MB)]
        );
        assert_eq!(
            got("stats (resident memory 1.5GiB)"),
            [("resident_memory".to_string(), 1.5 * 1024.0 * MB)]
        );
        // Bounds, totals, other sizes and values already named are not these.
        assert!(got("heap limit 1152 MB, max heap 2 GB, total heap allocated 9 GB").is_empty());
        assert!(got("uploaded report 12 MB to s3").is_empty());
        assert!(got("rss: 210.1 MiB heap=12 MB").is_empty());
        assert!(got("B MB 1MB x 5 MBs heap 7 MBx").is_empty());
    }
}
