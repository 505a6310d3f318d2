use super::*;
use crate::testutil::rec;

fn kind_of(message: &str) -> Option<AlertKind> {
    kind_with(message, Level::Info, None)
}

fn kind_with(message: &str, level: Level, raw: Option<&str>) -> Option<AlertKind> {
    let mut r = rec(0, message);
    r.level = level;
    r.level_raw = raw.map(str::to_string);
    match SignaturePack::new().classify(&r, None)? {
        Signature::Occurrence { kind, .. } => Some(kind),
        Signature::Continuation => None,
    }
}

fn detail_of(message: &str) -> (String, bool) {
    match SignaturePack::new().classify(&rec(0, message), None) {
        Some(Signature::Occurrence {
            detail,
            needs_detail,
            ..
        }) => (detail, needs_detail),
        other => panic!("not an occurrence: {other:?}"),
    }
}

#[test]
fn node14_warning_is_a_rejection_and_its_followups_are_continuations() {
    let (detail, needs) =
        detail_of("(node:24) UnhandledPromiseRejectionWarning: Error: reservation failed (409)");
    assert_eq!(detail, "Error: reservation failed (409)");
    assert!(!needs);
    let pack = SignaturePack::new();
    for follow in [
        "(node:24) UnhandledPromiseRejectionWarning: Unhandled promise rejection. This error originated either by throwing inside of an async function without a catch block (rejection id: 1)",
        "(node:24) [DEP0018] DeprecationWarning: Unhandled promise rejections are deprecated.",
        "(node:24) PromiseRejectionHandledWarning: Promise rejection was handled asynchronously (rejection id: 1)",
    ] {
        assert_eq!(pack.classify(&rec(0, follow), None), Some(Signature::Continuation), "{follow}");
    }
}

#[test]
fn node15_crash_banner_waits_for_its_reason_unless_it_holds_it() {
    let (_, needs) =
        detail_of("            triggerUncaughtException(err, true /* fromPromise */);");
    assert!(needs);
    let (detail, needs) = detail_of(
        "node:internal/process/promises:288\n            triggerUncaughtException(err, true /* fromPromise */);\n            ^\n\nError: boom\n    at f (/app/a.js:1:1)",
    );
    assert!(!needs);
    assert!(detail.starts_with("Error: boom"), "{detail}");
    let (detail, _) = detail_of(
        "[UnhandledPromiseRejection: This error originated either by throwing inside of an async function without a catch block, or by rejecting a promise which was not handled with .catch(). The promise rejected with the reason \"fraud screening timed out after 8000ms\".] {",
    );
    assert_eq!(
        detail,
        "UnhandledPromiseRejection: fraud screening timed out after 8000ms"
    );
    assert_eq!(
        kind_of("triggerUncaughtException(err, false);"),
        Some(AlertKind::UncaughtException)
    );
}

#[test]
fn other_runtimes_rejections() {
    for m in [
        "Uncaught (in promise) TypeError: Failed to fetch",
        "error: Uncaught (in promise) Error: boom",
        "Task exception was never retrieved",
        "Future exception was never retrieved",
    ] {
        assert_eq!(kind_of(m), Some(AlertKind::UnhandledRejection), "{m}");
    }
}

#[test]
fn a_hint_about_tasks_never_retrieved_is_no_occurrence() {
    assert_eq!(
        kind_of("asyncio debug mode off; set PYTHONASYNCIODEBUG=1 to get creation tracebacks for tasks whose exception was never retrieved"),
        None
    );
    assert_eq!(
        kind_of("ERROR asyncio: Task exception was never retrieved"),
        Some(AlertKind::UnhandledRejection)
    );
}

