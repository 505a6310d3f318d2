//! What `analyze` reports besides alerts: volume and error ratio per service over time, the top
//! error fingerprints, rejection groups and gauges with their trend. Pure.
//!
//! A [`Summarizer`] sees every record once. Memory stays bounded whatever the input's length:
//! timelines keep at most [`MAX_BUCKETS`] buckets (the bucket width doubles when a run is longer),
//! and fingerprints and gauge series are capped in number.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};

use firewatch_detectors::engine::service_of;
use firewatch_detectors::fingerprint::shape_of;
use firewatch_detectors::gauges::{is_memory, memory_limit, samples};
use firewatch_detectors::stats::{median, theil_sen};
use firewatch_detectors::{Alert, AlertKind};
use firewatch_ingest::record::rfc3339_nanos;
use firewatch_ingest::{LogRecord, Nanos};
use serde::Serialize;

/// Most buckets a timeline keeps.
pub const MAX_BUCKETS: usize = 720;
const FIRST_WIDTH: Nanos = 60_000_000_000;
const MAX_FINGERPRINTS: usize = 10_000;
const MAX_GAUGES: usize = 256;
const TOP: usize = 20;
const HOUR: f64 = 3_600e9;

/// Buckets of a value over time; all timelines of a summarizer share one width.
#[derive(Debug, Clone, Default)]
struct Buckets<T> {
    width: Nanos,
    by_index: BTreeMap<i64, T>,
}

impl<T: Default> Buckets<T> {
    fn at(&mut self, t: Nanos, width: Nanos) -> &mut T {
        self.by_index.entry(t.div_euclid(width)).or_default()
    }

    /// Doubles the width until at most `MAX_BUCKETS` remain.
    fn shrink(&mut self, fold: impl Fn(&mut T, T)) {
        while self.by_index.len() > MAX_BUCKETS {
            self.double(&fold);
        }
    }

