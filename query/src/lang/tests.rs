//! Parser tables (accepted shapes, refusals with positions), evaluator semantics, time params.

use firewatch_ingest::record::{Level, LogRecord};
use serde_json::json;

use super::time::{parse_duration, parse_time};
use super::*;

fn record(level: Level, service: &str, message: &str, fields: serde_json::Value) -> LogRecord {
    LogRecord {
        id: format!("{service}:1"),
        timestamp: 1_000,
        observed: 1_000,
        service: service.into(),
        host: "web-1".into(),
        source: "/var/log/app.log".into(),
        level,
        level_raw: None,
        message: message.into(),
        fields: fields.as_object().cloned().unwrap_or_default(),
    }
}

fn sample() -> LogRecord {
    record(
        Level::Error,
        "checkout",
        "Payment failed: upstream timeout after 3000ms (connection reset)",
        json!({"http": {"status": 503, "method": "POST"}, "user_id": 42, "duration_ms": 3000.5,
               "tags": ["a", "b"], "ok": false, "trace.id": "abc", "trace": {"id": "xyz"},
               "items": [{"id": 1}, {"id": 2}], "empty": {}, "nothing": null}),
    )
}

fn eval(q: &str) -> bool {
    let query = parse(q).unwrap_or_else(|e| panic!("{q:?}: {e}"));
    matches(&query, &sample())
}

#[test]
fn evaluates_a_table_of_queries() {
    let table: &[(&str, bool)] = &[
        ("", true),
        ("*", true),
        ("   ", true),
        ("payment", true),
        ("PAYMENT", true),
        ("pay", false),
        ("pay*", true),
        ("conn*", true),
        ("\"upstream timeout\"", true),
        ("\"timeout upstream\"", false),
        ("\"failed upstream\"", true),
        ("\"upstream tim*\"", true),
        ("\"upstream tim\\*\"", false),
        ("\"failed tim*\"", false),
        ("service:\"check*\"", true),
        ("message:\"upstream timeout\"", true),
        ("msg:reset", true),
        ("3000ms", true),
        ("connection-reset", true),
        ("payment AND timeout", true),
        ("payment timeout", true),
        ("payment AND missing", false),
        ("payment OR missing", true),
        ("missing OR nothing", false),
        ("NOT missing", true),
        ("-missing", true),
        ("-payment", false),
        ("NOT NOT payment", true),
        ("payment -(missing OR timeout)", false),
        ("(missing OR timeout) AND service:checkout", true),
        ("missing OR timeout AND service:billing", false),
        ("service:checkout", true),
        ("service:Checkout", false),
        ("service:check*", true),
        ("service:\"checkout\"", true),
        ("host:web-1", true),
        ("source:/var/log/app.log", true),
        ("source:/var/log/*", true),
        ("service:/x/", false),
        ("id:checkout\\:1", true),
        ("level:error", true),
        ("level:ERR", true),
        ("level:warn", false),
        ("level:>=warn", true),
        ("level:>error", false),
        ("level:<=error", true),
        ("level:[warn TO fatal]", true),
        ("level:{error TO fatal]", false),
        ("http.status:503", true),
        ("http.status:500", false),
        ("http.status:>=500", true),
        ("http.status:[500 TO 599]", true),
        ("http.status:{503 TO 599]", false),
        ("http.status:[* TO 503]", true),
        ("http.status:<503", false),
        ("http.method:POST", true),
        ("http.method:post", false),
        ("http.method:PO*", true),
        ("http.method:[A TO Z]", true),
        ("http.status:[A TO Z]", false),
        ("http.method:>100", false),
        ("user_id:42", true),
        ("user_id:42.0", true),
        ("duration_ms:>3000", true),
        ("duration_ms:>3000.5", false),
        ("tags:b", true),
        ("tags:c", false),
        ("ok:false", true),
        ("trace.id:abc", true),
        ("trace.id:xyz", true),
        ("trace.id:*", true),
        ("items.id:2", true),
        ("items.id:>2", false),
        ("items:*", true),
        ("empty:*", false),
        ("nothing:*", false),
        ("http:*", true),
        ("missing.field:*", false),
        ("-missing.field:*", true),
        ("/fail(ed|ure)/", true),
        ("/^payment/", false),
        ("/(?i)^payment/", true),
        ("message:/\\d{4}ms/", true),
        ("/a\\/b/", false),
    ];
    for (q, want) in table {
        assert_eq!(eval(q), *want, "query {q:?}");
    }
}

#[test]
fn long_tokens_are_not_searchable_but_keep_position() {
    let long = "x".repeat(MAX_TOKEN_BYTES);
    let rec = record(Level::Info, "s", &format!("alpha {long} beta"), json!({}));
    for (q, want) in [
        ("alpha", true),
        ("\"alpha beta\"", false),
        (long.as_str(), false),
        ("x*", false),
    ] {
        assert_eq!(matches(&parse(q).unwrap(), &rec), want, "{q}");
    }
}

