//! `pass-issuer`: the issuing office's command line.

mod cli;

use std::path::Path;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::Parser;
use pass_core::time::{self, Bound};
use pass_files::{self as files, Mode};
use pass_issuer::issue::{self, PassRequest};
use pass_issuer::keyfile;
use pass_issuer::ledger::{self, Ledger};
use pass_issuer::render::DEFAULT_MODULE_PX;
use pass_issuer::revoke;

use crate::cli::{BatchArgs, Cli, Command, IssueArgs, PrintArgs, ReissueArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen { out, name, authority, division } => keygen(&out, &name, authority, division),
        Command::Issue(args) => issue(args),
        Command::Batch(args) => batch(args),
        Command::List { ledger, key, plate, holder, valid_at, tz, json, csv } => {
            list(ledger.as_deref(), key.as_deref(), plate, holder, valid_at.as_deref(), &tz, json, csv)
        }
        Command::Show { number, ledger, key, tz, json } => show(&number, ledger.as_deref(), key.as_deref(), &tz, json),
        Command::Reissue(args) => reissue(args),
        Command::Print(args) => print(args),
        Command::ImportLedger { from, key, ledger } => import_ledger(&from, &key, ledger.as_deref()),
        Command::TrustEntry { key, name, zones, division, not_before, not_after } => {
            trust_entry(&key, name, &zones, division, not_before.as_deref(), not_after.as_deref())
        }
        Command::Revoke { serials, server, token, token_file, reason, key, ledger, force } => {
            read_token(token, token_file.as_deref())
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

fn ledger_path(key: &Path, ledger: Option<&Path>) -> std::path::PathBuf {
    ledger.map_or_else(|| key.parent().unwrap_or(Path::new(".")).join(ledger::DEFAULT_FILE), Path::to_owned)
}

/// The bearer token: given (flag or `CHECKPASS_TOKEN`), or the first line of a file or of
/// standard input, so it never needs to be on a command line.
fn read_token(given: Option<String>, file: Option<&Path>) -> Result<zeroize::Zeroizing<String>> {
    let text = match (given, file) {
        (Some(token), _) => token,
        (None, Some(path)) if path == Path::new("-") => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).context("reading the token from standard input")?;
            line
        }
        (None, Some(path)) => files::read_to_string_capped(path, files::MAX_KEY_FILE)
            .with_context(|| format!("reading the token from {}", path.display()))?,
        (None, None) => anyhow::bail!("give the token with CHECKPASS_TOKEN, --token-file FILE or --token-file -"),
    };
    let token = text.lines().next().unwrap_or("").trim().to_owned();
    anyhow::ensure!(!token.is_empty(), "the token is empty");
    Ok(zeroize::Zeroizing::new(token))
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
    ledger.bind(key_id, key)?;
    let unknown = ledger.unknown_serials(key_id, serials)?;
    if !unknown.is_empty() && !force {
        anyhow::bail!("this ledger never issued serial(s) {unknown:?} for key {key_id}; check them, or pass --force");
    }
    ledger.record_revocations(key_id, serials, reason, now())?;
    let url = format!("{}/v1/revocations", server.trim_end_matches('/'));
    if let Some(warning) = revoke::plain_http_warning(&url) {
        eprintln!("pass-issuer: warning: {warning}");
    }
    let answer = revoke::send(server, token, key_id, serials, reason)
        .context("recorded in the ledger, not confirmed as sent; run the same command again")?;
    ledger.mark_sent(key_id, serials, now())?;
    println!(
        "revoked {} serial(s) of key {key_id} (new: {}, already revoked: {}); server version {}",
        serials.len(),
        answer.added,
        answer.already_revoked,
        answer.version
    );
    Ok(())
}

