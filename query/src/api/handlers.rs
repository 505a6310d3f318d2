//! The request/response endpoints: search, histogram, top values.

use std::time::{Duration, Instant};

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use firewatch_ingest::record::rfc3339_nanos;

use super::error::ApiError;
use super::params::{encode_cursor, Params};
use super::types::{Bucket, HistogramResponse, SearchResponse, TopResponse, ValueCount};
use super::AppState;
use crate::lang::time::parse_duration;
use crate::lang::Field;
use crate::search::Engine;

/// Values a histogram can be split by (the keyword fields the index keeps columns of).
const SPLITTABLE: [&str; 4] = ["level", "service", "host", "source"];

pub(super) fn params(p: Result<Query<Params>, QueryRejection>) -> Result<Params, ApiError> {
    p.map(|Query(p)| p)
        .map_err(|e| ApiError::Parameter(e.body_text()))
}

/// Runs `f` on a blocking thread once a query slot is free (429 when none is), with a backstop
/// timeout in case the engine's own deadline is not reached promptly.
pub(super) async fn run<T: Send + 'static>(
    state: &AppState,
    timeout: Duration,
    f: impl FnOnce(Engine) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let permit = state
        .queries
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::Overloaded)?;
    let engine = state.engine.clone();
    let task = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        f(engine)
    });
    match tokio::time::timeout(timeout + Duration::from_secs(1), task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(ApiError::Internal(format!("query task failed: {join}"))),
        Err(_) => Err(ApiError::Timeout(timeout)),
    }
}

fn took(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

pub(super) async fn search(
    State(state): State<AppState>,
    p: Result<Query<Params>, QueryRejection>,
) -> Result<Json<SearchResponse>, ApiError> {
    let started = Instant::now();
    let p = params(p)?;
    let scope = p.scope()?;
    let order = p.order()?;
    let limit = Params::count(
        "limit",
        &p.limit,
        state.cfg.default_limit,
        state.cfg.max_limit,
    )?;
    let cursor = p.cursor()?;
    let timeout = state.cfg.timeout;
    let page = run(&state, timeout, move |engine| {
        Ok(engine.search(&scope, order, limit, cursor, timeout)?)
    })
    .await?;
    Ok(Json(SearchResponse {
        hits: page.hits,
        total: page.total,
        next_cursor: page.next.map(encode_cursor),
        unreadable: page.unreadable,
        took_ms: took(started),
    }))
}

pub(super) async fn histogram(
    State(state): State<AppState>,
    p: Result<Query<Params>, QueryRejection>,
) -> Result<Json<HistogramResponse>, ApiError> {
    let started = Instant::now();
    let p = params(p)?;
    let scope = p.scope()?;
    let by = match p.by.as_deref().filter(|b| !b.is_empty()) {
        Some(b) if SPLITTABLE.contains(&b) => Some(b.to_string()),
        Some(b) => {
            return Err(ApiError::Parameter(format!(
                "by: expected one of {}, got {b:?}",
                SPLITTABLE.join(", ")
            )))
        }
        None => None,
    };
    let interval = match p.interval.as_deref().filter(|i| !i.is_empty()) {
        Some(i) => Some(parse_duration(i).filter(|d| *d > 0).ok_or_else(|| {
            ApiError::Parameter(format!(
                "interval: expected a duration such as 30s, 1m, 1h or 1d, got {i:?}"
            ))
        })?),
        None => None,
    };
    let timeout = state.cfg.timeout;
    let (interval, histogram) = run(&state, timeout, move |engine| {
        let interval = interval.unwrap_or_else(|| engine.auto_interval(&scope));
        Ok((
            interval,
            engine.histogram(&scope, interval, by.as_deref(), timeout)?,
        ))
    })
    .await?;
    let (buckets, unreadable) = (histogram.buckets, histogram.unreadable);
    let total = buckets.iter().map(|b| b.count).sum();
    let split = p.by.as_deref().is_some_and(|b| !b.is_empty());
    Ok(Json(HistogramResponse {
        interval_ms: (interval / 1_000_000) as u64,
        buckets: buckets
            .into_iter()
            .map(|b| Bucket {
                start: rfc3339_nanos::format(b.start),
                count: b.count,
                by: split.then_some(b.groups),
            })
            .collect(),
        total,
        unreadable,
        took_ms: took(started),
    }))
}

pub(super) async fn top(
    State(state): State<AppState>,
    Path(name): Path<String>,
    p: Result<Query<Params>, QueryRejection>,
) -> Result<Json<TopResponse>, ApiError> {
    let started = Instant::now();
    let p = params(p)?;
    let scope = p.scope()?;
    let k = Params::count("k", &p.k, 10, 1000)?;
    if name.is_empty() || name == "message" || name == "msg" {
        return Err(ApiError::Parameter(format!(
            "field {name:?} has no top values; use level, service, host, source or a structured field"
        )));
    }
    let field = Field::named(&name);
    let timeout = state.cfg.timeout;
    let top = run(&state, timeout, move |engine| {
        Ok(engine.top(&scope, &field, k, timeout)?)
    })
    .await?;
    Ok(Json(TopResponse {
        field: name,
        values: top
            .values
            .into_iter()
            .map(|(value, count)| ValueCount { value, count })
            .collect(),
        total: top.total,
        other: top.other,
        unreadable: top.unreadable,
        took_ms: took(started),
    }))
}