#[test]
fn refuses_malformed_queries_with_positions() {
    let table: &[(&str, usize, &str)] = &[
        ("(payment", 0, "unclosed '('"),
        ("payment)", 7, "unexpected ')'"),
        ("\"open phrase", 0, "unclosed '\"'"),
        ("a AND", 5, "expected a term after AND"),
        ("AND a", 0, "expected a term before AND"),
        ("a OR", 4, "expected a term"),
        ("NOT", 3, "expected a term after NOT"),
        ("()", 1, "expected a term"),
        ("service:", 8, "expected a value"),
        ("service: x", 8, "expected a value"),
        ("level:loud", 6, "unknown level"),
        ("level:war*", 6, "prefix"),
        ("status:[1 TO", 7, "unclosed range"),
        ("status:[1 2]", 10, "expected TO"),
        ("fo*o", 2, "only supported at the end"),
        ("/unclosed", 0, "unclosed '/'"),
        ("/(/", 0, "invalid regex"),
        ("message:>5", 9, "no ranges"),
        ("status:>", 8, "expected a value to compare"),
        ("service:(a OR b)", 8, "one value"),
        ("...", 0, "nothing to search for"),
        ("é (x", 2, "unclosed '('"),
        ("end\\", 4, "nothing to escape"),
    ];
    for (q, pos, msg) in table {
        let err = parse(q).expect_err(q);
        assert_eq!(err.position, *pos, "{q:?}: {err}");
        assert!(err.message.contains(msg), "{q:?}: {err}");
    }
}

#[test]
fn refuses_hostile_queries() {
    let deep = format!("{}x{}", "(".repeat(10_000), ")".repeat(10_000));
    let deep = &deep[..4000];
    assert!(parse(deep)
        .unwrap_err()
        .message
        .contains("nested too deeply"));
    let nots = "NOT ".repeat(100) + "x";
    assert!(parse(&nots)
        .unwrap_err()
        .message
        .contains("nested too deeply"));
    let dashes = "-".repeat(100) + "x";
    assert!(parse(&dashes)
        .unwrap_err()
        .message
        .contains("nested too deeply"));
    let long = "a ".repeat(5000);
    let err = parse(&long).unwrap_err();
    assert!(err.message.contains("too long"), "{err}");
    assert_eq!(err.position, 4096);
    let many = "a ".repeat(300);
    assert!(parse(&many)
        .unwrap_err()
        .message
        .contains("too many conditions"));
    let huge_regex = format!("/{}/", "a".repeat(2000));
    assert!(parse(&huge_regex)
        .unwrap_err()
        .message
        .contains("regex is too long"));
    // Small to write, enormous to compile: refused by the compiled-size limit.
    let costly = "/(\\w{100}){100}/";
    let err = parse(costly).unwrap_err();
    assert!(err.message.contains("too costly"), "{err}");
    // A classic catastrophic-backtracking pattern is harmless here: the engine is linear time.
    let q = parse("/(a+)+$/").unwrap();
    let rec = record(Level::Info, "s", &("a".repeat(5000) + "!"), json!({}));
    let started = std::time::Instant::now();
    assert!(!matches(&q, &rec));
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    // Binary and control characters are just text.
    assert!(parse("x\u{0}\u{1}\u{ffff}y z").is_ok_and(|q| !q.is_all()));
    assert!(parse("\u{0}\u{ffff}")
        .unwrap_err()
        .message
        .contains("nothing to search for"));
}

#[test]
fn builds_the_expected_tree() {
    let q = parse("a OR b c NOT d").unwrap();
    let Query::Or(items) = q else { panic!("{q:?}") };
    assert_eq!(items.len(), 2);
    assert!(matches!(&items[1], Query::And(v) if v.len() == 3 && matches!(v[2], Query::Not(_))));
    assert!(parse("*").unwrap().is_all());
    assert!(matches!(
        parse("user_id:*").unwrap(),
        Query::Leaf(Field::Path(p), Predicate::Exists) if p == "user_id"
    ));
    assert!(matches!(
        parse("x:>=5").unwrap(),
        Query::Leaf(_, Predicate::Range(RangeBounds { lower: Bound::Included(Scalar::Number(n)), upper: Bound::Unbounded })) if n == 5.0
    ));
}

#[test]
fn reads_time_parameters() {
    let now = 1_763_632_800_000_000_000;
    let min = 60_000_000_000;
    assert_eq!(parse_time("now", now), Ok(now));
    assert_eq!(parse_time("now-15m", now), Ok(now - 15 * min));
    assert_eq!(parse_time("now+1h", now), Ok(now + 60 * min));
    assert_eq!(parse_time("15m", now), Ok(now - 15 * min));
    assert_eq!(parse_time("7d", now), Ok(now - 7 * 24 * 60 * min));
    assert_eq!(
        parse_time("2025-11-20T10:00:00Z", now),
        Ok(1_763_632_800_000_000_000)
    );
    assert_eq!(
        parse_time("2025-11-20T11:00:00.5+01:00", now),
        Ok(1_763_632_800_500_000_000)
    );
    assert_eq!(parse_duration("250ms"), Some(250_000_000));
    for bad in [
        "",
        "yesterday",
        "now-",
        "now*5m",
        "15",
        "m",
        "15y",
        "99999999999999999w",
    ] {
        let err = parse_time(bad, now).unwrap_err();
        assert!(err.to_string().contains("invalid time"), "{bad}");
    }
}
