//! Query-string parameters: parsed by hand so each mistake gets a precise message.

use std::sync::Arc;

use firewatch_ingest::Nanos;
use serde::Deserialize;

use super::error::ApiError;
use crate::lang::{self, time::parse_time};
use crate::search::{Key, Order, Scope};

/// The parameters every endpoint shares, plus each endpoint's own (all optional text).
#[derive(Debug, Default, Deserialize)]
pub struct Params {
    pub q: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
    pub order: Option<String>,
    pub interval: Option<String>,
    pub by: Option<String>,
    pub k: Option<String>,
}

/// The current time in nanoseconds.
pub fn now() -> Nanos {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

impl Params {
    /// The query and time range.
    pub fn scope(&self) -> Result<Scope, ApiError> {
        let query = lang::parse(self.q.as_deref().unwrap_or("")).map_err(ApiError::Query)?;
        let now = now();
        let time = |name: &str, v: &Option<String>| -> Result<Option<Nanos>, ApiError> {
            v.as_deref()
                .filter(|s| !s.trim().is_empty())
                .map(|s| {
                    parse_time(s, now).map_err(|e| ApiError::Parameter(format!("{name}: {e}")))
                })
                .transpose()
        };
        let start = time("start", &self.start)?;
        let end = time("end", &self.end)?;
        if let (Some(s), Some(e)) = (start, end) {
            if s > e {
                return Err(ApiError::Parameter("start is after end".into()));
            }
        }
        Ok(Scope {
            query: Arc::new(query),
            start,
            end,
        })
    }

    pub fn order(&self) -> Result<Order, ApiError> {
        match self.order.as_deref().unwrap_or("desc") {
            "desc" => Ok(Order::Desc),
            "asc" => Ok(Order::Asc),
            other => Err(ApiError::Parameter(format!(
                "order: expected desc or asc, got {other:?}"
            ))),
        }
    }

    /// A count parameter: `default` when absent, refused above `max`.
    pub fn count(
        name: &str,
        v: &Option<String>,
        default: usize,
        max: usize,
    ) -> Result<usize, ApiError> {
        let Some(s) = v.as_deref() else {
            return Ok(default);
        };
        match s.trim().parse::<usize>() {
            Ok(n) if n <= max => Ok(n),
            Ok(_) => Err(ApiError::Parameter(format!("{name}: at most {max}"))),
            Err(_) => Err(ApiError::Parameter(format!(
                "{name}: expected a whole number, got {s:?}"
            ))),
        }
    }

    pub fn cursor(&self) -> Result<Option<Key>, ApiError> {
        self.cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| {
                decode_cursor(c)
                    .ok_or_else(|| ApiError::Parameter(format!("cursor: invalid {c:?}")))
            })
            .transpose()
    }
}

/// A cursor names the last hit of a page: `<timestamp>_<segment>_<ord>`. Clients treat it as
/// opaque.
pub fn encode_cursor(k: Key) -> String {
    format!("{}_{}_{}", k.timestamp, k.segment, k.ord)
}

pub fn decode_cursor(s: &str) -> Option<Key> {
    let mut parts = s.split('_');
    let key = Key {
        timestamp: parts.next()?.parse().ok()?,
        segment: parts.next()?.parse().ok()?,
        ord: parts.next()?.parse().ok()?,
    };
    parts.next().is_none().then_some(key)
}
