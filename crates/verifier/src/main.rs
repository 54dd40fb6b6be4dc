//! `pass-verifier`: the checkpoint's command line. Argument parsing and dispatch; the work is
//! in the library (`scan`, `settings`, `rounds`, `sync`, `rooted`, `station`, `scanlog`).

mod cli;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::Parser;
use pass_decode::{self as decode, image_input};
use pass_verifier::report::{self, Style, printable};
use pass_verifier::rounds::{self, Upstream};
use pass_verifier::scanlog::{self, ScanLog};
use pass_verifier::settings::Settings;
use pass_verifier::station::{Station, web};
use pass_verifier::{config, scan, sync};

use crate::cli::{CheckArgs, Cli, Command, StateArgs};

/// Exit status when any input could not be checked.
const COULD_NOT_CHECK: u8 = 2;

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Scan { images, check } => run_checks(&check, images.iter().map(|p| Input::Image(p))),
        Command::Check { texts, check } => run_checks(&check, texts.iter().map(|t| Input::Text(t))),
        Command::Decode { images, json, first } => decode_images(&images, json, first),
        Command::Sync { server, every, timeout, state } => sync(&state, &server, every.as_deref(), &timeout),
        Command::Status { state } => status(&state),
        Command::Import { file, state } => import(&state, &file),
        Command::Station { listen, open, sync, every, timeout, log, zone, state } => {
            let options = state.options(zone, None);
            station(&options, listen, open, sync.as_deref(), &every, &timeout, log.as_deref())
        }
        Command::Zones { text, json } => zones(&text, json),
        Command::Log { since, json, csv, log, state, tz } => {
            export_log(since.as_deref(), json, csv, log.as_deref(), state.as_deref(), tz.as_deref())
        }
    };
    match result {
        Ok(code) => code,
        Err(e) if pass_core::is_broken_pipe(e.as_ref()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pass-verifier: error: {}", pass_core::one_line_error(e.as_ref()));
            ExitCode::from(COULD_NOT_CHECK)
        }
    }
}

enum Input<'a> {
    Image(&'a Path),
    Text(&'a str),
}

fn run_checks<'a>(args: &CheckArgs, inputs: impl Iterator<Item = Input<'a>>) -> Result<ExitCode> {
    let settings = Settings::load(&args.options())?;
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let style = if color { Style::Ansi } else { Style::Plain };
    let clock = settings.now;
    let mut stdout = std::io::stdout().lock();
    let (mut rejected, mut failed) = (false, false);
    for input in inputs {
        let (name, verdict) = match input {
            Input::Text(text) => ("text".to_owned(), scan::check_text_with(text, |code| settings.check(code, clock))),
            Input::Image(path) => {
                let name = printable(&path.display().to_string()).into_owned();
                match image_input::load_path(path) {
                    Ok(image) => {
                        let budget = decode::DEFAULT_BUDGET;
                        (name, scan::scan_code_with(&image, budget, |code| settings.check(code, clock)).0)
                    }
                    Err(e) => {
                        eprintln!("pass-verifier: {name}: {e}");
                        if args.json {
                            // One object per input, this one included: it could not be checked.
                            let error = serde_json::json!({"input": name, "verdict": "error", "error": e.to_string()});
                            writeln!(stdout, "{error}")?;
                        }
                        failed = true;
                        continue;
                    }
                }
            }
        };
        rejected |= !verdict.accepted();
        if args.json {
            writeln!(stdout, "{}", pass_core::view::verdict_json(&name, &verdict, &settings.tz))?;
        } else {
            write!(stdout, "{}", report::render(&name, &verdict, &settings.tz, style))?;
            if let Some(line) = &settings.freshness_line_for(&verdict) {
                writeln!(stdout, "    {line}")?;
            }
        }
        stdout.flush()?;
    }
    Ok(ExitCode::from(if failed { COULD_NOT_CHECK } else { u8::from(rejected) }))
}

