//! Injected incidents: what the user asks for (`--incident leak@30m+10m`) and when it happens.
//!
//! An [`IncidentSpec`] is the request as typed; [`IncidentSpec::resolve`] pins it to event time
//! once the run's length is known, giving an [`Incident`] with an onset and a length. Defaults
//! scale with the run so that a short test run and a day-long demo both show the whole story
//! (onset a third of the way in, the leak reaching its crash before the end).

use std::fmt;
use std::str::FromStr;

use crate::record::{rfc3339_nanos, Nanos};

use super::GenError;

const SECOND: Nanos = 1_000_000_000;
const MINUTE: Nanos = 60 * SECOND;

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IncidentKind {
    /// Node services leave promises unhandled: `UnhandledPromiseRejectionWarning`s on Node 14,
    /// a crash block and a restart on Node 18.
    Rejection,
    /// The error ratio of `inventory` and of the gateway's upstream routes jumps, then recovers.
    Spike,
    /// `users` leaks memory: its heap floor grows (gauges and `--trace-gc` lines) up to a
    /// `JavaScript heap out of memory` crash and a restart.
    Leak,
}

impl IncidentKind {
    pub const ALL: [IncidentKind; 3] = [Self::Rejection, Self::Spike, Self::Leak];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rejection => "rejection",
            Self::Spike => "spike",
            Self::Leak => "leak",
        }
    }

    /// Length when none is given: a share of the run, within sensible bounds.
    fn default_length(self, run: Option<Nanos>) -> Nanos {
        let (share, min, max, unbounded) = match self {
            Self::Rejection | Self::Spike => (10, MINUTE, 10 * MINUTE, 5 * MINUTE),
            Self::Leak => (4, 2 * MINUTE, 45 * MINUTE, 20 * MINUTE),
        };
        run.map_or(unbounded, |run| (run / share).clamp(min, max))
    }
}

impl fmt::Display for IncidentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When an incident starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Onset {
    /// This long after the start of event time (`30m`).
    After(Nanos),
    /// This share of the run (`33%`); needs a bounded run.
    Fraction(f64),
    /// At this event time (RFC 3339).
    At(Nanos),
}

impl Default for Onset {
    fn default() -> Self {
        Onset::Fraction(1.0 / 3.0)
    }
}

impl FromStr for Onset {
    type Err = GenError;

    fn from_str(s: &str) -> Result<Self, GenError> {
        let bad = || GenError::BadOnset(s.to_string());
        if let Some(pct) = s.strip_suffix('%') {
            let pct: f64 = pct.trim().parse().map_err(|_| bad())?;
            if !(0.0..=100.0).contains(&pct) {
                return Err(bad());
            }
            return Ok(Onset::Fraction(pct / 100.0));
        }
        if let Some(ns) = rfc3339_nanos::parse(s) {
            return Ok(Onset::At(ns));
        }
        parse_duration(s).map(Onset::After).map_err(|_| bad())
    }
}

/// An incident as requested: `KIND[@ONSET][+LENGTH]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IncidentSpec {
    pub kind: IncidentKind,
    pub onset: Option<Onset>,
    pub length: Option<Nanos>,
}

impl FromStr for IncidentSpec {
    type Err = GenError;

    fn from_str(s: &str) -> Result<Self, GenError> {
        let (rest, length) = match s.rsplit_once('+') {
            // A `+` inside an RFC 3339 offset (`+02:00`) is not a length.
            Some((rest, len)) if !len.contains(':') => (rest, Some(parse_duration(len)?)),
            _ => (s, None),
        };
        let (kind, onset) = match rest.split_once('@') {
            Some((kind, onset)) => (kind, Some(onset.parse()?)),
            None => (rest, None),
        };
        let kind = match kind.trim().to_ascii_lowercase().as_str() {
            "rejection" => IncidentKind::Rejection,
            "spike" => IncidentKind::Spike,
            "leak" => IncidentKind::Leak,
            _ => return Err(GenError::UnknownIncident(kind.to_string())),
        };
        Ok(IncidentSpec {
            kind,
            onset,
            length,
        })
    }
}

