//! What the runtimes themselves print: memory and runtime gauges, Node's unhandled-rejection
//! warnings and crash blocks, V8 `--trace-gc` lines and the out-of-memory abort, and systemd's
//! notes when a service dies and is restarted.
//!
//! The wording follows what Node 14, Node 18, V8 and systemd really print, because detectors and
//! people are trained on those texts.

use std::io::Write;

use rand::Rng;

use super::clock::{push_fixed, push_int};
use super::services::CHECKOUT_PID;
use super::{pick, Scene};

const MB: u64 = 1 << 20;
/// `users` runs with `--max-old-space-size=2048`.
pub(crate) const HEAP_LIMIT_MB: f64 = 2048.0;

/// pino line with `process.memoryUsage()` of `checkout` (no leak there).
pub(crate) fn checkout_memory(sc: &mut Scene, out: &mut Vec<u8>) {
    let heap = sc.rng.random_range(58 * MB..92 * MB);
    out.extend_from_slice(b"{\"level\":30,\"time\":");
    super::clock::epoch_ms(sc.now, out);
    out.extend_from_slice(b",\"pid\":");
    push_int(out, CHECKOUT_PID);
    out.extend_from_slice(b",\"hostname\":\"web-1\",\"name\":\"checkout\"");
    memory_fields(sc, heap, out);
    out.extend_from_slice(b",\"msg\":\"memory usage\"}\n");
}

/// winston line with `process.memoryUsage()` of `users`; its heap floor follows the leak.
pub(crate) fn users_memory(sc: &mut Scene, out: &mut Vec<u8>) {
    let used_mb = (sc.heap_floor_mb + sc.rng.random_range(0.0..36.0)).min(HEAP_LIMIT_MB - 4.0);
    out.extend_from_slice(
        b"{\"level\":\"info\",\"message\":\"memory usage\",\"service\":\"users\"",
    );
    memory_fields(sc, (used_mb * MB as f64) as u64, out);
    out.extend_from_slice(b",\"timestamp\":\"");
    sc.stamps.rfc3339_ms(sc.now, out);
    out.extend_from_slice(b"\"}\n");
}

/// `heapUsed`, `heapTotal`, `rss`, `external` in bytes, as `process.memoryUsage()` gives them.
fn memory_fields(sc: &mut Scene, heap_used: u64, out: &mut Vec<u8>) {
    let heap_total = heap_used + sc.rng.random_range(12 * MB..48 * MB);
    out.extend_from_slice(b",\"heapUsed\":");
    push_int(out, heap_used);
    out.extend_from_slice(b",\"heapTotal\":");
    push_int(out, heap_total);
    out.extend_from_slice(b",\"rss\":");
    push_int(out, heap_total + sc.rng.random_range(52 * MB..64 * MB));
    out.extend_from_slice(b",\"external\":");
    push_int(out, sc.rng.random_range(2 * MB..3 * MB));
}

/// logfmt runtime stats of the Go `inventory` service; queues back up during a spike.
pub(crate) fn inventory_stats(sc: &mut Scene, out: &mut Vec<u8>) {
    let (goroutines, queue) = if sc.spike {
        (
            sc.rng.random_range(900..2_400u32),
            sc.rng.random_range(400..5_000u32),
        )
    } else {
        (
            sc.rng.random_range(110..180u32),
            sc.rng.random_range(0..24u32),
        )
    };
    out.extend_from_slice(b"ts=");
    sc.stamps.rfc3339_ms(sc.now, out);
    out.extend_from_slice(
        b" level=info caller=telemetry/runtime.go:41 msg=\"runtime stats\" goroutines=",
    );
    push_int(out, goroutines);
    out.extend_from_slice(b" queue_depth=");
    push_int(out, queue);
    out.extend_from_slice(b" heap_alloc_mb=");
    push_fixed(out, sc.rng.random_range(40_000..75_000), 1);
    out.extend_from_slice(b" gc_pause_ms=");
    push_fixed(out, sc.rng.random_range(80..900), 2);
    out.push(b'\n');
}

const REJECTIONS: [&[u8]; 2] = [
    b"Error: Request failed with status code 503
    at createError (/app/node_modules/axios/lib/core/createError.js:16:15)
    at settle (/app/node_modules/axios/lib/core/settle.js:17:12)
    at IncomingMessage.handleStreamEnd (/app/node_modules/axios/lib/adapters/http.js:269:11)
    at IncomingMessage.emit (events.js:412:35)
    at endReadableNT (internal/streams/readable.js:1334:12)
    at processTicksAndRejections (internal/process/task_queues.js:82:21)
",
    b"TypeError: Cannot read property 'id' of undefined
    at OrderService.reserve (/app/src/orders/service.js:57:31)
    at processTicksAndRejections (internal/process/task_queues.js:95:5)
    at async OrderService.place (/app/src/orders/service.js:41:7)
    at async /app/src/routes/checkout.js:22:19
",
];