/// `status`: what the checkpoint holds, one line per authority in root mode.
fn status(args: &StateArgs) -> Result<ExitCode> {
    Settings::load(&args.options(None, None))?.status_lines().iter().for_each(|line| println!("{line}"));
    Ok(ExitCode::SUCCESS)
}

/// Whether the trust file these arguments name is in root mode (`[root]`).
fn rooted(args: &StateArgs) -> bool {
    config::load_config(args.config.as_deref())
        .and_then(|c| config::load_trust(&config::trust_path(args.trust.as_deref(), &c)?))
        .is_ok_and(|t| t.root.is_some())
}

fn duration(text: &str, flag: &str) -> Result<std::time::Duration> {
    sync::parse_duration(text).with_context(|| flag.to_owned())
}

fn sync(args: &StateArgs, servers: &[String], every: Option<&str>, timeout: &str) -> Result<ExitCode> {
    let timeout = duration(timeout, "--timeout")?;
    let every = every.map(|e| duration(e, "--every")).transpose()?;
    if let Some(every) = every
        && every < sync::MIN_SYNC_INTERVAL
    {
        let (given, least) = (every.as_secs(), sync::MIN_SYNC_INTERVAL.as_secs());
        anyhow::bail!("--every {given}s: at least {least}s, so thousands of checkpoints do not swamp the server");
    }
    let upstream = Upstream::new(servers, timeout, rooted(args))?;
    let options = args.options(None, None);
    let round = || {
        let (ok, said) = rounds::round(&options, &upstream)?;
        said.out.iter().for_each(|line| println!("{line}"));
        said.err.iter().for_each(|line| eprintln!("pass-verifier: {line}"));
        Ok(ok)
    };
    Ok(match every {
        Some(every) => sync::run_every(every, round),
        None => ExitCode::from(match round() {
            Ok(true) => 0,
            Ok(false) => COULD_NOT_CHECK,
            Err(e) => {
                eprintln!("pass-verifier: {}", printable(&e.to_string()));
                COULD_NOT_CHECK
            }
        }),
    })
}

