//! `pass-verifier`: the checkpoint's command line.

mod cli;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use anyhow::{Context, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::Parser;
use jiff::tz::TimeZone;
use pass_core::Verdict;
use pass_core::view::verdict_json;
use pass_decode::{self as decode, image_input};
use pass_verifier::config;
use pass_verifier::report::{self, Style};
use pass_verifier::scan;
use pass_verifier::scanlog::ScanLog;
use pass_verifier::settings::{Settings, unix_now};
use pass_verifier::state;
use pass_verifier::station::{Station, SyncStatus as StationSync, web};
use pass_verifier::sync::{self, SyncError};

use crate::cli::{CheckArgs, Cli, Command};

/// Exit status when any input could not be checked.
const COULD_NOT_CHECK: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan { images, check } => run_checks(&check, images.iter().map(|p| Input::Image(p))),
        Command::Check { texts, check } => run_checks(&check, texts.iter().map(|t| Input::Text(t))),
        Command::Decode { images, json, first } => decode_images(&images, json, first),
        Command::Sync { server, every, timeout, check } => sync(&check, &server, every.as_deref(), &timeout),
        Command::Status { check } => status(&check),
        Command::Import { file, check } => import(&check, &file),
        Command::Station { listen, open, sync, every, timeout, log, check } => {
            station(&check, listen, open, sync.as_deref(), &every, &timeout, log.as_deref())
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

fn settings(args: &CheckArgs) -> Result<Settings> {
    Ok(Settings::load(&args.options())?)
}

fn run_checks<'a>(args: &CheckArgs, inputs: impl Iterator<Item = Input<'a>>) -> Result<ExitCode> {
    let settings = settings(args)?;
    let style = if std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        Style::Ansi
    } else {
        Style::Plain
    };
    let clock = settings.now;
    let mut stdout = std::io::stdout().lock();
    let (mut rejected, mut failed) = (false, false);
    for input in inputs {
        let (name, verdict) = match input {
            Input::Text(text) => ("text".to_owned(), scan::check_text_with(text, |code| settings.check(code, clock))),
            Input::Image(path) => {
                let name = report::printable(&path.display().to_string()).into_owned();
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
        write_verdict(&mut stdout, &name, &verdict, &settings.tz, style, args.json)?;
        if !args.json
            && let Some(line) = &settings.freshness_line_for(&verdict)
        {
            writeln!(stdout, "    {line}")?;
        }
    }
    Ok(ExitCode::from(if failed {
        COULD_NOT_CHECK
    } else if rejected {
        1
    } else {
        0
    }))
}

/// `status`: what the checkpoint holds, one line per authority in root mode.
fn status(args: &CheckArgs) -> Result<ExitCode> {
    let settings = settings(args)?;
    match settings.rooted() {
        None => match settings.freshness_line() {
            Some(line) => println!("{line}"),
            None => println!("no authority configured: revocations are not checked"),
        },
        Some(view) => {
            println!("{}", settings.freshness_line().unwrap_or_default());
            for authority in &view.authorities {
                let window =
                    if authority.active { "" } else { " (outside its validity window: its passes are not trusted)" };
                println!("  {}{window}", report::printable(&settings.authority_line(authority)));
            }
            for refused in &view.refused {
                println!("  warning: {}", report::printable(refused));
            }
        }
    }
    println!("{} trusted issuers", settings.trust.issuers.len());
    Ok(ExitCode::SUCCESS)
}

/// A root-mode sync: the root's authority list, then every authority (each line says where its
/// data came from, or why it could not be brought up to date).
fn sync_rooted(args: &CheckArgs, servers: &[String], timeout: std::time::Duration) -> Result<bool, sync::RoundError> {
    let options = args.options();
    let settings = Settings::load(&options).map_err(|e| match e {
        pass_verifier::settings::SettingsError::State(e) => sync::RoundError::State(e),
        e => sync::RoundError::Settings(e.to_string()),
    })?;
    let root =
        settings.trust.root.as_ref().map(|r| r.key).ok_or(sync::RoundError::Sync(sync::SyncError::NoAuthority))?;
    let (state, report) =
        pass_verifier::rooted::sync_rooted_file(servers, timeout, &root, &settings.state_path, unix_now())?;
    println!(
        "synced: authority list version {}; {} HTTP request{}, {} bytes",
        report.list_version,
        report.requests,
        if report.requests == 1 { "" } else { "s" },
        report.bytes
    );
    if let Some(error) = &report.list_error {
        eprintln!("pass-verifier: authority list refused, keeping the last good one: {}", report::printable(error));
    }
    for line in &report.authorities {
        let confirmed = line.confirmed_at.map_or_else(
            || "not confirmed by signed time".to_owned(),
            |at| format!("confirmed current as of {} (signed)", pass_core::time::human(at, &settings.tz)),
        );
        match (&line.source, &line.error) {
            (Some(source), _) => println!(
                "  {}: version {} → {} from {}; {confirmed}",
                report::printable(&line.name),
                line.from_version,
                line.to_version,
                report::printable(source)
            ),
            (None, error) => println!(
                "  warning: {}: not brought up to date, keeping version {} ({confirmed}): {}",
                report::printable(&line.name),
                line.to_version,
                report::printable(error.as_deref().unwrap_or(""))
            ),
        }
    }
    for id in &report.dropped {
        println!("  authority {id} is no longer in the root's list: its data was dropped");
    }
    let (_, view) = pass_verifier::rooted::RootedView::new(&settings.local_trust, &state, &root, unix_now());
    for refused in &view.refused {
        println!("  warning: {}", report::printable(refused));
    }
    Ok(report.list_error.is_none() && report.authorities.iter().all(|a| a.error.is_none()))
}

fn sync(args: &CheckArgs, servers: &[String], every: Option<&str>, timeout: &str) -> Result<ExitCode> {
    let timeout = sync::parse_duration(timeout).map_err(anyhow::Error::msg).context("--timeout")?;
    let every = every.map(sync::parse_duration).transpose().map_err(anyhow::Error::msg).context("--every")?;
    if let Some(every) = every
        && every < sync::MIN_SYNC_INTERVAL
    {
        anyhow::bail!(
            "--every {}s: at least {}s, so thousands of checkpoints do not swamp the server",
            every.as_secs(),
            sync::MIN_SYNC_INTERVAL.as_secs()
        );
    }
    let rooted = config::load_config(args.config.as_deref())
        .and_then(|c| config::load_trust(&config::trust_path(args.trust.as_deref(), &c)?))
        .is_ok_and(|t| t.root.is_some());
    if rooted {
        return Ok(sync_rounds(every, || sync_rooted(args, servers, timeout)));
    }
    let [server] = servers else {
        anyhow::bail!("--server: one server for a single authority (a [root] trust file takes several)");
    };
    let client = sync::Client::new(server, timeout);
    // Settings are re-read each round: another process may have imported in between, or the
    // operator fixed the trust file.
    let round = || -> Result<bool, sync::RoundError> {
        let settings = Settings::load(&args.options()).map_err(|e| match e {
            pass_verifier::settings::SettingsError::State(e) => sync::RoundError::State(e),
            e => sync::RoundError::Settings(e.to_string()),
        })?;
        let authority = *settings.authority().map_err(sync::RoundError::Sync)?;
        let (_, report) = sync::sync_file(&client, &authority, &settings.state_path, unix_now())?;
        println!("{}", sync_summary(&report, &settings.tz));
        if let Some(error) = &report.heartbeat_error {
            println!(
                "warning: no valid signed heartbeat ({}): the revocation data counts as current only as of its own signing time",
                report::printable(error)
            );
        }
        if let Some(error) = &report.trust_error {
            eprintln!("pass-verifier: trust list refused, keeping the last good one: {}", report::printable(error));
        }
        if report.trust_stale {
            println!("warning: trust_list_stale: {}", pass_core::Warning::TrustListStale.message());
        }
        Ok(report.trust_error.is_none())
    };
    Ok(sync_rounds(every, round))
}

/// One round (exit 0 when it says all went well, else 2), or a round every `every` for ever.
fn sync_rounds(every: Option<Duration>, mut round: impl FnMut() -> Result<bool, sync::RoundError>) -> ExitCode {
    match every {
        None => ExitCode::from(match round() {
            Ok(true) => 0,
            Ok(false) => COULD_NOT_CHECK,
            Err(e) => {
                eprintln!("pass-verifier: {}", report::printable(&e.to_string()));
                COULD_NOT_CHECK
            }
        }),
        Some(every) => sync::run_every(every, round),
    }
}

/// One line saying what a sync did.
fn sync_summary(report: &sync::SyncReport, tz: &TimeZone) -> String {
    let what = if report.revocations_current {
        format!("revocation data current (version {})", report.to_version)
    } else {
        format!(
            "revocation data version {} → {} ({} bytes)",
            report.from_version, report.to_version, report.revocation_bytes
        )
    };
    let trust = match (&report.trust_error, report.trust_published) {
        (Some(_), _) => "trust list refused (kept the last good one)".to_owned(),
        (None, false) => "the server publishes no trust list".to_owned(),
        (None, true) => format!("trust list version {}", report.trust_version),
    };
    let confirmed = match report.confirmed_at {
        Some(at) => format!("confirmed current as of {} (signed)", pass_core::time::human(at, tz)),
        None => "not confirmed by signed time".to_owned(),
    };
    format!("synced: {what}; {trust}; {confirmed}")
}

fn import(args: &CheckArgs, file: &Path) -> Result<ExitCode> {
    // Read before the state file is locked: a slow or hostile source never holds up a sync.
    let bytes = pass_files::read_capped(file, sync::MAX_BODY).with_context(|| format!("{}", file.display()))?;
    let _lock = state::lock(&pass_verifier::config::state_path(args.state.as_deref())?)?;
    let mut settings = settings(args)?;
    let imported = match settings.trust.root.as_ref().map(|r| r.key) {
        Some(root) => pass_verifier::rooted::import_rooted(&bytes, &root, &mut settings.state, unix_now()),
        None => {
            let authority = *settings.authority()?;
            sync::import(&bytes, &authority, &mut settings.state, unix_now())
        }
    };
    match imported {
        Ok(what) => {
            settings.state.save(&settings.state_path)?;
            println!("imported: {what}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("pass-verifier: import refused, keeping the last good state: {e}");
            Ok(ExitCode::from(COULD_NOT_CHECK))
        }
    }
}

fn write_verdict(
    out: &mut impl Write,
    input: &str,
    verdict: &Verdict,
    tz: &TimeZone,
    style: Style,
    json: bool,
) -> Result<()> {
    if json {
        writeln!(out, "{}", verdict_json(input, verdict, tz))?;
    } else {
        write!(out, "{}", report::render(input, verdict, tz, style))?;
    }
    out.flush()?;
    Ok(())
}

fn decode_images(images: &[std::path::PathBuf], json: bool, first: bool) -> Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    let mut failed = false;
    for path in images {
        let name = report::printable(&path.display().to_string()).into_owned();
        let bytes = match pass_files::read_capped(path, image_input::MAX_FILE_BYTES) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("pass-verifier: {name}: cannot read file: {e}");
                failed = true;
                continue;
            }
        };
        let image = match image_input::load_bytes(&bytes) {
            Ok(image) => image,
            Err(e) => {
                eprintln!("pass-verifier: {name}: {e}");
                failed = true;
                continue;
            }
        };
        // Decoding only: reading the file is not the decoder's time.
        let start = Instant::now();
        let decoded = decode::decode_until(&image, decode::DEFAULT_BUDGET, |_| first);
        let codes = decoded.codes;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        if json {
            let codes: Vec<_> = codes
                .iter()
                .map(|c| serde_json::json!({"bytes_b64": STANDARD.encode(c), "text": std::str::from_utf8(c).ok()}))
                .collect();
            let ran: Vec<_> = decoded.ran.iter().map(|s| s.name()).collect();
            writeln!(stdout, "{}", serde_json::json!({"input": name, "codes": codes, "ms": ms, "strategies": ran}))?;
        } else {
            writeln!(stdout, "{name}: {} code(s) in {ms:.2} ms", codes.len())?;
            for code in &codes {
                match std::str::from_utf8(code) {
                    Ok(text) => writeln!(stdout, "  text: {}", report::printable(text))?,
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
        None => ScanLog::path_beside(&pass_verifier::config::state_path(state)?),
    })
}

#[allow(clippy::too_many_arguments)] // one per command-line setting
fn station(
    args: &CheckArgs,
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
    let every = sync::parse_duration(every).map_err(anyhow::Error::msg).context("--every")?;
    if server.is_some() && every < sync::MIN_SYNC_INTERVAL {
        anyhow::bail!("--every {}s: at least {}s", every.as_secs(), sync::MIN_SYNC_INTERVAL.as_secs());
    }
    let timeout = sync::parse_duration(timeout).map_err(anyhow::Error::msg).context("--timeout")?;
    let settings = settings(args)?;
    let state_path = settings.state_path.clone();
    let log = ScanLog::open(&log_path(log, args.state.as_deref())?)?;
    let station = Arc::new(Station::new(settings, log));
    let token = web::new_token().context("the operating system's random generator failed")?;

    if let Some(server) = server {
        let station = Arc::clone(&station);
        match station.root() {
            // Root mode: the --sync bases, comma-separated (mirrors, authorities' servers).
            Some(root) => {
                let bases: Vec<String> = server.split(',').map(|b| b.trim().to_owned()).collect();
                std::thread::spawn(move || {
                    background_sync_rooted(&station, &bases, timeout, &root, &state_path, every)
                });
            }
            None => {
                let client = sync::Client::new(server, timeout);
                std::thread::spawn(move || background_sync(&station, &client, &state_path, every));
            }
        }
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
            open_browser(&url);
        }
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        web::run(listener, station, &token, shutdown).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Syncs every `every` for as long as the station runs; a failure keeps the last good state.
/// The station picks the saved state up from the file before its next verdict.
fn background_sync(station: &Station, client: &sync::Client, state_path: &Path, every: Duration) -> ! {
    sync::run_every(every, || {
        let result = station
            .authority()
            .ok_or(sync::RoundError::Sync(SyncError::NoAuthority))
            .and_then(|authority| sync::sync_file(client, &authority, state_path, unix_now()));
        let status = match &result {
            Ok((_, report)) => StationSync {
                at: Some(unix_now()),
                error: report.trust_error.as_ref().map(|e| format!("trust list refused: {e}")),
            },
            Err(e) => StationSync { at: Some(unix_now()), error: Some(e.to_string()) },
        };
        station.set_sync_status(status);
        result.map(|(state, _)| station.set_state(state))
    })
}

/// [`background_sync`] in root mode: every authority the root lists, from `bases`.
fn background_sync_rooted(
    station: &Station,
    bases: &[String],
    timeout: Duration,
    root: &pass_core::PublicKey,
    state_path: &Path,
    every: Duration,
) -> ! {
    sync::run_every(every, || {
        let result = pass_verifier::rooted::sync_rooted_file(bases, timeout, root, state_path, unix_now());
        let status = match &result {
            Ok((_, report)) => {
                let behind: Vec<&str> =
                    report.authorities.iter().filter(|a| a.error.is_some()).map(|a| a.name.as_str()).collect();
                StationSync {
                    at: Some(unix_now()),
                    error: (!behind.is_empty()).then(|| format!("not brought up to date: {}", behind.join("、"))),
                }
            }
            Err(e) => StationSync { at: Some(unix_now()), error: Some(e.to_string()) },
        };
        station.set_sync_status(status);
        result.map(|(state, _)| station.set_state(state))
    })
}

/// One row of `log --csv` (text cells through `csv_cell`: a plate crafted as a formula is
/// shown as text in a spreadsheet).
#[derive(serde::Serialize)]
struct LogRow {
    id: i64,
    at: String,
    verdict: String,
    reason: String,
    serial: Option<u64>,
    key_id: String,
    plate: String,
    pass_number: String,
    crew: String,
    first_seen: String,
    last_seen: String,
    frames: u64,
    source: &'static str,
    revocation_age_s: Option<u64>,
    warnings: String,
}

fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    if let Err(e) = std::process::Command::new(opener).arg(url).spawn() {
        eprintln!("pass-verifier: could not open a browser ({opener}: {e}); open the address above by hand");
    }
}

fn export_log(
    since: Option<&str>,
    json: bool,
    csv: bool,
    log: Option<&Path>,
    state: Option<&Path>,
    tz: Option<&str>,
) -> Result<ExitCode> {
    let tz = match tz {
        Some(name) => pass_core::time::zone(name)?,
        None => pass_core::time::default_zone(),
    };
    let since = match since {
        Some(text) => {
            pass_core::time::parse_instant(text, &tz, pass_core::time::Bound::StartOfDay).context("--since")?
        }
        None => 0,
    };
    let path = log_path(log, state)?;
    if !path.exists() {
        anyhow::bail!("{}: no scan log yet (the station writes it)", path.display());
    }
    let entries = ScanLog::open(&path)?.entries_since(since)?;
    let time = |secs: u64| pass_core::time::rfc3339(secs, &tz);
    let time_ms = |ms: u64| pass_core::time::rfc3339(ms / 1000, &tz);
    let stdout = std::io::stdout().lock();
    if csv {
        let mut out = ::csv::Writer::from_writer(stdout);
        for e in &entries {
            let cell = |text: &str| pass_core::view::csv_cell(text).into_owned();
            out.serialize(LogRow {
                id: e.id,
                at: time(e.at),
                verdict: cell(&e.verdict),
                reason: cell(e.reason.as_deref().unwrap_or_default()),
                serial: e.serial,
                key_id: cell(e.key_id.as_deref().unwrap_or_default()),
                plate: cell(e.plate.as_deref().unwrap_or_default()),
                pass_number: cell(e.pass_number.as_deref().unwrap_or_default()),
                crew: cell(e.crew.as_deref().unwrap_or_default()),
                first_seen: time_ms(e.first_seen_ms),
                last_seen: time_ms(e.last_seen_ms),
                frames: e.frames,
                source: e.source.name(),
                revocation_age_s: e.revocation_age,
                warnings: cell(&e.warnings),
            })?;
        }
        out.flush()?;
    } else {
        let mut out = stdout;
        for e in &entries {
            if json {
                let mut value = serde_json::to_value(e)?;
                value["at"] = serde_json::json!(time(e.at));
                value["first_seen"] = serde_json::json!(time_ms(e.first_seen_ms));
                value["last_seen"] = serde_json::json!(time_ms(e.last_seen_ms));
                writeln!(out, "{value}")?;
            } else {
                writeln!(
                    out,
                    "{}  {:8}  {:22}  {:10}  serial {:>8}  {} frames  {}",
                    pass_core::time::human(e.at, &tz),
                    e.verdict,
                    e.reason.as_deref().unwrap_or("-"),
                    e.plate.as_deref().unwrap_or("-"),
                    e.serial.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                    e.frames,
                    e.source.name(),
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Lists divisions matching `text`, for a checkpoint looking up its own code.
fn zones(text: &str, json: bool) -> Result<ExitCode> {
    const LIMIT: usize = 200;
    let found = pass_core::division::search(text, LIMIT + 1);
    let mut out = std::io::stdout().lock();
    for division in found.iter().take(LIMIT) {
        let name = division.full_name().unwrap_or_default();
        let retired = division.retired_since();
        if json {
            let value = serde_json::json!({"code": division.to_string(), "name": name, "retired_since": retired});
            writeln!(out, "{value}")?;
        } else {
            let note = retired.map_or_else(String::new, |year| format!("  (listed until {year})"));
            writeln!(out, "{division}  {name}{note}")?;
        }
    }
    if found.len() > LIMIT {
        eprintln!("pass-verifier: more than {LIMIT} divisions match {text:?}; give more of the name");
    }
    if found.is_empty() {
        eprintln!("pass-verifier: no division matches {text:?}");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
