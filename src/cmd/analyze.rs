//! `firewatch analyze`: run the detectors over log files and report the alerts.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use firewatch_detectors::Engine;
use firewatch_query::analyze::{analyze, render_text};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    /// A readable incident summary.
    Text,
    /// One alert per line as JSON, nothing else on stdout.
    Jsonl,
}

#[derive(clap::Args)]
pub struct Args {
    /// Files and directories (recursive; plain, .gz, .zst).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let analysis = analyze(&args.paths, Engine::default());
    for err in &analysis.errors {
        tracing::warn!(path = %err.path.display(), error = %err.source, "input skipped");
    }
    let mut stdout = std::io::stdout().lock();
    match args.format {
        Format::Text => stdout.write_all(render_text(&analysis).as_bytes())?,
        Format::Jsonl => {
            for alert in &analysis.alerts {
                serde_json::to_writer(&mut stdout, alert).context("writing alerts")?;
                stdout.write_all(b"\n")?;
            }
        }
    }
    stdout.flush()?;
    if analysis.inputs == 0 {
        anyhow::bail!("no readable input among the given paths");
    }
    Ok(ExitCode::SUCCESS)
}
