//! `pass-issuer`: the issuing office's command line. Argument parsing and dispatch; the work
//! is in the library (`issue`, `batch`, `print`, `revoke`, `office`, `listing`).

mod cli;

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::Parser;
use pass_core::time::{self, Bound};
use pass_files::{self as files, Mode};
use pass_issuer::issue::{self, Changes, PassRequest};
use pass_issuer::ledger::{Ledger, ListFilter};
use pass_issuer::office::{self, ledger_path};
use pass_issuer::render::DEFAULT_MODULE_PX;
use pass_issuer::{keyfile, listing, print, revoke};

use crate::cli::{BatchArgs, Cli, Command, IssueArgs, ListArgs, PrintArgs, ReissueArgs};

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Keygen { out, name, authority, division } => keygen(&out, &name, authority, division),
        Command::Issue(args) => issue(args),
        Command::Batch(args) => batch(args),
        Command::List(args) => list(args),
        Command::Show { number, ledger, key, tz, json } => show(&number, ledger.as_deref(), key.as_deref(), &tz, json),
        Command::Reissue(args) => reissue(args),
        Command::Print(args) => print(args),
        Command::ImportLedger { from, key, ledger } => import_ledger(&from, &key, ledger.as_deref()),
        Command::TrustEntry { key, section, name, zones, division, not_before, not_after } => {
            office::trust_entry(&key, section, name, &zones, division, not_before.as_deref(), not_after.as_deref())
                .map(|entry| print!("{entry}"))
        }
        Command::Revoke { serials, server, token, token_file, reason, key, ledger, force } => {
            revoke::read_token(token, token_file.as_deref())
                .and_then(|token| revoke(&serials, &server, &token, &reason, &key, ledger.as_deref(), force))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if pass_core::is_broken_pipe(e.as_ref()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pass-issuer: error: {}", pass_core::one_line_error(e.as_ref()));
            ExitCode::from(2)
        }
    }
}

