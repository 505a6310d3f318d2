//! One module per subcommand; each turns its arguments into calls on the library crates.
//! `watch` holds the node's detector wiring and `node` the running node, shared by the
//! subcommands that run a node (`serve`, `up`); `demo` and `ticker` belong to `up`.

use std::io::IsTerminal;

pub mod alerts;
pub mod analyze;
pub mod demo;
pub mod gen;
pub mod grep;
pub mod node;
pub mod search;
pub mod serve;
pub mod ship;
pub mod ticker;
pub mod up;
pub mod watch;

/// tantivy warns that the doc store's zstd level is slow each time it reads the index's
/// settings, once per commit: every 500 ms while a node ingests. The level is chosen on purpose
/// (see `firewatch_index::schema::index_settings`), so the warning is only noise.
const QUIET: &str = "tantivy::store::compressors=error";

/// firewatch's own logs go to stderr, so stdout stays clean for data (`--json`, `jsonl`).
pub fn init_logging(filter: &str) {
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    if let Ok(quiet) = QUIET.parse() {
        filter = filter.add_directive(quiet);
    }
    // Colours only on a terminal: a log file or journald would keep the escape codes.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