impl IncidentSpec {
    /// Pins the incident to event time. `run` is the run's length in event time when it is
    /// bounded; `default_onset` applies when the spec names none.
    pub fn resolve(
        &self,
        start: Nanos,
        run: Option<Nanos>,
        default_onset: Onset,
    ) -> Result<Incident, GenError> {
        let onset = match self.onset.unwrap_or(default_onset) {
            Onset::After(d) => start.saturating_add(d),
            Onset::At(t) => t,
            Onset::Fraction(f) => match run {
                Some(run) => start.saturating_add((run as f64 * f) as Nanos),
                // An open-ended run (real time, no stop) starts incidents after 90 seconds.
                None if self.onset.is_none() => start + 90 * SECOND,
                None => return Err(GenError::FractionNeedsBoundedRun),
            },
        };
        Ok(Incident {
            kind: self.kind,
            onset,
            length: self
                .length
                .unwrap_or_else(|| self.kind.default_length(run))
                .max(SECOND),
        })
    }
}

/// An incident pinned to event time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incident {
    pub kind: IncidentKind,
    /// Event time (ns) at which it starts.
    pub onset: Nanos,
    /// How long it lasts; for a leak, the time from onset to the out-of-memory crash.
    pub length: Nanos,
}

impl Incident {
    pub fn end(&self) -> Nanos {
        self.onset.saturating_add(self.length)
    }

    /// Share of the incident elapsed at `now`, when it is under way.
    pub fn progress(&self, now: Nanos) -> Option<f64> {
        (self.onset..self.end())
            .contains(&now)
            .then(|| (now - self.onset) as f64 / self.length as f64)
    }
}

/// Parses `90s`, `30m`, `1h30m`, `2h`, `1d`, `500ms` (units may be combined; no unit is an
/// error, so `30` is not silently seconds or minutes).
pub fn parse_duration(s: &str) -> Result<Nanos, GenError> {
    let bad = || GenError::BadDuration(s.to_string());
    let mut total: Nanos = 0;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let value: Nanos = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => 1_000_000,
            "s" => SECOND,
            "m" => MINUTE,
            "h" => 60 * MINUTE,
            "d" => 24 * 60 * MINUTE,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total = value
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("90s").unwrap(), 90 * SECOND);
        assert_eq!(parse_duration("1h30m").unwrap(), 90 * MINUTE);
        assert_eq!(parse_duration("500ms").unwrap(), SECOND / 2);
        for bad in ["", "30", "5x", "m", "99999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_specs() {
        let s: IncidentSpec = "leak@30m+10m".parse().unwrap();
        assert_eq!(s.kind, IncidentKind::Leak);
        assert_eq!(s.onset, Some(Onset::After(30 * MINUTE)));
        assert_eq!(s.length, Some(10 * MINUTE));
        let s: IncidentSpec = "spike@2026-11-20T10:00:00+00:00".parse().unwrap();
        assert_eq!(s.length, None);
        assert!(matches!(s.onset, Some(Onset::At(_))));
        let s: IncidentSpec = "Rejection@50%".parse().unwrap();
        assert_eq!(s.onset, Some(Onset::Fraction(0.5)));
        assert!("flood".parse::<IncidentSpec>().is_err());
        assert!("spike@soon".parse::<IncidentSpec>().is_err());
        assert!("spike@150%".parse::<IncidentSpec>().is_err());
    }

    #[test]
    fn default_onset_is_a_third_of_the_run() {
        let spec: IncidentSpec = "spike".parse().unwrap();
        let hour = 60 * MINUTE;
        let inc = spec.resolve(0, Some(3 * hour), Onset::default()).unwrap();
        assert_eq!(inc.onset, hour);
        assert_eq!(inc.length, 10 * MINUTE);
        assert_eq!(inc.progress(hour + 5 * MINUTE), Some(0.5));
        assert_eq!(inc.progress(hour + 10 * MINUTE), None);
        let open = spec.resolve(0, None, Onset::default()).unwrap();
        assert_eq!(open.onset, 90 * SECOND);
        let pct: IncidentSpec = "spike@10%".parse().unwrap();
        assert!(pct.resolve(0, None, Onset::default()).is_err());
    }
}