fn issue(args: IssueArgs) -> Result<()> {
    let tz = time::zone(&args.tz)?;
    let valid_from = time::parse_instant(&args.from, &tz, Bound::StartOfDay).context("--from")?;
    let valid_until = time::parse_instant(&args.until, &tz, Bound::EndOfDay).context("--until")?;
    let issued_at = now();
    let key = load_key(&args.key)?;
    // A bad output path must not cost a serial: check it before the ledger hands one out.
    for out in std::iter::once(&args.out).chain(args.svg.as_ref()) {
        files::check_writable(out).with_context(|| format!("cannot write {}", out.display()))?;
    }
    let mut ledger = Ledger::open(&ledger_path(&args.key, args.ledger.as_deref()))?;
    ledger.bind(key.public_key().id(), &args.key)?;
    let request = PassRequest {
        kind: args.kind,
        plate: args.plate,
        vehicle_type: args.vehicle_type,
        holder: args.holder,
        org_code: args.org_code,
        crew: args.driver.into_iter().chain(args.co_drivers).collect(),
        origin: args.origin,
        destination: args.destination,
        zones: args.zones,
        cargo: args.cargo,
        valid_from,
        valid_until,
        supersedes: args.supersedes,
    };
    let issued = issue::issue(&key, &mut ledger, request, "superseded", issued_at)?;
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

/// The office name from the `.pub` file beside a secret key, if any.
/// Loads the secret key, warning (as ssh does) when others may read the file.
fn load_key(path: &Path) -> Result<pass_core::SecretKey> {
    if let Some(mode) = files::loose_permissions(path) {
        eprintln!(
            "pass-issuer: warning: {} is readable or writable by others (mode {mode:o}); run chmod 600 on it",
            path.display()
        );
    }
    Ok(keyfile::load_secret(path)?)
}

fn office_name(key: &Path) -> Option<String> {
    office_file(key).map(|file| file.name)
}

/// The office's home division from the `.pub` file beside a secret key, if it names one: the
/// first six digits of its pass numbers.
fn office_division(key: &Path) -> Option<pass_core::Division> {
    office_file(key).and_then(|file| file.division().ok().flatten())
}

fn office_file(key: &Path) -> Option<pass_core::keys::PublicKeyFile> {
    let text = files::read_to_string_capped(&key.with_extension("pub"), files::MAX_KEY_FILE).ok()?;
    pass_core::keys::PublicKeyFile::parse(&text).ok().map(|(file, _)| file)
}

fn progress(done: usize, total: usize, what: &str) {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        let width = 30;
        let filled = (done * width).checked_div(total).unwrap_or(width);
        eprint!("\r{what} [{}{}] {done}/{total}", "#".repeat(filled), " ".repeat(width - filled));
        if done == total {
            eprintln!();
        }
    } else if done == total || done.is_multiple_of(50) {
        eprintln!("{what}: {done}/{total}");
    }
}

fn file_stem(serial: u64, plate: &str) -> String {
    let safe: String = plate.chars().map(|c| if c.is_alphanumeric() { c } else { '_' }).collect();
    format!("{serial:06}-{safe}")
}

