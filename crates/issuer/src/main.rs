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
        Command::Revoke { serials, server, token, reason, key, ledger, force } => {
            revoke(&serials, &server, &token, &reason, &key, ledger.as_deref(), force)
        }
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

fn ledger_path(key: &Path, ledger: Option<&Path>) -> std::path::PathBuf {
    ledger.map_or_else(|| key.parent().unwrap_or(Path::new(".")).join(ledger::DEFAULT_FILE), Path::to_owned)
}

fn revoke(
    serials: &[u64],
    server: &str,
    token: &str,
    reason: &str,
    key: &Path,
    ledger: Option<&Path>,
    force: bool,
) -> Result<()> {
    let key_id = keyfile::load_secret(key)?.public_key().id();
    let mut ledger = Ledger::open(&ledger_path(key, ledger))?;
    let unknown = ledger.unknown_serials(key_id, serials)?;
    if !unknown.is_empty() && !force {
        anyhow::bail!("this ledger never issued serial(s) {unknown:?} for key {key_id}; check them, or pass --force");
    }
    ledger.record_revocations(key_id, serials, reason, now())?;
    let url = format!("{}/v1/revocations", server.trim_end_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into();
    let body = serde_json::json!({"key_id": key_id.to_string(), "serials": serials, "reason": reason});
    let mut response = agent
        .post(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .with_context(|| format!("{url}: recorded in the ledger, not sent; run the same command again"))?;
    let status = response.status().as_u16();
    let text = response.body_mut().with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
    if !(200..300).contains(&status) {
        anyhow::bail!("{url}: HTTP {status}: {}", text.trim());
    }
    ledger.mark_sent(key_id, serials, now())?;
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    println!(
        "revoked {} serial(s) of key {key_id} (new: {}, already revoked: {}); server version {}",
        serials.len(),
        answer["added"],
        answer["already_revoked"],
        answer["version"]
    );
    Ok(())
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
    let mut ledger = Ledger::open(&ledger_path(&args.key, args.ledger.as_deref()))?;
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
