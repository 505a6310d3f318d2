//! Leak-like growth: the floor of a gauge rises steadily, not just its peaks.
//!
//! Per service and gauge, samples are reduced to the minimum of each five-minute bucket, then to
//! a lower envelope (rolling minimum of three buckets) so a GC sawtooth reads as its floor.
//! When a bucket closes, the last one to two hours of floor are tested: Mann-Kendall must show
//! a significant upward trend, the Theil-Sen growth over the window must be a sizeable share of
//! the level, and the growth must not be slowing down (the recent half rises at least half as
//! fast as the earlier half) — which is what tells a leak from a warm-up that plateaus. A large
//! drop (a restart) or a long gap starts the series afresh. When a memory limit is known the
//! alert projects when the floor reaches it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::OnceLock;

use aho_corasick::AhoCorasick;

use firewatch_ingest::Nanos;
use serde_json::Value;

use crate::alert::{evidence_lines, truncate, Alert, AlertKind, AlertState, Severity};
use crate::engine::{make_room, Detector, EngineConfig, Event, MINUTE};
use crate::fingerprint::fingerprint_of;
use crate::gauges::{is_gc_line, is_memory, memory_limit, samples, Sample};
use crate::stats::{mad, mann_kendall_z, median, theil_sen};

mod demand;

use demand::{cache_fill, demand_of, inflow_of, Demand};

/// Tuning of the leak detector.
#[derive(Debug, Clone)]
pub struct LeakConfig {
    /// Width of a floor bucket.
    pub bucket: Nanos,
    /// Buckets in the rolling minimum (the lower envelope).
    pub envelope: usize,
    /// Fewest and most buckets of floor a test looks at.
    pub min_buckets: usize,
    pub max_buckets: usize,
    /// Mann-Kendall z-score the floor must reach.
    pub min_z: f64,
    /// Growth over the window, as a share of the level.
    pub min_growth: f64,
    /// The recent half must rise at least this share of the earlier half's rate.
    pub min_persistence: f64,
    /// A floor below this share of the previous ones is a restart.
    pub restart_drop: f64,
    /// No sample for this long starts the series afresh.
    pub max_gap: Nanos,
    /// At most this many gauges per service.
    pub max_gauges: usize,
}

impl Default for LeakConfig {
    fn default() -> Self {
        LeakConfig {
            bucket: 5 * MINUTE,
            envelope: 3,
            min_buckets: 12,
            max_buckets: 24,
            min_z: 3.0,
            min_growth: 0.15,
            min_persistence: 0.5,
            restart_drop: 0.6,
            max_gap: 30 * MINUTE,
            max_gauges: 64,
        }
    }
}

#[derive(Default)]
struct Series {
    bucket: i64,
    bucket_min: f64,
    bucket_line: String,
    capacity: Option<f64>,
    /// (bucket index, floor, a line showing it)
    floors: VecDeque<(i64, f64, String)>,
    last_time: Nanos,
}

#[derive(Default)]
struct ServiceState {
    gauges: BTreeMap<String, Series>,
    limit: Option<f64>,
    /// Families (memory, connections…) already alerted since the last restart.
    fired: BTreeMap<String, String>,
    last_seen: Nanos,
    /// Records without gauges per bucket (bucket index, count): the service's load.
    load: VecDeque<(i64, u64)>,
    /// Sessions, users or clients it says it serves.
    demand: Demand,
    /// What waits in its queues and backlogs: memory holds it.
    queued: Demand,
    /// The entries of a cache it says is filling up to a stated capacity.
    cache: Demand,
    /// The rate work arrives into its queues, as it states it.
    inflow: Demand,
    tasks: Tasks,
}

