//! The benchmark's corpus: `firewatch gen` logs (seeded, with a rejection and a spike incident)
//! written as raw files, then parsed as a shipper would and stored in a node store.
//!
//! A finished corpus is marked with `corpus.done` (its line count and time span), so a later
//! run given the same directory and size reuses it instead of building it again.

use std::fs::{self, File};
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use firewatch_index::{Store, StoreConfig, StoreError};
use firewatch_ingest::gen::{self, DirSink, GenConfig, Generator, IncidentSpec, Limits, Onset};
use firewatch_ingest::gen::{Pace, SERVICES};
use firewatch_ingest::parse::{parse_reader, ParseOptions, SourceInfo};
use firewatch_ingest::{LogRecord, Nanos};

/// 2026-11-20T00:00:00Z, the corpus's first event.
pub const START: Nanos = 1_795_132_800_000_000_000;
const BATCH: usize = 5_000;

pub struct Corpus {
    pub raw: PathBuf,
    pub data: PathBuf,
    pub raw_bytes: u64,
    /// Event time of the last line.
    pub end: Nanos,
    /// How long generating and storing took (zero when reused).
    pub built_in: Duration,
}

impl Corpus {
    /// The raw log files, one per service.
    pub fn files(&self) -> Vec<String> {
        SERVICES
            .iter()
            .map(|s| {
                self.raw
                    .join(format!("{}.log", s.name))
                    .display()
                    .to_string()
            })
            .collect()
    }

    pub fn store_config(&self) -> StoreConfig {
        StoreConfig {
            data_dir: self.data.clone(),
            commit_interval_ms: 500,
            ..Default::default()
        }
    }
}

/// The corpus of `lines` lines under `dir`, built unless a finished one is there.
pub fn prepare(dir: &Path, lines: u64) -> Result<Corpus, Box<dyn std::error::Error>> {
    let mut corpus = Corpus {
        raw: dir.join("raw"),
        data: dir.join("data"),
        raw_bytes: 0,
        end: START,
        built_in: Duration::ZERO,
    };
    let done = dir.join("corpus.done");
    if let Ok(text) = fs::read_to_string(&done) {
        let mut parts = text.split_whitespace().map(|p| p.parse::<i64>());
        if let (Some(Ok(n)), Some(Ok(end)), Some(Ok(bytes))) =
            (parts.next(), parts.next(), parts.next())
        {
            if n as u64 == lines {
                corpus.end = end;
                corpus.raw_bytes = bytes as u64;
                return Ok(corpus);
            }
        }
    }
    let began = Instant::now();
    let _ = fs::remove_dir_all(&corpus.data);
    let run_length = (lines as f64 / 100.0 * 1e9) as Nanos;
    let incidents = ["rejection", "spike"]
        .iter()
        .map(|k| {
            k.parse::<IncidentSpec>()?
                .resolve(START, Some(run_length), Onset::Fraction(0.33))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut generator = Generator::new(GenConfig {
        seed: 1,
        start: START,
        rate: 100.0,
        incidents,
    })?;
    let names: Vec<&str> = SERVICES.iter().map(|s| s.name).collect();
    let mut sink = DirSink::create(&corpus.raw, &names, None)?;
    let limits = Limits {
        lines: Some(lines),
        duration: None,
    };
    let stats = gen::run(&mut generator, &mut sink, Pace::Fast, limits)?;
    drop(sink);
    corpus.end = stats.last_event;
    corpus.raw_bytes = stats.bytes;
    store_all(&corpus)?;
    corpus.built_in = began.elapsed();
    fs::write(
        &done,
        format!("{lines} {} {}\n", corpus.end, corpus.raw_bytes),
    )?;
    Ok(corpus)
}

/// Parses every service's file and stores the records, the services' batches interleaved as
/// a node receiving from several shippers would see them.
fn store_all(corpus: &Corpus) -> Result<(), Box<dyn std::error::Error>> {
    let store = Store::open(corpus.store_config())?;
    let runtime = tokio::runtime::Runtime::new()?;
    let mut readers = Vec::new();
    for (i, path) in corpus.files().into_iter().enumerate() {
        let info = SourceInfo {
            source: path.clone(),
            host: "bench-1".into(),
            service: Some(SERVICES[i].name.to_string()),
            fingerprint: 0xbe0c_0000 + i as u64,
        };
        let file = BufReader::with_capacity(256 << 10, File::open(&path)?);
        readers.push(parse_reader(file, info, ParseOptions::default(), START));
    }
    let mut stored = 0u64;
    while !readers.is_empty() {
        readers.retain_mut(|reader| {
            let batch: Vec<LogRecord> = reader.by_ref().take(BATCH).collect();
            if batch.is_empty() {
                return false;
            }
            stored += batch.len() as u64;
            append(&runtime, &store, batch);
            true
        });
    }
    let reader = store.reader();
    while reader.snapshot().indexed_records().expect("index").0 < stored {
        std::thread::sleep(Duration::from_millis(50));
    }
    store.close();
    Ok(())
}

/// Appends a batch, waiting while the store pushes back.
fn append(runtime: &tokio::runtime::Runtime, store: &Store, batch: Vec<LogRecord>) {
    let mut wait = Duration::from_millis(20);
    loop {
        match runtime.block_on(store.append(batch.clone())) {
            Err(StoreError::Overloaded { .. }) => {
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(1));
            }
            Err(e) => panic!("append failed: {e}"),
            Ok(_) => return,
        }
    }
}
