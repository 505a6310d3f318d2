//! The streaming endpoints: export (NDJSON) and the live tail (Server-Sent Events).
//!
//! Export runs the search on a blocking thread that hands chunks of NDJSON to the response
//! through a small bounded channel, so a slow reader slows the search down instead of making
//! the node buffer the whole result: at most `EXPORT_CHANNEL` chunks of about `EXPORT_CHUNK`
//! bytes are in flight. An export that fails midway ends the stream with an error (the client
//! sees a truncated response, never a silently short one).

use std::convert::Infallible;
use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, Stream};
use tokio::sync::mpsc;

use super::error::ApiError;
use super::handlers::params;
use super::params::Params;
use super::AppState;
use crate::lang::matches;

/// Bytes of NDJSON gathered before a chunk is handed to the response.
const EXPORT_CHUNK: usize = 64 * 1024;
/// Chunks in flight between the search and the response.
const EXPORT_CHANNEL: usize = 4;

pub(super) async fn export(
    State(state): State<AppState>,
    p: Result<Query<Params>, QueryRejection>,
) -> Result<Response, ApiError> {
    let p = params(p)?;
    let scope = p.scope()?;
    let permit = state
        .queries
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::Overloaded)?;
    let (tx, rx) = mpsc::channel::<Result<Bytes, io::Error>>(EXPORT_CHANNEL);
    let engine = state.engine.clone();
    let timeout = state.cfg.export_timeout;
    let metrics = state.metrics.clone();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut buf = Vec::with_capacity(EXPORT_CHUNK);
        let result = engine.export(&scope, timeout, |record| {
            if serde_json::to_writer(&mut buf, &record).is_err() {
                return true;
            }
            buf.push(b'\n');
            metrics.exported_records.fetch_add(1, Relaxed);
            if buf.len() < EXPORT_CHUNK {
                return true;
            }
            let chunk = std::mem::replace(&mut buf, Vec::with_capacity(EXPORT_CHUNK));
            // A failed send means the client went away: stop searching.
            tx.blocking_send(Ok(Bytes::from(chunk))).is_ok()
        });
        // What was read before a failure is sent before it.
        if !buf.is_empty() && tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
            return;
        }
        if let Err(e) = result {
            tracing::warn!(error = %e, "export failed");
            let _ = tx.blocking_send(Err(io::Error::other(e.to_string())));
        }
    });
    let body = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(body),
    )
        .into_response())
}

pub(super) async fn tail(
    State(state): State<AppState>,
    p: Result<Query<Params>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let p = params(p)?;
    let scope = p.scope()?;
    let permit = state
        .tails
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::Overloaded)?;
    let durable = (state.subscribe)();
    let events = stream::unfold(
        (durable, scope, permit),
        |(mut durable, scope, permit)| async move {
            loop {
                let record = durable.recv().await?;
                let in_time = scope.start.is_none_or(|s| record.timestamp >= s)
                    && scope.end.is_none_or(|e| record.timestamp < e);
                if !in_time || !matches(&scope.query, &record) {
                    continue;
                }
                let event = Event::default()
                    .event("record")
                    .json_data(&*record)
                    .unwrap_or_else(|_| Event::default().comment("unserializable record"));
                return Some((Ok(event), (durable, scope, permit)));
            }
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
