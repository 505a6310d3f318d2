//! The engine: feeds every record to every detector, in event time, per service.
//!
//! [`Engine::observe`] takes one record and returns the alerts it triggered;
//! [`Engine::tick`] advances time without a record (resolution, idle-key eviction). The engine
//! derives what every detector needs once per record (service, error or not) and hands it over
//! as an [`Event`]. Same records in the same order ⇒ same alerts: detectors keep ordered maps
//! and never read the wall clock.

use std::borrow::Cow;
use std::collections::BTreeMap;

use firewatch_ingest::{Level, LogRecord, Nanos};

use crate::alert::Alert;
use crate::incidents::SignatureDetector;
use crate::inhibit::Inhibitor;
use crate::leak::LeakDetector;
use crate::spike::SpikeDetector;
use crate::status::http_status;

/// One minute in nanoseconds.
pub const MINUTE: Nanos = 60_000_000_000;

/// A record as the detectors see it.
pub struct Event<'a> {
    pub rec: &'a LogRecord,
    /// The record's service field, else the file stem of its source.
    pub service: &'a str,
    /// Log time of the record.
    pub time: Nanos,
    /// The HTTP status the record carries ([`http_status`]).
    pub status: Option<u16>,
    /// Level error or worse, or an HTTP status ≥ 500.
    pub error: bool,
}

/// A streaming detector. Each keeps bounded state per service and forgets idle services.
pub trait Detector: Send {
    /// Reads one event; appends the alerts it triggers.
    fn observe(&mut self, ev: &Event<'_>, out: &mut Vec<Alert>);
    /// Time has reached `now` (event time): resolve what is over, evict idle state.
    fn tick(&mut self, now: Nanos, out: &mut Vec<Alert>);
    /// Brings an alert this detector raised up to date (count, last_seen) if it still tracks it.
    fn refresh(&self, _alert: &mut Alert) {}
}

/// Tuning shared by all detectors.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Per-service state is dropped after this long without a record.
    pub idle_after: Nanos,
    /// At most this many services are tracked per detector; when full, the idlest tenth go.
    pub max_services: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            idle_after: 6 * 60 * MINUTE,
            max_services: 10_000,
        }
    }
}

/// Makes room for one more service in a detector's `services` (at most `max`): when it is
/// full, the idlest tenth (by `last_seen`, ties in key order) go at once. Evicting one per new
/// service scanned every service each time: a flood of records with a new service each (a
/// request id logged as the service) spent 75 µs per record there with the default 10 000.
pub(crate) fn make_room<S>(
    services: &mut BTreeMap<String, S>,
    max: usize,
    last_seen: impl Fn(&S) -> Nanos,
) {
    let max = max.max(1);
    if services.len() < max {
        return;
    }
    let keep = max - (max / 10).max(1);
    let drop = services.len() - keep;
    let mut times: Vec<Nanos> = services.values().map(&last_seen).collect();
    let cut = *times.select_nth_unstable(drop - 1).1;
    // Everything idler than the cut goes, then as many at the cut as make up `drop`.
    let mut ties = drop - times.iter().filter(|t| **t < cut).count();
    services.retain(|_, s| match last_seen(s) {
        t if t < cut => false,
        t if t == cut && ties > 0 => {
            ties -= 1;
            false
        }
        _ => true,
    });
}

/// All detectors, fed in order, and what holds back alerts that follow from others.
pub struct Engine {
    detectors: Vec<Box<dyn Detector>>,
    inhibitor: Inhibitor,
    max_services: usize,
    last_tick: Nanos,
    /// How long after its own time the last record that had one was read.
    lag: Option<Nanos>,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(EngineConfig::default())
    }
}

impl Engine {
    /// The standard detector set: signatures, error-rate spikes, leak-like growth.
    pub fn new(config: EngineConfig) -> Self {
        let max_services = config.max_services;
        Engine {
            max_services,
            ..Engine::with_detectors(vec![
                Box::new(SignatureDetector::new(config.clone())),
                Box::new(SpikeDetector::new(config.clone())),
                Box::new(LeakDetector::new(config)),
            ])
        }
    }

    pub fn with_detectors(detectors: Vec<Box<dyn Detector>>) -> Self {
        Engine {
            detectors,
            inhibitor: Inhibitor::default(),
            max_services: EngineConfig::default().max_services,
            last_tick: Nanos::MIN,
            lag: None,
        }
    }

    /// Feeds one record; returns the alerts it triggered.
    pub fn observe(&mut self, rec: &LogRecord) -> Vec<Alert> {
        self.observe_with_status(rec, http_status(rec))
    }

    /// [`Engine::observe`] for a record whose [`http_status`] the caller read already.
    pub fn observe_with_status(&mut self, rec: &LogRecord, status: Option<u16>) -> Vec<Alert> {
        let mut out = Vec::new();
        let service = service_of(rec);
        // A line without a time of its own is stamped when it was read: reading old logs,
        // that is now, and the detectors' clocks would leap past the logs. It happened as long
        // before it was read as the last record with a time.
        let time = if rec.timestamp != rec.observed {
            self.lag = Some(rec.observed.saturating_sub(rec.timestamp));
            rec.timestamp
        } else {
            self.lag
                .map_or(rec.timestamp, |lag| rec.timestamp.saturating_sub(lag))
        };
        let ev = Event {
            rec,
            service: &service,
            time,
            status,
            error: is_error(rec.level, status),
        };
        // Event time drives resolution and eviction too, so a replay behaves like live.
        if ev.time >= self.last_tick.saturating_add(MINUTE) {
            self.tick_into(ev.time, &mut out);
        }
        for d in &mut self.detectors {
            d.observe(&ev, &mut out);
        }
        self.inhibitor.filter(&mut out, self.max_services);
        out
    }