fn batch(args: BatchArgs) -> Result<()> {
    use pass_issuer::csv_import::{self, Encoding};
    use pass_issuer::ledger::BatchInfo;
    use pass_issuer::print::{self, Layout};
    use sha2::{Digest, Sha256};

    let tz = time::zone(&args.tz)?;
    let layout: Layout = args.page.layout.parse().map_err(anyhow::Error::msg)?;
    let encoding = args.encoding.as_deref().map(str::parse::<Encoding>).transpose().map_err(anyhow::Error::msg)?;
    let meta = std::fs::metadata(&args.file).with_context(|| args.file.display().to_string())?;
    if meta.len() > csv_import::MAX_FILE_BYTES as u64 {
        anyhow::bail!("{}: larger than {} bytes", args.file.display(), csv_import::MAX_FILE_BYTES);
    }
    let bytes = files::read_capped(&args.file, csv_import::MAX_FILE_BYTES as u64)
        .with_context(|| args.file.display().to_string())?;
    let xlsx = args.file.extension().is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    let rows = if xlsx {
        csv_import::parse_xlsx(&bytes, &tz, &[])
    } else {
        let (text, _) = csv_import::decode_text(&bytes, encoding).with_context(|| args.file.display().to_string())?;
        csv_import::parse(&text, &tz)
    }
    .with_context(|| args.file.display().to_string())?;
    let errors: Vec<_> = rows.iter().filter_map(|(_, r)| r.as_ref().err()).flatten().cloned().collect();
    let valid: Vec<_> = rows.iter().filter_map(|(_, r)| r.as_ref().ok()).cloned().collect();
    for e in &errors {
        eprintln!("pass-issuer: {}: {e}", args.file.display());
    }
    if !errors.is_empty() && !args.skip_invalid {
        if args.json {
            println!("{}", serde_json::json!({"issued": [], "invalid": errors}));
        }
        anyhow::bail!(
            "{} invalid row(s) of {}; nothing issued (fix them, or pass --skip-invalid)",
            rows.iter().filter(|(_, r)| r.is_err()).count(),
            rows.len()
        );
    }
    let key = load_key(&args.key)?;
    let public = key.public_key();
    let issued_at = now();
    let too_long: Vec<String> = valid
        .iter()
        .filter_map(|request| request.check_lifetime(issued_at).err().map(|e| format!("{}: {e}", request.plate)))
        .collect();
    if !too_long.is_empty() {
        anyhow::bail!("nothing issued: {}", too_long.join("; "));
    }
    // Bad output paths must not cost serials: check them before the ledger hands any out.
    std::fs::create_dir_all(&args.out_dir).with_context(|| args.out_dir.display().to_string())?;
    files::check_writable(&args.out_dir.join("probe.png"))
        .with_context(|| format!("cannot write into {}", args.out_dir.display()))?;
    if let Some(pdf) = &args.pdf {
        files::check_writable(pdf).with_context(|| format!("cannot write {}", pdf.display()))?;
    }
    // Nor may a missing printer tool: a batch is printed whole or its serials are not taken.
    let tools = args.pdf.as_ref().map(|_| print::Tools::find()).transpose()?;
    let mut ledger = Ledger::open(&ledger_path(&args.key, args.ledger.as_deref()))?;
    ledger.bind(public.id(), &args.key)?;
    let info = BatchInfo {
        sha256: Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect(),
        file_name: args.file.display().to_string(),
        again: args.again,
        now: issued_at,
    };
    let records = issue::issue_batch(&key, &mut ledger, &valid, &info)?;
    std::fs::create_dir_all(&args.out_dir).with_context(|| args.out_dir.display().to_string())?;
    let mut issued = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let qr = pass_issuer::render::Qr::new(&record.envelope)?;
        let png = args.out_dir.join(format!("{}.png", file_stem(record.pass.serial, &record.pass.plate)));
        files::write(&png, &qr.to_png(DEFAULT_MODULE_PX)?, 0o644, Mode::Replace)
            .with_context(|| png.display().to_string())?;
        issued.push(serde_json::json!({
            "serial": record.pass.serial,
            "plate": record.pass.plate,
            "text": pass_core::envelope::to_text(&record.envelope),
            "manual_code": pass_core::envelope::manual_code(&record.envelope),
            "png": png,
        }));
        progress(i + 1, records.len(), "issuing");
    }
    let mut pages = None;
    if let (Some(pdf), Some(tools)) = (&args.pdf, &tools) {
        let page_info = page_info(&args.page, &args.key, &public, &tz);
        eprintln!("pass-issuer: rendering {} pass(es) to PDF and checking every page ...", records.len());
        let printed = print::print_pdf(tools, &records, &page_info, layout, &public, pdf).with_context(|| {
            format!(
                "the passes are issued but not printed; print them again, never issuing twice, with \
                 `pass-issuer print --batch {} --pdf {} --key {}`",
                info.sha256,
                pdf.display(),
                args.key.display()
            )
        })?;
        pages = Some(printed);
    }
    let serials = match (records.first(), records.last()) {
        (Some(a), Some(b)) => format!("{}-{}", a.pass.serial, b.pass.serial),
        _ => "none".into(),
    };
    if args.json {
        println!(
            "{}",
            serde_json::json!({"issued": issued, "invalid": errors, "pdf": args.pdf, "pages": pages, "batch_sha256": info.sha256})
        );
    }
    eprintln!(
        "pass-issuer: issued {} pass(es), serials {serials}{}{}",
        records.len(),
        if errors.is_empty() { String::new() } else { format!("; skipped {} invalid row(s)", errors.len()) },
        pages.map_or(String::new(), |p| format!("; PDF {} page(s), all checked", p)),
    );
    Ok(())
}

