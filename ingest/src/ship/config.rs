//! The shipper's configuration: a TOML file, or the same built from `firewatch ship` flags.
//!
//! ```toml
//! data_dir = "/var/lib/firewatch-ship"   # checkpoints and spool
//! status_addr = "127.0.0.1:9431"         # GET /metrics, GET /status
//!
//! [[sources]]
//! include = ["/var/log/checkout/*.log*", "/srv/**/logs/*.log"]
//! exclude = ["**/debug-*.log"]
//! service = "checkout"                   # overrides what the lines say
//! fields = { env = "prod" }              # added to every record
//! format = "json"                        # auto (default), json, logfmt, text
//! multiline_start = '^\d{4}-\d\d-\d\d'   # a matching line starts an event
//! timestamp_field = "when"               # JSON/logfmt field holding the time
//! timestamp_format = "%d/%m/%Y %H:%M:%S" # chrono format; no zone = UTC
//! compressed = true                      # also read rotated .gz/.zst siblings
//!
//! [sink]
//! urls = ["http://node-1:9400", "http://node-2:9400"]   # failover, in order
//!
//! [limits]
//! spool_max_bytes = 268435456
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::client::ClientOptions;
use crate::parse::{Format, ParseOptions};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipConfig {
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The host name put on records (default: the machine's host name).
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub status_addr: Option<SocketAddr>,
    pub sources: Vec<SourceConfig>,
    pub sink: SinkConfig,
    #[serde(default)]
    pub limits: Limits,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub fields: Map<String, Value>,
    /// Parser hints: how event heads are read (default: detected per line).
    #[serde(default)]
    pub format: Format,
    /// A regex: a matching line starts an event, any other continues it.
    #[serde(default)]
    pub multiline_start: Option<String>,
    #[serde(default)]
    pub timestamp_field: Option<String>,
    #[serde(default)]
    pub timestamp_format: Option<String>,
    /// Read `.gz` and `.zst` files the globs match (rotated siblings), once each.
    #[serde(default)]
    pub compressed: bool,
}

impl SourceConfig {
    /// A source reading `include`, everything else default.
    pub fn new(include: Vec<String>) -> Self {
        SourceConfig {
            include,
            exclude: Vec::new(),
            service: None,
            fields: Map::new(),
            format: Format::Auto,
            multiline_start: None,
            timestamp_field: None,
            timestamp_format: None,
            compressed: false,
        }
    }

    /// The parser hints of this source, under the shipper's limits.
    pub fn parse_options(&self, limits: &Limits) -> Result<ParseOptions, ConfigError> {
        let multiline_start = match &self.multiline_start {
            Some(re) => Some(regex::Regex::new(re).map_err(|e| {
                ConfigError::Invalid(format!("sources.multiline_start {re:?}: {e}"))
            })?),
            None => None,
        };
        if let Some(f) = &self.timestamp_format {
            // chrono reports a bad format only when parsing; an empty one never matches.
            if f.trim().is_empty() || !f.contains('%') {
                return Err(ConfigError::Invalid(format!(
                    "sources.timestamp_format {f:?}: needs chrono specifiers such as %Y"
                )));
            }
        }
        Ok(ParseOptions {
            max_line_bytes: limits.max_line_bytes,
            multiline_flush: (limits.multiline_flush_ms as i64).saturating_mul(1_000_000),
            format: self.format,
            multiline_start,
            timestamp_field: self.timestamp_field.clone(),
            timestamp_format: self.timestamp_format.clone(),
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SinkConfig {
    pub urls: Vec<String>,
    pub timeout_ms: u64,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    pub breaker_threshold: u32,
    pub breaker_cooldown_ms: u64,
    pub zstd_level: i32,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            urls: Vec::new(),
            timeout_ms: 10_000,
            backoff_base_ms: 200,
            backoff_max_ms: 30_000,
            breaker_threshold: 3,
            breaker_cooldown_ms: 2_000,
            zstd_level: 3,
        }
    }
}

impl SinkConfig {
    pub fn client_options(&self) -> ClientOptions {
        ClientOptions {
            timeout: Duration::from_millis(self.timeout_ms),
            backoff_base: Duration::from_millis(self.backoff_base_ms),
            backoff_max: Duration::from_millis(self.backoff_max_ms),
            breaker_threshold: self.breaker_threshold,
            breaker_cooldown: Duration::from_millis(self.breaker_cooldown_ms),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Bytes of a file's start that identify it; a shorter file is known by its bytes and inode.
    pub fingerprint_bytes: usize,
    pub max_line_bytes: usize,
    /// A record's JSON at most (the node's `[ingest] max_record_bytes`): a longer one is cut to
    /// fit, message first, and marked `truncated`.
    pub max_record_bytes: usize,
    pub batch_max_bytes: usize,
    pub batch_max_wait_ms: u64,
    pub spool_max_bytes: u64,
    /// fsync each spooled batch (off only for throwaway setups).
    pub spool_fsync: bool,
    /// Full directory scan (the source of truth for discovery).
    pub scan_interval_ms: u64,
    /// Look at every tailed file even without events.
    pub poll_interval_ms: u64,
    /// A last line without newline is shipped after the file is idle this long.
    pub partial_idle_ms: u64,
    /// A rotated-away or deleted file is released after it is read to the end and idle this long.
    pub release_idle_ms: u64,
    /// A pending multiline event is emitted after this long without a new line.
    pub multiline_flush_ms: u64,
    pub checkpoint_interval_ms: u64,
    pub checkpoint_retention_days: u64,
    /// How long two live files with the same first bytes are watched before they are taken for
    /// different files (a copytruncate copy stops looking like a twin once the original is
    /// truncated).
    pub twin_wait_ms: u64,
    /// Shutdown waits this long for the node to take what is spooled.
    pub drain_timeout_ms: u64,
    /// Files tailed at once at most (0: as many as the open-files limit allows, after raising
    /// the soft limit to the hard one); further matching files are refused loudly.
    pub max_open_files: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fingerprint_bytes: 256,
            max_line_bytes: 1 << 20,
            max_record_bytes: 1 << 20,
            batch_max_bytes: 1 << 20,
            batch_max_wait_ms: 1_000,
            spool_max_bytes: 256 << 20,
            spool_fsync: true,
            scan_interval_ms: 5_000,
            poll_interval_ms: 1_000,
            partial_idle_ms: 5_000,
            release_idle_ms: 5_000,
            multiline_flush_ms: 1_000,
            checkpoint_interval_ms: 1_000,
            checkpoint_retention_days: 14,
            twin_wait_ms: 3_000,
            drain_timeout_ms: 5_000,
            max_open_files: 0,
        }
    }
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("firewatch-ship")
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("config: {0}")]
    Invalid(String),
}

impl ShipConfig {
    /// The simple case: ship these paths/globs to these URLs.
    pub fn simple(urls: Vec<String>, data_dir: PathBuf, paths: Vec<String>) -> Self {
        ShipConfig {
            data_dir,
            host: None,
            status_addr: None,
            sources: vec![SourceConfig::new(paths)],
            sink: SinkConfig {
                urls,
                ..SinkConfig::default()
            },
            limits: Limits::default(),
        }
    }

    pub fn from_toml(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let cfg: ShipConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            source: Box::new(e),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if self.sink.urls.is_empty() {
            return bad("sink.urls: at least one node url is needed");
        }
        if self.sources.is_empty() || self.sources.iter().any(|s| s.include.is_empty()) {
            return bad("sources: each source needs at least one include glob");
        }
        if self.limits.fingerprint_bytes == 0 || self.limits.fingerprint_bytes > 1 << 20 {
            return bad("limits.fingerprint_bytes must be between 1 and 1048576");
        }
        if self.limits.max_line_bytes == 0 || self.limits.batch_max_bytes == 0 {
            return bad("limits: max_line_bytes and batch_max_bytes must be positive");
        }
        if self.limits.max_record_bytes < 4096 {
            // A record's id, time, source and host must fit whatever its message.
            return bad("limits.max_record_bytes must be at least 4096");
        }
        for s in &self.sources {
            s.parse_options(&self.limits)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let text = r#"
            data_dir = "/var/lib/fw"
            status_addr = "127.0.0.1:9431"
            [[sources]]
            include = ["/var/log/checkout/*.log*"]
            exclude = ["**/debug-*.log"]
            service = "checkout"
            fields = { env = "prod" }
            [sink]
            urls = ["http://node-1:9400", "http://node-2:9400"]
            [limits]
            spool_max_bytes = 1000
        "#;
        let cfg = ShipConfig::from_toml(text, Path::new("ship.toml")).unwrap();
        assert_eq!(cfg.sources[0].fields["env"], "prod");
        assert_eq!(cfg.sink.urls.len(), 2);
        assert_eq!(cfg.sink.timeout_ms, 10_000);
        assert_eq!(cfg.limits.spool_max_bytes, 1000);
        assert_eq!(cfg.limits.fingerprint_bytes, 256);
        assert_eq!(cfg.sources[0].format, Format::Auto);
        assert!(!cfg.sources[0].compressed);
    }

    #[test]
    fn parser_hints_reach_the_parse_options() {
        let text = r#"
            [[sources]]
            include = ["/l/*.log"]
            format = "logfmt"
            multiline_start = '^\d{4}-'
            timestamp_field = "when"
            timestamp_format = "%d/%m/%Y %H:%M:%S"
            compressed = true
            [sink]
            urls = ["http://n:9400"]
            [limits]
            max_line_bytes = 4096
        "#;
        let cfg = ShipConfig::from_toml(text, Path::new("ship.toml")).unwrap();
        let src = &cfg.sources[0];
        assert!(src.compressed);
        let opts = src.parse_options(&cfg.limits).unwrap();
        assert_eq!(opts.format, Format::Logfmt);
        assert_eq!(opts.max_line_bytes, 4096);
        assert!(opts.multiline_start.unwrap().is_match("2026-11-20 x"));
        assert_eq!(opts.timestamp_field.as_deref(), Some("when"));

        let bad = |extra: &str| {
            let t = format!("[[sources]]\ninclude=['a']\n{extra}\n[sink]\nurls=['http://x']");
            ShipConfig::from_toml(&t, Path::new("c.toml"))
                .unwrap_err()
                .to_string()
        };
        assert!(bad("format = 'xml'").contains("unknown variant"));
        assert!(bad("multiline_start = '(['").contains("multiline_start"));
        assert!(bad("timestamp_format = 'dd/mm'").contains("timestamp_format"));
    }

    #[test]
    fn rejects_unknown_keys_and_missing_urls() {
        let err = ShipConfig::from_toml(
            "[[sources]]\ninclude=['a']\n[sink]\nurls=['http://x']\nbogus=1",
            Path::new("c.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
        let err = ShipConfig::from_toml("[[sources]]\ninclude=['a']\n[sink]\n", Path::new("c"))
            .unwrap_err();
        assert!(err.to_string().contains("sink.urls"), "{err}");
    }
}
