//! Error-rate spikes: the share of error events per service jumps or creeps above its normal.
//!
//! Per service, events are counted in one-minute buckets (event time). The normal ratio is
//! learned online: the pooled ratio of past five-minute blocks without the worst tenth (robust
//! to earlier bursts), with a 1 % prior while there is little history; until there is any, the
//! minutes before the short window stand in, and the long window waits (a log's first three
//! minutes alert on nothing). An alert's minutes stay out of the normal for its first hour;
//! after that a ratio that stays up becomes the normal one, so the alert resolves instead of
//! holding on for ever against a baseline it froze. Error records that share
//! the timestamp of the previous error of the service (a request log and the error it logged)
//! are one error event. Two windows are checked on every
//! error event: a short one (this and the previous minute) catches abrupt jumps within about a
//! minute, a long one (ten minutes) catches creeping ramps. Each must clear a ratio floor (a
//! multiple of normal and an absolute margin), a Poisson tail probability against normal, and a minimum
//! number of errors, so traffic surges at an unchanged ratio, low-traffic services and isolated
//! errors stay silent. After the service says it is starting or stopping (a deploy), a spike
//! must last 45 s: a rollout fails requests for seconds. So must a spike of a service that logs
//! requests (a proxy, an edge) after any service says so: it fails requests while what is
//! behind it restarts. The alert resolves when the long window is back near normal.

use std::collections::{BTreeMap, VecDeque};

use firewatch_ingest::Nanos;
use serde_json::Value;

use crate::alert::{evidence_lines, Alert, AlertKind, AlertState, Severity};
use crate::engine::{make_room, Detector, EngineConfig, Event, MINUTE};
use crate::fingerprint::fingerprint_of;
use crate::stats::poisson_tail;

mod recent;

use recent::{is_lifecycle, Recent};

/// How long after its last request record a service's other records stay out of its ratio.
const REQUESTS_FOR: Nanos = 10 * MINUTE;

/// Thresholds of one window.
#[derive(Debug, Clone)]
pub struct WindowRule {
    /// Window length in minutes (the current minute included).
    pub minutes: usize,
    /// At least this many error events in the window.
    pub min_errors: u64,
    /// The ratio must reach `factor × normal` …
    pub factor: f64,
    /// … and `normal + margin`.
    pub margin: f64,
    /// And be this unlikely under the normal ratio (Poisson tail probability).
    pub max_p: f64,
}

/// Tuning of the spike detector.
#[derive(Debug, Clone)]
pub struct SpikeConfig {
    pub short: WindowRule,
    pub long: WindowRule,
    /// Normal ratio assumed before history exists.
    pub prior_ratio: f64,
    /// Weight of the prior, in events.
    pub prior_events: f64,
    /// History kept for the normal ratio, in five-minute blocks.
    pub history_blocks: usize,
    /// An alert stays open at least this long before it can resolve.
    pub min_duration: Nanos,
    /// The last half minute must hold this unlikely an excess of errors (Poisson tail): a
    /// burst that is over does not alert late, when a stray error tips a window.
    pub recent_max_p: f64,
    /// After the service said it started or stopped (a deploy), a spike must last this long…
    pub deploy_hold: Nanos,
    /// … within this long of that line: pods and workers rolling fail requests for seconds.
    pub deploy_grace: Nanos,
    /// Minutes of an alert older than this count toward the normal ratio again.
    pub adapt_after: Nanos,
    /// A service's first minutes: before this many precede the short window, it has no
    /// normal to rise from.
    pub warmup_minutes: usize,
}

impl Default for SpikeConfig {
    fn default() -> Self {
        SpikeConfig {
            short: WindowRule {
                minutes: 2,
                min_errors: 8,
                factor: 5.0,
                margin: 0.05,
                max_p: 1e-6,
            },
            long: WindowRule {
                minutes: 10,
                min_errors: 12,
                factor: 3.0,
                margin: 0.03,
                max_p: 1e-6,
            },
            prior_ratio: 0.01,
            prior_events: 100.0,
            history_blocks: 24,
            min_duration: 5 * MINUTE,
            recent_max_p: 0.01,
            deploy_hold: 45_000_000_000,
            deploy_grace: 2 * MINUTE,
            adapt_after: 60 * MINUTE,
            warmup_minutes: 3,
        }
    }
}

