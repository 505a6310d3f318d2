//! # firewatch-detectors: hearing about problems before they escalate
//!
//! Streaming detectors that read every record as it arrives and raise alerts.
