//! The `firewatch` binary: parses the command line and wires the crates together.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

/// Log aggregation and pattern detection: tail, ship, index, search, alert.
#[derive(Parser)]
#[command(name = "firewatch", version, about, long_about = None)]
struct Cli {
    /// Log filter for firewatch's own logs (e.g. `info`, `firewatch=debug`); also RUST_LOG.
    #[arg(long, global = true, env = "FIREWATCH_LOG", default_value = "info")]
    log: String,
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cmd::init_logging(&cli.log);
    let result = match cli.command {
        Command::Gen(args) => cmd::gen::run(args),
        Command::Ship(args) => cmd::ship::run(args),
        Command::Search(args) => cmd::search::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Analyze(args) => cmd::analyze::run(args),
        Command::Grep(args) => cmd::grep::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
