//! `firewatch grep`: search raw log files, plain or compressed, or a node's archive, fast.

use std::io::{self, BufWriter};
use std::path::PathBuf;
use std::process::ExitCode;

use firewatch_ingest::record::rfc3339_nanos;
use firewatch_query::grep::{self, FieldFilter, GrepOptions, Matcher, OutputMode, PatternKind};
use firewatch_query::input;

const EXAMPLES: &str = "\
Patterns are literals, searched all at once with Aho-Corasick, unless one of them has a regex
metacharacter (\\ . ^ $ * + ? ( ) [ ] { } |): then all are one regex. -F and -E force either.
Inputs are files or directories (recursive, hidden entries skipped); .gz and .zst files are
decompressed as a stream. A node's data directory (it holds segments/manifest.json) is read in
place, read-only: each stored record is searched as `TIME LEVEL SERVICE MESSAGE {fields}` and
printed as `SOURCE:TEXT`. Exit status: 0 if a line was selected, 1 if none, 2 if an input failed (the
others are still searched).

Examples:
  firewatch grep UnhandledPromiseRejection logs/
  firewatch grep -e ECONNREFUSED -e 'heap out of memory' -c logs/ old/users.log.gz
  firewatch grep -E 'HTTP/1\\.1\" 5\\d\\d' -C 2 logs/gateway.log
  firewatch grep --json --where service=checkout --since 2026-11-20T10:00:00Z error logs/
  firewatch grep -c 'heap out of memory' /var/lib/firewatch";

#[derive(clap::Args)]
#[command(after_long_help = EXAMPLES)]
pub struct Args {
    /// The pattern (unless -e is given), then the files and directories to search (default: .).
    #[arg(value_name = "PATTERN | PATH")]
    args: Vec<String>,
    /// A pattern to search for (repeatable); lines matching any are selected.
    #[arg(short = 'e', long = "regexp", value_name = "PATTERN")]
    patterns: Vec<String>,
    /// Treat every pattern as a regex.
    #[arg(short = 'E', long, conflicts_with = "fixed_strings")]
    regex: bool,
    /// Treat every pattern as a literal string.
    #[arg(short = 'F', long)]
    fixed_strings: bool,
    /// Case-insensitive matching (ASCII only for literals).
    #[arg(short = 'i', long)]
    ignore_case: bool,
    /// Print the number of selected lines per input.
    #[arg(short = 'c', long, conflicts_with_all = ["files_with_matches", "json"])]
    count: bool,
    /// Print only the paths of inputs with selected lines.
    #[arg(short = 'l', long, conflicts_with = "json")]
    files_with_matches: bool,
    /// Print selected lines as parsed records (JSON lines).
    #[arg(long)]
    json: bool,
    /// Lines of context after each match.
    #[arg(short = 'A', long, value_name = "N")]
    after_context: Option<usize>,
    /// Lines of context before each match.
    #[arg(short = 'B', long, value_name = "N")]
    before_context: Option<usize>,
    /// Lines of context before and after each match.
    #[arg(short = 'C', long, value_name = "N")]
    context: Option<usize>,
    /// Never print file names.
    #[arg(long, conflicts_with = "with_filename")]
    no_filename: bool,
    /// Always print file names (default when several inputs are searched).
    #[arg(short = 'H', long)]
    with_filename: bool,
    /// Do not print line numbers.
    #[arg(short = 'N', long)]
    no_line_number: bool,
    /// Only records at or after this time (RFC 3339); parses matching lines.
    #[arg(long, value_name = "TIME", value_parser = instant)]
    since: Option<i64>,
    /// Only records before this time (RFC 3339); parses matching lines.
    #[arg(long, value_name = "TIME", value_parser = instant)]
    until: Option<i64>,
    /// Only records whose field has this value: service, host, source, level, or a path into
    /// the record's fields such as http.status (repeatable; all must hold).
    #[arg(long = "where", value_name = "KEY=VALUE")]
    filters: Vec<FieldFilter>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut rest = args.args.into_iter();
    let patterns = if args.patterns.is_empty() {
        rest.next().into_iter().collect()
    } else {
        args.patterns
    };
    let mut paths: Vec<PathBuf> = rest.map(PathBuf::from).collect();
    if paths.is_empty() {
        paths.push(PathBuf::from("."));
    }
    let kind = match (args.regex, args.fixed_strings) {
        (true, _) => PatternKind::Regex,
        (_, true) => PatternKind::Literal,
        _ => PatternKind::Auto,
    };
    let mut opts = GrepOptions::new(Matcher::new(&patterns, kind, args.ignore_case)?);
    opts.mode = match (args.count, args.files_with_matches, args.json) {
        (true, _, _) => OutputMode::Count,
        (_, true, _) => OutputMode::FilesWithMatches,
        (_, _, true) => OutputMode::Json,
        _ => OutputMode::Lines,
    };
    opts.before = args.before_context.or(args.context).unwrap_or(0);
    opts.after = args.after_context.or(args.context).unwrap_or(0);
    opts.line_numbers = !args.no_line_number;
    opts.filter.since = args.since;
    opts.filter.until = args.until;
    opts.filter.fields = args.filters;

    let (inputs, errors) = input::expand(&paths);
    let several = inputs.len() > 1 || paths.iter().any(|p| p.is_dir());
    opts.with_filename = !args.no_filename && (args.with_filename || several);
    for e in &errors {
        eprintln!("firewatch grep: {e}");
    }
    let mut out = BufWriter::with_capacity(256 << 10, io::stdout().lock());
    let summary = match grep::grep(&inputs, &opts, &mut out, &mut |e| {
        eprintln!("firewatch grep: {e}")
    }) {
        Ok(summary) => summary,
        // `firewatch grep … | head` is normal use, not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Err(e) => return Err(e.into()),
    };
    Ok(if summary.errors + errors.len() > 0 {
        ExitCode::from(2)
    } else if summary.matched_inputs > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn instant(s: &str) -> Result<i64, String> {
    rfc3339_nanos::parse(s).ok_or_else(|| format!("invalid RFC 3339 time {s:?}"))
}
