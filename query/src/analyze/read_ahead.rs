//! Parsing inputs ahead of the merge, on the rayon pool.
//!
//! Parsing is most of `analyze`'s work, and each input parses independently, while the merge
//! and the detectors must see records one at a time in time order. [`ReadAhead`] wraps one
//! input's stream: batches of its records are parsed by pool threads while the merge consumes
//! earlier ones, at most [`DEPTH`] batches ahead, so memory stays bounded. One batch of a
//! stream is parsed at a time, so its order is kept. When the merge needs a batch that no
//! thread has started, it parses it itself: it never waits on a job still in the pool's queue
//! (which, on a one-thread pool or a busy one, might not start).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use firewatch_ingest::{LogRecord, Nanos};

use super::merge::Records;
use crate::input::InputError;

/// Records per batch.
const BATCH: usize = 256;
/// Batches parsed ahead of the one being consumed.
const DEPTH: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Job {
    Idle,
    /// Handed to the pool, not started.
    Queued,
    /// A thread (a pool thread or the reader) holds the stream and is parsing.
    Running,
}

struct State<R> {
    /// `None` while a batch is being parsed.
    stream: Option<R>,
    ready: VecDeque<Vec<LogRecord>>,
    job: Job,
    done: bool,
}

struct Shared<R> {
    state: Mutex<State<R>>,
    parsed: Condvar,
}

/// An input's records, parsed ahead on the rayon pool.
pub struct ReadAhead<R: Records + 'static> {
    shared: Arc<Shared<R>>,
    current: VecDeque<LogRecord>,
}

impl<R: Records + 'static> ReadAhead<R> {
    /// Starts parsing `stream` ahead.
    pub fn new(stream: R) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                stream: Some(stream),
                ready: VecDeque::new(),
                job: Job::Idle,
                done: false,
            }),
            parsed: Condvar::new(),
        });
        Shared::schedule(&shared, &mut shared.lock());
        ReadAhead {
            shared,
            current: VecDeque::new(),
        }
    }

    /// Makes `current` hold records unless the stream is exhausted.
    fn refill(&mut self) {
        if !self.current.is_empty() {
            return;
        }
        let mut st = self.shared.lock();
        loop {
            if let Some(batch) = st.ready.pop_front() {
                self.current = batch.into();
                Shared::schedule(&self.shared, &mut st);
                return;
            }
            if st.done {
                return;
            }
            if st.job == Job::Running || st.stream.is_none() {
                st = self
                    .shared
                    .parsed
                    .wait(st)
                    .unwrap_or_else(|e| e.into_inner());
                continue;
            }
            // Nothing parsed and nobody parsing: do it here rather than wait for the pool.
            let Some(mut stream) = st.stream.take() else {
                continue;
            };
            st.job = Job::Running;
            drop(st);
            let (batch, done) = parse_batch(&mut stream);
            st = self.shared.lock();
            st.stream = Some(stream);
            st.job = Job::Idle;
            st.done = done;
            if !batch.is_empty() {
                st.ready.push_back(batch);
            }
        }
    }
}

impl<R: Records + 'static> Shared<R> {
    fn lock(&self) -> MutexGuard<'_, State<R>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands the next batches to the pool if there is room for them and nobody is on it.
    fn schedule(this: &Arc<Self>, st: &mut State<R>) {
        if st.job == Job::Idle && !st.done && st.ready.len() < DEPTH {
            st.job = Job::Queued;
            let shared = this.clone();
            rayon::spawn(move || shared.run());
        }
    }

    /// A pool job: parses batches until [`DEPTH`] are ready or the stream ends.
    fn run(&self) {
        let mut st = self.lock();
        // The reader may have taken the stream meanwhile; then this job has nothing to do.
        if st.job != Job::Queued {
            return;
        }
        let Some(mut stream) = st.stream.take() else {
            return;
        };
        st.job = Job::Running;
        drop(st);
        loop {
            let (batch, done) = parse_batch(&mut stream);
            let mut st = self.lock();
            if !batch.is_empty() {
                st.ready.push_back(batch);
            }
            st.done = done;
            self.parsed.notify_all();
            if done || st.ready.len() >= DEPTH {
                st.stream = Some(stream);
                st.job = Job::Idle;
                return;
            }
        }
    }
}