#[derive(Clone, Copy)]
struct Bucket {
    minute: i64,
    events: u64,
    errors: u64,
    in_alert: bool,
}

struct Episode {
    fingerprint: String,
    first_seen: Nanos,
    detected_at: Nanos,
    last_seen: Nanos,
    errors: u64,
}

#[derive(Default)]
struct ServiceState {
    buckets: VecDeque<Bucket>,
    /// Completed five-minute blocks: (events, errors).
    history: VecDeque<(u64, u64)>,
    block: (u64, u64, u32),
    episode: Option<Episode>,
    recent_errors: VecDeque<String>,
    last_error: Nanos,
    last_seen: Nanos,
    /// When the service last logged a record with an HTTP status.
    last_request: Option<Nanos>,
    recent: Recent,
    /// When the service last said it started or stopped.
    lifecycle_at: Option<Nanos>,
    /// Since when the window rules have held without an alert.
    held_since: Option<Nanos>,
}

/// Detector for error-rate spikes.
pub struct SpikeDetector {
    config: SpikeConfig,
    engine: EngineConfig,
    services: BTreeMap<String, ServiceState>,
    /// When any service last said it started or stopped: the proxy in front of it fails
    /// requests while it restarts.
    lifecycle_at: Option<Nanos>,
}

impl SpikeDetector {
    pub fn new(engine: EngineConfig) -> Self {
        SpikeDetector::with_config(engine, SpikeConfig::default())
    }

    pub fn with_config(engine: EngineConfig, config: SpikeConfig) -> Self {
        SpikeDetector {
            config,
            engine,
            services: BTreeMap::new(),
            lifecycle_at: None,
        }
    }
}

impl ServiceState {
    /// The normal error ratio: the pooled ratio of past blocks without the worst tenth (so an
    /// earlier burst does not raise it), weighted with the prior while history is short. Until
    /// the first block is history, the minutes before the short window stand in for it: a
    /// service whose log starts at an error ratio of 15% is not a spike against the prior.
    fn normal(&self, c: &SpikeConfig, now_minute: i64) -> f64 {
        let mut blocks: Vec<(u64, u64)> = self.history.iter().copied().collect();
        if blocks.is_empty() {
            let before = now_minute - c.short.minutes as i64;
            blocks.push(
                self.buckets
                    .iter()
                    .filter(|b| b.minute <= before && !b.in_alert)
                    .fold((0, 0), |(n, e), b| (n + b.events, e + b.errors)),
            );
        }
        blocks.sort_by(|a, b| {
            let ra = a.1 as f64 / a.0.max(1) as f64;
            let rb = b.1 as f64 / b.0.max(1) as f64;
            ra.total_cmp(&rb)
        });
        let keep = blocks.len() - blocks.len() / 10;
        let (n, e) = blocks[..keep]
            .iter()
            .fold((0u64, 0u64), |(n, e), &(bn, be)| (n + bn, e + be));
        (e as f64 + c.prior_ratio * c.prior_events) / (n as f64 + c.prior_events)
    }

    fn window(&self, minutes: usize, now_minute: i64) -> (u64, u64) {
        self.buckets
            .iter()
            .filter(|b| b.minute > now_minute - minutes as i64)
            .fold((0, 0), |(n, e), b| (n + b.events, e + b.errors))
    }

    /// Moves to `minute`, retiring buckets older than the long window into history.
    fn roll(&mut self, minute: i64, c: &SpikeConfig) {
        if self.buckets.back().is_some_and(|b| b.minute >= minute) {
            return;
        }
        self.buckets.push_back(Bucket {
            minute,
            events: 0,
            errors: 0,
            // After `adapt_after`, an episode's minutes are history again: a ratio that stays
            // up for hours becomes the normal one, and the alert can resolve.
            in_alert: self
                .episode
                .as_ref()
                .is_some_and(|ep| minute * MINUTE - ep.detected_at < c.adapt_after),
        });
        while let Some(b) = self.buckets.front().copied() {
            if b.minute > minute - c.long.minutes as i64 {
                break;
            }
            self.buckets.pop_front();
            if b.in_alert {
                continue;
            }
            self.block.0 += b.events;
            self.block.1 += b.errors;
            self.block.2 += 1;
            if self.block.2 >= 5 {
                self.history.push_back((self.block.0, self.block.1));
                self.block = (0, 0, 0);
                while self.history.len() > c.history_blocks {
                    self.history.pop_front();
                }
            }
        }
    }
}

