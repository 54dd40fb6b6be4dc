//! Command-line definition of `pass-issuer`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use pass_core::{Division, PassKind, VehicleType};

/// checkpass issuing office: make keys, issue signed passes as QR codes.
#[derive(Debug, Parser)]
#[command(name = "pass-issuer", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a key pair: DIR/issuer.key (PKCS#8 PEM, mode 0600) and DIR/issuer.pub. Never
    /// overwrites an existing key. Prints the key id.
    Keygen {
        /// Directory for the key files (created when missing).
        #[arg(long)]
        out: PathBuf,
        /// Name of the issuing office (or authority), written into the .pub file.
        #[arg(long)]
        name: String,
        /// Write authority.key / authority.pub instead (the key that signs revocation data).
        #[arg(long)]
        authority: bool,
        /// The office's home division, its county or city (a code such as 440114, or a name such
        /// as 花都区): the first six digits of its pass numbers (440114000195).
        #[arg(long, value_parser = pass_core::division::parse_place, conflicts_with = "authority")]
        division: Option<Division>,
    },
    /// Issue one pass: take a serial from the ledger, sign, and write the QR code as PNG (and SVG).
    Issue(IssueArgs),
    /// Issue a pass for every row of a spreadsheet (CSV in UTF-8 or GB18030, or .xlsx): every row is checked
    /// first, and nothing is issued unless all are valid (or --skip-invalid). The same file is
    /// refused a second time unless --again.
    Batch(BatchArgs),
    /// Print passes already issued (a print that failed after issuing: Chromium missing, print
    /// QA failing), never issuing them again: by serial, or every pass of a batch file by the
    /// SHA-256 the batch printed.
    Print(PrintArgs),
    /// Move a key to another issuance ledger: copy the key's passes, revocations and batches
    /// from the ledger it issued from (FROM), continue its serials after them, and make the
    /// new ledger (--ledger, or ledger.sqlite beside the key) the only one the key issues from.
    /// Without this a second ledger for a key is refused: it would hand out serial 1 again.
    ImportLedger {
        /// The ledger the key issued from until now.
        from: PathBuf,
        /// The issuer's secret key.
        #[arg(long, env = "CHECKPASS_ISSUER_KEY")]
        key: PathBuf,
        /// The ledger to issue from, from now on; default: ledger.sqlite beside the key.
        #[arg(long)]
        ledger: Option<PathBuf>,
    },
    /// List issued passes from the ledger.
    List(ListArgs),
    /// Show one issued pass, with its text form and manual code.
    Show {
        /// The serial, or the pass number officers read out (440114000195: the office's
        /// division and the serial).
        number: String,
        /// Issuance ledger.
        #[arg(long)]
        ledger: Option<PathBuf>,
        /// The issuer's key (to find the default ledger beside it).
        #[arg(long, env = "CHECKPASS_ISSUER_KEY")]
        key: Option<PathBuf>,
        /// Time zone for display.
        #[arg(long, default_value = pass_core::time::DEFAULT_TZ)]
        tz: String,
        /// JSON.
        #[arg(long)]
        json: bool,
    },
    /// Issue a replacement for a pass (new serial, `supersedes` set), with field changes; the
    /// old serial is marked for revocation in the ledger (send it with `revoke`).
    Reissue(ReissueArgs),
    /// Print the trust-list entry ([[issuer]]) the authority adds for a new or rotated key.
    TrustEntry {
        /// The key's secret file, or its .pub file.
        #[arg(long, env = "CHECKPASS_ISSUER_KEY")]
        key: PathBuf,
        /// Which section to print: `issuer` (an issuing office's `[[issuer]]`), `authority` (a
        /// checkpoint's `[authority]`) or `root` (a root-mode checkpoint's `[root]`).
        #[arg(long = "as", value_enum, default_value = "issuer")]
        section: pass_issuer::office::Section,
        /// Office name (default: the name in issuer.pub beside the key).
        #[arg(long)]
        name: Option<String>,
        /// Zones the office may issue for (repeat; a code or a name). Issuers only.
        #[arg(long = "zone", value_parser = pass_core::division::parse_place)]
        zones: Vec<Division>,
        /// The office's home division (default: the one in issuer.pub beside the key): the first
        /// six digits of its pass numbers.
        #[arg(long, value_parser = pass_core::division::parse_place)]
        division: Option<Division>,
        /// Passes issued before this are refused (RFC 3339 or date).
        #[arg(long)]
        not_before: Option<String>,
        /// Passes issued after this are refused (RFC 3339 or date).
        #[arg(long)]
        not_after: Option<String>,
    },
    /// Revoke passes: record them in the ledger, then send them to the revocation server in one
    /// request. Safe to retry: the server ignores serials it already has.
    Revoke {
        /// Serials to revoke.
        #[arg(required = true)]
        serials: Vec<u64>,
        /// Revocation server base URL.
        #[arg(long, env = "CHECKPASS_SERVER")]
        server: String,
        /// Bearer token for this issuer (from `pass-server token add --issuer KEY_ID`). Prefer
        /// the environment or --token-file: a command line is visible to other users.
        #[arg(long, env = "CHECKPASS_TOKEN", hide_env_values = true, required_unless_present = "token_file")]
        token: Option<String>,
        /// Read the token from this file (`-`: standard input).
        #[arg(long, conflicts_with = "token")]
        token_file: Option<PathBuf>,
        /// Why (kept in the ledger and on the server, not in the published list).
        #[arg(long)]
        reason: String,
        /// The issuer's secret key (its key id names the passes).
        #[arg(long, env = "CHECKPASS_ISSUER_KEY")]
        key: PathBuf,
        /// Issuance ledger; default: ledger.sqlite beside the key.
        #[arg(long)]
        ledger: Option<PathBuf>,
        /// Also revoke serials this ledger has no record of.
        #[arg(long)]
        force: bool,
    },
}

