//! `pass-verifier`: the checkpoint's command line.

mod cli;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::Parser;
use jiff::tz::TimeZone;
use pass_core::time::{self, Bound};
use pass_core::view::verdict_json;
use pass_core::{Checkpoint, Freshness, TrustList, Verdict};
use pass_decode::{self as decode, image_input};
use pass_verifier::report::{self, Style};
use pass_verifier::state::{self, LocalState};
use pass_verifier::sync::{self, SyncError};
use pass_verifier::{config, scan};

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
        Command::Import { file, check } => import(&check, &file),
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

struct Settings {
    trust: TrustList,
    state: LocalState,
    state_path: PathBuf,
    now: u64,
    zone: Option<pass_core::Division>,
    max_age: u64,
    tz: TimeZone,
}

impl Settings {
    fn checkpoint(&self) -> Checkpoint<'_> {
        let authority = self.trust.authority.as_ref().map(|a| &a.key);
        Checkpoint {
            now: self.now,
            zone: self.zone,
            revocations: Some(&self.state.revocations),
            // Revocation is configured when the trust list names an authority.
            freshness: authority.map(|a| Freshness {
                // A server's 304 confirms the data now; an imported snapshot vouches for itself
                // as of its signed publication time.
                confirmed_at: self.state.last_sync.max(Some(self.state.revocations.issued_at).filter(|t| *t > 0)),
                max_age: self.max_age,
                newest_signed_at: self.state.newest_signed_at(Some(a)),
            }),
        }
    }

    /// "revocation data: version 12, confirmed 3 min ago" for the human output.
    fn freshness_line(&self) -> Option<String> {
        self.trust.authority.as_ref()?;
        let r = &self.state.revocations;
        let confirmed = self.state.last_sync.max(Some(r.issued_at).filter(|t| *t > 0));
        Some(match confirmed {
            None => "注销名单 Revocation data: none yet — run `pass-verifier sync` or `import`".to_owned(),
            Some(at) => format!(
                "注销名单 Revocation data: version {}, {} revoked, confirmed {} ago",
                r.version,
                r.revoked_count(),
                report::age(self.now.saturating_sub(at))
            ),
        })
    }

    fn authority(&self) -> Result<&pass_core::PublicKey> {
        Ok(&self.trust.authority.as_ref().ok_or(SyncError::NoAuthority)?.key)
    }
}

fn settings(args: &CheckArgs) -> Result<Settings> {
    let config = config::load_config(args.config.as_deref())?;
    let tz = match args.tz.as_deref().or(config.tz.as_deref()) {
        Some(name) => time::zone(name)?,
        None => time::default_zone(),
    };
    let local_trust = config::load_trust(&config::trust_path(args.trust.as_deref(), &config)?)?;
    let state_path = config::state_path(args.state.as_deref())?;
    let state = LocalState::load(&state_path)?;
    let trust = state::effective_trust(&local_trust, &state);
    let max_age = sync::parse_duration(&args.max_age).map_err(anyhow::Error::msg).context("--max-age")?.as_secs();
    let now = match &args.at {
        Some(at) => time::parse_instant(at, &tz, Bound::StartOfDay).context("--at")?,
        None => SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
    };
    let zone = config::zone(args.zone, &config)?;
    Ok(Settings { trust, state, state_path, now, zone, max_age, tz })
}

fn run_checks<'a>(args: &CheckArgs, inputs: impl Iterator<Item = Input<'a>>) -> Result<ExitCode> {
    let settings = settings(args)?;
    let style = if std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        Style::Ansi
    } else {
        Style::Plain
    };
    let checkpoint = settings.checkpoint();
    let freshness = settings.freshness_line();
    let mut stdout = std::io::stdout().lock();
    let (mut rejected, mut failed) = (false, false);
    for input in inputs {
        let (name, verdict) = match input {
            Input::Text(text) => ("text".to_owned(), scan::check_text(text, &settings.trust, &checkpoint)),
            Input::Image(path) => {
                let name = path.display().to_string();
                match image_input::load_path(path) {
                    Ok(image) => (name, scan::scan(&image, &settings.trust, &checkpoint)),
                    Err(e) => {
                        eprintln!("pass-verifier: {name}: {e}");
                        failed = true;
                        continue;
                    }
                }
            }
        };
        rejected |= !verdict.accepted();
        write_verdict(&mut stdout, &name, &verdict, &settings.tz, style, args.json)?;
        if !args.json
            && let Some(line) = &freshness
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

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn sync(args: &CheckArgs, server: &str, every: Option<&str>, timeout: &str) -> Result<ExitCode> {
    let timeout = sync::parse_duration(timeout).map_err(anyhow::Error::msg).context("--timeout")?;
    let every = every.map(sync::parse_duration).transpose().map_err(anyhow::Error::msg).context("--every")?;
    let client = sync::Client::new(server, timeout);
    let mut failures = 0u32;
    loop {
        // Settings are re-read each round: another process may have imported in between.
        let mut settings = settings(args)?;
        let authority = *settings.authority()?;
        let result = sync::sync(&client, &authority, &mut settings.state, unix_now());
        let ok = match result {
            Ok(report) => {
                settings.state.save(&settings.state_path)?;
                let what = if report.revocations_current {
                    format!("revocation data current (version {})", report.to_version)
                } else {
                    format!(
                        "revocation data version {} → {} ({} bytes)",
                        report.from_version, report.to_version, report.revocation_bytes
                    )
                };
                println!("synced: {what}; trust list version {}", report.trust_version);
                failures = 0;
                true
            }
            Err(e) => {
                eprintln!("pass-verifier: sync refused, keeping the last good state: {e}");
                failures += 1;
                false
            }
        };
        let Some(every) = every else {
            return Ok(ExitCode::from(if ok { 0 } else { COULD_NOT_CHECK }));
        };
        // Back off exponentially after failures (up to 8 periods, at most an hour more), with
        // ±10% jitter so thousands of checkpoints do not call at the same second.
        let backoff = every.saturating_mul(1 << failures.min(3)).min(every + Duration::from_secs(3600));
        let jitter = f64::from(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos()) % 2001)
            / 10_000.0
            - 0.1;
        std::thread::sleep(backoff.mul_f64(1.0 + jitter));
    }
}

fn import(args: &CheckArgs, file: &Path) -> Result<ExitCode> {
    let mut settings = settings(args)?;
    let authority = *settings.authority()?;
    let bytes = pass_files::read_capped(file, sync::MAX_BODY).with_context(|| format!("{}", file.display()))?;
    match sync::import(&bytes, &authority, &mut settings.state) {
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
        let name = path.display().to_string();
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
                    Ok(text) => writeln!(stdout, "  text: {text}")?,
                    Err(_) => writeln!(stdout, "  base64: {}", STANDARD.encode(code))?,
                }
            }
        }
    }
    Ok(ExitCode::from(if failed { COULD_NOT_CHECK } else { 0 }))
}