#[test]
fn a_coroutine_nobody_handled_is_a_rejection_a_thread_is_not() {
    let coroutine = "Exception in thread \"DefaultDispatcher-worker-11\" java.lang.NullPointerException: boom\n\tat com.shop.Audit$publish$1.invokeSuspend(Audit.kt:41)\n\tSuppressed: kotlinx.coroutines.DiagnosticCoroutineContextException: [StandaloneCoroutine{Cancelling}@3f2a1b, Dispatchers.IO]";
    assert_eq!(kind_of(coroutine), Some(AlertKind::UnhandledRejection));
    // Before kotlinx.coroutines 1.7 only the dispatcher's thread name tells.
    let old = coroutine.split("\n\tSuppressed").next().unwrap();
    assert_eq!(kind_of(old), Some(AlertKind::UnhandledRejection));
    assert_eq!(
        kind_of("Exception in thread \"main\" java.lang.IllegalStateException: boom"),
        Some(AlertKind::UncaughtException)
    );
    assert_eq!(
        kind_of("Exception in thread \"zio-fiber-12\" java.sql.SQLTransactionRollbackException: Deadlock"),
        Some(AlertKind::UncaughtException)
    );
}

#[test]
fn handler_reports_count_but_mentions_do_not() {
    assert_eq!(
        kind_with(
            "unhandledRejection: Reached the max retries",
            Level::Error,
            Some("error")
        ),
        Some(AlertKind::UnhandledRejection)
    );
    assert_eq!(
        kind_with(
            "Unhandled Rejection at: Promise { <rejected> }",
            Level::Info,
            None
        ),
        Some(AlertKind::UnhandledRejection)
    );
    assert_eq!(
        kind_with("uncaughtException: boom", Level::Error, Some("error")),
        Some(AlertKind::UncaughtException)
    );
    // Next.js marks its reports with a symbol.
    assert_eq!(
        kind_with(
            " ⨯ unhandledRejection: Error: recommendations responded 504",
            Level::Info,
            None
        ),
        Some(AlertKind::UnhandledRejection)
    );
    for (m, level) in [
        ("⨯ see docs for unhandledRejection: handlers", Level::Info),
        ("installed handler for unhandledRejection", Level::Info),
        ("unhandledRejection handler installed", Level::Info),
        (
            "process handlers registered {\"events\":[\"unhandledRejection\"]}",
            Level::Info,
        ),
        ("health summary {\"unhandledRejections\":0}", Level::Info),
        ("rejection handled by retry policy", Level::Info),
        ("unhandledRejections: 0", Level::Error),
    ] {
        assert_eq!(kind_with(m, level, Some("info")), None, "{m}");
    }
}

#[test]
fn crash_signatures() {
    let cases = [
        ("thread 'main' panicked at src/main.rs:10:5:\nindex out of bounds", AlertKind::Panic),
        ("panic: runtime error: invalid memory address or nil pointer dereference\n\ngoroutine 1 [running]:", AlertKind::Panic),
        ("fatal error: concurrent map writes", AlertKind::Panic),
        ("Out of memory: Killed process 4312 (java) total-vm:8388608kB", AlertKind::Oom),
        ("Last State: Terminated  Reason: OOMKilled", AlertKind::Oom),
        ("FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory", AlertKind::Oom),
        ("Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space", AlertKind::Oom),
        ("fatal error: runtime: out of memory", AlertKind::Oom),
        ("canary SET failed: OOM command not allowed when used memory > 'maxmemory'.", AlertKind::Oom),
        ("memory allocation of 1048576 bytes failed", AlertKind::Oom),
        ("Exception in thread \"main\" java.lang.IllegalStateException: x", AlertKind::UncaughtException),
    ];
    for (m, k) in cases {
        assert_eq!(kind_of(m), Some(k), "{m}");
    }
    assert_eq!(kind_of("the word panic: appears mid-line"), None);
}