/// Arguments of `issue`.
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The issuer's secret key (PKCS#8 PEM).
    #[arg(long, env = "CHECKPASS_ISSUER_KEY")]
    pub key: PathBuf,
    /// Issuance ledger (SQLite); default: ledger.sqlite beside the key.
    #[arg(long)]
    pub ledger: Option<PathBuf>,
    /// Pass kind.
    #[arg(long, default_value = "key-materials", value_parser = parse_kind)]
    pub kind: PassKind,
    /// Vehicle plate, e.g. 粤A12345.
    #[arg(long)]
    pub plate: String,
    /// Vehicle type: heavy-truck, light-truck, van, car, tractor, other.
    #[arg(long, value_parser = parse_vehicle_type)]
    pub vehicle_type: VehicleType,
    /// Holder organisation name.
    #[arg(long)]
    pub holder: String,
    /// Holder's 18-character unified social credit code.
    #[arg(long)]
    pub org_code: Option<String>,
    /// Driver name (never an ID number).
    #[arg(long)]
    pub driver: Option<String>,
    /// A co-driver or other crew member riding along (repeat for two; names only, and only
    /// with --driver).
    #[arg(long = "co-driver", requires = "driver")]
    pub co_drivers: Vec<String>,
    /// Origin: a GB/T 2260 code such as 440114, or a name such as 花都区 or 广州市花都区.
    #[arg(long, value_parser = pass_core::division::parse_place)]
    pub origin: Division,
    /// Destination: a code or a name.
    #[arg(long, value_parser = pass_core::division::parse_place)]
    pub destination: Division,
    /// A zone where the pass is valid, a code or a name (repeat for more; 440000 or 广东省
    /// covers all of Guangdong).
    #[arg(long = "zone", required = true, value_parser = pass_core::division::parse_place)]
    pub zones: Vec<Division>,
    /// Cargo category, e.g. 汽车零部件.
    #[arg(long)]
    pub cargo: String,
    /// Start of validity: RFC 3339, or a date (start of that day in --tz).
    #[arg(long)]
    pub from: String,
    /// End of validity: RFC 3339, or a date (end of that day in --tz).
    #[arg(long)]
    pub until: String,
    /// Time zone for dates and local times.
    #[arg(long, default_value = pass_core::time::DEFAULT_TZ)]
    pub tz: String,
    /// Serial of the pass this one replaces.
    #[arg(long)]
    pub supersedes: Option<u64>,
    /// PNG file to write (300 dpi, 4-module quiet zone).
    #[arg(long)]
    pub out: PathBuf,
    /// Also write an SVG file.
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// Print {"serial","key_id","text","bytes","qr_version","png","svg"} as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `batch`.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// The spreadsheet (CSV).
    pub file: PathBuf,
    /// The issuer's secret key.
    #[arg(long, env = "CHECKPASS_ISSUER_KEY")]
    pub key: PathBuf,
    /// Issuance ledger; default: ledger.sqlite beside the key.
    #[arg(long)]
    pub ledger: Option<PathBuf>,
    /// Directory for one PNG per pass (SERIAL-PLATE.png).
    #[arg(long)]
    pub out_dir: PathBuf,
    /// Also write a print-ready PDF (checked page by page before it is written).
    #[arg(long)]
    pub pdf: Option<PathBuf>,
    /// How the pages look.
    #[command(flatten)]
    pub page: PageArgs,
    /// File encoding: utf-8 or gb18030 (default: detected).
    #[arg(long)]
    pub encoding: Option<String>,
    /// Issue the valid rows and list the invalid ones, instead of issuing nothing.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Issue the file even if it was issued before.
    #[arg(long)]
    pub again: bool,
    /// Time zone for dates in the file and on the page.
    #[arg(long, default_value = pass_core::time::DEFAULT_TZ)]
    pub tz: String,
    /// Summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// How printed pages look (`batch --pdf` and `print`).
