//! The WAL thread: group commit. Every batch waiting when the thread wakes goes into one write
//! and one fsync; then each batch's records are published to followers and subscribers and
//! passed to the apply thread, and its sender is answered.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::Instant;

use bytes::Bytes;
use firewatch_ingest::LogRecord;
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use super::Shared;
use crate::applier::ApplyMsg;
use crate::wal::{self, WalWriter};

/// A WAL file is closed and a new one started past this size.
const WAL_FILE_BYTES: u64 = 64 << 20;
/// One group commit writes at most this much.
const GROUP_BYTES: usize = 16 << 20;

/// What the WAL thread is sent.
pub(super) enum WalMsg {
    Batch {
        records: Vec<Arc<LogRecord>>,
        body: WalBody,
        /// The bytes of each record's JSON line.
        sizes: Vec<usize>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Stop,
}

/// What a batch's WAL entry holds.
pub(super) enum WalBody {
    /// Each record's JSON line.
    Lines(Vec<Bytes>),
    /// The zstd frame the records came in, which holds exactly their lines.
    Zstd(Bytes),
}

impl WalBody {
    pub(super) fn len(&self) -> usize {
        match self {
            WalBody::Lines(jsons) => jsons.iter().map(|j| j.len() + 1).sum(),
            WalBody::Zstd(frame) => frame.len(),
        }
    }

    fn encode(&self, seq: u64, out: &mut Vec<u8>) {
        match self {
            WalBody::Lines(jsons) => wal::encode_lines(seq, jsons, out),
            WalBody::Zstd(frame) => wal::encode_zstd(seq, frame, out),
        }
    }
}

pub(super) fn wal_loop(
    mut rx: mpsc::Receiver<WalMsg>,
    mut wal: WalWriter,
    mut next_seq: u64,
    apply_tx: std_mpsc::Sender<ApplyMsg>,
    sh: Arc<Shared>,
) {
    let mut stop = false;
    // Kept from group to group: a fresh multi-megabyte buffer costs page faults every time.
    let mut buf = Vec::new();
    while !stop {
        let Some(first) = rx.blocking_recv() else {
            break;
        };
        let mut group = Vec::new();
        let mut bytes = 0;
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                WalMsg::Stop => stop = true,
                WalMsg::Batch {
                    records,
                    body,
                    sizes,
                    reply,
                } => {
                    bytes += body.len();
                    group.push((records, body, sizes, reply));
                }
            }
            if bytes < GROUP_BYTES && !stop {
                next = rx.try_recv().ok();
            }
        }
        if group.is_empty() {
            continue;
        }
        if buf.capacity() > GROUP_BYTES {
            // A burst's buffer is not kept for good.
            buf = Vec::new();
        }
        buf.clear();
        buf.reserve(bytes + group.len() * 16);
        for (i, (_, body, _, _)) in group.iter().enumerate() {
            body.encode(next_seq + i as u64, &mut buf);
        }
        let t = Instant::now();
        let res = sh.cfg.faults.check().and_then(|_| wal.append_durable(&buf));
        sh.metrics.observe_fsync(t.elapsed().as_micros() as u64);
        let durable_at = Instant::now();
        match res {
            Ok(()) => {
                sh.metrics.wal_bytes.fetch_add(buf.len() as u64, Relaxed);
                for (records, _, sizes, reply) in group {
                    sh.followers.publish(&records);
                    if sh.durable.receiver_count() > 0 {
                        for r in &records {
                            let _ = sh.durable.send(r.clone());
                        }
                    }
                    let msg = ApplyMsg::Batch {
                        seq: next_seq,
                        records,
                        sizes,
                        durable_at,
                    };
                    next_seq += 1;
                    let _ = apply_tx.send(msg);
                    let _ = reply.send(Ok(()));
                }
                if wal.size() > WAL_FILE_BYTES {
                    if let Err(e) = wal.roll(next_seq) {
                        warn!(error = %e, "wal roll failed");
                    }
                }
            }
            Err(e) => {
                warn!(error = %e, "wal write failed");
                next_seq += group.len() as u64;
                for (_, _, _, reply) in group {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
    let _ = apply_tx.send(ApplyMsg::Stop);
}