fn import(args: &StateArgs, file: &Path) -> Result<ExitCode> {
    // Read before the state file is locked: a slow or hostile source never holds up a sync.
    let bytes = pass_files::read_capped(file, sync::MAX_BODY).with_context(|| format!("{}", file.display()))?;
    match rounds::import(&args.options(None, None), &bytes) {
        Ok(what) => println!("imported: {what}"),
        Err(sync::RoundError::Sync(e)) => {
            eprintln!("pass-verifier: import refused, keeping the last good state: {e}");
            return Ok(ExitCode::from(COULD_NOT_CHECK));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(ExitCode::SUCCESS)
}

fn decode_images(images: &[std::path::PathBuf], json: bool, first: bool) -> Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    let mut failed = false;
    for path in images {
        let name = printable(&path.display().to_string()).into_owned();
        let decoded = match scan::decode_file(path, first) {
            Ok(decoded) => decoded,
            Err(e) => {
                eprintln!("pass-verifier: {name}: {e}");
                failed = true;
                continue;
            }
        };
        let (codes, ms) = (&decoded.codes, decoded.ms);
        if json {
            let codes: Vec<_> = codes
                .iter()
                .map(|c| serde_json::json!({"bytes_b64": STANDARD.encode(c), "text": std::str::from_utf8(c).ok()}))
                .collect();
            let value = serde_json::json!({"input": name, "codes": codes, "ms": ms, "strategies": decoded.strategies});
            writeln!(stdout, "{value}")?;
        } else {
            writeln!(stdout, "{name}: {} code(s) in {ms:.2} ms", codes.len())?;
            for code in codes {
                match std::str::from_utf8(code) {
                    Ok(text) => writeln!(stdout, "  text: {}", printable(text))?,
                    Err(_) => writeln!(stdout, "  base64: {}", STANDARD.encode(code))?,
                }
            }
        }
    }
    Ok(ExitCode::from(if failed { COULD_NOT_CHECK } else { 0 }))
}

/// The scan log's path: `--log`, else beside the state file.
fn log_path(log: Option<&Path>, state: Option<&Path>) -> Result<std::path::PathBuf> {
    Ok(match log {
        Some(path) => path.to_owned(),
        None => ScanLog::path_beside(&config::state_path(state)?),
    })
}

#[allow(clippy::too_many_arguments)] // one per command-line setting
fn station(
    options: &pass_verifier::settings::Options,
    listen: std::net::SocketAddr,
    open: bool,
    server: Option<&str>,
    every: &str,
    timeout: &str,
    log: Option<&Path>,
) -> Result<ExitCode> {
    if !listen.ip().is_loopback() {
        anyhow::bail!("--listen {listen}: the station listens on a loopback address only (127.0.0.1 or ::1)");
    }
    let every = duration(every, "--every")?;
    if server.is_some() && every < sync::MIN_SYNC_INTERVAL {
        anyhow::bail!("--every {}s: at least {}s", every.as_secs(), sync::MIN_SYNC_INTERVAL.as_secs());
    }
    let timeout = duration(timeout, "--timeout")?;
    let settings = Settings::load(options)?;
    let log = ScanLog::open(&log_path(log, options.state.as_deref())?)?;
    let station = Arc::new(Station::new(settings, log));
    let token = web::new_token().context("the operating system's random generator failed")?;
    if let Some(server) = server {
        // Root mode takes the --sync bases comma-separated (mirrors, authorities' servers).
        let bases: Vec<String> = server.split(',').map(|b| b.trim().to_owned()).collect();
        let upstream = Upstream::new(&bases, timeout, station.root().is_some())?;
        let station = Arc::clone(&station);
        std::thread::spawn(move || sync::run_every(every, || rounds::station_round(&station, &upstream)));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
        let url = web::url(listener.local_addr()?, &token);
        // Nobody may be reading stdout any more (a closed pipe): the station serves on regardless.
        let mut stdout = std::io::stdout();
        let _ = writeln!(stdout, "checkpoint station: open {url}");
        let _ = writeln!(stdout, "(loopback only; the address carries this run's token. Ctrl-C stops the station.)");
        let _ = stdout.flush();
        if open {
            let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
            if let Err(e) = std::process::Command::new(opener).arg(&url).spawn() {
                eprintln!("pass-verifier: could not open a browser ({opener}: {e}); open the address above by hand");
            }
        }
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        web::run(listener, station, &token, shutdown).await?;
        Ok(ExitCode::SUCCESS)
    })
}

fn export_log(
    since: Option<&str>,
    json: bool,
    csv: bool,
    log: Option<&Path>,
    state: Option<&Path>,
    tz: Option<&str>,
) -> Result<ExitCode> {
    let tz = tz.map_or_else(|| Ok(pass_core::time::default_zone()), pass_core::time::zone)?;
    let since = since.map(|t| pass_core::time::parse_instant(t, &tz, pass_core::time::Bound::StartOfDay));
    let since = since.transpose().context("--since")?.unwrap_or(0);
    let path = log_path(log, state)?;
    if !path.exists() {
        anyhow::bail!("{}: no scan log yet (the station writes it)", path.display());
    }
    let entries = ScanLog::open(&path)?.entries_since(since)?;
    let format = if csv {
        scanlog::Export::Csv
    } else if json {
        scanlog::Export::Json
    } else {
        scanlog::Export::Lines
    };
    scanlog::export(&entries, format, &tz, std::io::stdout().lock())?;
    Ok(ExitCode::SUCCESS)
}

/// Lists divisions matching `text`, for a checkpoint looking up its own code.
fn zones(text: &str, json: bool) -> Result<ExitCode> {
    let (lines, problem) = report::zone_lines(text, json);
    let mut out = std::io::stdout().lock();
    for line in &lines {
        writeln!(out, "{line}")?;
    }
    if let Some(problem) = problem {
        eprintln!("pass-verifier: {problem}");
    }
    Ok(ExitCode::from(u8::from(lines.is_empty())))
}