fn open_ledger(ledger: Option<&Path>, key: Option<&Path>) -> Result<Ledger> {
    let path = match (ledger, key) {
        (Some(path), _) => path.to_owned(),
        (None, Some(key)) => ledger_path(key, None),
        (None, None) => anyhow::bail!("give --ledger FILE or --key FILE"),
    };
    if !path.exists() {
        anyhow::bail!("{}: no ledger here", path.display());
    }
    Ok(Ledger::open(&path)?)
}

#[allow(clippy::too_many_arguments)]
fn list(
    ledger: Option<&Path>,
    key: Option<&Path>,
    plate: Option<String>,
    holder: Option<String>,
    valid_at: Option<&str>,
    tz: &str,
    json: bool,
    csv: bool,
) -> Result<()> {
    let tz = time::zone(tz)?;
    let valid_at =
        valid_at.map(|t| time::parse_instant(t, &tz, Bound::StartOfDay)).transpose().context("--valid-at")?;
    let division = ledger_division(ledger, key);
    let ledger = open_ledger(ledger, key)?;
    let records = ledger.list(&pass_issuer::ledger::ListFilter { plate, holder, valid_at, serial: None })?;
    let mut out = std::io::stdout().lock();
    use std::io::Write as _;
    if csv {
        let mut writer = csv::Writer::from_writer(&mut out);
        for r in &records {
            writer.serialize(PassRow::new(&r.pass, division, &tz))?;
        }
        writer.flush()?;
    } else if json {
        for r in &records {
            writeln!(out, "{}", record_json(&ledger, r, division, &tz)?)?;
        }
    } else {
        for r in &records {
            let p = &r.pass;
            writeln!(
                out,
                "{:>12}  {:<10} {:<8} {}  {}  {} → {}  {} → {}",
                pass_core::model::pass_number(division, p.serial),
                p.plate,
                p.vehicle_type.label(),
                p.holder,
                pass_core::view::crew_text(&p.crew),
                place_name(p.origin),
                place_name(p.destination),
                time::human(p.valid_from, &tz),
                time::human(p.valid_until, &tz)
            )?;
        }
        eprintln!("{} pass(es)", records.len());
    }
    Ok(())
}

/// A division's name for people, or its code when the table does not have it.
fn place_name(division: pass_core::Division) -> String {
    division.full_name().unwrap_or_else(|| division.to_string())
}

fn record_json(
    ledger: &Ledger,
    r: &pass_issuer::ledger::Record,
    division: Option<pass_core::Division>,
    tz: &jiff::tz::TimeZone,
) -> Result<serde_json::Value> {
    let mut value = pass_core::view::pass_json(&r.pass, None, tz);
    value["pass_number"] = serde_json::json!(pass_core::model::pass_number(division, r.pass.serial));
    value["key_id"] = serde_json::json!(r.key_id.to_string());
    value["text"] = serde_json::json!(pass_core::envelope::to_text(&r.envelope));
    value["manual_code"] = serde_json::json!(pass_core::envelope::manual_code(&r.envelope));
    value["revocation"] = match ledger.revocation(r.key_id, r.pass.serial)? {
        None => serde_json::Value::Null,
        Some((reason, sent)) => serde_json::json!({"reason": reason, "sent": sent}),
    };
    Ok(value)
}

/// The serial a number typed at the office names: a bare serial, or a pass number (the
/// office's division, then the serial) as an officer reads it out over the phone.
fn serial_of(number: &str, division: Option<pass_core::Division>) -> Result<u64> {
    let number = number.trim();
    if !number.bytes().all(|b| b.is_ascii_digit()) || number.is_empty() {
        anyhow::bail!("{number:?} is neither a serial nor a pass number (digits only)");
    }
    if number.len() >= 12 {
        let division = division.context(
            "a pass number, but this office's division is not known: give --key with an issuer.pub that names it",
        )?;
        let Some(serial) = number.strip_prefix(&division.to_string()) else {
            anyhow::bail!("pass number {number} is not this office's: its numbers start with {division}");
        };
        return serial.parse().with_context(|| format!("pass number {number}"));
    }
    number.parse().with_context(|| format!("serial {number}"))
}

