//! The alert lifecycle: what is firing now and what fired before.
//!
//! The detectors say when a problem starts (firing) and sometimes when it ends (resolved). The
//! [`AlertStore`] keeps one entry per fingerprint: a repeat of a firing alert updates its count
//! and last_seen without a new notification; a resolved fingerprint that fires again is a
//! regression and notifies again; an alert quiet for `resolve_after` resolves. Only transitions
//! ([`Change`]) are notified. The state is saved in one versioned JSON file (temp → fsync →
//! rename) so a restart neither re-alerts nor forgets; resolved history is bounded.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

use firewatch_ingest::Nanos;
use serde::{Deserialize, Serialize};

use crate::alert::{Alert, AlertState};
use crate::durable::write_atomic;
use crate::engine::MINUTE;

const FILE: &str = "alerts.json";
const VERSION: u32 = 1;

/// Why the alert state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("alert state {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("alert state {path} is corrupt: {message}")]
    Corrupt { path: PathBuf, message: String },
}

/// Tuning of the lifecycle.
#[derive(Debug, Clone)]
pub struct LifecycleConfig {
    /// A firing alert not seen for this long (log time) resolves.
    pub resolve_after: Nanos,
    /// At most this many firing alerts; beyond, the longest quiet one resolves.
    pub max_active: usize,
    /// At most this many resolved alerts are remembered.
    pub max_history: usize,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            resolve_after: 30 * MINUTE,
            max_active: 10_000,
            max_history: 1_000,
        }
    }
}

/// An alert with its place in the lifecycle (`alert.state` is its current state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackedAlert {
    pub alert: Alert,
    /// Log time at which it resolved.
    #[serde(default)]
    pub resolved_at: Option<Nanos>,
}

impl TrackedAlert {
    /// Stable per (problem, episode, state): a retried or replayed notification keeps it, a
    /// regression (new episode) gets a new one, so receivers can drop repeats.
    pub fn idempotency_key(&self) -> String {
        let state = match self.alert.state {
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        };
        format!(
            "{}-{:x}-{state}",
            self.alert.fingerprint, self.alert.first_seen
        )
    }
}

/// A transition worth a notification.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Fired(TrackedAlert),
    Resolved(TrackedAlert),
}

impl Change {
    pub fn tracked(&self) -> &TrackedAlert {
        match self {
            Change::Fired(t) | Change::Resolved(t) => t,
        }
    }
}

/// Which alerts a listing returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFilter {
    Firing,
    Resolved,
    All,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    version: u32,
    active: Vec<TrackedAlert>,
    history: Vec<TrackedAlert>,
}

/// Firing alerts by fingerprint, and the recent resolved ones, saved in a directory.
pub struct AlertStore {
    path: PathBuf,
    config: LifecycleConfig,
    active: BTreeMap<String, TrackedAlert>,
    history: VecDeque<TrackedAlert>,
    dirty: bool,
}

