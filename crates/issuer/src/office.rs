//! An issuing office's files, as the command line finds them: the secret key, the `.pub`
//! beside it (the office's name and home division), the ledger beside it, and what a pass
//! number typed at the office names.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use pass_core::time::{self, Bound};
use pass_core::{Division, PublicKey, SecretKey};
use pass_files as files;

use crate::keyfile;
use crate::ledger::{self, Ledger};

/// The ledger `given`, or `ledger.sqlite` beside the key.
pub fn ledger_path(key: &Path, given: Option<&Path>) -> PathBuf {
    given.map_or_else(|| key.parent().unwrap_or(Path::new(".")).join(ledger::DEFAULT_FILE), Path::to_owned)
}

/// An existing ledger: `given`, or the one beside `key`; with `key`, a ledger that issues for
/// another key is refused.
pub fn open_existing_ledger(given: Option<&Path>, key: Option<&Path>) -> Result<Ledger> {
    let path = match (given, key) {
        (Some(path), _) => path.to_owned(),
        (None, Some(key)) => ledger_path(key, None),
        (None, None) => anyhow::bail!("give --ledger FILE or --key FILE"),
    };
    if !path.exists() {
        anyhow::bail!("{}: no ledger here", path.display());
    }
    let ledger = Ledger::open(&path)?;
    if let Some(key) = key {
        ledger.check_key(public_of(key)?.id())?;
    }
    Ok(ledger)
}

/// The public half of the key at `key`: from its `.pub` file, or from the secret key itself.
pub fn public_of(key: &Path) -> Result<PublicKey> {
    Ok(key_file(key)?.1)
}

/// The key at `key` (a secret key, or a `.pub` file): its `.pub` description (beside a secret
/// key, when there is one) and its public half.
fn key_file(key: &Path) -> Result<(Option<pass_core::keys::PublicKeyFile>, PublicKey)> {
    let text = files::read_to_string_capped(key, files::MAX_KEY_FILE).with_context(|| key.display().to_string())?;
    if text.contains("PRIVATE KEY") {
        drop(zeroize::Zeroizing::new(text));
        return Ok((office_file(key), keyfile::load_secret(key)?.public_key()));
    }
    let (file, public) = pass_core::keys::PublicKeyFile::parse(&text)?;
    Ok((Some(file), public))
}

/// Loads the secret key, and a warning (as ssh gives) when others may read the file.
pub fn load_key(path: &Path) -> Result<(SecretKey, Option<String>)> {
    let warning = files::loose_permissions(path).map(|mode| {
        format!("{} is readable or writable by others (mode {mode:o}); run chmod 600 on it", path.display())
    });
    Ok((keyfile::load_secret(path)?, warning))
}

/// The `.pub` file beside a secret key, if there is one that parses.
pub fn office_file(key: &Path) -> Option<pass_core::keys::PublicKeyFile> {
    let text = files::read_to_string_capped(&key.with_extension("pub"), files::MAX_KEY_FILE).ok()?;
    pass_core::keys::PublicKeyFile::parse(&text).ok().map(|(file, _)| file)
}

/// The office name from the `.pub` file beside a secret key, if any.
pub fn office_name(key: &Path) -> Option<String> {
    office_file(key).map(|file| file.name)
}

/// The office's home division from the `.pub` file beside a secret key, if it names one: the
/// first six digits of its pass numbers.
pub fn office_division(key: &Path) -> Option<Division> {
    office_file(key).and_then(|file| file.division().ok().flatten())
}

/// The office's division for a ledger: from the `.pub` beside the key, or beside the ledger.
pub fn ledger_division(ledger: Option<&Path>, key: Option<&Path>) -> Option<Division> {
    key.and_then(office_division).or_else(|| {
        let dir = ledger?.parent()?;
        office_division(&dir.join(keyfile::SECRET_FILE))
    })
}

/// The serial a number typed at the office names: a bare serial, or a pass number (the
/// office's division, then the serial) as an officer reads it out over the phone.
pub fn serial_of(number: &str, division: Option<Division>) -> Result<u64> {
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

/// What every printed page says besides the passes: the title, and the issuing office (given,
/// or the name in the `.pub` beside the key, or the key id).
pub fn page_info(
    title: &str,
    office: Option<&str>,
    key: &Path,
    public: &PublicKey,
    tz: &jiff::tz::TimeZone,
) -> crate::print::PageInfo {
    crate::print::PageInfo {
        title: title.to_owned(),
        office: office.map(str::to_owned).or_else(|| office_name(key)).unwrap_or_else(|| public.id().to_string()),
        division: office_division(key),
        tz: tz.clone(),
    }
}

/// Which section of a trust file [`trust_entry`] prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Section {
    /// An issuing office: `[[issuer]]`, with its zones, division and window.
    Issuer,
    /// A single-authority checkpoint's `[authority]`.
    Authority,
    /// A root-mode checkpoint's `[root]`: the national root key.
    Root,
}

