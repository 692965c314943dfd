//! The `poolbench` command: load a Redis through pool-redis (or a
//! PostgreSQL through pool-postgres, a SQLite file through pool-sqlite, a
//! DuckDB database through pool-duckdb)
//! at one or more
//! pool sizes, print a table and a recommendation, write JSON and HTML
//! reports; `poolbench analyze` merges earlier reports into one page.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::load::{self, Mode, Operation};
use crate::report::{self, Report, SizeResult, recommend};
use crate::{html, server};

/// Size a Redis, PostgreSQL, SQLite or DuckDB connection pool against your
/// own server or file.
#[derive(Debug, Parser)]
#[command(name = "poolbench", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Merge earlier JSON reports into one comparison page.
    Analyze(AnalyzeArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The server (`redis://[user:password@]host:port/db`, `rediss://` for
    /// TLS, `postgres://user[:password]@host:port/db` for PostgreSQL), or
    /// `sqlite://PATH` for a SQLite file (readers in parallel, one writer;
    /// the pool size is the readers' count; settings from `SQLITE_*`), or
    /// `duckdb://PATH` / `duckdb::memory:` for DuckDB (settings from
    /// `DUCKDB_*`).
    /// Without it, poolbench starts its own redis-server on a free loopback
    /// port. Read from `POOLBENCH_URL` when not given, so a password need
    /// not show in the process list.
    #[arg(long, env = "POOLBENCH_URL", hide_env_values = true)]
    url: Option<String>,
    /// A CA bundle (PEM) to trust for a `rediss://` server.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// A client certificate (PEM) for mutual TLS (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Tasks issuing operations at once (with --rate/--rates: the most
    /// operations in flight).
    #[arg(long, alias = "concurrent-users", default_value_t = 100)]
    concurrency: usize,
    /// Open loop: start this many operations per second on schedule,
    /// whether or not earlier ones finished (latency counts from each
    /// operation's due time, as wrk2 does).
    #[arg(long, value_name = "OPS_PER_SEC", value_parser = parse_rate, conflicts_with = "rates", allow_negative_numbers = true)]
    rate: Option<f64>,
    /// Open loop at each of these rates, for every pool size: shows the
    /// knee, the highest rate each size sustains within --target-p99.
    #[arg(long, value_name = "OPS_PER_SEC,...", value_delimiter = ',', value_parser = parse_rate, allow_negative_numbers = true)]
    rates: Vec<f64>,
    /// How long to measure each pool size (`30s`, `2m`, `500ms`).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// Unmeasured load before each measurement.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    warmup: Duration,
    /// `get`, `set`, `mixed[:READ_PERCENT]` (default 80% reads) or
    /// `pipeline:N`.
    #[arg(long, default_value = "mixed")]
    operation: Operation,
    /// Bytes per value.
    #[arg(long, default_value_t = 16)]
    value_size: usize,
    /// A checkout per operation, or the shared multiplexed connections.
    #[arg(long, value_enum, default_value_t = Mode::Exclusive)]
    mode: Mode,
    /// Pool sizes to compare (a sweep). Default: REDIS_MASTER_POOL_SIZE or
    /// the REDIS_POOL_PRESET's master size.
    #[arg(long, value_delimiter = ',')]
    pool_sizes: Vec<usize>,
    /// The p99 latency the recommendation must meet.
    #[arg(long, value_parser = parse_duration)]
    target_p99: Option<Duration>,
    /// Write the report as JSON.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Write the report as a self-contained HTML page.
    #[arg(long)]
    html: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Check the options and print what would be measured, without
    /// connecting to anything or starting a server.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
struct AnalyzeArgs {
    /// JSON reports from earlier runs.
    #[arg(required = true)]
    reports: Vec<PathBuf>,
    /// The comparison page to write.
    #[arg(long)]
    html: PathBuf,
}

/// `30s`, `2m`, `500ms`, `1.5s`, or a plain number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{s:?}: expected a duration like 30s, 2m or 500ms"))?;
    let secs = match unit {
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{s:?}: not a duration"))
}

/// A positive, finite number of operations per second.
fn parse_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "{s:?}: expected a positive number of operations per second"
        )),
    }
}

/// Runs the command line; the exit code says whether it worked.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("poolbench: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Some(Command::Analyze(args)) => analyze(&args),
        None => rt.block_on(run(cli.run)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("poolbench: {e}");
            ExitCode::from(2)
        }
    }
}

