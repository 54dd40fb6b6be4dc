//! `pass-issuer`: the issuing office's command line.

mod cli;

use std::path::Path;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::Parser;
use pass_core::time::{self, Bound};
use pass_issuer::issue::{self, PassRequest};
use pass_issuer::keyfile;
use pass_issuer::ledger::{self, Ledger};
use pass_issuer::render::DEFAULT_MODULE_PX;
use pass_verifier::files::{self, Mode};

use crate::cli::{Cli, Command, IssueArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen { out, name, authority } => keygen(&out, &name, authority),
        Command::Issue(args) => issue(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pass-issuer: error: {}", chain(&e));
            ExitCode::from(2)
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
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

fn keygen(out: &Path, name: &str, authority: bool) -> Result<()> {
    let public = if authority {
        keyfile::generate_named(out, name, "authority.key", "authority.pub")?
    } else {
        keyfile::generate(out, name)?
    };
    eprintln!("pass-issuer: wrote a new key pair to {}; keep the .key file secret", out.display());
    println!("{}", public.id());
    Ok(())
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn issue(args: IssueArgs) -> Result<()> {
    let tz = time::zone(&args.tz)?;
    let valid_from = time::parse_instant(&args.from, &tz, Bound::StartOfDay).context("--from")?;
    let valid_until = time::parse_instant(&args.until, &tz, Bound::EndOfDay).context("--until")?;
    let issued_at = match &args.issued_at {
        Some(t) => time::parse_instant(t, &tz, Bound::StartOfDay).context("--issued-at")?,
        None => now(),
    };
    let key = keyfile::load_secret(&args.key)?;
    let ledger_path = match &args.ledger {
        Some(path) => path.clone(),
        None => args.key.parent().unwrap_or(Path::new(".")).join(ledger::DEFAULT_FILE),
    };
    let mut ledger = Ledger::open(&ledger_path)?;
    let request = PassRequest {
        kind: args.kind,
        plate: args.plate,
        vehicle_type: args.vehicle_type,
        holder: args.holder,
        org_code: args.org_code,
        driver: args.driver,
        origin: args.origin,
        destination: args.destination,
        zones: args.zones,
        cargo: args.cargo,
        valid_from,
        valid_until,
        supersedes: args.supersedes,
    };
    let issued = issue::issue(&key, &mut ledger, request, issued_at)?;
    let png = issued.qr.to_png(DEFAULT_MODULE_PX)?;
    files::write(&args.out, &png, 0o644, Mode::Replace).with_context(|| format!("writing {}", args.out.display()))?;
    if let Some(svg) = &args.svg {
        files::write(svg, issued.qr.to_svg(0.5).as_bytes(), 0o644, Mode::Replace)
            .with_context(|| format!("writing {}", svg.display()))?;
    }
    let serial = issued.record.pass.serial;
    if args.json {
        let json = serde_json::json!({
            "serial": serial,
            "key_id": issued.record.key_id.to_string(),
            "text": issued.text,
            "bytes": issued.record.envelope.len(),
            "qr_version": issued.qr.version(),
            "png": args.out,
            "svg": args.svg,
        });
        println!("{json}");
    } else {
        println!("serial {serial}");
        println!("{}", issued.text);
        eprintln!(
            "pass-issuer: {} bytes, QR version {} (level M), written to {}",
            issued.record.envelope.len(),
            issued.qr.version(),
            args.out.display()
        );
    }
    Ok(())
}
