//! `analyze` over a node's archive against `analyze` over the raw files shipped into it, the
//! summaries, and the HTML report read back with a real HTML parser.

use std::path::{Path, PathBuf};

use firewatch_ingest::LogRecord;
use serde_json::Value;

use super::*;
use crate::input::expand;

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/scenarios")
}

/// The records `analyze` reads from the files of `dir`, per file, as a shipper would send them.
fn records_per_file(dir: &Path) -> Vec<Vec<LogRecord>> {
    let (inputs, errors) = expand(&[dir]);
    assert!(errors.is_empty());
    inputs
        .iter()
        .map(|input| {
            let observed = std::fs::metadata(&input.path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as Nanos);
            RecordStream::open(input, observed).unwrap().collect()
        })
        .collect()
}

/// A data directory holding `batches` in this order, in segments of a few hundred records.
fn store(dir: &Path, batches: &[Vec<LogRecord>]) {
    let cfg = firewatch_index::StoreConfig {
        data_dir: dir.into(),
        commit_interval_ms: 10,
        block_bytes: 8_000,
        segment_max_bytes: 60_000,
        ..Default::default()
    };
    let store = firewatch_index::Store::open(cfg).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    for batch in batches {
        rt.block_on(store.append(batch.clone())).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(12));
    }
    store.close();
}

fn report(analysis: &Analysis) -> Value {
    let mut v = render_json(analysis);
    // Inputs are files on one side, segments on the other.
    v["inputs"] = Value::Null;
    v
}

#[test]
fn analyze_over_the_archive_equals_analyze_over_the_shipped_files() {
    let raw = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(scenarios()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, raw.path().join(path.file_name().unwrap())).unwrap();
    }
    let expected = analyze(&[raw.path()], Engine::default());
    assert!(expected.alerts.len() >= 3, "{:?}", expected.alerts);
    assert!(expected.errors.is_empty());
    let files = records_per_file(raw.path());

    // As a live fleet ships: records of all files interleaved in time order.
    let streams: Vec<Box<dyn Records>> = expand(&[raw.path()])
        .0
        .iter()
        .zip(&files)
        .map(|(_, recs)| Box::new(Replay(recs.clone().into())) as Box<dyn Records>)
        .collect();
    let live: Vec<LogRecord> = Merge::new(streams).collect();
    // As a backfill ships: one file after the other.
    let backfill: Vec<LogRecord> = files.concat();
    for (name, order) in [("live", live), ("backfill", backfill)] {
        let data = tempfile::tempdir().unwrap();
        let batches: Vec<Vec<LogRecord>> = order.chunks(150).map(<[_]>::to_vec).collect();
        store(data.path(), &batches);
        let segments = firewatch_index::DataDir::open(data.path()).unwrap();
        assert!(segments.segments().len() > 1, "{name}");
        let got = analyze(&[data.path()], Engine::default());
        assert!(got.errors.is_empty(), "{name}: {:?}", got.errors);
        assert_eq!(got.records, expected.records, "{name}");
        assert_eq!(report(&got), report(&expected), "{name}");
    }
}

/// Records replayed from memory.
struct Replay(std::collections::VecDeque<LogRecord>);

impl Iterator for Replay {
    type Item = LogRecord;
    fn next(&mut self) -> Option<LogRecord> {
        self.0.pop_front()
    }
}

impl Records for Replay {
    fn peek_time(&mut self) -> Option<Nanos> {
        self.0.front().map(|r| r.timestamp)
    }
    fn take_errors(&mut self) -> Vec<InputError> {
        Vec::new()
    }
}

/// A data directory holding the scenarios' records in batches of 150, and its analysis.
fn scenarios_data_dir(dir: &Path) -> Analysis {
    let files = records_per_file(&scenarios());
    let batches: Vec<Vec<LogRecord>> = files.concat().chunks(150).map(<[_]>::to_vec).collect();
    store(dir, &batches);
    analyze(&[dir], Engine::default())
}

#[test]
fn a_corrupt_segment_is_reported_and_the_rest_analyzed() {
    let data = tempfile::tempdir().unwrap();
    let whole = scenarios_data_dir(data.path());
    let (inputs, _) = expand(&[data.path()]);
    let bytes = std::fs::read(&inputs[1].path).unwrap();
    std::fs::write(&inputs[1].path, &bytes[..bytes.len() / 3]).unwrap();
    let got = analyze(&[data.path()], Engine::default());
    assert_eq!(got.errors.len(), 1, "{:?}", got.errors);
    assert_eq!(got.errors[0].path, inputs[1].path);
    assert!(got.records > 0 && got.records < whole.records);
}