/// The pool sizes to try, and where they came from.
fn pool_sizes(args: &RunArgs) -> Result<(Vec<usize>, usize, String), String> {
    let settings = pool_redis::env::RoleSettings::from_env().map_err(|e| e.to_string())?;
    let master = settings
        .pools
        .get(&pool_redis::env::Role::Master)
        .copied()
        .ok_or("no master pool settings")?;
    if args.pool_sizes.is_empty() {
        return Ok((
            vec![master.size],
            master.min_idle,
            "the master pool's size from the REDIS_* variables (or their preset)".into(),
        ));
    }
    if let Some(zero) = args.pool_sizes.iter().find(|&&s| s == 0) {
        return Err(format!("--pool-sizes: {zero} is not a pool size"));
    }
    Ok((
        args.pool_sizes.clone(),
        master.min_idle,
        "--pool-sizes".into(),
    ))
}

/// `url` with `--tls-ca`/`--tls-cert`/`--tls-key` as its query parameters
/// (the form pool-redis reads). A URL that does not parse is left as it is:
/// connecting to it reports the problem.
fn with_tls_files(url: String, args: &RunArgs) -> String {
    let files = [
        ("tls_ca", &args.tls_ca),
        ("tls_cert", &args.tls_cert),
        ("tls_key", &args.tls_key),
    ];
    if files.iter().all(|(_, file)| file.is_none()) {
        return url;
    }
    let Ok(mut parsed) = url::Url::parse(&url) else {
        return url;
    };
    for (param, file) in files {
        if let Some(file) = file {
            parsed
                .query_pairs_mut()
                .append_pair(param, &file.display().to_string());
        }
    }
    parsed.to_string()
}

/// A PostgreSQL URL (`postgres://` or `postgresql://`) selects the
/// PostgreSQL mode.
fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// What the PostgreSQL mode cannot do, refused by name; its pool sizes
/// (default: the preset's 20).
fn postgres_checks(args: &RunArgs) -> Result<(Vec<usize>, usize, String), String> {
    if args.mode == Mode::Shared {
        return Err(
            "--mode shared is Redis-only: a PostgreSQL connection serves one checkout at a time"
                .into(),
        );
    }
    if args.tls_ca.is_some() || args.tls_cert.is_some() {
        return Err("--tls-ca/--tls-cert/--tls-key are for rediss:// servers; the PostgreSQL mode connects without TLS".into());
    }
    if let Some(zero) = args.pool_sizes.iter().find(|&&s| s == 0) {
        return Err(format!("--pool-sizes: {zero} is not a pool size"));
    }
    if args.pool_sizes.is_empty() {
        return Ok((
            vec![20],
            0,
            "the PostgreSQL preset's size (pool_postgres::Config::tuned)".into(),
        ));
    }
    Ok((args.pool_sizes.clone(), 0, "--pool-sizes".into()))
}

/// Reaches the Redis server (a wrong address fails within 2 s, by name)
/// and writes the keys the load reads.
async fn redis_admin(
    url: &str,
    value_size: usize,
) -> Result<redis::aio::MultiplexedConnection, String> {
    let admin_pool = pool_redis::Config::from_url(url)
        .create_pool(None)
        .map_err(|e| format!("{}: not a usable Redis URL: {e}", report::redact(url)))?;
    let mut admin = match tokio::time::timeout(Duration::from_secs(2), admin_pool.get()).await {
        Ok(Ok(conn)) => pool_redis::Connection::take(conn),
        Ok(Err(e)) => return Err(format!("cannot reach {}: {e}", report::redact(url))),
        Err(_) => {
            return Err(format!(
                "cannot reach {}: no answer within 2 s",
                report::redact(url)
            ));
        }
    };
    load::prepare(&mut admin, value_size)
        .await
        .map_err(|e| format!("{}: writing the test keys failed: {e}", report::redact(url)))?;
    Ok(admin)
}

/// What a run would measure, in one line (`--dry-run`); the URL masked.
fn plan(args: &RunArgs, sizes: &[usize], sizes_from: &str) -> String {
    let target = match &args.url {
        Some(url) => report::redact(url),
        None => "a redis-server started for the run".into(),
    };
    let load = match (args.rate, args.rates.is_empty()) {
        (Some(rate), _) => format!("an open loop at {rate} ops/s"),
        (None, false) => format!("open loops at {:?} ops/s", args.rates),
        (None, true) => format!("{} tasks", args.concurrency),
    };
    format!(
        "would measure {target}: pool sizes {sizes:?} (from {sizes_from}), {load}, \
         operation {:?}, {:?} mode, {:?} after {:?} of warm-up each",
        args.operation, args.mode, args.duration, args.warmup
    )
}