/// Node 14's warning for an unhandled rejection on `checkout`, which keeps running. The hint
/// and the DEP0018 deprecation are printed once per process, as Node does.
pub(crate) fn node14_rejection(sc: &mut Scene, out: &mut Vec<u8>) {
    sc.rejection_id += 1;
    let head = |out: &mut Vec<u8>| {
        out.extend_from_slice(b"(node:");
        push_int(out, CHECKOUT_PID);
        out.extend_from_slice(b") ");
    };
    head(out);
    out.extend_from_slice(b"UnhandledPromiseRejectionWarning: ");
    out.extend_from_slice(pick::<&[u8]>(&mut sc.rng, &REJECTIONS));
    if sc.rejection_id == 1 {
        out.extend_from_slice(
            b"(Use `node --trace-warnings ...` to show where the warning was created)\n",
        );
    }
    head(out);
    out.extend_from_slice(b"UnhandledPromiseRejectionWarning: Unhandled promise rejection. This error originated either by throwing inside of an async function without a catch block, or by rejecting a promise which was not handled with .catch(). To terminate the node process on unhandled rejection, use the CLI flag `--unhandled-rejections=strict` (see https://nodejs.org/api/cli.html#cli_unhandled_rejections_mode). (rejection id: ");
    push_int(out, sc.rejection_id);
    out.extend_from_slice(b")\n");
    if sc.rejection_id == 1 {
        head(out);
        out.extend_from_slice(b"[DEP0018] DeprecationWarning: Unhandled promise rejections are deprecated. In the future, promise rejections that are not handled will terminate the Node.js process with a non-zero exit code.\n");
    }
}

/// Node 18 on `users` dies of an unhandled rejection (the default since Node 15).
pub(crate) fn node18_crash(out: &mut Vec<u8>) {
    out.extend_from_slice(
        b"node:internal/process/promises:288
            triggerUncaughtException(err, true /* fromPromise */);
            ^

Error: connect ECONNREFUSED 10.0.3.7:6379
    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16) {
  errno: -111,
  code: 'ECONNREFUSED',
  syscall: 'connect',
  address: '10.0.3.7',
  port: 6379
}

Node.js v18.19.0
",
    );
}

/// One `--trace-gc` line of `users`; `from_mb` is the heap before collection.
pub(crate) fn trace_gc(sc: &mut Scene, mark_sweep: bool, from_mb: f64, out: &mut Vec<u8>) {
    out.push(b'[');
    push_int(out, sc.users_pid);
    // Writing to a Vec cannot fail.
    let _ = write!(out, ":{:#x}] ", sc.isolate);
    let uptime_ms = ((sc.now - sc.users_started) / 1_000_000).max(0);
    let ms = itoa::Buffer::new().format(uptime_ms).len();
    out.resize(out.len() + 8usize.saturating_sub(ms), b' ');
    push_int(out, uptime_ms);
    let (freed, pause, mu) = if mark_sweep {
        (
            sc.rng.random_range(2.0..14.0),
            sc.rng.random_range(300_000..1_900_000),
            (1.0 - from_mb / HEAP_LIMIT_MB).clamp(0.01, 0.9),
        )
    } else {
        (
            sc.rng.random_range(4.0..9.0),
            sc.rng.random_range(900..6_000),
            0.97,
        )
    };
    out.extend_from_slice(if mark_sweep {
        b" ms: Mark-sweep "
    } else {
        b" ms: Scavenge "
    });
    let mb = |out: &mut Vec<u8>, v: f64| push_fixed(out, (v * 1000.0) as u64, 1);
    let total = from_mb + 38.0;
    mb(out, from_mb);
    out.extend_from_slice(b" (");
    mb(out, total);
    out.extend_from_slice(b") -> ");
    mb(out, from_mb - freed);
    out.extend_from_slice(b" (");
    mb(out, total + 1.5);
    out.extend_from_slice(b") MB, ");
    push_fixed(out, pause, 1);
    out.extend_from_slice(b" / 0.0 ms  (average mu = ");
    push_fixed(out, (mu * 1000.0) as u64, 3);
    out.extend_from_slice(b", current mu = ");
    push_fixed(out, (mu * 700.0) as u64, 3);
    out.extend_from_slice(if mark_sweep {
        b") allocation failure; scavenge might not succeed\n"
    } else {
        b") allocation failure; \n"
    });
}