fn keygen(out: &Path, name: &str, authority: bool, division: Option<pass_core::Division>) -> Result<()> {
    let public = if authority {
        keyfile::generate_named(out, name, None, "authority.key", "authority.pub")?
    } else {
        keyfile::generate(out, name, division)?
    };
    eprintln!("pass-issuer: wrote a new key pair to {}; keep the .key file secret", out.display());
    println!("{}", public.id());
    Ok(())
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The secret key, with the warning printed when others may read its file.
fn load_key(path: &Path) -> Result<pass_core::SecretKey> {
    let (key, warning) = office::load_key(path)?;
    if let Some(warning) = warning {
        eprintln!("pass-issuer: warning: {warning}");
    }
    Ok(key)
}

/// The key and the ledger beside it (or given), bound to each other.
fn key_and_ledger(key: &Path, ledger: Option<&Path>) -> Result<(pass_core::SecretKey, Ledger)> {
    let secret = load_key(key)?;
    let mut opened = Ledger::open(&ledger_path(key, ledger))?;
    opened.bind(secret.public_key().id(), key)?;
    Ok((secret, opened))
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
    if let Some(warning) = revoke::plain_http_warning(&format!("{}/v1/revocations", server.trim_end_matches('/'))) {
        eprintln!("pass-issuer: warning: {warning}");
    }
    let (key_id, answer) = revoke::record_and_send(key, ledger, serials, reason, server, token, force, now())?;
    let (count, added, already, version) = (serials.len(), answer.added, answer.already_revoked, answer.version);
    println!(
        "revoked {count} serial(s) of key {key_id} (new: {added}, already revoked: {already}); server version {version}"
    );
    Ok(())
}

fn issue(args: IssueArgs) -> Result<()> {
    let tz = time::zone(&args.tz)?;
    let valid_from = time::parse_instant(&args.from, &tz, Bound::StartOfDay).context("--from")?;
    let valid_until = time::parse_instant(&args.until, &tz, Bound::EndOfDay).context("--until")?;
    // A bad output path must not cost a serial: check it before the ledger hands one out.
    for out in std::iter::once(&args.out).chain(args.svg.as_ref()) {
        files::check_writable(out).with_context(|| format!("cannot write {}", out.display()))?;
    }
    let (key, mut ledger) = key_and_ledger(&args.key, args.ledger.as_deref())?;
    let request = args.request(valid_from, valid_until);
    let issued = issue::issue(&key, &mut ledger, request, "superseded", now())?;
    files::write(&args.out, &issued.qr.to_png(DEFAULT_MODULE_PX)?, 0o644, Mode::Replace)
        .with_context(|| format!("writing {}", args.out.display()))?;
    if let Some(svg) = &args.svg {
        files::write(svg, issued.qr.to_svg(0.5).as_bytes(), 0o644, Mode::Replace)
            .with_context(|| format!("writing {}", svg.display()))?;
    }
    let (serial, bytes, version) = (issued.record.pass.serial, issued.record.envelope.len(), issued.qr.version());
    if args.json {
        let key_id = issued.record.key_id.to_string();
        println!(
            "{}",
            serde_json::json!({"serial": serial, "key_id": key_id, "text": issued.text, "bytes": bytes,
                "qr_version": version, "png": args.out, "svg": args.svg})
        );
    } else {
        println!("serial {serial}\n{}", issued.text);
        eprintln!("pass-issuer: {bytes} bytes, QR version {version} (level M), written to {}", args.out.display());
    }
    Ok(())
}

fn batch(args: BatchArgs) -> Result<()> {
    let tz = time::zone(&args.tz)?;
    let layout: print::Layout = args.page.layout.parse().map_err(anyhow::Error::msg)?;
    let encoding = args.encoding.as_deref().map(str::parse).transpose().map_err(anyhow::Error::msg)?;
    let batch = pass_issuer::batch::read(&args.file, encoding, &tz)?;
    for e in &batch.errors {
        eprintln!("pass-issuer: {}: {e}", args.file.display());
    }
    if !batch.errors.is_empty() && !args.skip_invalid {
        if args.json {
            println!("{}", serde_json::json!({"issued": [], "invalid": batch.errors}));
        }
        let (invalid, rows) = (batch.invalid_rows, batch.rows);
        anyhow::bail!("{invalid} invalid row(s) of {rows}; nothing issued (fix them, or pass --skip-invalid)");
    }
    let issued_at = now();
    let tools = batch.prepare(issued_at, &args.out_dir, args.pdf.as_deref())?;
    let (key, mut ledger) = key_and_ledger(&args.key, args.ledger.as_deref())?;
    let info = batch.info(args.again, issued_at);
    let public = key.public_key();
    let (records, issued) = batch.issue(&key, &mut ledger, &info, &args.out_dir, |done, total| {
        pass_issuer::batch::progress_on_stderr(done, total, "issuing");
    })?;
    drop(key);
    let mut pages = None;
    if let (Some(pdf), Some(tools)) = (&args.pdf, &tools) {
        let page = office::page_info(&args.page.title, args.page.office.as_deref(), &args.key, &public, &tz);
        eprintln!("pass-issuer: rendering {} pass(es) to PDF and checking every page ...", records.len());
        let printed = pass_issuer::batch::print(tools, &records, &page, layout, &public, pdf, (&info, &args.key))?;
        pages = Some(printed);
    }
    let serials = match (records.first(), records.last()) {
        (Some(a), Some(b)) => format!("{}-{}", a.pass.serial, b.pass.serial),
        _ => "none".into(),
    };
    if args.json {
        let summary = serde_json::json!({"issued": issued, "invalid": batch.errors, "pdf": args.pdf,
            "pages": pages, "batch_sha256": info.sha256});
        println!("{summary}");
    }
    let skipped = batch.errors.len();
    eprintln!(
        "pass-issuer: issued {} pass(es), serials {serials}{}{}",
        records.len(),
        if skipped == 0 { String::new() } else { format!("; skipped {skipped} invalid row(s)") },
        pages.map_or(String::new(), |p| format!("; PDF {p} page(s), all checked")),
    );
    Ok(())
}

fn list(args: ListArgs) -> Result<()> {
    let tz = time::zone(&args.tz)?;
    let valid_at = args.valid_at.as_deref().map(|t| time::parse_instant(t, &tz, Bound::StartOfDay));
    let valid_at = valid_at.transpose().context("--valid-at")?;
    let division = office::ledger_division(args.ledger.as_deref(), args.key.as_deref());
    let ledger = office::open_existing_ledger(args.ledger.as_deref(), args.key.as_deref())?;
    let records = ledger.list(&ListFilter { plate: args.plate, holder: args.holder, valid_at, serial: None })?;
    let mut out = std::io::stdout().lock();
    if args.csv {
        let mut writer = csv::Writer::from_writer(&mut out);
        for r in &records {
            writer.serialize(listing::PassRow::new(&r.pass, division, &tz))?;
        }
        writer.flush()?;
    } else if args.json {
        for r in &records {
            writeln!(out, "{}", listing::record_json(&ledger, r, division, &tz)?)?;
        }
    } else {
        for r in &records {
            writeln!(out, "{}", listing::line(&r.pass, division, &tz))?;
        }
        eprintln!("{} pass(es)", records.len());
    }
    Ok(())
}

fn show(number: &str, ledger_file: Option<&Path>, key: Option<&Path>, tz: &str, json: bool) -> Result<()> {
    let tz = time::zone(tz)?;
    let division = office::ledger_division(ledger_file, key);
    let serial = office::serial_of(number, division)?;
    let ledger = office::open_existing_ledger(ledger_file, key)?;
    let records = ledger.list(&ListFilter { serial: Some(serial), ..Default::default() })?;
    if records.is_empty() {
        anyhow::bail!("no pass with serial {serial} in this ledger");
    }
    for r in &records {
        let value = listing::record_json(&ledger, r, division, &tz)?;
        if json {
            println!("{value}");
        } else {
            print!("{}", listing::show_text(r, &value, division, &tz));
        }
    }
    Ok(())
}

fn reissue(args: ReissueArgs) -> Result<()> {
    let tz = time::zone(&args.tz)?;
    let instant = |t: &Option<String>, bound, flag: &str| {
        t.as_deref().map(|t| time::parse_instant(t, &tz, bound)).transpose().context(flag.to_owned())
    };
    let changes = Changes {
        plate: args.plate,
        vehicle_type: args.vehicle_type,
        driver: args.driver,
        co_drivers: args.co_drivers,
        destination: args.destination,
        zones: args.zones,
        cargo: args.cargo,
        valid_from: instant(&args.from, Bound::StartOfDay, "--from")?,
        valid_until: instant(&args.until, Bound::EndOfDay, "--until")?,
    };
    let (key, mut ledger) = key_and_ledger(&args.key, args.ledger.as_deref())?;
    let key_id = key.public_key().id();
    let old = ledger
        .list(&ListFilter { serial: Some(args.serial), ..Default::default() })?
        .into_iter()
        .find(|r| r.key_id == key_id)
        .with_context(|| format!("no pass with serial {} for key {key_id} in this ledger", args.serial))?;
    files::check_writable(&args.out).with_context(|| format!("cannot write {}", args.out.display()))?;
    let request = PassRequest::reissue_of(&old.pass, changes);
    let issued = issue::issue(&key, &mut ledger, request, &args.reason, now())?;
    let (serial, replaced) = (issued.record.pass.serial, old.pass.serial);
    files::write(&args.out, &issued.qr.to_png(DEFAULT_MODULE_PX)?, 0o644, Mode::Replace)
        .with_context(|| args.out.display().to_string())?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({"serial": serial, "supersedes": replaced, "key_id": key_id.to_string(), "text": issued.text,
                "bytes": issued.record.envelope.len(), "qr_version": issued.qr.version(), "png": args.out})
        );
    } else {
        println!("serial {serial}\n{}", issued.text);
    }
    eprintln!(
        "pass-issuer: serial {serial} replaces {replaced}; {replaced} is marked for revocation: send it with `pass-issuer revoke {replaced}`"
    );
    Ok(())
}