    /// Doubles the width, folding pairs of buckets into one.
    fn double(&mut self, fold: &impl Fn(&mut T, T)) {
        self.width *= 2;
        let old = std::mem::take(&mut self.by_index);
        for (i, v) in old {
            match self.by_index.entry(i.div_euclid(2)) {
                Entry::Vacant(e) => {
                    e.insert(v);
                }
                Entry::Occupied(mut e) => fold(e.get_mut(), v),
            }
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Volume {
    records: u64,
    errors: u64,
}

#[derive(Debug, Clone)]
struct Floor(f64);

impl Default for Floor {
    fn default() -> Self {
        Floor(f64::INFINITY)
    }
}

#[derive(Debug)]
struct FingerprintAcc {
    service: String,
    error_type: String,
    shape: String,
    sample: String,
    count: u64,
    first: Nanos,
    last: Nanos,
}

#[derive(Debug, Default)]
struct GaugeAcc {
    floors: Buckets<Floor>,
    capacity: Option<f64>,
}

/// Reads records, keeps what the summary needs.
#[derive(Debug)]
pub struct Summarizer {
    width: Nanos,
    services: BTreeMap<String, Buckets<Volume>>,
    fingerprints: HashMap<String, FingerprintAcc>,
    other_errors: u64,
    gauges: BTreeMap<(String, String), GaugeAcc>,
    limits: BTreeMap<String, f64>,
}

impl Default for Summarizer {
    fn default() -> Self {
        Summarizer {
            width: FIRST_WIDTH,
            services: BTreeMap::new(),
            fingerprints: HashMap::new(),
            other_errors: 0,
            gauges: BTreeMap::new(),
            limits: BTreeMap::new(),
        }
    }
}

impl Summarizer {
    /// Counts `rec`, an error event or not ([`firewatch_detectors::engine::is_error`]).
    pub fn observe(&mut self, rec: &LogRecord, error: bool) {
        let service = service_of(rec);
        let t = rec.timestamp;
        let width = self.width;
        let timeline = self
            .services
            .entry(service.to_string())
            .or_insert_with(|| Buckets {
                width,
                by_index: BTreeMap::new(),
            });
        let v = timeline.at(t, timeline.width);
        v.records += 1;
        v.errors += u64::from(error);
        if timeline.by_index.len() > MAX_BUCKETS {
            // Every service gets the wider buckets, so that their charts line up.
            self.width *= 2;
            let fold = |a: &mut Volume, b: Volume| {
                a.records += b.records;
                a.errors += b.errors;
            };
            for b in self.services.values_mut() {
                while b.width < self.width {
                    b.double(&fold);
                }
            }
        }
        if error {
            self.fingerprint(rec, &service);
        }
        if let Some(limit) = memory_limit(rec) {
            self.limits.insert(service.to_string(), limit.0);
        }
        for s in samples(rec) {
            let key = (service.to_string(), s.name);
            if !self.gauges.contains_key(&key) && self.gauges.len() >= MAX_GAUGES {
                continue;
            }
            let g = self.gauges.entry(key).or_insert_with(|| GaugeAcc {
                floors: Buckets {
                    width: FIRST_WIDTH,
                    by_index: BTreeMap::new(),
                },
                capacity: None,
            });
            let floor = g.floors.at(t, g.floors.width);
            floor.0 = floor.0.min(s.value);
            g.floors.shrink(|a, b| a.0 = a.0.min(b.0));
            if s.capacity.is_some() {
                g.capacity = s.capacity;
            }
        }
    }

    fn fingerprint(&mut self, rec: &LogRecord, service: &str) {
        let shape = shape_of(&rec.message);
        let fp = shape.fingerprint("error", service);
        if let Some(acc) = self.fingerprints.get_mut(&fp) {
            acc.count += 1;
            acc.first = acc.first.min(rec.timestamp);
            acc.last = acc.last.max(rec.timestamp);
            return;
        }
        if self.fingerprints.len() >= MAX_FINGERPRINTS {
            self.other_errors += 1;
            return;
        }
        let first_line = rec.message.lines().next().unwrap_or("");
        self.fingerprints.insert(
            fp,
            FingerprintAcc {
                service: service.to_string(),
                error_type: shape.error_type,
                shape: shape.message,
                sample: first_line.chars().take(300).collect(),
                count: 1,
                first: rec.timestamp,
                last: rec.timestamp,
            },
        );
    }

    /// The summary, with the rejection groups of `alerts`.
    pub fn finish(&self, alerts: &[Alert]) -> Summary {
        let services = self
            .services
            .iter()
            .map(|(name, b)| {
                let records = b.by_index.values().map(|v| v.records).sum();
                let errors = b.by_index.values().map(|v| v.errors).sum();
                ServiceSummary {
                    service: name.clone(),
                    records,
                    errors,
                    bucket_secs: b.width / 1_000_000_000,
                    timeline: b
                        .by_index
                        .iter()
                        .map(|(i, v)| Point {
                            t: rfc3339_nanos::format(i * b.width),
                            records: v.records,
                            errors: v.errors,
                        })
                        .collect(),
                }
            })
            .collect();
        let mut fingerprints: Vec<FingerprintSummary> = self
            .fingerprints
            .iter()
            .map(|(fp, a)| FingerprintSummary {
                fingerprint: fp.clone(),
                service: a.service.clone(),
                error_type: a.error_type.clone(),
                shape: a.shape.clone(),
                sample: a.sample.clone(),
                count: a.count,
                first_seen: rfc3339_nanos::format(a.first),
                last_seen: rfc3339_nanos::format(a.last),
            })
            .collect();
        fingerprints.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.fingerprint.cmp(&b.fingerprint))
        });
        fingerprints.truncate(TOP);
        let gauges = self
            .gauges
            .iter()
            .map(|((service, name), g)| {
                let limit = g.capacity.or_else(|| {
                    is_memory(name)
                        .then(|| self.limits.get(service).copied())
                        .flatten()
                });
                gauge_summary(service, name, g, limit)
            })
            .collect();
        Summary {
            services,
            fingerprints,
            other_errors: self.other_errors,
            rejections: rejection_groups(alerts),
            gauges,
        }
    }
}

