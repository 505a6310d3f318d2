//! Archive `grep` against the straightforward way: every record decoded, rendered with the
//! general formatters, searched, with no block skipped. Output must be byte-identical.

use firewatch_index::block;
use firewatch_index::block_filter::{BlockFilter, FilterBuilder};
use firewatch_ingest::record::rfc3339_nanos;
use firewatch_ingest::{Level, LogRecord};
use proptest::prelude::*;

use super::archive::{grep_body, Scratch};
use super::search::search;
use super::*;

/// The text a record is searched as, from the decoded record.
pub(super) fn record_text(rec: &LogRecord, out: &mut Vec<u8>) {
    out.extend_from_slice(rfc3339_nanos::format(rec.timestamp).as_bytes());
    out.push(b' ');
    out.extend_from_slice(rec.level.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(rec.service.as_bytes());
    out.push(b' ');
    out.extend_from_slice(rec.message.as_bytes());
    if !rec.fields.is_empty() {
        out.push(b' ');
        out.extend_from_slice(serde_json::to_string(&rec.fields).unwrap().as_bytes());
    }
}

/// One block's output the straightforward way.
fn reference(records: &[LogRecord], opts: &GrepOptions) -> (Vec<u8>, usize) {
    let mut buf = Vec::new();
    let mut starts = Vec::new();
    for rec in records {
        starts.push(buf.len());
        record_text(rec, &mut buf);
        buf.push(b'\n');
    }
    starts.push(buf.len());
    let mut chosen: Vec<usize> = Vec::new();
    for hit in search(&opts.matcher, &buf, usize::MAX) {
        let i = starts.partition_point(|&s| s <= hit.start) - 1;
        if chosen.last() != Some(&i) && opts.filter.accepts(&records[i]) {
            chosen.push(i);
        }
    }
    let mut out = Vec::new();
    for &i in &chosen {
        match opts.mode {
            OutputMode::Json => {
                serde_json::to_writer(&mut out, &records[i]).unwrap();
                out.push(b'\n');
            }
            OutputMode::Lines => {
                let text = &buf[starts[i]..starts[i + 1] - 1];
                for (n, line) in text.split(|&b| b == b'\n').enumerate() {
                    out.extend_from_slice(records[i].source.as_bytes());
                    out.push(if n == 0 { b':' } else { b'-' });
                    out.extend_from_slice(line);
                    out.push(b'\n');
                }
            }
            OutputMode::Count | OutputMode::FilesWithMatches => {}
        }
    }
    (out, chosen.len())
}

const WORDS: &[&str] = &[
    "error",
    "ERROR",
    "info",
    "warn",
    "api",
    "db",
    "checkout",
    "GET",
    "/orders",
    "timeout",
    "503",
    "2026-11-20",
    "10:00",
    "T10",
    "at",
    "fail",
    "Z",
    "-",
    ":",
    "é",
    "\"x\"",
];

fn words(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec((proptest::sample::select(WORDS), "[ \n]?"), 0..max)
        .prop_map(|ws| ws.into_iter().map(|(w, sep)| format!("{w}{sep}")).collect())
}

prop_compose! {
    fn record()(
        timestamp in 1_763_600_000_000_000_000i64..1_763_800_000_000_000_000,
        service in proptest::sample::select(&["api", "db", "checkout", "error", "2026"][..]),
        level in 0usize..6,
        message in words(8),
        field in proptest::option::of(words(3)),
    ) -> LogRecord {
        let mut rec = LogRecord {
            id: LogRecord::file_id(3, timestamp as u64 % 1000),
            timestamp,
            observed: timestamp,
            service: service.to_string(),
            host: "h".into(),
            source: format!("/var/log/{service}.log"),
            level: Level::ALL[level],
            level_raw: None,
            message,
            fields: Default::default(),
        };
        if let Some(f) = field {
            rec.fields.insert("k".into(), serde_json::json!({"v": f, "n": 503}));
        }
        rec
    }
}

/// Patterns cut from the rendered texts (so they span timestamps, levels, services and
/// separators), words, and regexes.
fn patterns(texts: Vec<String>) -> impl Strategy<Value = (Vec<String>, PatternKind, bool)> {
    let n = texts.len();
    let cut =
        (0..n.max(1), any::<prop::sample::Index>(), 1usize..14).prop_map(move |(i, start, len)| {
            let t = texts.get(i).map_or("", String::as_str).as_bytes();
            let s = start.index(t.len().max(1)).min(t.len());
            let bytes = &t[s..(s + len).min(t.len())];
            String::from_utf8_lossy(bytes).into_owned()
        });
    let one = prop_oneof![
        4 => cut,
        2 => proptest::sample::select(WORDS).prop_map(str::to_string),
        1 => proptest::sample::select(&[
            r"error \S+ \w+", r"\d+ GET", r"api (GET|timeout)", r"(?:fail|503)$",
            r"^2026-11-\d+T", r"\bat\b", r"o.+e", r"checkout|/orders", r"info db",
        ][..]).prop_map(str::to_string),
    ];
    (
        proptest::collection::vec(one, 1..4),
        proptest::sample::select(&[PatternKind::Auto, PatternKind::Literal][..]),
        any::<bool>(),
    )
}

fn case() -> impl Strategy<Value = (Vec<LogRecord>, (Vec<String>, PatternKind, bool))> {
    proptest::collection::vec(record(), 0..12).prop_flat_map(|records| {
        let texts = records
            .iter()
            .map(|r| {
                let mut t = Vec::new();
                record_text(r, &mut t);
                String::from_utf8(t).unwrap()
            })
            .collect();
        (Just(records), patterns(texts))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn block_output_equals_the_straightforward_way((records, (pats, kind, ic)) in case()) {
        let Ok(m) = Matcher::new(&pats, kind, ic) else { return Ok(()) };
        let mut body = Vec::new();
        block::encode(&records, &mut body);
        let t0 = records.first().map_or(0, |r| r.timestamp);
        let filters = [
            RecordFilter::default(),
            RecordFilter { since: Some(t0), until: Some(t0 + 100_000_000_000_000), fields: vec![] },
            RecordFilter { fields: vec!["service=db".parse().unwrap()], ..Default::default() },
            RecordFilter { fields: vec!["k.n=503".parse().unwrap()], since: Some(t0 + 1), ..Default::default() },
        ];
        let bits = FilterBuilder::default().build_for_records(&records);
        let mut scratch = Scratch::default();
        for mode in [OutputMode::Lines, OutputMode::Count, OutputMode::Json] {
            for filter in &filters {
                let mut opts = GrepOptions::new(m.clone());
                opts.mode = mode;
                opts.filter = filter.clone();
                let want = reference(&records, &opts);
                let got = grep_body(&body, &opts, &mut scratch).unwrap();
                prop_assert_eq!(
                    String::from_utf8_lossy(&got.0), String::from_utf8_lossy(&want.0),
                    "{:?} {:?} -i={} {:?} {:?}", pats, kind, ic, mode, filter
                );
                prop_assert_eq!(got.1, want.1);
                if want.1 > 0 {
                    // The block filter never rules out a block with a match.
                    prop_assert!(m.prefilter().is_none_or(|p| p.may_pass(BlockFilter::new(&bits))));
                }
                opts.matcher = m.without_prefilter();
                let unfiltered = grep_body(&body, &opts, &mut scratch).unwrap();
                prop_assert_eq!(unfiltered, got);
            }
        }
    }
}

#[test]
fn matches_in_rendered_parts_are_not_skipped() {
    // The body holds none of these as they appear in the record text.
    let rec = LogRecord {
        id: "x:1".into(),
        timestamp: 1_763_632_800_123_456_789,
        observed: 0,
        service: "checkout".into(),
        host: "h".into(),
        source: "/var/log/c.log".into(),
        level: Level::Error,
        level_raw: None,
        message: "GET /orders".into(),
        fields: Default::default(),
    };
    let mut body = Vec::new();
    block::encode(std::slice::from_ref(&rec), &mut body);
    let bits = FilterBuilder::default().build_for_records(std::slice::from_ref(&rec));
    for (pats, kind, ic) in [
        (vec!["error"], PatternKind::Auto, false),
        (vec!["ERROR"], PatternKind::Auto, true),
        (vec!["ror check"], PatternKind::Auto, false),
        (vec!["2025-11-20T10:00:00.123"], PatternKind::Auto, false),
        (vec!["checkout GET"], PatternKind::Auto, false),
        (vec![r"\d{2}Z error"], PatternKind::Regex, false),
        (
            vec![r"^\S+ (warn|error) checkout GET"],
            PatternKind::Regex,
            false,
        ),
        (vec!["absent", "789Z"], PatternKind::Literal, false),
    ] {
        let pats: Vec<String> = pats.into_iter().map(String::from).collect();
        let mut opts = GrepOptions::new(Matcher::new(&pats, kind, ic).unwrap());
        opts.mode = OutputMode::Count;
        let got = grep_body(&body, &opts, &mut Scratch::default()).unwrap();
        assert_eq!(got.1, 1, "{pats:?}");
        let p = opts.matcher.prefilter();
        assert!(
            p.is_none_or(|p| p.may_pass(BlockFilter::new(&bits))),
            "{pats:?}"
        );
    }
    let opts =
        GrepOptions::new(Matcher::new(&["absent".into()], PatternKind::Auto, false).unwrap());
    assert!(opts.matcher.prefilter().is_some());
    assert_eq!(
        grep_body(&body, &opts, &mut Scratch::default()).unwrap().1,
        0
    );
    // ... and its filter rules the block out before it is decompressed.
    let p = opts.matcher.prefilter().unwrap();
    assert!(!p.may_pass(BlockFilter::new(&bits)));
    assert!(p.may_pass(BlockFilter::new(&[])));
}
