//! The signature detector: turns signature occurrences into grouped alerts.
//!
//! One alert per fingerprint (kind + service + error shape); repeats update its count and
//! last_seen; a fingerprint back after a long quiet period alerts again (a regression). Crash
//! banners printed line by line (Node ≥ 15, asyncio) are completed by the records that follow
//! within a few seconds. Timeouts and 429s alert only as bursts.

use std::collections::{BTreeMap, VecDeque};

use firewatch_ingest::Nanos;
use serde_json::Value;

use crate::alert::{evidence_lines, Alert, AlertKind, AlertState, Severity, MAX_EVIDENCE};
use crate::engine::{make_room, Detector, EngineConfig, Event, MINUTE};
use crate::fingerprint::{error_header, shape_of, ErrorShape};
use crate::signatures::{Signature, SignaturePack};

/// Tuning of the signature detector.
#[derive(Debug, Clone)]
pub struct SignatureConfig {
    /// A fingerprint silent this long alerts again when it returns.
    pub regression_after: Nanos,
    /// A banner waits this long for the records that carry its error.
    pub pending_for: Nanos,
    /// Bursts: this many timeouts / 429s within `storm_window` make a storm.
    pub storm_min: usize,
    pub storm_window: Nanos,
    /// At most this many fingerprints are tracked per service.
    pub max_groups: usize,
}

impl Default for SignatureConfig {
    fn default() -> Self {
        SignatureConfig {
            regression_after: 60 * MINUTE,
            pending_for: 5_000_000_000,
            storm_min: 10,
            storm_window: MINUTE,
            max_groups: 1_000,
        }
    }
}

struct Group {
    kind: AlertKind,
    episode_start: Nanos,
    last_seen: Nanos,
    count: u64,
}

struct Pending {
    kind: AlertKind,
    since: Nanos,
    evidence: Vec<String>,
}

#[derive(Default)]
struct ServiceState {
    groups: BTreeMap<String, Group>,
    pending: Option<Pending>,
    storms: BTreeMap<AlertKind, VecDeque<Nanos>>,
    last_seen: Nanos,
}

/// Detector for rejections, crashes and the other failure signatures.
pub struct SignatureDetector {
    pack: SignaturePack,
    config: SignatureConfig,
    engine: EngineConfig,
    services: BTreeMap<String, ServiceState>,
}

impl SignatureDetector {
    pub fn new(engine: EngineConfig) -> Self {
        SignatureDetector::with_config(engine, SignatureConfig::default())
    }

    pub fn with_config(engine: EngineConfig, config: SignatureConfig) -> Self {
        SignatureDetector {
            pack: SignaturePack::new(),
            config,
            engine,
            services: BTreeMap::new(),
        }
    }

    fn state(&mut self, service: &str) -> &mut ServiceState {
        if !self.services.contains_key(service) {
            make_room(&mut self.services, self.engine.max_services, |s| {
                s.last_seen
            });
            self.services
                .insert(service.to_string(), ServiceState::default());
        }
        self.services
            .get_mut(service)
            .expect("service state was just inserted")
    }
}

impl Detector for SignatureDetector {
    fn observe(&mut self, ev: &Event<'_>, out: &mut Vec<Alert>) {
        let sig = self.pack.classify(ev.rec, ev.status);
        if sig.is_none() && !self.services.contains_key(ev.service) {
            return;
        }
        let config = self.config.clone();
        let state = self.state(ev.service);
        state.last_seen = state.last_seen.max(ev.time);

        // A pending banner is completed by the first record that names an error.
        if let Some(p) = state.pending.take() {
            let text = ev.rec.message.as_str();
            let detail = match &sig {
                Some(Signature::Occurrence { kind, detail, .. })
                    if *kind == p.kind && !detail.is_empty() =>
                {
                    Some(detail.clone())
                }
                _ => error_header(text).map(|_| text.to_string()),
            };
            if let Some(detail) = detail {
                let mut evidence = p.evidence;
                evidence.extend(evidence_lines(text, 2));
                evidence.truncate(MAX_EVIDENCE);
                record(
                    state,
                    ev,
                    p.kind,
                    &shape_of(&detail),
                    evidence,
                    &config,
                    out,
                );
                return;
            }
            if ev.time - p.since <= config.pending_for {
                let mut p = p;
                if matches!(sig, Some(Signature::Continuation)) || p.evidence.len() < MAX_EVIDENCE {
                    p.evidence.extend(evidence_lines(text, 1));
                    p.evidence.truncate(MAX_EVIDENCE);
                }
                state.pending = Some(p);
                if !matches!(sig, Some(Signature::Occurrence { .. })) {
                    return;
                }
            } else {
                flush_pending(state, p, ev.service, &config, out);
            }
        }

        let Some(Signature::Occurrence {
            kind,
            detail,
            needs_detail,
            storm,
        }) = sig
        else {
            return;
        };
        if needs_detail {
            state.pending = Some(Pending {
                kind,
                since: ev.time,
                evidence: evidence_lines(&ev.rec.message, MAX_EVIDENCE),
            });
            return;
        }
        let evidence = evidence_lines(&ev.rec.message, MAX_EVIDENCE);
        if storm {
            let window = state.storms.entry(kind).or_default();
            window.push_back(ev.time);
            while window
                .front()
                .is_some_and(|&t| t < ev.time - config.storm_window)
            {
                window.pop_front();
            }
            while window.len() > config.storm_min {
                window.pop_front();
            }
            // A storm is one problem per service, whatever the individual messages say.
            let shape = ErrorShape {
                error_type: kind.as_str().to_string(),
                message: String::new(),
                frames: Vec::new(),
                task: None,
            };
            let in_episode = state
                .groups
                .get(&shape.fingerprint(kind.as_str(), ev.service))
                .is_some_and(|g| ev.time - g.last_seen < config.regression_after);
            if window.len() < config.storm_min && !in_episode {
                return;
            }
            record(state, ev, kind, &shape, evidence, &config, out);
            return;
        }
        record(state, ev, kind, &shape_of(&detail), evidence, &config, out);
    }