fn gauge_summary(service: &str, name: &str, g: &GaugeAcc, limit: Option<f64>) -> GaugeSummary {
    let w = g.floors.width;
    let xs: Vec<f64> = g.floors.by_index.keys().map(|i| (i * w) as f64).collect();
    let ys: Vec<f64> = g.floors.by_index.values().map(|f| f.0).collect();
    let hours: Vec<f64> = xs.iter().map(|x| x / HOUR).collect();
    let slope = theil_sen(&hours, &ys);
    let trend = slope.and_then(|slope| {
        let residuals: Vec<f64> = hours.iter().zip(&ys).map(|(x, y)| y - slope * x).collect();
        let intercept = median(&residuals)?;
        let at = |x: f64| intercept + slope * x;
        let (first, last) = (*hours.first()?, *hours.last()?);
        let exhaustion = limit.filter(|l| slope > 0.0 && at(last) < *l).map(|l| {
            let x = (l - intercept) / slope;
            rfc3339_nanos::format((x * HOUR) as Nanos)
        });
        Some(Trend {
            slope_per_hour: slope,
            from: (rfc3339_nanos::format((first * HOUR) as Nanos), at(first)),
            to: (rfc3339_nanos::format((last * HOUR) as Nanos), at(last)),
            exhaustion_at: exhaustion,
        })
    });
    GaugeSummary {
        service: service.to_string(),
        gauge: name.to_string(),
        bucket_secs: w / 1_000_000_000,
        points: xs
            .iter()
            .zip(&ys)
            .map(|(x, y)| (rfc3339_nanos::format(*x as Nanos), *y))
            .collect(),
        limit,
        trend,
    }
}

/// Unhandled rejections grouped by fingerprint: how often each came back.
fn rejection_groups(alerts: &[Alert]) -> Vec<RejectionGroup> {
    let mut groups: BTreeMap<&str, RejectionGroup> = BTreeMap::new();
    for a in alerts {
        if a.kind != AlertKind::UnhandledRejection {
            continue;
        }
        let g = groups
            .entry(a.fingerprint.as_str())
            .or_insert_with(|| RejectionGroup {
                fingerprint: a.fingerprint.clone(),
                service: a.service.clone(),
                title: a.title.clone(),
                alerts: 0,
                count: 0,
                first_seen: rfc3339_nanos::format(a.first_seen),
                last_seen: rfc3339_nanos::format(a.last_seen),
            });
        g.alerts += 1;
        g.count += a.count;
        g.last_seen = rfc3339_nanos::format(a.last_seen);
    }
    let mut out: Vec<RejectionGroup> = groups.into_values().collect();
    out.sort_by_key(|g| std::cmp::Reverse(g.count));
    out
}

/// Everything the summary holds (`--format json` and the HTML report).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub services: Vec<ServiceSummary>,
    pub fingerprints: Vec<FingerprintSummary>,
    /// Errors not grouped because too many fingerprints were seen.
    pub other_errors: u64,
    pub rejections: Vec<RejectionGroup>,
    pub gauges: Vec<GaugeSummary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceSummary {
    pub service: String,
    pub records: u64,
    pub errors: u64,
    pub bucket_secs: i64,
    pub timeline: Vec<Point>,
}

/// One bucket of a service's timeline, `t` its start.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub t: String,
    pub records: u64,
    pub errors: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FingerprintSummary {
    pub fingerprint: String,
    pub service: String,
    pub error_type: String,
    /// The message with variable parts masked.
    pub shape: String,
    /// The first line of the first such error.
    pub sample: String,
    pub count: u64,
    pub first_seen: String,
    pub last_seen: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RejectionGroup {
    pub fingerprint: String,
    pub service: String,
    pub title: String,
    /// Alerts raised (a rejection that comes back after a quiet period fires again).
    pub alerts: u64,
    /// Occurrences.
    pub count: u64,
    pub first_seen: String,
    pub last_seen: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GaugeSummary {
    pub service: String,
    pub gauge: String,
    pub bucket_secs: i64,
    /// The floor (minimum) of each bucket: `(bucket start, value)`.
    pub points: Vec<(String, f64)>,
    /// The capacity the gauge can reach, when known (memory limit, JVM heap size).
    pub limit: Option<f64>,
    pub trend: Option<Trend>,
}

/// The Theil-Sen line fitted to a gauge's floors.
#[derive(Debug, Clone, Serialize)]
pub struct Trend {
    pub slope_per_hour: f64,
    /// The fitted line at the first and last bucket.
    pub from: (String, f64),
    pub to: (String, f64),
    /// When the fitted line reaches the limit, if it rises towards one.
    pub exhaustion_at: Option<String>,
}