fn import_ledger(from: &Path, key: &Path, ledger: Option<&Path>) -> Result<()> {
    let key_id = load_key(key)?.public_key().id();
    let (path, copied) = office::import_ledger(from, key, ledger)?;
    let (path, from) = (path.display(), from.display());
    eprintln!(
        "pass-issuer: key {key_id} now issues from {path} ({copied} pass(es) copied from {from}; its serials go on from there)"
    );
    Ok(())
}

fn print(args: PrintArgs) -> Result<()> {
    let tz = time::zone(&args.tz)?;
    let layout: print::Layout = args.page.layout.parse().map_err(anyhow::Error::msg)?;
    load_key(&args.key)?;
    let selection = match args.batch {
        Some(sha) => office::Selection::Batch(sha),
        None => office::Selection::Serials(args.serials),
    };
    let info = |public: &_| office::page_info(&args.page.title, args.page.office.as_deref(), &args.key, public, &tz);
    eprintln!("pass-issuer: rendering the passes to PDF and checking every page ...");
    let (passes, pages) = office::print_issued(&args.key, args.ledger.as_deref(), &selection, info, layout, &args.pdf)?;
    eprintln!("pass-issuer: printed {passes} pass(es) already issued; PDF {pages} page(s), all checked");
    Ok(())
}
