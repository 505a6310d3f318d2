//! Inhibition: an alert that only repeats what another already said is held back, as
//! Alertmanager's inhibit rules do (source `oom`, target `error_rate_spike`, equal `service`).
//!
//! A service that runs out of memory fails the requests in flight and those that arrive while
//! it restarts: its error ratio spikes within minutes, and so does that of the proxy or caller
//! in front of it. The `oom` alert is that incident, named by its cause; a second page for its
//! errors tells on-call nothing new. So an error-rate spike that fires within [`AFTER_OOM`] of
//! an `oom` alert of its service, or within [`AFTER_OOM_ELSEWHERE`] of one of any service, is
//! held back, and so is its resolution.
//!
//! Not after a dependency's refusal ([`REDIS_REFUSAL`]): Redis at `maxmemory` refuses writes but
//! ends no process, so nothing restarts and the errors go on until someone frees memory. How
//! many requests fail, which the spike says, is then the news.

use std::collections::{BTreeMap, BTreeSet};

use firewatch_ingest::Nanos;

use crate::alert::{Alert, AlertKind, AlertState};
use crate::engine::{make_room, MINUTE};
use crate::signatures::REDIS_REFUSAL;

/// How long after an out-of-memory alert a spike of its service is its consequence.
pub const AFTER_OOM: Nanos = 15 * MINUTE;
/// How long after an out-of-memory alert a spike of another service (its callers, the proxy in
/// front) is its consequence.
pub const AFTER_OOM_ELSEWHERE: Nanos = 5 * MINUTE;

/// Most spikes held back at once (each until its resolution).
const MAX_HELD: usize = 1024;

/// Holds back alerts that follow from others.
#[derive(Default)]
pub(crate) struct Inhibitor {
    /// The last out-of-memory alert of each service.
    ooms: BTreeMap<String, Nanos>,
    /// The last out-of-memory alert of any service.
    last_oom: Option<Nanos>,
    /// Fingerprints of spikes held back: their resolution is held back too.
    held: BTreeSet<String>,
}

impl Inhibitor {
    /// Drops from `alerts` those that follow from an earlier alert; `max_services` bounds the
    /// services remembered.
    pub(crate) fn filter(&mut self, alerts: &mut Vec<Alert>, max_services: usize) {
        alerts.retain(|a| match (a.kind, a.state) {
            // Its title holds the signature that matched.
            (AlertKind::Oom, _) if a.title.contains(REDIS_REFUSAL) => true,
            (AlertKind::Oom, _) => {
                if !self.ooms.contains_key(&a.service) {
                    make_room(&mut self.ooms, max_services, |t| *t);
                }
                self.ooms.insert(a.service.clone(), a.detected_at);
                self.last_oom = self.last_oom.max(Some(a.detected_at));
                true
            }
            (AlertKind::ErrorRateSpike, AlertState::Firing) => {
                let within = |t: Option<&Nanos>, span| {
                    t.is_some_and(|t| (0..=span).contains(&(a.detected_at - t)))
                };
                let after_oom = within(self.ooms.get(&a.service), AFTER_OOM)
                    || within(self.last_oom.as_ref(), AFTER_OOM_ELSEWHERE);
                if after_oom && self.held.len() < MAX_HELD {
                    self.held.insert(a.fingerprint.clone());
                    return false;
                }
                // Firing again later (a regression) is news.
                self.held.remove(&a.fingerprint);
                true
            }
            (AlertKind::ErrorRateSpike, AlertState::Resolved) => !self.held.remove(&a.fingerprint),
            _ => true,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Severity;
    use crate::testutil::T0;

    fn alert(kind: AlertKind, state: AlertState, service: &str, minute: i64) -> Alert {
        Alert {
            kind,
            state,
            service: service.into(),
            fingerprint: format!("{}-{service}", kind.as_str()),
            detected_at: T0 + minute * MINUTE,
            first_seen: T0,
            last_seen: T0,
            count: 1,
            severity: Severity::Critical,
            title: String::new(),
            evidence: Vec::new(),
            details: Default::default(),
        }
    }

    #[test]
    fn a_spike_soon_after_its_services_oom_is_held_back_with_its_resolution() {
        use AlertKind::{ErrorRateSpike as Spike, Oom};
        use AlertState::{Firing, Resolved};
        let mut inhibitor = Inhibitor::default();
        let mut pass = |a: Alert| {
            let mut v = vec![a];
            inhibitor.filter(&mut v, 100);
            v.len()
        };
        assert_eq!(pass(alert(Oom, Firing, "api", 0)), 1);
        // The proxy in front, within minutes; another service later on.
        assert_eq!(pass(alert(Spike, Firing, "edge", 2)), 0);
        assert_eq!(pass(alert(Spike, Firing, "db", 8)), 1);
        assert_eq!(pass(alert(Spike, Firing, "api", 9)), 0);
        assert_eq!(pass(alert(Spike, Resolved, "api", 20)), 0);
        // Long after, the same spike firing is news, and so is its resolution.
        assert_eq!(pass(alert(Spike, Firing, "api", 60)), 1);
        assert_eq!(pass(alert(Spike, Resolved, "api", 70)), 1);
        // A dependency refusing writes ends no process: the spike it causes is news.
        let mut refused = alert(Oom, Firing, "web", 100);
        refused.title = "out of memory: OOM command not allowed when used memory > '*'.".into();
        assert_eq!(pass(refused), 1);
        assert_eq!(pass(alert(Spike, Firing, "web", 101)), 1);
    }
}
