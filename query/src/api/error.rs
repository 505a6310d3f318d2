//! Errors of the query API and their JSON body: `{"error": code, "message": text}`, plus
//! `"position"` (characters from 0) when the query text is at fault.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::lang::ParseError;
use crate::search::SearchError;

/// The body of every error answer of the query API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryErrorBody {
    /// `bad_query`, `bad_parameter`, `timeout`, `overloaded` or `internal`.
    pub error: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
}

/// An error answer.
#[derive(Debug)]
pub enum ApiError {
    Query(ParseError),
    Parameter(String),
    Timeout(Duration),
    Overloaded,
    Internal(String),
}

impl From<SearchError> for ApiError {
    fn from(e: SearchError) -> Self {
        match e {
            SearchError::Timeout(d) => ApiError::Timeout(d),
            SearchError::Invalid(m) => ApiError::Parameter(m),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error, message, position) = match self {
            ApiError::Query(e) => (
                StatusCode::BAD_REQUEST,
                "bad_query",
                e.message,
                Some(e.position),
            ),
            ApiError::Parameter(m) => (StatusCode::BAD_REQUEST, "bad_parameter", m, None),
            ApiError::Timeout(d) => (
                StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                format!(
                    "query timed out after {} ms; narrow the time range or the query",
                    d.as_millis()
                ),
                None,
            ),
            ApiError::Overloaded => (
                StatusCode::TOO_MANY_REQUESTS,
                "overloaded",
                "too many queries running; retry shortly".to_string(),
                None,
            ),
            ApiError::Internal(m) => {
                tracing::warn!(error = %m, "query failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", m, None)
            }
        };
        let body = QueryErrorBody {
            error: error.to_string(),
            message,
            position,
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
