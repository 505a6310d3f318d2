//! `firewatch analyze`: run the detectors over log files or a node's archive and report.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use firewatch_detectors::Engine;
use firewatch_query::analyze::{
    analyze_with, render_html, render_json, render_text, Analysis, Progress,
};

const ABOUT: &str = "\
Inputs are files, directories (recursive), .gz and .zst files, and node data directories
(recognized by their segments/manifest.json): the sealed archive segments are read in place,
read-only, while the node may be running. A progress bar is drawn on stderr when it is a
terminal.

Examples:
  firewatch analyze logs/
  firewatch analyze --format html --output report.html /var/lib/firewatch
  firewatch analyze --format json old/*.log.gz | jq .summary.fingerprints";

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A readable incident summary: alerts, services, fingerprints, rejections, gauge trends.
    Text,
    /// One alert per line as JSON, nothing else on stdout.
    Jsonl,
    /// One JSON document: totals, input errors, the summary and the alerts.
    Json,
    /// One self-contained HTML report with charts (opens without network).
    Html,
}

#[derive(clap::Args)]
#[command(after_long_help = ABOUT)]
pub struct Args {
    /// Files and directories (recursive; plain, .gz, .zst, node data directories).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Write the report to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let analysis = with_progress(|progress| analyze_with(&args.paths, Engine::default(), progress));
    for err in &analysis.errors {
        tracing::warn!(path = %err.path.display(), error = %err.source, "unreadable input");
    }
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    write_report(&analysis, args.format, &mut out)?;
    out.flush()?;
    if analysis.inputs == 0 {
        anyhow::bail!("no readable input among the given paths");
    }
    Ok(ExitCode::SUCCESS)
}

fn write_report(analysis: &Analysis, format: Format, out: &mut dyn Write) -> anyhow::Result<()> {
    match format {
        Format::Text => out.write_all(render_text(analysis).as_bytes())?,
        Format::Jsonl => {
            for alert in &analysis.alerts {
                serde_json::to_writer(&mut *out, alert).context("writing alerts")?;
                out.write_all(b"\n")?;
            }
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &render_json(analysis))
                .context("writing the report")?;
            out.write_all(b"\n")?;
        }
        Format::Html => out.write_all(render_html(analysis).as_bytes())?,
    }
    Ok(())
}

/// Runs `f` with a progress bar on stderr (bytes of input read), drawn only when stderr is a
/// terminal and the run lasts more than a moment.
fn with_progress<T>(f: impl FnOnce(&Progress) -> T) -> T {
    let progress = Arc::new(Progress::default());
    if !std::io::stderr().is_terminal() {
        return f(progress.as_ref());
    }
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let drawer = {
        let (progress, done) = (progress.clone(), done.clone());
        std::thread::spawn(move || {
            let bar = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {bytes}/{total_bytes} {bar:30} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let mut waited = Duration::ZERO;
            let step = Duration::from_millis(100);
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(step);
                waited += step;
                // Short runs finish before the bar would flicker into view.
                if waited >= Duration::from_millis(500) {
                    bar.set_length(progress.total.load(Ordering::Relaxed));
                    bar.set_position(progress.done.load(Ordering::Relaxed));
                }
            }
            bar.finish_and_clear();
        })
    };
    let result = f(progress.as_ref());
    done.store(true, Ordering::Relaxed);
    let _ = drawer.join();
    result
}