fn fires(rule: &WindowRule, n: u64, e: u64, normal: f64) -> bool {
    if e < rule.min_errors || n == 0 {
        return false;
    }
    let ratio = e as f64 / n as f64;
    ratio >= (normal * rule.factor).max(normal + rule.margin)
        && poisson_tail(e, n as f64 * normal) <= rule.max_p
}

impl Detector for SpikeDetector {
    fn observe(&mut self, ev: &Event<'_>, out: &mut Vec<Alert>) {
        let c = &self.config;
        if !self.services.contains_key(ev.service) {
            make_room(&mut self.services, self.engine.max_services, |s| {
                s.last_seen
            });
            self.services
                .insert(ev.service.to_string(), ServiceState::default());
        }
        let Some(s) = self.services.get_mut(ev.service) else {
            return;
        };
        s.last_seen = s.last_seen.max(ev.time);
        // A service that logs its requests has an error ratio of requests: 5xx of all. Its
        // other records say nothing of it (nginx logs a 403 to a scanner at error level; an
        // app logs a 5xx's cause beside the request line).
        let error = match ev.status {
            Some(status) => {
                s.last_request = Some(ev.time);
                status >= 500
            }
            None => {
                // Looked for in records that are no requests: a server's own lines.
                if is_lifecycle(&ev.rec.message) {
                    s.lifecycle_at = Some(ev.time);
                    self.lifecycle_at = self.lifecycle_at.max(Some(ev.time));
                }
                if s.last_request.is_some_and(|t| ev.time - t < REQUESTS_FOR) {
                    return;
                }
                ev.error
            }
        };
        if error {
            if ev.time == s.last_error {
                return;
            }
            s.last_error = ev.time;
        }
        let minute = ev.time.div_euclid(MINUTE);
        s.roll(minute, c);
        if let Some(b) = s.buckets.back_mut() {
            b.events += 1;
            b.errors += u64::from(error);
        }
        s.recent.count(ev.time, error);
        // Most events are neither errors nor inside a spike: they only count.
        if !error && s.episode.is_none() {
            return;
        }
        let normal = s.normal(c, minute);
        let (n, e) = s.window(c.long.minutes, minute);
        if let Some(ep) = &mut s.episode {
            if error {
                ep.errors += 1;
                ep.last_seen = ev.time;
            }
            let back_to_normal = (e as f64) <= (normal * 2.0).max(normal + 0.01) * n as f64;
            if ev.time - ep.detected_at >= c.min_duration && back_to_normal {
                let ep = s.episode.take().expect("episode checked above");
                out.push(resolved(ev.service, ep, ev.time, e, n, normal));
            }
            return;
        }
        if !error {
            return;
        }
        s.recent_errors
            .push_back(evidence_lines(&ev.rec.message, 1).concat());
        if s.recent_errors.len() > 3 {
            s.recent_errors.pop_front();
        }
        // The long window holds all there is until a block is history, and a log's first
        // minutes have nothing before them to rise from.
        let before = minute - c.short.minutes as i64;
        let rules = if !s.history.is_empty() {
            &[&c.short, &c.long][..]
        } else if s.buckets.iter().filter(|b| b.minute <= before).count() >= c.warmup_minutes {
            &[&c.short][..]
        } else {
            &[][..]
        };
        let Some(rule) = rules.iter().copied().find(|rule| {
            let (n, e) = s.window(rule.minutes, minute);
            fires(rule, n, e, normal)
        }) else {
            s.held_since = None;
            return;
        };
        // The excess must be going on now, and after a deploy, have gone on a while.
        let (recent_n, recent_e) = s.recent.last(ev.time);
        let still =
            recent_e >= 2 && poisson_tail(recent_e, recent_n as f64 * normal) <= c.recent_max_p;
        if !still {
            s.held_since = None;
            return;
        }
        let held = *s.held_since.get_or_insert(ev.time);
        // A service that logs requests (a proxy, an edge) also waits out another's restart.
        let proxies = s.last_request.is_some_and(|t| ev.time - t < REQUESTS_FOR);
        // A start or stop logged at or before this event: records of services read at
        // different paces (a backfill) must not hold another's with one from its future.
        let recent = |t: Nanos| (0..c.deploy_grace).contains(&(ev.time - t));
        let deploying = ev.time - held < c.deploy_hold
            && (s.lifecycle_at.is_some_and(recent)
                || proxies && self.lifecycle_at.is_some_and(recent));
        if deploying {
            return;
        }
        let (n, e) = s.window(rule.minutes, minute);
        let first_seen = (minute - rule.minutes as i64 + 1) * MINUTE;
        let fingerprint =
            fingerprint_of(&["error_rate_spike", ev.service, &first_seen.to_string()]);
        let ratio = e as f64 / n as f64;
        let mut details = serde_json::Map::new();
        details.insert("ratio".into(), Value::from(round4(ratio)));
        details.insert("normal_ratio".into(), Value::from(round4(normal)));
        details.insert("window_minutes".into(), Value::from(rule.minutes));
        details.insert("events".into(), Value::from(n));
        details.insert("errors".into(), Value::from(e));
        out.push(Alert {
            kind: AlertKind::ErrorRateSpike,
            state: AlertState::Firing,
            service: ev.service.to_string(),
            fingerprint: fingerprint.clone(),
            detected_at: ev.time,
            first_seen,
            last_seen: ev.time,
            count: e,
            severity: if ratio >= 0.1 {
                Severity::Critical
            } else {
                Severity::Warning
            },
            title: format!(
                "error ratio {:.1}% over the last {} min ({e} of {n} events), normally {:.2}%",
                ratio * 100.0,
                rule.minutes,
                normal * 100.0
            ),
            evidence: s.recent_errors.iter().cloned().collect(),
            details,
        });
        s.episode = Some(Episode {
            fingerprint,
            first_seen,
            detected_at: ev.time,
            last_seen: ev.time,
            errors: e,
        });
        if let Some(b) = s.buckets.back_mut() {
            b.in_alert = true;
        }
        s.held_since = None;
    }