/// V8's fatal out-of-memory report: the last GCs, then the native stack, then the abort.
pub(crate) fn oom(sc: &mut Scene, out: &mut Vec<u8>) {
    out.extend_from_slice(b"\n<--- Last few GCs --->\n\n");
    let now = sc.now;
    sc.now = now - 1_900_000_000;
    trace_gc(sc, true, HEAP_LIMIT_MB - 18.3, out);
    sc.now = now;
    trace_gc(sc, true, HEAP_LIMIT_MB - 3.1, out);
    out.extend_from_slice(b"

<--- JS stacktrace --->

FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory
 1: 0xb7b3e0 node::Abort() [node]
 2: 0xa8c8aa  [node]
 3: 0xd69100 v8::Utils::ReportOOMFailure(v8::internal::Isolate*, char const*, bool) [node]
 4: 0xd694a7 v8::internal::V8::FatalProcessOutOfMemory(v8::internal::Isolate*, char const*, bool) [node]
 5: 0xf46ba5  [node]
 6: 0xf58e8d v8::internal::Heap::CollectGarbage(v8::internal::AllocationSpace, v8::internal::GarbageCollectionReason, v8::GCCallbackFlags) [node]
 7: 0xf3558e v8::internal::HeapAllocator::AllocateRawWithLightRetrySlowPath(int, v8::internal::AllocationType, v8::internal::AllocationOrigin, v8::internal::AllocationAlignment) [node]
 8: 0xf36957 v8::internal::HeapAllocator::AllocateRawWithRetryOrFailSlowPath(int, v8::internal::AllocationType, v8::internal::AllocationOrigin, v8::internal::AllocationAlignment) [node]
 9: 0xf16e5a v8::internal::Factory::NewFillerObject(int, v8::internal::AllocationAlignment, v8::internal::AllocationType, v8::internal::AllocationOrigin) [node]
10: 0x12dbccf v8::internal::Runtime_AllocateInYoungGeneration(int, unsigned long*, v8::internal::Isolate*) [node]
11: 0x1708b79  [node]
");
}

/// What systemd on `web-1` says about `users` dying and coming back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Systemd {
    /// Exited with status 1 (unhandled rejection).
    Failed,
    /// Aborted with a core dump (out of memory).
    Dumped,
    Restarting,
    Started,
}

pub(crate) fn systemd(sc: &mut Scene, what: Systemd, out: &mut Vec<u8>) {
    sc.stamps.bsd(out);
    out.extend_from_slice(b" web-1 systemd[1]: ");
    match what {
        Systemd::Failed => out.extend_from_slice(
            b"users.service: Main process exited, code=exited, status=1/FAILURE\n",
        ),
        Systemd::Dumped => out
            .extend_from_slice(b"users.service: Main process exited, code=dumped, status=6/ABRT\n"),
        Systemd::Restarting => {
            sc.restarts += 1;
            out.extend_from_slice(b"users.service: Scheduled restart job, restart counter is at ");
            push_int(out, sc.restarts);
            out.extend_from_slice(b".\n");
        }
        Systemd::Started => out.extend_from_slice(b"Started users.service - Users API.\n"),
    }
}

/// `users` is back: a new process, a fresh heap.
pub(crate) fn users_started(sc: &mut Scene, out: &mut Vec<u8>) {
    sc.users_pid = sc.rng.random_range(3_000..60_000);
    sc.isolate = 0x5000000 + sc.rng.random_range(0..0xffffff);
    sc.users_started = sc.now;
    out.extend_from_slice(b"{\"level\":\"info\",\"message\":\"users listening on :3001\",\"service\":\"users\",\"timestamp\":\"");
    sc.stamps.rfc3339_ms(sc.now, out);
    out.extend_from_slice(b"\"}\n");
}

/// `inventory`'s database pool saturating at the start of a spike, and recovering at its end.
pub(crate) fn pool_notice(sc: &mut Scene, exhausted: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(b"ts=");
    sc.stamps.rfc3339_ms(sc.now, out);
    if exhausted {
        out.extend_from_slice(b" level=warn caller=store/pool.go:63 msg=\"connection pool exhausted\" open=50 max_open=50 wait_count=");
        push_int(out, sc.rng.random_range(30..90u32));
        out.push(b'\n');
    } else {
        out.extend_from_slice(
            b" level=info caller=store/pool.go:71 msg=\"connection pool recovered\" open=12 max_open=50 wait_count=0\n",
        );
    }
}
