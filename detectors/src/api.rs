//! The alert list over HTTP: `GET /api/v1/alerts?state=firing|resolved|all&since=`.
//!
//! `since` is an RFC 3339 time or a duration back from now (`30s`, `15m`, `2h`, `7d`); only
//! alerts last seen since then are listed, most recent first. Each alert carries the query and
//! the search URL that show its evidence records. Errors use the node's `{error, message}` body.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use firewatch_ingest::protocol::ErrorBody;
use firewatch_ingest::record::rfc3339_nanos;
use firewatch_ingest::Nanos;
use serde::{Deserialize, Serialize};

use crate::alert::{Alert, AlertState, Severity};
use crate::alerting::{Alerting, Shared};
use crate::lifecycle::{StateFilter, TrackedAlert};
use crate::links::evidence_query;

/// The routes of the alert list.
pub fn router(alerting: &Alerting) -> Router {
    Router::new()
        .route("/api/v1/alerts", get(list))
        .with_state(alerting.shared())
}

#[derive(Debug, Deserialize)]
struct Params {
    state: Option<String>,
    since: Option<String>,
}

/// One alert as the API shows it.
#[derive(Debug, Serialize, Deserialize)]
pub struct AlertView {
    pub kind: String,
    pub state: AlertState,
    pub service: String,
    pub title: String,
    pub fingerprint: String,
    pub severity: Severity,
    #[serde(with = "rfc3339_nanos")]
    pub first_seen: Nanos,
    #[serde(with = "rfc3339_nanos")]
    pub last_seen: Nanos,
    pub resolved_at: Option<String>,
    pub count: u64,
    pub evidence: Vec<String>,
    /// Query language text that finds the evidence records.
    pub search_query: String,
    pub search_url: String,
}

/// The response body.
#[derive(Debug, Serialize, Deserialize)]
pub struct AlertList {
    pub alerts: Vec<AlertView>,
}

fn view(t: TrackedAlert, shared: &Shared) -> AlertView {
    let a: Alert = t.alert;
    AlertView {
        kind: a.kind.as_str().to_string(),
        state: a.state,
        search_query: evidence_query(&a),
        search_url: shared.links.search(&a),
        service: a.service,
        title: a.title,
        fingerprint: a.fingerprint,
        severity: a.severity,
        first_seen: a.first_seen,
        last_seen: a.last_seen,
        resolved_at: t.resolved_at.map(rfc3339_nanos::format),
        count: a.count,
        evidence: a.evidence,
    }
}

async fn list(State(shared): State<Arc<Shared>>, Query(p): Query<Params>) -> Response {
    let filter = match p.state.as_deref().unwrap_or("all") {
        "firing" => StateFilter::Firing,
        "resolved" => StateFilter::Resolved,
        "all" => StateFilter::All,
        other => return bad_request(format!("state {other:?}: expected firing, resolved or all")),
    };
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
    let since = match p.since.as_deref().map(|s| parse_since(s, now)) {
        None => None,
        Some(Some(t)) => Some(t),
        Some(None) => {
            return bad_request("since: expected an RFC 3339 time or a duration like 15m".into())
        }
    };
    let listed = match shared.store.lock() {
        Ok(store) => store.list(filter, since),
        Err(_) => return bad_request("alert state unavailable".into()),
    };
    let alerts = listed.into_iter().map(|t| view(t, &shared)).collect();
    Json(AlertList { alerts }).into_response()
}

fn bad_request(message: String) -> Response {
    let body = ErrorBody {
        error: "bad_request".into(),
        message,
    };
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// An RFC 3339 time, or `now` minus a duration (`30s`, `15m`, `2h`, `7d`).
pub fn parse_since(s: &str, now: Nanos) -> Option<Nanos> {
    let s = s.trim();
    if let Some(t) = rfc3339_nanos::parse(s) {
        return Some(t);
    }
    let unit: i64 = match s.chars().last()? {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return None,
    };
    let n: i64 = s[..s.len() - 1].parse().ok().filter(|n| *n >= 0)?;
    let back = n.checked_mul(unit)?.checked_mul(1_000_000_000)?;
    Some(now.saturating_sub(back))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_times_and_durations() {
        let now = 10_000 * 1_000_000_000;
        assert_eq!(parse_since("15m", now), Some(now - 900 * 1_000_000_000));
        assert_eq!(parse_since("2d", now), Some(now - 172_800 * 1_000_000_000));
        assert_eq!(
            parse_since("1970-01-01T00:00:01Z", now),
            Some(1_000_000_000)
        );
        for bad in ["", "m", "-5m", "5w", "99999999999999999999d", "yesterday"] {
            assert_eq!(parse_since(bad, now), None, "{bad}");
        }
    }
}