    /// Advances time to `now` without a record.
    pub fn tick(&mut self, now: Nanos) -> Vec<Alert> {
        let mut out = Vec::new();
        self.tick_into(now, &mut out);
        self.inhibitor.filter(&mut out, self.max_services);
        out
    }

    fn tick_into(&mut self, now: Nanos, out: &mut Vec<Alert>) {
        if now < self.last_tick {
            return;
        }
        self.last_tick = now;
        for d in &mut self.detectors {
            d.tick(now, out);
        }
    }

    /// End of input at log time `last`: reports what is still in flight (a crash banner
    /// waiting for its error) as it stands. Open spikes stay open: the input just ended.
    pub fn finish(&mut self, last: Nanos) -> Vec<Alert> {
        self.tick(last.saturating_add(MINUTE))
    }

    /// Brings an alert up to date with what the detectors saw since it was raised.
    pub fn refresh(&self, alert: &mut Alert) {
        for d in &self.detectors {
            d.refresh(alert);
        }
    }
}

/// The service of a record: its service field, else the file stem of its source.
pub fn service_of(rec: &LogRecord) -> Cow<'_, str> {
    if !rec.service.is_empty() {
        return Cow::Borrowed(&rec.service);
    }
    let name = rec.source.rsplit(['/', '\\']).next().unwrap_or("");
    let name = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".zst"))
        .unwrap_or(name);
    let stem = name.split('.').next().unwrap_or(name);
    Cow::Borrowed(if stem.is_empty() { "unknown" } else { stem })
}

/// An error event: level error or worse, or an HTTP status ([`http_status`]) ≥ 500.
pub fn is_error(level: Level, status: Option<u16>) -> bool {
    level >= Level::Error || status.is_some_and(|s| s >= 500)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::rec;

    #[test]
    fn a_full_detector_drops_its_idlest_tenth_at_once() {
        let mut services: BTreeMap<String, Nanos> = BTreeMap::new();
        let seen = |t: &Nanos| *t;
        // Below the limit nothing goes.
        for i in 0..99 {
            make_room(&mut services, 100, seen);
            services.insert(format!("s{i:03}"), 1000 - i);
        }
        assert_eq!(services.len(), 99);
        make_room(&mut services, 100, seen);
        services.insert("s099".into(), 901);
        // Full: the ten idlest (s090..s099, last seen 910 down to 901) go.
        make_room(&mut services, 100, seen);
        assert_eq!(services.len(), 90);
        assert_eq!(services.values().min(), Some(&911));
        assert!(services.contains_key("s000") && !services.contains_key("s090"));
        // Ties at the cut go in key order, as many as make up the tenth: same input, same
        // state, whatever the order of insertion.
        let mut tied: BTreeMap<String, Nanos> = (0..20).map(|i| (format!("t{i:02}"), 5)).collect();
        make_room(&mut tied, 20, seen);
        assert_eq!(tied.len(), 18);
        assert!(!tied.contains_key("t00") && !tied.contains_key("t01") && tied.contains_key("t02"));
        // A flood of new services keeps the map bounded and the newest in it.
        let mut flood: BTreeMap<String, Nanos> = BTreeMap::new();
        for i in 0..10_000 {
            make_room(&mut flood, 1000, seen);
            flood.insert(format!("f{i}"), i);
        }
        assert!(flood.len() <= 1000 && flood.len() >= 900);
        assert!(flood.contains_key("f9999"));
        assert!(flood.values().all(|t| *t >= 10_000 - 1000));
    }

    /// Remembers the time each record was seen at.
    struct Times(std::sync::Arc<std::sync::Mutex<Vec<Nanos>>>);

    impl Detector for Times {
        fn observe(&mut self, ev: &Event<'_>, _: &mut Vec<Alert>) {
            self.0.lock().unwrap().push(ev.time);
        }
        fn tick(&mut self, _: Nanos, _: &mut Vec<Alert>) {}
    }

    #[test]
    fn a_line_without_a_time_happened_as_long_before_its_reading_as_the_last_with_one() {
        let times = std::sync::Arc::default();
        let mut engine =
            Engine::with_detectors(vec![Box::new(Times(std::sync::Arc::clone(&times)))]);
        let day = 86_400 * crate::testutil::secs(1.0);
        let read = 1_000 * day;
        // Untimed before any timed record: its reading time is all there is.
        engine.observe(&rec(read, "starting"));
        // Old logs read now: untimed lines sit among the timed ones.
        for (t, timed) in [(10, true), (11, false), (20, true), (21, false)] {
            let mut r = rec(read + t, "line");
            if timed {
                r.timestamp = read - 3 * day + t;
            }
            engine.observe(&r);
        }
        // Live: read as they are written.
        let mut r = rec(read + 60, "live");
        r.timestamp = read + 59;
        engine.observe(&r);
        engine.observe(&rec(read + 70, "untimed"));
        assert_eq!(
            *times.lock().unwrap(),
            [
                read,
                read - 3 * day + 10,
                read - 3 * day + 11,
                read - 3 * day + 20,
                read - 3 * day + 21,
                read + 59,
                read + 69
            ]
        );
    }

    #[test]
    fn service_falls_back_to_file_stem() {
        let mut r = rec(0, "x");
        r.source = "/var/log/app/payments.log.1.gz".into();
        assert_eq!(service_of(&r), "payments");
        r.service = "api".into();
        assert_eq!(service_of(&r), "api");
        r.service.clear();
        r.source.clear();
        assert_eq!(service_of(&r), "unknown");
    }
}