/// A trust list's entry for the key at `key` (secret or public), checked to parse as a trust
/// list: `[[issuer]]` with the name and division given or from the `.pub` file, or the
/// `[authority]` or `[root]` section of a checkpoint's trust file.
pub fn trust_entry(
    key: &Path,
    section: Section,
    name: Option<String>,
    zones: &[Division],
    division: Option<Division>,
    not_before: Option<&str>,
    not_after: Option<&str>,
) -> Result<String> {
    let (file, public) = key_file(key)?;
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
    if section != Section::Issuer {
        anyhow::ensure!(
            zones.is_empty() && not_before.is_none() && not_after.is_none(),
            "--zone, --not-before and --not-after are for an [[issuer]] entry"
        );
        let header = if section == Section::Root { "[root]" } else { "[authority]" };
        let entry = format!(
            "{header}\nname = {}\nkey_id = \"{}\"\npublic_key = \"{}\"\n",
            quote(&name),
            public.id(),
            public.encode()
        );
        pass_core::TrustList::from_toml(&entry)?;
        return Ok(entry);
    }
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
    Ok(entry)
}

/// Copies the passes of another ledger (`from`) into the key's ledger, which the key then
/// issues from, its serials going on after the highest copied: the ledger's path and how
/// many passes were copied.
pub fn import_ledger(from: &Path, key: &Path, ledger: Option<&Path>) -> Result<(PathBuf, usize)> {
    let key_id = keyfile::load_secret(key)?.public_key().id();
    if !from.is_file() {
        anyhow::bail!("{}: no ledger there", from.display());
    }
    let path = ledger_path(key, ledger);
    let mut target = Ledger::open(&path)?;
    let copied = target.import(from, key_id, key)?;
    target.bind(key_id, key)?;
    Ok((path, copied))
}

/// What to print again: serials, or every pass of a batch file (by its SHA-256).
pub enum Selection {
    /// These serials.
    Serials(Vec<u64>),
    /// Every pass of the batch file with this SHA-256 (hex).
    Batch(String),
}

/// Prints passes already issued to `pdf` again (never issuing), every page checked: how many
/// passes and pages.
pub fn print_issued(
    key: &Path,
    ledger: Option<&Path>,
    selection: &Selection,
    info: impl FnOnce(&PublicKey) -> crate::print::PageInfo,
    layout: crate::print::Layout,
    pdf: &Path,
) -> Result<(usize, usize)> {
    let public = keyfile::load_secret(key)?.public_key();
    files::check_writable(pdf).with_context(|| format!("cannot write {}", pdf.display()))?;
    let tools = crate::print::Tools::find()?;
    let ledger = Ledger::open(&ledger_path(key, ledger))?;
    let serials = match selection {
        Selection::Batch(sha) => ledger
            .batch_serials(&sha.to_ascii_lowercase())?
            .with_context(|| format!("no batch file with SHA-256 {sha} was issued with this ledger"))?,
        Selection::Serials(serials) => serials.clone(),
    };
    let unknown = ledger.unknown_serials(public.id(), &serials)?;
    if !unknown.is_empty() {
        anyhow::bail!("this ledger never issued serial(s) {unknown:?} for key {}", public.id());
    }
    let records = ledger.records(public.id(), &serials)?;
    let pages = crate::print::print_pdf(&tools, &records, &info(&public), layout, &public, pdf)?;
    Ok((records.len(), pages))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_read_out_names_a_serial_of_this_office_only() {
        let huadu: Division = "440114".parse().expect("division");
        assert_eq!(serial_of("42", None).expect("a serial"), 42);
        assert_eq!(serial_of("440114000042", Some(huadu)).expect("a pass number"), 42);
        assert!(serial_of("320583000042", Some(huadu)).is_err(), "another office's number");
        assert!(serial_of("440114000042", None).is_err(), "a number without the division");
        assert!(serial_of("12a", Some(huadu)).is_err());
    }
}
