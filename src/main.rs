//! The `firewatch` binary: parses the command line and wires the crates together.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

// Records are parsed on one thread and dropped on another (analyze's read-ahead, the node's
// ingest tasks); glibc's malloc serializes those frees on its arena locks, mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Log aggregation and pattern detection: tail, ship, index, search, alert.
#[derive(Parser)]
#[command(name = "firewatch", version, about, long_about = None)]
struct Cli {
    /// Log filter for firewatch's own logs (e.g. `info`, `firewatch=debug`); also RUST_LOG
    /// [default: info; warn for `up`, whose terminal shows alerts].
    #[arg(long, global = true, env = "FIREWATCH_LOG")]
    log: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write realistic multi-service demo logs (JSON, logfmt, nginx, log4j, syslog).
    Gen(cmd::gen::Args),
    /// Tail log files and ship their records to an ingest node, exactly once.
    Ship(cmd::ship::Args),
    /// Search a node's records (exit 0: matches, 1: none, 2: error).
    Search(cmd::search::Args),
    /// Run the ingest node: durable ingest endpoint, zstd archive, tantivy index.
    Serve(cmd::serve::Args),
    /// Run the detectors over log files or a node's archive and report incidents.
    Analyze(cmd::analyze::Args),
    /// Search log files (plain, .gz, .zst, directories) or a node's archive for patterns, fast.
    Grep(cmd::grep::Args),
    /// Node, shipper, detectors and alert delivery in one process (`--demo` for a live demo).
    Up(cmd::up::Args),
    /// List a node's alerts (exit 0: some, 1: none, 2: error).
    Alerts(cmd::alerts::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet = matches!(cli.command, Command::Up(_));
    let log = cli
        .log
        .as_deref()
        .unwrap_or(if quiet { "warn" } else { "info" });
    cmd::init_logging(log);
    let result = match cli.command {
        Command::Gen(args) => cmd::gen::run(args),
        Command::Ship(args) => cmd::ship::run(args),
        Command::Search(args) => cmd::search::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Analyze(args) => cmd::analyze::run(args),
        Command::Grep(args) => cmd::grep::run(args),
        Command::Up(args) => cmd::up::run(args),
        Command::Alerts(args) => cmd::alerts::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
