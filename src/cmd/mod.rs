//! One module per subcommand; each turns its arguments into calls on the library crates.
//! `watch` holds the node's detector wiring and `node` the running node, shared by the
//! subcommands that run a node (`serve`, `up`); `demo` and `ticker` belong to `up`.

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

/// firewatch's own logs go to stderr, so stdout stays clean for data (`--json`, `jsonl`).
pub fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