/// The office's division for a ledger: from the `.pub` beside the key, or beside the ledger.
fn ledger_division(ledger: Option<&Path>, key: Option<&Path>) -> Option<pass_core::Division> {
    key.and_then(office_division).or_else(|| {
        let dir = ledger?.parent()?;
        office_division(&dir.join(pass_issuer::keyfile::SECRET_FILE))
    })
}

fn show(number: &str, ledger_file: Option<&Path>, key: Option<&Path>, tz: &str, json: bool) -> Result<()> {
    let tz = time::zone(tz)?;
    let division = ledger_division(ledger_file, key);
    let serial = serial_of(number, division)?;
    let ledger = open_ledger(ledger_file, key)?;
    let records = ledger.list(&pass_issuer::ledger::ListFilter { serial: Some(serial), ..Default::default() })?;
    if records.is_empty() {
        anyhow::bail!("no pass with serial {serial} in this ledger");
    }
    for r in &records {
        let value = record_json(&ledger, r, division, &tz)?;
        if json {
            println!("{value}");
        } else {
            let p = &r.pass;
            println!("pass number   {}", pass_core::model::pass_number(division, p.serial));
            println!("serial        {}  (key {})", p.serial, r.key_id);
            println!("plate         {}", p.plate);
            println!("vehicle       {} ({})", p.vehicle_type.label(), p.vehicle_type.name());
            println!("holder        {}{}", p.holder, p.org_code.as_ref().map_or(String::new(), |c| format!(" [{c}]")));
            println!("crew 司乘人员  {}", pass_core::view::crew_text(&p.crew));
            let zones: Vec<String> = p.zones.iter().map(|z| z.label()).collect();
            println!("route         {} → {}", p.origin.label(), p.destination.label());
            println!("zones         {}", zones.join(", "));
            println!("cargo         {}", p.cargo);
            println!("valid         {} → {}", time::human(p.valid_from, &tz), time::human(p.valid_until, &tz));
            println!("issued        {}", time::human(p.issued_at, &tz));
            if let Some(s) = p.supersedes {
                println!("supersedes    {s}");
            }
            println!("manual code   {}", value["manual_code"].as_str().unwrap_or(""));
            if !value["revocation"].is_null() {
                println!("revocation    {}", value["revocation"]);
            }
            println!("text          {}", value["text"].as_str().unwrap_or(""));
        }
    }
    Ok(())
}

fn reissue(args: ReissueArgs) -> Result<()> {
    let tz = time::zone(&args.tz)?;
    let key = load_key(&args.key)?;
    let key_id = key.public_key().id();
    let mut ledger = Ledger::open(&ledger_path(&args.key, args.ledger.as_deref()))?;
    ledger.bind(key_id, &args.key)?;
    let old = ledger
        .list(&pass_issuer::ledger::ListFilter { serial: Some(args.serial), ..Default::default() })?
        .into_iter()
        .find(|r| r.key_id == key_id)
        .with_context(|| format!("no pass with serial {} for key {key_id} in this ledger", args.serial))?;
    let p = old.pass;
    let request = PassRequest {
        kind: p.kind,
        plate: args.plate.unwrap_or(p.plate),
        vehicle_type: args.vehicle_type.unwrap_or(p.vehicle_type),
        holder: p.holder,
        org_code: p.org_code,
        crew: reissued_crew(&p.crew, args.driver, args.co_drivers),
        origin: p.origin,
        destination: args.destination.unwrap_or(p.destination),
        zones: if args.zones.is_empty() { p.zones } else { args.zones },
        cargo: args.cargo.unwrap_or(p.cargo),
        valid_from: match &args.from {
            Some(t) => time::parse_instant(t, &tz, Bound::StartOfDay).context("--from")?,
            None => p.valid_from,
        },
        valid_until: match &args.until {
            Some(t) => time::parse_instant(t, &tz, Bound::EndOfDay).context("--until")?,
            None => p.valid_until,
        },
        supersedes: Some(p.serial),
    };
    files::check_writable(&args.out).with_context(|| format!("cannot write {}", args.out.display()))?;
    let issued = issue::issue(&key, &mut ledger, request, &args.reason, now())?;
    let serial = issued.record.pass.serial;
    files::write(&args.out, &issued.qr.to_png(DEFAULT_MODULE_PX)?, 0o644, Mode::Replace)
        .with_context(|| args.out.display().to_string())?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({"serial": serial, "supersedes": p.serial, "key_id": key_id.to_string(), "text": issued.text,
                "bytes": issued.record.envelope.len(), "qr_version": issued.qr.version(), "png": args.out})
        );
    } else {
        println!("serial {serial}");
        println!("{}", issued.text);
    }
    eprintln!(
        "pass-issuer: serial {serial} replaces {}; {} is marked for revocation: send it with `pass-issuer revoke {}`",
        p.serial, p.serial, p.serial
    );
    Ok(())
}