impl AlertStore {
    /// Opens the state saved in `dir` (created if missing).
    pub fn open(dir: &Path, config: LifecycleConfig) -> Result<Self, StoreError> {
        let path = dir.join(FILE);
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut store = AlertStore {
            path: path.clone(),
            config,
            active: BTreeMap::new(),
            history: VecDeque::new(),
            dirty: false,
        };
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(store),
            Err(e) => return Err(io(e)),
        };
        let corrupt = |message: String| StoreError::Corrupt {
            path: path.clone(),
            message,
        };
        let saved: Saved = match serde_json::from_slice(&bytes) {
            Ok(saved) => saved,
            // Alert state is not worth refusing to start for: the alerts still firing fire
            // again (notified once more), and the damaged file is kept for people.
            Err(e) => {
                let kept = path.with_extension("json.corrupt");
                std::fs::rename(&path, &kept).map_err(io)?;
                tracing::error!(file = %path.display(), kept = %kept.display(), error = %e, "alert state corrupt, set aside; starting with none");
                return Ok(store);
            }
        };
        if saved.version != VERSION {
            return Err(corrupt(format!("unknown version {}", saved.version)));
        }
        for t in saved.active {
            store.active.insert(t.alert.fingerprint.clone(), t);
        }
        store.history = saved.history.into();
        Ok(store)
    }

    /// Takes one alert from the detectors; returns the transition it causes, if any.
    pub fn apply(&mut self, alert: Alert) -> Vec<Change> {
        let mut out = Vec::new();
        match alert.state {
            AlertState::Firing => {
                if let Some(t) = self.active.get_mut(&alert.fingerprint) {
                    t.alert.last_seen = t.alert.last_seen.max(alert.last_seen);
                    t.alert.count = t.alert.count.max(alert.count);
                    self.dirty = true;
                    return out;
                }
                if self.active.len() >= self.config.max_active {
                    if let Some(fp) = self.quietest() {
                        out.extend(self.resolve(&fp, None));
                    }
                }
                let t = TrackedAlert {
                    alert,
                    resolved_at: None,
                };
                self.active.insert(t.alert.fingerprint.clone(), t.clone());
                self.dirty = true;
                out.push(Change::Fired(t));
            }
            AlertState::Resolved => {
                if let Some(t) = self.active.get_mut(&alert.fingerprint) {
                    t.alert.last_seen = t.alert.last_seen.max(alert.last_seen);
                    t.alert.count = t.alert.count.max(alert.count);
                    out.extend(self.resolve(&alert.fingerprint, Some(alert.detected_at)));
                }
            }
        }
        out
    }

    /// Resolves alerts quiet for `resolve_after` at log time `now`.
    pub fn expire(&mut self, now: Nanos) -> Vec<Change> {
        let quiet: Vec<String> = self
            .active
            .values()
            .filter(|t| now.saturating_sub(t.alert.last_seen) >= self.config.resolve_after)
            .map(|t| t.alert.fingerprint.clone())
            .collect();
        quiet
            .iter()
            .filter_map(|fp| self.resolve(fp, Some(now)))
            .collect()
    }

    /// Lets the detectors bring firing alerts up to date (count, last_seen).
    pub fn refresh(&mut self, mut update: impl FnMut(&mut Alert)) {
        for t in self.active.values_mut() {
            let before = (t.alert.count, t.alert.last_seen);
            update(&mut t.alert);
            t.alert.state = AlertState::Firing;
            self.dirty |= before != (t.alert.count, t.alert.last_seen);
        }
    }

    fn quietest(&self) -> Option<String> {
        self.active
            .values()
            .min_by_key(|t| t.alert.last_seen)
            .map(|t| t.alert.fingerprint.clone())
    }

    fn resolve(&mut self, fp: &str, at: Option<Nanos>) -> Option<Change> {
        let mut t = self.active.remove(fp)?;
        t.alert.state = AlertState::Resolved;
        t.resolved_at = Some(at.unwrap_or(t.alert.last_seen).max(t.alert.last_seen));
        self.history.push_back(t.clone());
        while self.history.len() > self.config.max_history {
            self.history.pop_front();
        }
        self.dirty = true;
        Some(Change::Resolved(t))
    }

    /// Alerts in `filter` last seen at or after `since`, most recent first.
    pub fn list(&self, filter: StateFilter, since: Option<Nanos>) -> Vec<TrackedAlert> {
        let firing = self.active.values();
        let resolved = self.history.iter();
        let mut out: Vec<TrackedAlert> = match filter {
            StateFilter::Firing => firing.cloned().collect(),
            StateFilter::Resolved => resolved.cloned().collect(),
            StateFilter::All => firing.chain(resolved).cloned().collect(),
        };
        if let Some(since) = since {
            out.retain(|t| t.alert.last_seen >= since);
        }
        out.sort_by_key(|t| std::cmp::Reverse(t.alert.last_seen));
        out
    }

    /// Number of firing alerts.
    pub fn firing(&self) -> usize {
        self.active.len()
    }

    /// Saves the state if it changed since the last save.
    pub fn save(&mut self) -> Result<(), StoreError> {
        if !self.dirty {
            return Ok(());
        }
        let saved = Saved {
            version: VERSION,
            active: self.active.values().cloned().collect(),
            history: self.history.iter().cloned().collect(),
        };
        let bytes = serde_json::to_vec(&saved).map_err(|e| StoreError::Corrupt {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        write_atomic(&self.path, &bytes).map_err(|source| StoreError::Io {
            path: self.path.clone(),
            source,
        })?;
        self.dirty = false;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::alert::{AlertKind, Severity};
    use serde_json::Map;

    pub fn alert(fp: &str, state: AlertState, first: Nanos, last: Nanos) -> Alert {
        Alert {
            kind: AlertKind::UnhandledRejection,
            state,
            service: format!("svc-{fp}"),
            fingerprint: fp.into(),
            detected_at: last,
            first_seen: first,
            last_seen: last,
            count: 1,
            severity: Severity::Critical,
            title: format!("problem {fp}"),
            evidence: vec!["boom".into()],
            details: Map::new(),
        }
    }

    fn store(dir: &Path) -> AlertStore {
        AlertStore::open(dir, LifecycleConfig::default()).unwrap()
    }

    #[test]
    fn fires_once_updates_resolves_and_refires() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path());
        let fired = s.apply(alert("a", AlertState::Firing, 0, 10));
        assert!(matches!(&fired[..], [Change::Fired(_)]));
        let mut again = alert("a", AlertState::Firing, 0, 20);
        again.count = 7;
        assert!(s.apply(again).is_empty(), "a repeat does not notify");
        let t = &s.list(StateFilter::Firing, None)[0];
        assert_eq!((t.alert.count, t.alert.last_seen), (7, 20));

        let resolved = s.apply(alert("a", AlertState::Resolved, 0, 30));
        let Change::Resolved(r) = &resolved[0] else {
            panic!("expected a resolution, got {resolved:?}")
        };
        assert_eq!(r.resolved_at, Some(30));
        assert!(s.apply(alert("a", AlertState::Resolved, 0, 31)).is_empty());

        let refired = s.apply(alert("a", AlertState::Firing, 100, 100));
        assert!(matches!(&refired[..], [Change::Fired(_)]), "regression");
        assert_ne!(r.idempotency_key(), refired[0].tracked().idempotency_key());
        assert_eq!(s.list(StateFilter::All, None).len(), 2);
        assert_eq!(s.list(StateFilter::All, Some(50)).len(), 1);
    }

    #[test]
    fn a_corrupt_state_file_is_set_aside_and_the_store_starts_empty() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), b"{\"version\":1,\"act").unwrap();
        let mut s = store(dir.path());
        assert!(s.list(StateFilter::All, None).is_empty());
        assert!(dir.path().join("alerts.json.corrupt").exists());
        assert!(matches!(
            &s.apply(alert("a", AlertState::Firing, 0, 10))[..],
            [Change::Fired(_)]
        ));
        s.save().unwrap();
        assert_eq!(store(dir.path()).list(StateFilter::All, None).len(), 1);
    }

    #[test]
    fn quiet_alerts_resolve_and_state_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path());
        s.apply(alert("a", AlertState::Firing, 0, 0));
        s.apply(alert("b", AlertState::Firing, 0, 40 * MINUTE));
        let expired = s.expire(45 * MINUTE);
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].tracked().alert.fingerprint, "a");
        s.save().unwrap();

        let mut s = store(dir.path());
        assert_eq!(s.firing(), 1);
        assert!(s
            .apply(alert("b", AlertState::Firing, 0, 41 * MINUTE))
            .is_empty());
        assert_eq!(s.list(StateFilter::Resolved, None).len(), 1);
    }

    #[test]
    fn bounded_active_and_history() {
        let dir = tempfile::tempdir().unwrap();
        let config = LifecycleConfig {
            max_active: 3,
            max_history: 2,
            ..LifecycleConfig::default()
        };
        let mut s = AlertStore::open(dir.path(), config).unwrap();
        for i in 0..10 {
            s.apply(alert(&format!("f{i}"), AlertState::Firing, i, i));
        }
        assert_eq!(s.firing(), 3);
        assert_eq!(s.list(StateFilter::Resolved, None).len(), 2);
    }

    #[test]
    fn a_state_of_an_unknown_version_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(FILE),
            br#"{"version":99,"active":[],"history":[]}"#,
        )
        .unwrap();
        let err = AlertStore::open(dir.path(), LifecycleConfig::default())
            .err()
            .unwrap();
        assert!(err.to_string().contains("version 99"), "{err}");
    }
}