#[test]
fn a_damaged_block_costs_only_its_own_records() {
    let data = tempfile::tempdir().unwrap();
    let whole = scenarios_data_dir(data.path());
    let (inputs, _) = expand(&[data.path()]);
    let open = |i: &crate::input::Input| firewatch_index::SealedSegment::open(&i.path).unwrap();
    let input = inputs.iter().max_by_key(|i| open(i).blocks()).unwrap();
    assert!(open(input).blocks() >= 2);
    let lost = open(input).block(0).unwrap().len();
    let mut bytes = std::fs::read(&input.path).unwrap();
    bytes[8] ^= 0x55; // the first block's zstd magic
    std::fs::write(&input.path, &bytes).unwrap();
    let got = analyze(&[data.path()], Engine::default());
    assert_eq!(got.errors.len(), 1, "{:?}", got.errors);
    assert!(
        got.errors[0].to_string().contains("block 0"),
        "{}",
        got.errors[0]
    );
    assert_eq!(got.records, whole.records - lost as u64);
}

/// A hostile log: markup in messages and in a service name, and a heap that grows to its limit.
fn hostile_logs(dir: &Path) {
    let t0 = 1_763_632_800i64; // 2025-11-20T10:00:00Z
    let mut api = String::new();
    for m in 0..180 {
        let t = rfc(t0 + m * 60);
        api.push_str(&format!(
            "{{\"time\":\"{t}\",\"level\":\"info\",\"msg\":\"memory\",\"heapUsed\":{},\"maxOldSpaceSize\":512}}\n",
            (100 + m * 2) * 1_048_576
        ));
        if m % 10 == 0 {
            api.push_str(&format!(
                "{{\"time\":\"{t}\",\"level\":\"error\",\"msg\":\"</script><img src=x onerror=alert(1)> failed\"}}\n"
            ));
        }
    }
    std::fs::write(dir.join("api.log"), api).unwrap();
    let evil = format!(
        "{{\"time\":\"{}\",\"level\":\"error\",\"service\":\"<b onmouseover=x>svc\",\"msg\":\"(node:1) UnhandledPromiseRejectionWarning: Error: <script>alert(2)</script>\"}}\n",
        rfc(t0 + 600)
    );
    std::fs::write(dir.join("evil.log"), evil).unwrap();
}

fn rfc(secs: i64) -> String {
    firewatch_ingest::record::rfc3339_nanos::format(secs * 1_000_000_000)
}

#[test]
fn summary_and_html_report_hold_the_data_and_escape_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    hostile_logs(dir.path());
    let analysis = analyze(&[dir.path()], Engine::default());
    let summary = analysis.summary.as_ref().unwrap();
    let api = summary
        .services
        .iter()
        .find(|s| s.service == "api")
        .unwrap();
    assert_eq!((api.records, api.errors), (198, 18));
    assert_eq!(api.timeline.iter().map(|p| p.records).sum::<u64>(), 198);
    let heap = summary
        .gauges
        .iter()
        .find(|g| g.service == "api" && g.gauge == "heapUsed")
        .unwrap();
    let trend = heap.trend.as_ref().unwrap();
    // 2 MiB a minute.
    assert!(
        (trend.slope_per_hour - 120.0 * 1_048_576.0).abs() < 1.0,
        "{trend:?}"
    );
    assert_eq!(heap.limit, Some(512.0 * 1_048_576.0));
    // (512 - 100) / 2 = 206 minutes after the start.
    assert_eq!(
        trend.exhaustion_at.as_deref(),
        Some(rfc(1_763_632_800 + 206 * 60).as_str())
    );
    assert_eq!(summary.fingerprints[0].count, 18);
    assert!(summary.fingerprints[0].sample.contains("</script>"));
    assert_eq!(summary.rejections.len(), 1);
    let text = render_text(&analysis);
    assert!(
        text.contains("top error fingerprints:") && text.contains("heapUsed"),
        "{text}"
    );

    let html = render_html(&analysis);
    let doc = scraper::Html::parse_document(&html);
    assert!(doc.errors.is_empty(), "{:?}", doc.errors);
    let sel = |s: &str| scraper::Selector::parse(s).unwrap();
    // Nothing from the logs became markup.
    assert_eq!(doc.select(&sel("img")).count(), 0);
    assert_eq!(doc.select(&sel("b")).count(), 0);
    let scripts: Vec<_> = doc.select(&sel("script")).collect();
    assert_eq!(scripts.len(), 1);
    assert_eq!(scripts[0].value().attr("type"), Some("application/json"));
    let data: Value = serde_json::from_str(&scripts[0].text().collect::<String>()).unwrap();
    assert_eq!(data, render_json(&analysis));
    // The hostile service name is text, in its section's attribute and heading.
    let evil = doc
        .select(&sel("section.service"))
        .find(|s| s.value().attr("data-service") == Some("<b onmouseover=x>svc"))
        .unwrap();
    let heading: String = evil.select(&sel("h3")).next().unwrap().text().collect();
    assert_eq!(heading, "<b onmouseover=x>svc");
    // Charts: two per service, one per gauge, each an inline SVG whose line has a point per
    // bucket of the timeline.
    let charts = doc.select(&sel("figure.chart > svg")).count();
    assert_eq!(charts, 2 * summary.services.len() + summary.gauges.len());
    let api_section = doc
        .select(&sel("section.service"))
        .find(|s| s.value().attr("data-service") == Some("api"))
        .unwrap();
    // The longest line of the volume chart is the records series (axes are 2-point lines).
    let longest = api_section
        .select(&sel("figure[data-kind=volume] polyline"))
        .map(|p| p.value().attr("points").unwrap().split_whitespace().count())
        .max();
    assert_eq!(longest, Some(api.timeline.len()));
    let alerts_cells: String = doc
        .select(&sel("table.alerts"))
        .flat_map(|t| t.text())
        .collect();
    assert!(
        alerts_cells.contains("<script>alert(2)</script>"),
        "{alerts_cells}"
    );
}

