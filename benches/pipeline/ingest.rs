//! The node's write path seen by a client: how long a batch takes to be acknowledged (the node
//! fsyncs before answering), and how long after its acknowledgement a record is searchable.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::node::Node;

/// Records per posted batch (the order of what a shipper's 1 MiB batch holds).
pub const BATCH: usize = 1_000;
const CLIENTS: usize = 4;

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// One batch of records in the ingest protocol's NDJSON, zstd-compressed as shippers send it.
fn batch(tag: &str, lines: &[String]) -> Result<Vec<u8>, String> {
    let now = now_nanos();
    let mut body = Vec::with_capacity(lines.len() * 256);
    for (i, line) in lines.iter().enumerate() {
        let rec = serde_json::json!({
            "id": format!("{tag}:{i}"), "timestamp": now, "observed": now,
            "service": "bench", "host": "bench", "source": "api",
            "level": "info", "message": line,
        });
        serde_json::to_writer(&mut body, &rec).map_err(|e| e.to_string())?;
        body.push(b'\n');
    }
    zstd::encode_all(&body[..], 3).map_err(|e| format!("zstd: {e}"))
}

/// Posts one batch; retries after `Retry-After` on 429/503. Returns the successful attempt's
/// latency.
fn post(node: &Node, tag: &str, body: Vec<u8>) -> Result<Duration, String> {
    for _ in 0..20 {
        let t0 = Instant::now();
        let resp = node
            .http
            .post(format!("{}/api/v1/ingest", node.url))
            .header("content-type", "application/x-ndjson")
            .header("content-encoding", "zstd")
            .header("x-firewatch-batch", tag)
            .body(body.clone())
            .send()
            .map_err(|e| format!("ingest: {e}"))?;
        let took = t0.elapsed();
        let status = resp.status();
        if status.is_success() {
            return Ok(took);
        }
        if status.as_u16() != 429 && status.as_u16() != 503 {
            return Err(format!("ingest: http {status}"));
        }
        let wait = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1);
        std::thread::sleep(Duration::from_secs(wait));
    }
    Err("ingest: still overloaded after 20 attempts".into())
}

/// Ack latencies in ms of `batches` batches of [`BATCH`] records posted by 4 concurrent
/// clients, message texts taken from `lines`.
pub fn ack_latency(
    node: &Node,
    run: usize,
    lines: &[String],
    batches: usize,
) -> Result<Vec<f64>, String> {
    if lines.len() < BATCH {
        return Err("corpus smaller than one batch".into());
    }
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..CLIENTS)
            .map(|c| {
                s.spawn(move || -> Result<Vec<f64>, String> {
                    let mut out = Vec::new();
                    for b in (c..batches).step_by(CLIENTS) {
                        let at = (b * BATCH) % (lines.len() - BATCH + 1);
                        let tag = format!("ack-{run}-{b}");
                        let body = batch(&tag, &lines[at..at + BATCH])?;
                        out.push(post(node, &tag, body)?.as_secs_f64() * 1e3);
                    }
                    Ok(out)
                })
            })
            .collect();
        let mut all = Vec::new();
        for w in workers {
            all.extend(w.join().map_err(|_| "client panicked")??);
        }
        Ok(all)
    })
}

/// Freshness in ms: a one-record batch with a unique word is posted; the time from its
/// acknowledgement until a search finds it.
pub fn freshness(node: &Node, run: usize, probes: usize) -> Result<Vec<f64>, String> {
    let mut out = Vec::new();
    for k in 0..probes {
        let word = format!("freshprobe{run}x{k}");
        let body = batch(&word, &[format!("bench probe {word} written")])?;
        post(node, &word, body)?;
        let acked = Instant::now();
        loop {
            if node.total(&word)? > 0 {
                out.push(acked.elapsed().as_secs_f64() * 1e3);
                break;
            }
            if acked.elapsed() > Duration::from_secs(30) {
                return Err(format!("{word} not searchable 30 s after its ack"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // Spread the probes over the node's commit cadence.
        std::thread::sleep(Duration::from_millis(137));
    }
    Ok(out)
}