#[derive(Debug, Args)]
pub struct PageArgs {
    /// PDF layout: a4 (one pass per page) or a5x2 (two A5 passes per A4 sheet).
    #[arg(long, default_value = "a4")]
    pub layout: String,
    /// Title printed on each pass.
    #[arg(long, default_value = pass_issuer::print::DEFAULT_TITLE)]
    pub title: String,
    /// Issuing office printed on each pass (default: the name in issuer.pub beside the key).
    #[arg(long)]
    pub office: Option<String>,
}

/// Arguments of `print`.
#[derive(Debug, Args)]
pub struct PrintArgs {
    /// Serials to print.
    #[arg(required_unless_present = "batch", conflicts_with = "batch")]
    pub serials: Vec<u64>,
    /// Every pass of this batch file (the `batch_sha256` that `batch --json` printed).
    #[arg(long)]
    pub batch: Option<String>,
    /// The issuer's secret key (the passes are checked against its public half).
    #[arg(long, env = "CHECKPASS_ISSUER_KEY")]
    pub key: PathBuf,
    /// Issuance ledger; default: ledger.sqlite beside the key.
    #[arg(long)]
    pub ledger: Option<PathBuf>,
    /// The PDF to write (checked page by page before it is written).
    #[arg(long)]
    pub pdf: PathBuf,
    /// How the pages look.
    #[command(flatten)]
    pub page: PageArgs,
    /// Time zone for the page.
    #[arg(long, default_value = pass_core::time::DEFAULT_TZ)]
    pub tz: String,
}

/// Arguments of `reissue`.
#[derive(Debug, Args)]
pub struct ReissueArgs {
    /// Serial of the pass to replace.
    pub serial: u64,
    /// The issuer's secret key.
    #[arg(long, env = "CHECKPASS_ISSUER_KEY")]
    pub key: PathBuf,
    /// Issuance ledger; default: ledger.sqlite beside the key.
    #[arg(long)]
    pub ledger: Option<PathBuf>,
    /// New plate.
    #[arg(long)]
    pub plate: Option<String>,
    /// New vehicle type.
    #[arg(long, value_parser = parse_vehicle_type)]
    pub vehicle_type: Option<VehicleType>,
    /// New driver (the co-drivers stay unless --co-driver is given).
    #[arg(long)]
    pub driver: Option<String>,
    /// New co-drivers, in place of the old ones (repeat for two).
    #[arg(long = "co-driver")]
    pub co_drivers: Vec<String>,
    /// New destination (a code or a name).
    #[arg(long, value_parser = pass_core::division::parse_place)]
    pub destination: Option<Division>,
    /// New zones (repeat; replaces all; codes or names).
    #[arg(long = "zone", value_parser = pass_core::division::parse_place)]
    pub zones: Vec<Division>,
    /// New cargo.
    #[arg(long)]
    pub cargo: Option<String>,
    /// New start of validity.
    #[arg(long)]
    pub from: Option<String>,
    /// New end of validity.
    #[arg(long)]
    pub until: Option<String>,
    /// Time zone.
    #[arg(long, default_value = pass_core::time::DEFAULT_TZ)]
    pub tz: String,
    /// PNG of the new pass.
    #[arg(long)]
    pub out: PathBuf,
    /// Why the old pass is replaced.
    #[arg(long, default_value = "superseded by a reissued pass")]
    pub reason: String,
    /// JSON output, as for `issue`.
    #[arg(long)]
    pub json: bool,
}

fn parse_kind(s: &str) -> Result<PassKind, String> {
    s.parse()
}

fn parse_vehicle_type(s: &str) -> Result<VehicleType, String> {
    s.parse()
}

/// Arguments of `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Issuance ledger.
    #[arg(long)]
    pub ledger: Option<PathBuf>,
    /// The issuer's key (to find the default ledger beside it).
    #[arg(long, env = "CHECKPASS_ISSUER_KEY")]
    pub key: Option<PathBuf>,
    /// Only this plate.
    #[arg(long)]
    pub plate: Option<String>,
    /// Only holders whose name contains this.
    #[arg(long)]
    pub holder: Option<String>,
    /// Only passes valid at this time.
    #[arg(long)]
    pub valid_at: Option<String>,
    /// Time zone for display and --valid-at.
    #[arg(long, default_value = pass_core::time::DEFAULT_TZ)]
    pub tz: String,
    /// One JSON object per line.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// CSV with the batch columns (UTF-8).
    #[arg(long)]
    pub csv: bool,
}

impl IssueArgs {
    /// The request these arguments make, valid from and until the instants given.
    pub fn request(&self, valid_from: u64, valid_until: u64) -> pass_issuer::issue::PassRequest {
        pass_issuer::issue::PassRequest {
            kind: self.kind,
            plate: self.plate.clone(),
            vehicle_type: self.vehicle_type,
            holder: self.holder.clone(),
            org_code: self.org_code.clone(),
            crew: self.driver.iter().chain(&self.co_drivers).cloned().collect(),
            origin: self.origin,
            destination: self.destination,
            zones: self.zones.clone(),
            cargo: self.cargo.clone(),
            valid_from,
            valid_until,
            supersedes: self.supersedes,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