/// The next batch of `stream`, and whether it ended.
fn parse_batch<R: Records>(stream: &mut R) -> (Vec<LogRecord>, bool) {
    let mut batch = Vec::with_capacity(BATCH);
    while batch.len() < BATCH {
        match stream.next() {
            Some(rec) => batch.push(rec),
            None => return (batch, true),
        }
    }
    (batch, false)
}

impl<R: Records + 'static> Iterator for ReadAhead<R> {
    type Item = LogRecord;
    fn next(&mut self) -> Option<LogRecord> {
        self.refill();
        self.current.pop_front()
    }
}

impl<R: Records + 'static> Records for ReadAhead<R> {
    fn peek_time(&mut self) -> Option<Nanos> {
        self.refill();
        self.current.front().map(|r| r.timestamp)
    }

    fn take_errors(&mut self) -> Vec<InputError> {
        let mut st = self.shared.lock();
        // A job still parsing holds the stream; its errors are read once it hands it back.
        while st.stream.is_none() && st.job == Job::Running {
            st = self
                .shared
                .parsed
                .wait(st)
                .unwrap_or_else(|e| e.into_inner());
        }
        st.stream
            .as_mut()
            .map(|s| s.take_errors())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use firewatch_ingest::Level;

    /// A stream of `n` numbered records that fails at the end when asked to.
    struct Numbers {
        next: u64,
        n: u64,
        fail: bool,
    }

    impl Iterator for Numbers {
        type Item = LogRecord;
        fn next(&mut self) -> Option<LogRecord> {
            (self.next < self.n).then(|| {
                self.next += 1;
                LogRecord {
                    id: format!("n:{}", self.next),
                    timestamp: self.next as Nanos,
                    observed: 0,
                    service: "numbers".into(),
                    host: String::new(),
                    source: "numbers".into(),
                    level: Level::Info,
                    level_raw: None,
                    message: self.next.to_string(),
                    fields: Default::default(),
                }
            })
        }
    }

    impl Records for Numbers {
        fn peek_time(&mut self) -> Option<Nanos> {
            (self.next < self.n).then_some(self.next as Nanos + 1)
        }
        fn take_errors(&mut self) -> Vec<InputError> {
            match std::mem::take(&mut self.fail) {
                true => vec![InputError {
                    path: "numbers".into(),
                    source: std::io::Error::other("cut short"),
                }],
                false => Vec::new(),
            }
        }
    }

    fn drain(mut r: ReadAhead<Numbers>) -> (Vec<Nanos>, usize) {
        let mut times = Vec::new();
        while let Some(t) = r.peek_time() {
            let rec = r.next().unwrap();
            assert_eq!(rec.timestamp, t);
            times.push(t);
        }
        assert!(r.next().is_none());
        (times, r.take_errors().len())
    }

    #[test]
    fn records_come_out_in_order_whatever_the_pool() {
        let n = (BATCH * 7 + 13) as u64;
        let want: Vec<Nanos> = (1..=n as Nanos).collect();
        let numbers = || Numbers {
            next: 0,
            n,
            fail: true,
        };
        assert_eq!(drain(ReadAhead::new(numbers())), (want.clone(), 1));
        // On a one-thread pool the reader is that thread: queued jobs cannot start before it
        // asks, so it parses the batches itself.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        assert_eq!(pool.install(|| drain(ReadAhead::new(numbers()))), (want, 1));
        let empty = Numbers {
            next: 0,
            n: 0,
            fail: false,
        };
        assert_eq!(drain(ReadAhead::new(empty)), (vec![], 0));
    }

    #[test]
    fn several_streams_read_ahead_at_once() {
        let mut streams: Vec<ReadAhead<Numbers>> = (0..20)
            .map(|i| {
                ReadAhead::new(Numbers {
                    next: 0,
                    n: 1000 + i,
                    fail: false,
                })
            })
            .collect();
        // Interleaved, as the merge reads them.
        let mut counts = vec![0u64; streams.len()];
        loop {
            let mut any = false;
            for (s, c) in streams.iter_mut().zip(&mut counts) {
                if let Some(r) = s.next() {
                    *c += 1;
                    assert_eq!(r.timestamp, *c as Nanos);
                    any = true;
                }
            }
            if !any {
                break;
            }
        }
        assert_eq!(counts, (0..20).map(|i| 1000 + i).collect::<Vec<u64>>());
    }
}