/// The crew of a reissued pass: the old one, with the driver and the co-drivers each replaced
/// when given.
fn reissued_crew(old: &[String], driver: Option<String>, co_drivers: Vec<String>) -> Vec<String> {
    let driver = driver.or_else(|| old.first().cloned());
    let co_drivers = if co_drivers.is_empty() { old.iter().skip(1).cloned().collect() } else { co_drivers };
    driver.into_iter().chain(co_drivers).collect()
}

/// One row of `list --csv`: the batch columns and the place names. Every text cell goes
/// through `csv_cell`, so a value a spreadsheet would run as a formula is shown as text.
#[derive(serde::Serialize)]
struct PassRow {
    pass_number: String,
    serial: u64,
    plate: String,
    vehicle_type: &'static str,
    holder: String,
    org_code: String,
    driver: String,
    co_drivers: String,
    origin: String,
    destination: String,
    zones: String,
    cargo: String,
    valid_from: String,
    valid_until: String,
    issued_at: String,
    supersedes: Option<u64>,
    origin_name: String,
    destination_name: String,
    zone_names: String,
}

impl PassRow {
    fn new(p: &pass_core::Pass, division: Option<pass_core::Division>, tz: &jiff::tz::TimeZone) -> PassRow {
        let cell = |text: &str| pass_core::view::csv_cell(text).into_owned();
        let joined = |parts: Vec<String>| cell(&parts.join(" "));
        PassRow {
            pass_number: pass_core::model::pass_number(division, p.serial),
            serial: p.serial,
            plate: cell(&p.plate),
            vehicle_type: p.vehicle_type.name(),
            holder: cell(&p.holder),
            org_code: cell(p.org_code.as_deref().unwrap_or_default()),
            driver: cell(p.driver().unwrap_or_default()),
            co_drivers: cell(&p.crew.iter().skip(1).cloned().collect::<Vec<_>>().join("、")),
            origin: p.origin.to_string(),
            destination: p.destination.to_string(),
            zones: joined(p.zones.iter().map(ToString::to_string).collect()),
            cargo: cell(&p.cargo),
            valid_from: time::rfc3339(p.valid_from, tz),
            valid_until: time::rfc3339(p.valid_until, tz),
            issued_at: time::rfc3339(p.issued_at, tz),
            supersedes: p.supersedes,
            origin_name: cell(&place_name(p.origin)),
            destination_name: cell(&place_name(p.destination)),
            zone_names: joined(p.zones.iter().map(|z| place_name(*z)).collect()),
        }
    }
}

/// What every printed page says besides the passes: the title, and the issuing office (given,
/// or the name in the `.pub` beside the key, or the key id).
fn page_info(
    page: &crate::cli::PageArgs,
    key: &Path,
    public: &pass_core::PublicKey,
    tz: &jiff::tz::TimeZone,
) -> pass_issuer::print::PageInfo {
    pass_issuer::print::PageInfo {
        title: page.title.clone(),
        office: page.office.clone().or_else(|| office_name(key)).unwrap_or_else(|| public.id().to_string()),
        division: office_division(key),
        tz: tz.clone(),
    }
}