#[test]
fn production_failure_signatures() {
    let cases = [
        ("HikariPool-1 - Connection is not available, request timed out after 30000ms.", AlertKind::PoolExhaustion),
        ("FATAL: remaining connection slots are reserved for non-replication superuser connections", AlertKind::PoolExhaustion),
        ("FATAL: sorry, too many clients already", AlertKind::PoolExhaustion),
        ("KnexTimeoutError: Knex: Timeout acquiring a connection. The pool is probably full.", AlertKind::PoolExhaustion),
        ("Error: connect ETIMEDOUT 10.0.0.5:443", AlertKind::TimeoutStorm),
        ("rpc error: code = DeadlineExceeded desc = context deadline exceeded", AlertKind::TimeoutStorm),
        ("java.net.SocketTimeoutException: Read timed out", AlertKind::TimeoutStorm),
        ("io.github.resilience4j.circuitbreaker.CallNotPermittedException: CircuitBreaker 'inventory' is OPEN", AlertKind::CircuitBreakerOpen),
        ("Hystrix circuit short-circuited and is OPEN", AlertKind::CircuitBreakerOpen),
        ("Error: Breaker is open", AlertKind::CircuitBreakerOpen),
        ("upstream answered 429 Too Many Requests", AlertKind::RateLimited),
    ];
    for (m, k) in cases {
        assert_eq!(kind_of(m), Some(k), "{m}");
    }
    let pack = SignaturePack::new();
    assert!(matches!(
        pack.classify(&rec(0, "GET /api 429"), Some(429)),
        Some(Signature::Occurrence {
            kind: AlertKind::RateLimited,
            storm: true,
            ..
        })
    ));
    assert_eq!(pack.classify(&rec(0, "GET /api 200 12ms"), Some(200)), None);
    assert_eq!(kind_of("circuit breaker opened after 5 rejections"), None);
}

#[test]
fn a_handlers_report_behind_a_log_header_is_a_rejection() {
    let nest = "[Nest] 1  - 11/20/2026, 9:43:43 AM   ERROR [Process] Unhandled Rejection: Error: label request failed";
    assert_eq!(
        kind_with(nest, Level::Error, Some("ERROR")),
        Some(AlertKind::UnhandledRejection)
    );
    // A mention behind the same header, or a header at info, is not one.
    for (m, level) in [
        ("[Nest] 1  - 11/20/2026, 9:43:43 AM   ERROR [Process] installed handler for unhandledRejection", Level::Error),
        ("[Nest] 1  - 11/20/2026, 9:43:43 AM     LOG [Process] Unhandled Rejection: counters reset", Level::Info),
        ("2026-11-20 10:00:00 WARN retry policy - unhandled rejection budget: 0", Level::Warn),
    ] {
        assert_eq!(kind_with(m, level, None), None, "{m}");
    }
}

#[test]
fn an_unobserved_dotnet_task_exception_is_a_rejection() {
    let m = "fail: Ledger.Api[0]\n      Unobserved task exception\n      System.AggregateException: A Task's exception(s) were not observed either by Waiting on the Task or accessing its Exception property.\n       ---> System.Net.Http.HttpRequestException: Connection refused (audit:8080)";
    assert_eq!(
        kind_with(m, Level::Error, Some("fail")),
        Some(AlertKind::UnhandledRejection)
    );
    let (detail, _) = detail_of(m);
    assert!(
        detail.starts_with("System.AggregateException: A Task's"),
        "{detail}"
    );
    assert_eq!(
        kind_of("TaskScheduler.UnobservedTaskException handler registered"),
        None
    );
}

#[test]
fn a_node_crash_block_from_async_code_is_a_rejection() {
    let block = |stack: &str| {
        format!("/app/dist/sync/feedSync.js:143\n            throw new Error(`feed sync failed`);\n            ^\n\nError: feed sync failed for shard 11: Service Unavailable\n{stack}\n\nNode.js v20.11.1")
    };
    let from_async = block("    at FeedSync.pullShard (/app/dist/sync/feedSync.js:143:19)\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)\n    at async FeedSync.tick (/app/dist/sync/feedSync.js:97:9)");
    assert_eq!(
        kind_with(&from_async, Level::Fatal, None),
        Some(AlertKind::UnhandledRejection)
    );
    let (detail, _) = detail_of(&from_async);
    assert!(
        detail.starts_with("Error: feed sync failed for shard 11"),
        "{detail}"
    );
    assert!(!detail.contains("Node.js"), "{detail}");
    let sync = block("    at Object.<anonymous> (/app/dist/main.js:12:7)\n    at Module._compile (node:internal/modules/cjs/loader:1376:14)");
    assert_eq!(
        kind_with(&sync, Level::Fatal, None),
        Some(AlertKind::UncaughtException)
    );
}
