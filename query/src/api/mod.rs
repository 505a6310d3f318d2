//! The HTTP query API, as an axum [`Router`] the node merges into its one listener.
//!
//! | route | answers |
//! |---|---|
//! | `GET /api/v1/search` | a page of hits, newest first, with the exact total and a cursor |
//! | `GET /api/v1/histogram` | counts per time bucket, optionally split by a keyword field |
//! | `GET /api/v1/fields/{name}/top` | the most frequent values of a field |
//! | `GET /api/v1/export` | every match as NDJSON, streamed with bounded memory |
//! | `GET /api/v1/tail` | new matching records as Server-Sent Events |
//!
//! Searches run on blocking threads, at most [`ApiConfig::max_concurrent`] at once (more get 429
//! with Retry-After), each with a deadline (504 when hit). Bad queries get 400 naming the
//! problem and its position.

mod error;
mod handlers;
mod params;
mod stream;
pub mod types;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use firewatch_index::{Durable, Reader};
use tokio::sync::Semaphore;

pub use error::QueryErrorBody;
pub use params::{decode_cursor, encode_cursor};

use crate::search::Engine;

/// Limits of the query API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Deadline of one search, histogram or top-values query.
    pub timeout: Duration,
    /// Deadline of one export.
    pub export_timeout: Duration,
    /// Hits per page when `limit` is not given, and the most a page may ask for.
    pub default_limit: usize,
    pub max_limit: usize,
    /// Queries (exports included) running at once.
    pub max_concurrent: usize,
    /// Live tails open at once.
    pub max_tails: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            timeout: Duration::from_secs(10),
            export_timeout: Duration::from_secs(600),
            default_limit: 100,
            max_limit: 10_000,
            max_concurrent: 8,
            max_tails: 64,
        }
    }
}

/// Counters of the query API.
#[derive(Debug, Default)]
pub struct ApiMetrics {
    /// Records written to export streams.
    pub exported_records: AtomicU64,
}

type Subscribe = dyn Fn() -> Durable + Send + Sync;

#[derive(Clone)]
struct AppState {
    engine: Engine,
    subscribe: Arc<Subscribe>,
    cfg: Arc<ApiConfig>,
    queries: Arc<Semaphore>,
    tails: Arc<Semaphore>,
    metrics: Arc<ApiMetrics>,
}

/// The query API over `reader`; `subscribe` gives the stream of newly durable records for the
/// live tail (the store's `subscribe`).
pub fn router(
    reader: Reader,
    subscribe: impl Fn() -> Durable + Send + Sync + 'static,
    cfg: ApiConfig,
) -> Router {
    router_with_metrics(reader, subscribe, cfg, Arc::default())
}

/// [`router`], counting into `metrics`.
pub fn router_with_metrics(
    reader: Reader,
    subscribe: impl Fn() -> Durable + Send + Sync + 'static,
    cfg: ApiConfig,
    metrics: Arc<ApiMetrics>,
) -> Router {
    let state = AppState {
        engine: Engine::new(reader),
        subscribe: Arc::new(subscribe),
        queries: Arc::new(Semaphore::new(cfg.max_concurrent)),
        tails: Arc::new(Semaphore::new(cfg.max_tails)),
        cfg: Arc::new(cfg),
        metrics,
    };
    Router::new()
        .route("/api/v1/search", get(handlers::search))
        .route("/api/v1/histogram", get(handlers::histogram))
        .route("/api/v1/fields/{name}/top", get(handlers::top))
        .route("/api/v1/export", get(stream::export))
        .route("/api/v1/tail", get(stream::tail))
        .with_state(state)
}