/// Long tasks a service said it started (backfills, migrations…).
#[derive(Default)]
struct Tasks {
    /// When each started, and the word naming it, until the service says it ended.
    running: VecDeque<(Nanos, &'static str)>,
    /// When the service last started one.
    starts: VecDeque<Nanos>,
    /// When one last ended: growth before is its own, and what it held may be kept (Go's
    /// `heap_sys` stays up), so a trend is looked for after it only.
    last_end: Option<Nanos>,
}

impl ServiceState {
    fn count_load(&mut self, bucket: i64, keep: usize) {
        match self.load.back_mut() {
            Some((b, n)) if *b == bucket => *n += 1,
            Some((b, _)) if *b > bucket => {}
            _ => {
                self.load.push_back((bucket, 1));
                while self.load.len() > keep {
                    self.load.pop_front();
                }
            }
        }
    }
}

/// Words naming a long task that a service logs starting and ending: memory, connections and
/// workers grow while it runs and fall back after.
const TASKS: [&str; 15] = [
    "backfill",
    "batch",
    "migration",
    "import",
    "export",
    "reindex",
    "rebuild",
    "resync",
    "compaction",
    "backup",
    "snapshot",
    "replay",
    "bulk",
    "etl",
    // `job started` / `job finished`, the job named in a field (structlog, zap).
    "job",
];
const STARTED: [&str; 5] = ["started", "starting", "begin", "began", "kicked off"];
const ENDED: [&str; 8] = [
    "finished",
    "completed",
    "complete",
    "done",
    "ended",
    "failed",
    "aborted",
    "succeeded",
];

/// Longest a task is taken to run without a line saying it ended.
const TASK_HOURS: i64 = 6;

/// A line saying a long task started (`Some((task, true))`) or ended (`Some((task, false))`),
/// in its first 120 bytes. Asked of every record of a service with gauges: an automaton's
/// search, rarely a second one, no allocation.
fn task_line(message: &str) -> Option<(&'static str, bool)> {
    static TASK: OnceLock<AhoCorasick> = OnceLock::new();
    static VERB: OnceLock<AhoCorasick> = OnceLock::new();
    let build = |words: &[&str]| {
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(words)
            .expect("fixed words")
    };
    let head = &message.as_bytes()[..message.len().min(120)];
    let task = TASK.get_or_init(|| build(&TASKS)).find(head)?;
    let verbs = VERB.get_or_init(|| build(&[&STARTED[..], &ENDED[..]].concat()));
    let mut ended = false;
    for m in verbs.find_iter(head) {
        if m.pattern().as_usize() < STARTED.len() {
            return Some((TASKS[task.pattern().as_usize()], true));
        }
        ended = true;
    }
    ended.then(|| (TASKS[task.pattern().as_usize()], false))
}

impl Tasks {
    /// Notes a task starting or ending.
    fn note(&mut self, time: Nanos, task: &'static str, started: bool) {
        if started {
            self.running.push_back((time, task));
            self.starts.push_back(time);
            while self.running.len() > 8 {
                self.running.pop_front();
            }
            while self.starts.len() > 8 {
                self.starts.pop_front();
            }
        } else if let Some(i) = self.running.iter().rposition(|(_, t)| *t == task) {
            self.running.remove(i);
            self.last_end = Some(time);
        }
    }

    /// Is a long task running at `now`, one of few started since `since`? A service that
    /// starts tasks all the time (a job worker) gets no such excuse for growth.
    fn busy(&self, since: Nanos, now: Nanos) -> bool {
        let running = self
            .running
            .iter()
            .any(|(t, _)| now - *t < TASK_HOURS * 60 * MINUTE);
        running && self.few_since(since)
    }

    /// When the last long task ended, if few started since `since`: a job worker's tasks end
    /// all the time, and its growth is looked for across them.
    fn settled(&self, since: Nanos) -> Option<Nanos> {
        self.last_end.filter(|_| self.few_since(since))
    }

    fn few_since(&self, since: Nanos) -> bool {
        self.starts.iter().filter(|t| **t >= since).count() <= 3
    }
}

/// How the load of the last third of buckets `first..=last` compares with the first third's;
/// `None` without load in the first.
fn load_growth(load: &VecDeque<(i64, u64)>, first: i64, last: i64) -> Option<f64> {
    {
        let third = ((last - first + 1) / 3).max(1);
        let mean = |from: i64, to: i64| {
            let n: u64 = load
                .iter()
                .filter(|(b, _)| (from..=to).contains(b))
                .map(|(_, n)| n)
                .sum();
            n as f64 / (to - from + 1) as f64
        };
        let early = mean(first, first + third - 1);
        (early > 0.0).then(|| mean(last - third + 1, last) / early)
    }
}

/// Detector for leak-like growth.
pub struct LeakDetector {
    config: LeakConfig,
    engine: EngineConfig,
    services: BTreeMap<String, ServiceState>,
}

impl LeakDetector {
    pub fn new(engine: EngineConfig) -> Self {
        LeakDetector::with_config(engine, LeakConfig::default())
    }

