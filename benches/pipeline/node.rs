//! A `firewatch serve` child on a loopback port, and the few query API calls the harness needs
//! to know what the node holds.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;

use crate::proc::Daemon;

pub struct Node {
    pub proc: Daemon,
    pub url: String,
    pub http: Client,
}

/// One time range: `start` inclusive, `end` exclusive (RFC 3339).
pub type Range<'a> = (Option<&'a str>, Option<&'a str>);

impl Node {
    /// Starts `firewatch serve` on `127.0.0.1:0` over `data` and reads the address it bound.
    pub fn start(bin: &Path, data: &Path, webhook: Option<&str>) -> Result<Node, String> {
        let mut cmd = Command::new(bin);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .env("FIREWATCH_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(url) = webhook {
            cmd.args(["--webhook", url]);
        }
        let mut child = cmd.spawn().map_err(|e| format!("spawn serve: {e}"))?;
        let stdout = child.stdout.take().ok_or("serve: no stdout")?;
        let proc = Daemon::new(child);
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| format!("serve: read address: {e}"))?;
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .ok_or_else(|| format!("serve: unexpected first line {line:?}"))?;
        let http = Client::builder()
            .timeout(Duration::from_secs(600))
            .build()
            .map_err(|e| format!("http client: {e}"))?;
        Ok(Node {
            proc,
            url: format!("http://{addr}"),
            http,
        })
    }

    /// `GET /api/v1/<path>` with `q` and a time range, as JSON.
    pub fn get_json(
        &self,
        path: &str,
        q: &str,
        range: Range,
        extra: &[(&str, &str)],
    ) -> Result<serde_json::Value, String> {
        let resp = self.get(path, q, range, extra)?;
        resp.json().map_err(|e| format!("{path}: bad json: {e}"))
    }

    pub fn get(
        &self,
        path: &str,
        q: &str,
        (start, end): Range,
        extra: &[(&str, &str)],
    ) -> Result<reqwest::blocking::Response, String> {
        let mut params: Vec<(&str, &str)> = vec![("q", q)];
        params.extend(start.map(|s| ("start", s)));
        params.extend(end.map(|e| ("end", e)));
        params.extend_from_slice(extra);
        let resp = self
            .http
            .get(format!("{}/api/v1/{path}", self.url))
            .query(&params)
            .send()
            .map_err(|e| format!("{path}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("{path}: http {}", resp.status()));
        }
        Ok(resp)
    }

    /// Matches of `q` over all time.
    pub fn total(&self, q: &str) -> Result<u64, String> {
        let v = self.get_json("search", q, (None, None), &[("limit", "1")])?;
        v["total"].as_u64().ok_or_else(|| "search: no total".into())
    }

    /// Polls until the node holds at least `want` records; returns when it saw them.
    pub fn wait_for_records(&self, want: u64, limit: Duration) -> Result<Instant, String> {
        let deadline = Instant::now() + limit;
        loop {
            let have = self.total("")?;
            if have >= want {
                return Ok(Instant::now());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "node holds {have} of {want} records after {limit:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Graceful stop (the node seals its segment and merges; minutes on a 10 M-line store);
    /// returns whether it exited cleanly.
    pub fn stop(self) -> bool {
        self.proc.stop(Duration::from_secs(300)) == Some(0)
    }
}
