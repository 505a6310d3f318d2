//! Figures gathered over several runs, and how they are summarised: scalar figures by their
//! median over runs, latencies by percentiles of all samples of all runs pooled.

use std::collections::BTreeMap;

#[derive(Default)]
pub struct Figures {
    values: BTreeMap<String, Vec<f64>>,
    notes: BTreeMap<String, String>,
}

impl Figures {
    /// One value of a scalar figure (one per run).
    pub fn put(&mut self, key: &str, value: f64) {
        if value.is_finite() {
            self.values.entry(key.to_string()).or_default().push(value);
        }
    }

    /// Latency samples, pooled over runs.
    pub fn extend(&mut self, key: &str, samples: impl IntoIterator<Item = f64>) {
        let v = self.values.entry(key.to_string()).or_default();
        v.extend(samples.into_iter().filter(|s| s.is_finite()));
    }

    /// Why a figure is missing or what qualifies it (the last note given wins).
    pub fn note(&mut self, key: &str, text: impl Into<String>) {
        self.notes.insert(key.to_string(), text.into());
    }

    pub fn get_note(&self, key: &str) -> Option<&str> {
        self.notes.get(key).map(String::as_str)
    }

    pub fn samples(&self, key: &str) -> &[f64] {
        self.values.get(key).map_or(&[], Vec::as_slice)
    }

    pub fn median(&self, key: &str) -> Option<f64> {
        self.pct(key, 50.0)
    }

    pub fn count(&self, key: &str) -> usize {
        self.values.get(key).map_or(0, Vec::len)
    }

    /// Nearest-rank percentile of the samples of `key`.
    pub fn pct(&self, key: &str, p: f64) -> Option<f64> {
        let v = self.values.get(key)?;
        percentile(v, p)
    }
}

/// Nearest-rank percentile (`p` in 0..=100); the median of an even count is the mean of the two
/// middle values.
pub fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    if p == 50.0 && v.len() % 2 == 0 {
        let m = v.len() / 2;
        return Some((v[m - 1] + v[m]) / 2.0);
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    Some(v[rank.clamp(1, v.len()) - 1])
}

/// `1,234,567` → `1.23 M`, `12,345` → `12.3 k`, smaller counts whole.
pub fn count(n: f64) -> String {
    if n >= 1e6 {
        format!("{:.2} M", n / 1e6)
    } else if n >= 1e4 {
        format!("{:.1} k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

/// Milliseconds with sensible precision.
pub fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0} ms")
    } else if v >= 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.2} ms")
    }
}