    pub fn with_config(engine: EngineConfig, config: LeakConfig) -> Self {
        LeakDetector {
            config,
            engine,
            services: BTreeMap::new(),
        }
    }
}

/// What a gauge is about; one alert per family, so rss and heapUsed of one leak are one alert.
fn family(name: &str) -> String {
    if is_memory(name) {
        return "memory".into();
    }
    let n = name.to_ascii_lowercase();
    for f in ["queue", "connections", "goroutines", "fds", "files"] {
        if n.contains(f) {
            return f.into();
        }
    }
    n
}

/// The outcome of a trend test on a floor window.
#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    pub z: f64,
    /// Per bucket.
    pub slope: f64,
    pub growth: f64,
}

/// Tests a floor series (oldest first, one value per bucket) for leak-like growth.
pub fn leak_trend(floors: &[f64], c: &LeakConfig) -> Option<Trend> {
    let n = floors.len();
    if n < c.min_buckets {
        return None;
    }
    let z = mann_kendall_z(floors);
    if z < c.min_z {
        return None;
    }
    let xs: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let slope = theil_sen(&xs, floors)?;
    let growth = slope * (n - 1) as f64;
    let level = median(floors)?.abs();
    let residuals: Vec<f64> = floors.iter().zip(&xs).map(|(y, x)| y - slope * x).collect();
    let noise = mad(&residuals)?;
    if slope <= 0.0 || growth < c.min_growth * level || growth < 3.0 * noise {
        return None;
    }
    let half = n / 2;
    let early = theil_sen(&xs[..half], &floors[..half])?;
    let late = theil_sen(&xs[half..], &floors[half..])?;
    if late <= 0.0 || late < c.min_persistence * early || mann_kendall_z(&floors[half..]) < 1.5 {
        return None;
    }
    Some(Trend { z, slope, growth })
}

impl Detector for LeakDetector {
    fn observe(&mut self, ev: &Event<'_>, out: &mut Vec<Alert>) {
        let found = samples(ev.rec);
        let limit = memory_limit(ev.rec);
        let keep = self.config.max_buckets + self.config.envelope + 1;
        let bucket = ev.time.div_euclid(self.config.bucket);
        if let Some(s) = self.services.get_mut(ev.service) {
            if let Some(v) = demand_of(ev.rec) {
                s.demand.note(bucket, v, keep);
            }
            if let Some(v) = cache_fill(ev.rec) {
                s.cache.note(bucket, v, keep);
            }
            if let Some(v) = inflow_of(ev.rec) {
                s.inflow.note(bucket, v, keep);
            }
            // A task's start may carry numbers that read as gauges (`workers=4`).
            if let Some((task, started)) = task_line(&ev.rec.message) {
                s.tasks.note(ev.time, task, started);
            }
        }
        if found.is_empty() && limit.is_none() {
            let service = self.services.get_mut(ev.service);
            if let Some(s) = service.filter(|_| !is_gc_line(&ev.rec.message)) {
                s.count_load(bucket, keep);
            }
            return;
        }
        if !self.services.contains_key(ev.service) {
            make_room(&mut self.services, self.engine.max_services, |s| {
                s.last_seen
            });
        }
        let s = self.services.entry(ev.service.to_string()).or_default();
        s.last_seen = s.last_seen.max(ev.time);
        if let Some(l) = limit {
            s.limit = Some(l.0);
        }
        for sample in found {
            observe_sample(s, ev, sample, &self.config, out);
        }
    }

    fn tick(&mut self, now: Nanos, _out: &mut Vec<Alert>) {
        let idle = self.engine.idle_after;
        self.services.retain(|_, s| now - s.last_seen < idle);
    }
}

