//! `pass-verifier`: the checkpoint's command line.

mod cli;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::Parser;
use jiff::tz::TimeZone;
use pass_core::time::{self, Bound};
use pass_core::view::verdict_json;
use pass_core::{Checkpoint, TrustList, Verdict};
use pass_verifier::report::{self, Style};
use pass_verifier::{config, decode, image_input, scan};

use crate::cli::{CheckArgs, Cli, Command};

/// Exit status when any input could not be checked.
const COULD_NOT_CHECK: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan { images, check } => {
            run_checks(&check, images.iter().map(|p| Input::Image(p)))
        }
        Command::Check { texts, check } => run_checks(&check, texts.iter().map(|t| Input::Text(t))),
        Command::Decode { images, json } => decode_images(&images, json),
    };
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pass-verifier: error: {}", chain(&e));
            ExitCode::from(COULD_NOT_CHECK)
        }
    }
}

/// The error and its causes on one line, skipping causes whose text the message already holds.
fn chain(e: &anyhow::Error) -> String {
    let mut line = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line = format!("{line}: {text}");
        }
    }
    line
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

enum Input<'a> {
    Image(&'a Path),
    Text(&'a str),
}

struct Settings {
    trust: TrustList,
    checkpoint: Checkpoint,
    tz: TimeZone,
}

fn settings(args: &CheckArgs) -> Result<Settings> {
    let config = config::load_config(args.config.as_deref())?;
    let tz = match args.tz.as_deref().or(config.tz.as_deref()) {
        Some(name) => time::zone(name)?,
        None => time::default_zone(),
    };
    let trust = config::load_trust(&config::trust_path(args.trust.as_deref(), &config)?)?;
    let now = match &args.at {
        Some(at) => time::parse_instant(at, &tz, Bound::StartOfDay).context("--at")?,
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let zone = config::zone(args.zone, &config)?;
    Ok(Settings {
        trust,
        checkpoint: Checkpoint { now, zone },
        tz,
    })
}

fn run_checks<'a>(args: &CheckArgs, inputs: impl Iterator<Item = Input<'a>>) -> Result<ExitCode> {
    let settings = settings(args)?;
    let style = if std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        Style::Ansi
    } else {
        Style::Plain
    };
    let mut stdout = std::io::stdout().lock();
    let (mut rejected, mut failed) = (false, false);
    for input in inputs {
        let (name, verdict) = match input {
            Input::Text(text) => (
                "text".to_owned(),
                scan::check_text(text, &settings.trust, &settings.checkpoint),
            ),
            Input::Image(path) => {
                let name = path.display().to_string();
                match image_input::load_path(path) {
                    Ok(image) => (
                        name,
                        scan::scan(&image, &settings.trust, &settings.checkpoint),
                    ),
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
    }
    Ok(ExitCode::from(if failed {
        COULD_NOT_CHECK
    } else if rejected {
        1
    } else {
        0
    }))
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

fn decode_images(images: &[std::path::PathBuf], json: bool) -> Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    let mut failed = false;
    for path in images {
        let name = path.display().to_string();
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("pass-verifier: {name}: cannot read file: {e}");
                failed = true;
                continue;
            }
        };
        let start = Instant::now();
        let codes = match image_input::load_bytes(&bytes) {
            Ok(image) => decode::decode_all(&image),
            Err(e) => {
                eprintln!("pass-verifier: {name}: {e}");
                failed = true;
                continue;
            }
        };
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        if json {
            let codes: Vec<_> = codes
                .iter()
                .map(|c| serde_json::json!({"bytes_b64": STANDARD.encode(c), "text": std::str::from_utf8(c).ok()}))
                .collect();
            writeln!(
                stdout,
                "{}",
                serde_json::json!({"input": name, "codes": codes, "ms": ms})
            )?;
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