/// Every record of the segments, per source in archive order, merged by time (ties to the
/// smaller source): what `ArchiveStream` yields, computed with everything in memory.
fn merged_in_memory(inputs: &[crate::input::Input]) -> Vec<LogRecord> {
    let mut queues: std::collections::BTreeMap<String, std::collections::VecDeque<LogRecord>> =
        Default::default();
    for input in inputs {
        let segment = input.open_segment().unwrap();
        for b in 0..segment.blocks() {
            for rec in segment.block(b).unwrap() {
                queues.entry(rec.source.clone()).or_default().push_back(rec);
            }
        }
    }
    let mut out = Vec::new();
    while let Some((_, queue)) = queues
        .iter_mut()
        .filter(|(_, q)| !q.is_empty())
        .min_by_key(|(s, q)| (q[0].timestamp, s.to_string()))
    {
        out.push(queue.pop_front().unwrap());
    }
    out
}

#[test]
fn a_backfill_is_merged_in_bounded_memory() {
    // Four files over the same hour, shipped one after the other, so every segment spans that
    // hour; times step back now and then, as lines without a time of their own do.
    let files: Vec<Vec<LogRecord>> = (0..4)
        .map(|f| {
            (0..500i64)
                .map(|i| LogRecord {
                    id: LogRecord::file_id(f, i as u64 * 100),
                    timestamp: 1_763_632_800_000_000_000 + (i - i % 7 * 3) * 7_000_000_000,
                    observed: 1_763_640_000_000_000_000,
                    service: format!("app-{f}"),
                    host: "web-1".into(),
                    source: format!("/var/log/app-{f}.log"),
                    level: firewatch_ingest::Level::Info,
                    level_raw: None,
                    message: format!("request {i} of file {f} done"),
                    fields: Default::default(),
                })
                .collect()
        })
        .collect();
    let batches: Vec<Vec<LogRecord>> = files.concat().chunks(50).map(<[_]>::to_vec).collect();
    let data = tempfile::tempdir().unwrap();
    store(data.path(), &batches);
    let (inputs, _) = expand(&[data.path()]);
    assert!(inputs.len() > 1, "{} segments", inputs.len());
    let want = merged_in_memory(&inputs);
    assert_eq!(want.len(), files.iter().map(Vec::len).sum::<usize>());
    let largest_block = inputs
        .iter()
        .flat_map(|i| {
            let segment = i.open_segment().unwrap();
            (0..segment.blocks()).map(move |b| segment.block(b).unwrap().len())
        })
        .max()
        .unwrap();
    assert!(
        largest_block * 5 < want.len(),
        "{largest_block} of {}",
        want.len()
    );
    for budget in [1, 400, usize::MAX] {
        let mut stream = ArchiveStream::with_budget(inputs.clone(), None, budget);
        let (mut got, mut peak) = (Vec::new(), 0);
        while let Some(rec) = stream.next() {
            peak = peak.max(stream.cached_records());
            got.push(rec);
        }
        assert!(stream.take_errors().is_empty());
        assert_eq!(got, want, "budget {budget}");
        // The budget, or a block per source (and one more) when that is more.
        if budget < usize::MAX {
            let bound = budget.max((files.len() + 1) * largest_block);
            assert!(peak <= bound, "budget {budget}: {peak} records cached");
        }
    }
}