fn import_ledger(from: &Path, key: &Path, ledger: Option<&Path>) -> Result<()> {
    let key_id = load_key(key)?.public_key().id();
    if !from.is_file() {
        anyhow::bail!("{}: no ledger there", from.display());
    }
    let mut target = Ledger::open(&ledger_path(key, ledger))?;
    let copied = target.import(from, key_id, key)?;
    target.bind(key_id, key)?;
    eprintln!(
        "pass-issuer: key {key_id} now issues from {} ({copied} pass(es) copied from {}; its serials go on from there)",
        ledger_path(key, ledger).display(),
        from.display()
    );
    Ok(())
}

fn print(args: PrintArgs) -> Result<()> {
    use pass_issuer::print::{self, Layout};
    let tz = time::zone(&args.tz)?;
    let layout: Layout = args.page.layout.parse().map_err(anyhow::Error::msg)?;
    let public = load_key(&args.key)?.public_key();
    files::check_writable(&args.pdf).with_context(|| format!("cannot write {}", args.pdf.display()))?;
    let tools = print::Tools::find()?;
    let ledger = Ledger::open(&ledger_path(&args.key, args.ledger.as_deref()))?;
    let serials = match &args.batch {
        Some(sha) => ledger
            .batch_serials(&sha.to_ascii_lowercase())?
            .with_context(|| format!("no batch file with SHA-256 {sha} was issued with this ledger"))?,
        None => args.serials.clone(),
    };
    let unknown = ledger.unknown_serials(public.id(), &serials)?;
    if !unknown.is_empty() {
        anyhow::bail!("this ledger never issued serial(s) {unknown:?} for key {}", public.id());
    }
    let records = ledger.records(public.id(), &serials)?;
    let info = page_info(&args.page, &args.key, &public, &tz);
    eprintln!("pass-issuer: rendering {} pass(es) to PDF and checking every page ...", records.len());
    let pages = print::print_pdf(&tools, &records, &info, layout, &public, &args.pdf)?;
    eprintln!("pass-issuer: printed {} pass(es) already issued; PDF {pages} page(s), all checked", records.len());
    Ok(())
}

fn trust_entry(
    key: &Path,
    name: Option<String>,
    zones: &[pass_core::Division],
    division: Option<pass_core::Division>,
    not_before: Option<&str>,
    not_after: Option<&str>,
) -> Result<()> {
    let text = files::read_to_string_capped(key, files::MAX_KEY_FILE).with_context(|| key.display().to_string())?;
    let (file, public) = if text.contains("PRIVATE KEY") {
        drop(zeroize::Zeroizing::new(text));
        (office_file(key), keyfile::load_secret(key)?.public_key())
    } else {
        let (file, public) = pass_core::keys::PublicKeyFile::parse(&text)?;
        (Some(file), public)
    };
    let division = match division {
        Some(division) => Some(division),
        None => file.as_ref().map(|f| f.division()).transpose()?.flatten(),
    };
    let file_name = file.map(|f| f.name);
    let name = name.or(file_name).context("no office name: pass --name")?;
    let tz = time::default_zone();
    for (flag, t, bound) in
        [("--not-before", not_before, Bound::StartOfDay), ("--not-after", not_after, Bound::EndOfDay)]
    {
        if let Some(t) = t {
            time::parse_instant(t, &tz, bound).context(flag)?;
        }
    }
    let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let mut entry = format!(
        "[[issuer]]\nname = {}\nkey_id = \"{}\"\npublic_key = \"{}\"\n",
        quote(&name),
        public.id(),
        public.encode()
    );
    if let Some(t) = not_before {
        entry.push_str(&format!("not_before = {}\n", quote(t)));
    }
    if let Some(t) = not_after {
        entry.push_str(&format!("not_after = {}\n", quote(t)));
    }
    if !zones.is_empty() {
        let list: Vec<String> = zones.iter().map(|z| format!("\"{z}\"")).collect();
        entry.push_str(&format!("zones = [{}]\n", list.join(", ")));
    }
    if let Some(division) = division {
        entry.push_str(&format!("division = \"{division}\"\n"));
    }
    // The entry must parse as a trust list before anyone pastes it.
    pass_core::TrustList::from_toml(&entry)?;
    print!("{entry}");
    Ok(())
}
