//! Links from an alert back to the node: the alert list, and a search that shows the evidence
//! records (service, the alert's time span, and its first evidence line as a phrase).

use firewatch_ingest::record::rfc3339_nanos;
use reqwest::Url;

use crate::alert::Alert;

/// The base URL of the node that raised the alerts (e.g. `http://127.0.0.1:7600`).
#[derive(Debug, Clone)]
pub struct Links {
    base: String,
}

impl Links {
    pub fn new(node_url: &str) -> Self {
        Links {
            base: node_url.trim_end_matches('/').to_string(),
        }
    }

    /// Where the alert list is served.
    pub fn alerts(&self) -> String {
        format!("{}/api/v1/alerts", self.base)
    }

    /// The search API URL that shows the evidence of `alert`.
    pub fn search(&self, alert: &Alert) -> String {
        let path = format!("{}/api/v1/search", self.base);
        let Ok(mut url) = Url::parse(&path) else {
            return path;
        };
        url.query_pairs_mut()
            .append_pair("q", &evidence_query(alert))
            .append_pair("start", &rfc3339_nanos::format(alert.first_seen))
            // The query API's `end` is exclusive; the last occurrence must be in.
            .append_pair(
                "end",
                &rfc3339_nanos::format(alert.last_seen.saturating_add(1)),
            );
        url.into()
    }
}

/// The query language text that finds the evidence records of `alert`.
pub fn evidence_query(alert: &Alert) -> String {
    let mut q = format!("service:\"{}\"", clean(&alert.service, 100));
    if let Some(line) = alert.evidence.first() {
        let mut phrase = clean(line, 80);
        if phrase.chars().count() == 80 {
            // A word cut in half would not match its token: end at the last whole word.
            if let Some(cut) = phrase.rfind(char::is_whitespace) {
                phrase.truncate(cut);
            }
        }
        if !phrase.trim().is_empty() {
            q.push_str(&format!(" \"{}\"", phrase.trim()));
        }
    }
    q
}

/// Text safe inside a quoted phrase: no quotes or backslashes, bounded.
fn clean(s: &str, max_chars: usize) -> String {
    s.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .take(max_chars)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertState;
    use crate::lifecycle::tests::alert;

    #[test]
    fn search_link_is_encoded_and_scoped() {
        let mut a = alert("f", AlertState::Firing, 1_000_000_000, 2_000_000_000);
        a.evidence = vec![r#"Error: "bad" \ thing & more"#.into()];
        assert_eq!(
            evidence_query(&a),
            r#"service:"svc-f" "Error: bad  thing & more""#
        );
        let url = Links::new("http://127.0.0.1:7600/").search(&a);
        assert!(
            url.starts_with("http://127.0.0.1:7600/api/v1/search?q="),
            "{url}"
        );
        assert!(url.contains("%26+more"), "{url}");
        assert!(url.contains("start=1970-01-01T00%3A00%3A01"), "{url}");
        assert!(
            url.contains("end=1970-01-01T00%3A00%3A02.000000001Z"),
            "{url}"
        );
    }

    #[test]
    fn long_evidence_phrase_ends_on_a_whole_word() {
        let mut a = alert("f", AlertState::Firing, 0, 0);
        a.evidence = vec![format!("{} tail-word-cut-here", "x ".repeat(35))];
        let q = evidence_query(&a);
        assert!(q.ends_with("x\""), "{q}");
        assert!(!q.contains("tail"), "{q}");
    }
}