    fn tick(&mut self, now: Nanos, out: &mut Vec<Alert>) {
        let config = self.config.clone();
        for (service, state) in &mut self.services {
            if let Some(p) = state.pending.take() {
                if now - p.since > config.pending_for {
                    flush_pending(state, p, service, &config, out);
                } else {
                    state.pending = Some(p);
                }
            }
        }
        let idle = self.engine.idle_after;
        self.services
            .retain(|_, s| now - s.last_seen < idle || s.pending.is_some());
    }

    fn refresh(&self, alert: &mut Alert) {
        let Some(state) = self.services.get(&alert.service) else {
            return;
        };
        if let Some(g) = state.groups.get(&alert.fingerprint) {
            if g.kind == alert.kind && g.episode_start == alert.first_seen {
                alert.count = g.count;
                alert.last_seen = g.last_seen;
            }
        }
    }
}

/// A banner whose error never showed up: alert on the banner alone.
fn flush_pending(
    state: &mut ServiceState,
    p: Pending,
    service: &str,
    config: &SignatureConfig,
    out: &mut Vec<Alert>,
) {
    let shape = shape_of(p.evidence.first().map_or("", String::as_str));
    let rec_time = p.since;
    let text = p.evidence.join("\n");
    let rec = firewatch_ingest::LogRecord {
        id: String::new(),
        timestamp: rec_time,
        observed: rec_time,
        service: service.to_string(),
        host: String::new(),
        source: String::new(),
        level: firewatch_ingest::Level::Error,
        level_raw: None,
        message: text,
        fields: Default::default(),
    };
    let ev = Event {
        rec: &rec,
        service,
        time: rec_time,
        status: None,
        error: true,
    };
    record(state, &ev, p.kind, &shape, p.evidence, config, out);
}

/// Counts one occurrence; alerts when the fingerprint is new or back after a quiet period.
fn record(
    state: &mut ServiceState,
    ev: &Event<'_>,
    kind: AlertKind,
    shape: &ErrorShape,
    evidence: Vec<String>,
    config: &SignatureConfig,
    out: &mut Vec<Alert>,
) {
    let fingerprint = shape.fingerprint(kind.as_str(), ev.service);
    let mut regression = false;
    if let Some(g) = state.groups.get_mut(&fingerprint) {
        let quiet = ev.time - g.last_seen;
        g.last_seen = g.last_seen.max(ev.time);
        g.count += 1;
        if quiet < config.regression_after {
            return;
        }
        g.episode_start = ev.time;
        g.count = 1;
        regression = true;
    } else {
        make_room(&mut state.groups, config.max_groups, |g| g.last_seen);
        state.groups.insert(
            fingerprint.clone(),
            Group {
                kind,
                episode_start: ev.time,
                last_seen: ev.time,
                count: 1,
            },
        );
    }
    let mut details = serde_json::Map::new();
    if !shape.error_type.is_empty() {
        details.insert("error_type".into(), Value::from(shape.error_type.clone()));
    }
    if !shape.frames.is_empty() {
        details.insert("frames".into(), Value::from(shape.frames.clone()));
    }
    if regression {
        details.insert("regression".into(), Value::from(true));
    }
    out.push(Alert {
        kind,
        state: AlertState::Firing,
        service: ev.service.to_string(),
        fingerprint,
        detected_at: ev.time,
        first_seen: ev.time,
        last_seen: ev.time,
        count: 1,
        severity: severity_of(kind),
        title: title_of(kind, shape),
        evidence,
        details,
    });
}

fn severity_of(kind: AlertKind) -> Severity {
    match kind {
        AlertKind::UnhandledRejection
        | AlertKind::UncaughtException
        | AlertKind::Panic
        | AlertKind::Oom => Severity::Critical,
        _ => Severity::Warning,
    }
}

fn title_of(kind: AlertKind, shape: &ErrorShape) -> String {
    let what = match kind {
        AlertKind::UnhandledRejection => "unhandled rejection",
        AlertKind::UncaughtException => "uncaught exception",
        AlertKind::Panic => "panic",
        AlertKind::Oom => "out of memory",
        AlertKind::PoolExhaustion => "connection pool exhausted",
        AlertKind::TimeoutStorm => "burst of timeouts",
        AlertKind::CircuitBreakerOpen => "circuit breaker open",
        AlertKind::RateLimited => "burst of rate limiting (429)",
        AlertKind::ErrorRateSpike => "error-rate spike",
        AlertKind::LeakGrowth => "leak-like growth",
    };
    match (shape.error_type.is_empty(), shape.message.is_empty()) {
        (_, _) if matches!(kind, AlertKind::TimeoutStorm | AlertKind::RateLimited) => {
            what.to_string()
        }
        (true, true) => what.to_string(),
        (true, false) => format!("{what}: {}", shape.message),
        (false, true) => format!("{what}: {}", shape.error_type),
        (false, false) => format!("{what}: {}: {}", shape.error_type, shape.message),
    }
}

#[cfg(test)]
mod tests;
