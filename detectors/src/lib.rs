//! # firewatch-detectors: hearing about problems before they escalate
//!
//! Streaming detectors that read every record as it arrives and raise [`Alert`]s:
//!
//! - [`incidents`]: unhandled rejections, uncaught exceptions, panics, OOM, pool exhaustion,
//!   timeout storms, open circuit breakers, rate limiting — recognized by the [`signatures`]
//!   pack and grouped by [`fingerprint`].
//! - [`spike`]: error-rate spikes against a normal ratio learned online.
//! - [`leak`]: leak-like growth of the floor of [`gauges`] (memory, queues, connections, GC logs).
//! - [`inhibit`]: alerts that only repeat another are held back (an error-rate spike right
//!   after its service ran out of memory).
//!
//! [`alerting`] keeps the alert [`lifecycle`] (firing → resolved, durable), and delivers every
//! transition at least once through a durable [`outbox`] per destination to webhooks and
//! Alertmanager ([`delivery`]); [`api`] lists alerts over HTTP.
//!
//! The [`Engine`] runs them all in event time, per service, with bounded state; the same code
//! serves the node (records as they arrive) and `firewatch analyze` (files).
//!
//! ```
//! use firewatch_detectors::Engine;
//! use firewatch_ingest::LogRecord;
//!
//! let mut engine = Engine::default();
//! let rec: LogRecord = serde_json::from_str(
//!     r#"{"id":"a","timestamp":"2026-11-20T10:00:00Z","observed":0,"service":"api",
//!         "message":"(node:1) UnhandledPromiseRejectionWarning: Error: boom"}"#,
//! ).unwrap();
//! let alerts = engine.observe(&rec);
//! assert_eq!(alerts[0].kind.as_str(), "unhandled_rejection");
//! ```

pub mod alert;
pub mod alerting;
pub mod api;
pub mod delivery;
mod durable;
pub mod engine;
pub mod fingerprint;
pub mod gauges;
pub mod incidents;
pub mod inhibit;
pub mod leak;
pub mod lifecycle;
pub mod links;
pub mod outbox;
pub mod signatures;
pub mod spike;
pub mod stats;
pub mod status;

#[cfg(test)]
mod testutil;

pub use alert::{Alert, AlertKind, AlertState, Severity};
pub use alerting::{
    AlertReader, AlertSender, Alerting, AlertingConfig, Destination, DestinationKind,
};
pub use engine::{Detector, Engine, EngineConfig, Event};