fn observe_sample(
    s: &mut ServiceState,
    ev: &Event<'_>,
    sample: Sample,
    c: &LeakConfig,
    out: &mut Vec<Alert>,
) {
    // Each instance has its own series: two pods' heaps interleaved would read as one that
    // jumps, and one restarting would hide the other's growth.
    let instance = instance_of(ev);
    let key = match instance {
        Some(i) => format!("{}@{i}", sample.name),
        None => sample.name.clone(),
    };
    if !s.gauges.contains_key(&key) && s.gauges.len() >= c.max_gauges {
        // Instances come and go (pods, Lambda environments): the silent ones make room.
        s.gauges
            .retain(|_, series| ev.time - series.last_time <= c.max_gap);
        if s.gauges.len() >= c.max_gauges {
            return;
        }
    }
    let bucket = ev.time.div_euclid(c.bucket);
    let items = holds_items(&sample.name);
    if items {
        s.queued
            .note(bucket, sample.value, c.max_buckets + c.envelope + 1);
    }
    let series = s.gauges.entry(key).or_default();
    if series.last_time != 0 && ev.time - series.last_time > c.max_gap {
        series.floors.clear();
        series.bucket_line.clear();
        series.bucket = bucket;
        series.bucket_min = sample.value;
    }
    series.last_time = ev.time;
    series.capacity = sample.capacity.or(series.capacity);
    if series.bucket_line.is_empty() {
        series.bucket = bucket;
        series.bucket_min = sample.value;
        series.bucket_line = line_of(ev);
        return;
    }
    if bucket <= series.bucket {
        if sample.value < series.bucket_min {
            series.bucket_min = sample.value;
            series.bucket_line = line_of(ev);
        }
        return;
    }
    // The bucket is complete: add its floor, then look for a trend.
    let floor = series.bucket_min;
    let restarted = series
        .floors
        .iter()
        .rev()
        .take(3)
        .map(|f| f.1)
        .fold(f64::NEG_INFINITY, f64::max)
        * c.restart_drop
        > floor;
    if restarted {
        series.floors.clear();
        s.fired.remove(&family(&sample.name));
    }
    series.floors.push_back((
        series.bucket,
        floor,
        std::mem::take(&mut series.bucket_line),
    ));
    while series.floors.len() > c.max_buckets + c.envelope {
        series.floors.pop_front();
    }
    series.bucket = bucket;
    series.bucket_min = sample.value;
    series.bucket_line = line_of(ev);

    let fam = family(&sample.name);
    if s.fired.contains_key(&fam) {
        return;
    }
    let raw: Vec<f64> = series.floors.iter().map(|f| f.1).collect();
    let envelope: Vec<f64> = (c.envelope - 1..raw.len())
        .map(|i| {
            raw[i + 1 - c.envelope..=i]
                .iter()
                .copied()
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    let mut from = envelope.len().saturating_sub(c.max_buckets);
    // Only after the last long task: envelope[i] is the floor of bucket i + envelope - 1.
    let since = series
        .floors
        .get(from + c.envelope - 1)
        .map_or(Nanos::MAX, |f| f.0 * c.bucket);
    if let Some(end) = s.tasks.settled(since).map(|t| t.div_euclid(c.bucket)) {
        while from < envelope.len() && series.floors[from + c.envelope - 1].0 <= end {
            from += 1;
        }
    }
    let window = &envelope[from..];
    let Some(trend) = leak_trend(window, c) else {
        return;
    };
    let minutes_per_bucket = c.bucket as f64 / MINUTE as f64;
    let per_minute = trend.slope / minutes_per_bucket;
    let current = *window.last().unwrap_or(&floor);
    let start = window[0];
    let first = series
        .floors
        .len()
        .saturating_sub(window.len() + c.envelope - 1);
    // A leak is still growing: what already fell well back from its peak (a nightly batch's
    // queue draining) was a load that came and went. Raw floors, as the envelope lags a fall.
    let peak = raw[first..]
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    if floor < 0.85 * peak {
        return;
    }
    // A gauge that grows with the service's load (sessions, caches, pools filling in the
    // morning) is not leaking: it grew no faster than the load did. The load is the rate of
    // its other records, or the sessions, users or clients it says it serves (`demand`).
    let third = (window.len() / 3).max(1);
    let mean = |w: &[f64]| w.iter().sum::<f64>() / w.len() as f64;
    let (early, late) = (
        mean(&window[..third]),
        mean(&window[window.len() - third..]),
    );
    // Connections, queues and workers in use grow faster than the load near saturation
    // (what is in use is arrivals times time spent, and time spent grows too): up to the
    // square of the load's growth. Beyond that (idle connections piling up while requests
    // grew by half) it is a leak.
    let concurrency = !is_memory(&sample.name);
    let (from, to) = (series.floors[first].0, series.bucket - 1);
    // Memory also holds what waits in the service's queues: a backlog that grew explains
    // it (and, if the backlog never drains, is the leak to report).
    // A cache still filling up to the capacity it states holds memory by design, whatever the
    // ratio: after a restart the envelope's first third is the empty cache's.
    if !concurrency && s.cache.growth(from, to).is_some_and(|g| g >= 1.2) {
        return;
    }
    // A queue filling while the work arriving into it at least doubled is a surge.
    if items && s.inflow.growth(from, to).is_some_and(|g| g >= 2.0) {
        return;
    }
    let queued = (!concurrency).then(|| s.queued.growth(from, to)).flatten();
    let load = [
        load_growth(&s.load, from, to),
        s.demand.growth(from, to),
        queued,
    ]
    .into_iter()
    .flatten()
    .reduce(f64::max);
    if let (Some(load), true) = (load, early > 0.0) {
        if load >= 1.1 && late / early <= if concurrency { load * load } else { load } {
            return;
        }
    }
    // Nor is growth while a long task the service announced runs (a backfill, a migration):
    // the test runs again once the task has ended and what it held is let go, or not.
    if s.tasks.busy(series.floors[first].0 * c.bucket, ev.time) {
        return;
    }
    let limit = if is_memory(&sample.name) {
        s.limit.or(series.capacity)
    } else {
        series.capacity
    };
    let fingerprint = fingerprint_of(&["leak_growth", ev.service, &fam]);
    let mut details = serde_json::Map::new();
    details.insert("gauge".into(), Value::from(sample.name.clone()));
    details.insert(
        "slope_per_hour".into(),
        Value::from((per_minute * 60.0).round()),
    );
    details.insert("floor_start".into(), Value::from(start.round()));
    details.insert("floor_now".into(), Value::from(current.round()));
    details.insert(
        "window_minutes".into(),
        Value::from((window.len() as f64 * minutes_per_bucket).round()),
    );
    details.insert(
        "mann_kendall_z".into(),
        Value::from((trend.z * 100.0).round() / 100.0),
    );
    if let Some(i) = instance {
        details.insert("instance".into(), Value::from(i));
    }
    let mut title = format!(
        "{}{} floor rising {}/min ({} → {} over {} min)",
        sample.name,
        instance.map(|i| format!(" on {i}")).unwrap_or_default(),
        human(per_minute, is_memory(&sample.name)),
        human(start, is_memory(&sample.name)),
        human(current, is_memory(&sample.name)),
        (window.len() as f64 * minutes_per_bucket).round()
    );
    if let Some(limit) = limit.filter(|l| *l > current) {
        let minutes = (limit - current) / per_minute;
        let at = ev.time.saturating_add((minutes * MINUTE as f64) as Nanos);
        details.insert("limit".into(), Value::from(limit.round()));
        details.insert(
            "exhaustion_at".into(),
            Value::from(firewatch_ingest::record::rfc3339_nanos::format(at)),
        );
        title.push_str(&format!(
            ", limit {} reached in ~{} min",
            human(limit, is_memory(&sample.name)),
            minutes.round()
        ));
    }
    let first_seen = series.floors[first].0 * c.bucket;
    let evidence = [first, series.floors.len() - 1]
        .iter()
        .map(|&i| series.floors[i].2.clone())
        .chain(std::iter::once(line_of(ev)))
        .collect();
    s.fired.insert(fam, fingerprint.clone());
    out.push(Alert {
        kind: AlertKind::LeakGrowth,
        state: AlertState::Firing,
        service: ev.service.to_string(),
        fingerprint,
        detected_at: ev.time,
        first_seen,
        last_seen: ev.time,
        count: window.len() as u64,
        severity: if limit.is_some() {
            Severity::Critical
        } else {
            Severity::Warning
        },
        title,
        evidence,
        details,
    });
}

/// Does a gauge count items waiting: a queue's depth, a backlog, a consumer's lag?
fn holds_items(name: &str) -> bool {
    family(name) == "queue" || {
        let n = name.to_ascii_lowercase();
        n.contains("backlog") || n.ends_with("lag")
    }
}

/// The instance of the service a record comes from, when the record says: a Kubernetes pod,
/// a CloudWatch log stream (a Lambda execution environment), a host.
fn instance_of<'a>(ev: &Event<'a>) -> Option<&'a str> {
    ["pod", "log_stream", "hostname"]
        .iter()
        .find_map(|k| ev.rec.fields.get(*k)?.as_str())
        .filter(|i| !i.is_empty() && i.len() <= 128)
}

fn line_of(ev: &Event<'_>) -> String {
    evidence_lines(truncate(&ev.rec.message, 400), 1).concat()
}

fn human(v: f64, bytes: bool) -> String {
    if !bytes {
        return format!("{v:.1}");
    }
    let mb = v / (1024.0 * 1024.0);
    if mb.abs() >= 1024.0 {
        format!("{:.2} GB", mb / 1024.0)
    } else {
        format!("{mb:.1} MB")
    }
}

#[cfg(test)]
mod tests;