    fn tick(&mut self, now: Nanos, out: &mut Vec<Alert>) {
        let min_duration = self.config.min_duration;
        for (service, s) in &mut self.services {
            // A service that went silent has no error ratio left to alert on.
            let silent = now - s.last_seen >= 3 * min_duration;
            if silent {
                if let Some(ep) = s.episode.take() {
                    out.push(resolved(service, ep, now, 0, 0, 0.0));
                }
            }
        }
        let idle = self.engine.idle_after;
        self.services.retain(|_, s| now - s.last_seen < idle);
    }

    fn refresh(&self, alert: &mut Alert) {
        let Some(ep) = self
            .services
            .get(&alert.service)
            .and_then(|s| s.episode.as_ref())
        else {
            return;
        };
        if alert.kind == AlertKind::ErrorRateSpike && ep.fingerprint == alert.fingerprint {
            alert.count = ep.errors;
            alert.last_seen = ep.last_seen;
        }
    }
}

fn resolved(service: &str, ep: Episode, at: Nanos, e: u64, n: u64, normal: f64) -> Alert {
    let mut details = serde_json::Map::new();
    if n > 0 {
        details.insert("ratio".into(), Value::from(round4(e as f64 / n as f64)));
        details.insert("normal_ratio".into(), Value::from(round4(normal)));
    }
    Alert {
        kind: AlertKind::ErrorRateSpike,
        state: AlertState::Resolved,
        service: service.to_string(),
        fingerprint: ep.fingerprint,
        detected_at: at,
        first_seen: ep.first_seen,
        last_seen: ep.last_seen,
        count: ep.errors,
        severity: Severity::Info,
        title: "error ratio back to normal".to_string(),
        evidence: Vec::new(),
        details,
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests;