/// What the load runs against.
enum Backend {
    /// A Redis server, with the connection that wrote the test keys.
    Redis(redis::aio::MultiplexedConnection),
    Postgres,
    Sqlite,
    Duckdb,
}

async fn run(args: RunArgs) -> Result<(), String> {
    if args.concurrency == 0 {
        return Err("--concurrency must be at least 1".into());
    }
    let postgres = args.url.as_deref().is_some_and(is_postgres_url);
    let sqlite = args
        .url
        .as_deref()
        .is_some_and(crate::sqlite::is_sqlite_url);
    let duckdb = args
        .url
        .as_deref()
        .is_some_and(crate::duckdb::is_duckdb_url);
    if args.operation == Operation::Scan && !duckdb {
        return Err(
            "--operation scan is DuckDB's (an aggregate over a million rows): use a duckdb:// URL"
                .into(),
        );
    }
    let (sizes, min_idle, sizes_from) = if postgres {
        postgres_checks(&args)?
    } else if sqlite {
        let (sizes, from) = crate::sqlite::checks(
            args.mode,
            args.tls_ca.is_some() || args.tls_cert.is_some(),
            args.operation,
            &args.pool_sizes,
        )?;
        (sizes, 0, from)
    } else if duckdb {
        let (sizes, from) = crate::duckdb::checks(
            args.mode,
            args.tls_ca.is_some() || args.tls_cert.is_some(),
            args.operation,
            &args.pool_sizes,
        )?;
        (sizes, 0, from)
    } else {
        pool_sizes(&args)?
    };
    if args.dry_run {
        println!("{}", plan(&args, &sizes, &sizes_from));
        return Ok(());
    }
    let _server;
    let url = match &args.url {
        Some(url) => url.clone(),
        None => {
            let server = server::LocalServer::start().await?;
            eprintln!(
                "no --url: started redis-server on {} for this run",
                server.url()
            );
            let url = server.url();
            _server = server;
            url
        }
    };
    let url = with_tls_files(url, &args);
    let mut backend = if postgres {
        crate::pg::prepare(&url, args.value_size).await?;
        Backend::Postgres
    } else if sqlite {
        crate::sqlite::prepare(&url, args.value_size).await?;
        Backend::Sqlite
    } else if duckdb {
        crate::duckdb::prepare(&url, args.value_size).await?;
        Backend::Duckdb
    } else {
        Backend::Redis(redis_admin(&url, args.value_size).await?)
    };
    let stop = Arc::new(AtomicBool::new(false));
    tokio::spawn({
        let stop = stop.clone();
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.store(true, Ordering::Relaxed);
            }
        }
    });

    let rates: Vec<Option<f64>> = match (args.rate, args.rates.is_empty()) {
        (Some(rate), _) => vec![Some(rate)],
        (None, false) => args.rates.iter().copied().map(Some).collect(),
        (None, true) => vec![None],
    };
    let runs = sizes.len() * rates.len();
    let per_size = args.warmup + args.duration;
    let show = !args.quiet && std::io::stderr().is_terminal();
    let bar = if show {
        let bar = indicatif::ProgressBar::new((per_size.as_millis() as u64) * runs as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let load = match &rates[..] {
        [None] => format!("{} concurrent tasks", args.concurrency),
        _ => format!(
            "open loop at {} ops/s (at most {} in flight)",
            rates
                .iter()
                .flatten()
                .map(|r| format!("{r:.0}"))
                .collect::<Vec<_>>()
                .join(", "),
            args.concurrency
        ),
    };
    eprintln!(
        "{load}, {} mode, {}, pool sizes {:?} (from {sizes_from}), {:?} each after {:?} warm-up",
        match args.mode {
            Mode::Exclusive => "exclusive",
            Mode::Shared => "shared",
        },
        args.operation,
        sizes,
        args.duration,
        args.warmup
    );

    let mut rep = Report::new(
        &url,
        report::Settings {
            mode: args.mode,
            concurrency: args.concurrency,
            duration_s: args.duration.as_secs_f64(),
            warmup_s: args.warmup.as_secs_f64(),
            operation: args.operation.to_string(),
            value_size: args.value_size,
            target_p99_us: args.target_p99.map(|t| t.as_micros() as u64),
            rates: rates.iter().flatten().copied().collect(),
        },
    );
    let plan = sizes
        .iter()
        .flat_map(|&size| rates.iter().map(move |&rate| (size, rate)));
    for (i, (size, rate)) in plan.enumerate() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        bar.set_message(match rate {
            Some(rate) => format!("pool size {size} at {rate:.0} ops/s"),
            None => format!("pool size {size}"),
        });
        let base = per_size.as_millis() as u64 * i as u64;
        let spec = load::Spec {
            url: url.clone(),
            mode: args.mode,
            pool_size: size,
            min_idle,
            concurrency: args.concurrency,
            operation: args.operation,
            value_size: args.value_size,
            duration: args.duration,
            warmup: args.warmup,
            rate,
        };
        let on_progress = |done: Duration| bar.set_position(base + done.as_millis() as u64);
        let measured = match &mut backend {
            Backend::Redis(admin) => load::run(&spec, admin, &stop, &on_progress).await?,
            Backend::Postgres => crate::pg::run(&spec, &stop, &on_progress).await?,
            Backend::Sqlite => crate::sqlite::run(&spec, &stop, &on_progress).await?,
            Backend::Duckdb => crate::duckdb::run(&spec, &stop, &on_progress).await?,
        };
        rep.results.push(SizeResult::from_measured(size, measured));
    }
    bar.finish_and_clear();
    if stop.load(Ordering::Relaxed) {
        eprintln!("interrupted: reporting what was measured");
    }
    rep.recommendation = if report::is_open_loop(&rep) {
        report::recommend_open(&rep.results, rep.settings.target_p99_us)
    } else {
        recommend(&rep.results, rep.settings.target_p99_us)
    };
    print!("{}", report::table(&rep));
    write_outputs(&rep, args.report.as_deref(), args.html.as_deref())
}

fn write_outputs(
    rep: &Report,
    json: Option<&Path>,
    html_path: Option<&Path>,
) -> Result<(), String> {
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(rep).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = html_path {
        let page = html::render(&[("this run".into(), rep.clone())]);
        std::fs::write(path, page).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn analyze(args: &AnalyzeArgs) -> Result<(), String> {
    let mut reports = Vec::new();
    for path in &args.reports {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut rep: Report = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a poolbench report: {e}", path.display()))?;
        rep.results.sort_by_key(|r| r.pool_size);
        let label = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        reports.push((label, rep));
    }
    // A workflow of one size per report: merge them into one
    // sweep, recommend over all of it, and show each input as well.
    let mut merged = reports[0].1.clone();
    merged.results = reports
        .iter()
        .flat_map(|(_, r)| r.results.clone())
        .collect();
    merged.results.sort_by_key(|r| r.pool_size);
    merged.recommendation = if report::is_open_loop(&merged) {
        report::recommend_open(&merged.results, merged.settings.target_p99_us)
    } else {
        recommend(&merged.results, merged.settings.target_p99_us)
    };
    print!("{}", report::table(&merged));
    let mut pages = vec![("all reports".to_owned(), merged)];
    if reports.len() > 1 && reports.iter().any(|(_, r)| r.results.len() > 1) {
        pages.extend(reports);
    }
    let page = html::render(&pages);
    std::fs::write(&args.html, page).map_err(|e| format!("{}: {e}", args.html.display()))?;
    eprintln!("wrote {}", args.html.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_refuse_nonsense() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert!(parse_duration("5 parsecs").unwrap_err().contains("unit"));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-3s").is_err());
    }

    #[test]
    fn operations_parse_and_refuse_nonsense() {
        assert_eq!("get".parse(), Ok(Operation::Get));
        assert_eq!("mixed".parse(), Ok(Operation::Mixed { read_percent: 80 }));
        assert_eq!(
            "mixed:95".parse(),
            Ok(Operation::Mixed { read_percent: 95 })
        );
        assert_eq!("pipeline:50".parse(), Ok(Operation::Pipeline(50)));
        assert!("mixed:120".parse::<Operation>().is_err());
        assert!("pipeline:0".parse::<Operation>().is_err());
        assert!("delete".parse::<Operation>().is_err());
    }
}
