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
    },
    /// Issue one pass: take a serial from the ledger, sign, and write the QR code as PNG (and SVG).
    Issue(IssueArgs),
    /// Revoke passes: record them in the ledger, then send them to the revocation server in one
    /// request. Safe to retry: the server ignores serials it already has.
    Revoke {
        /// Serials to revoke.
        #[arg(required = true)]
        serials: Vec<u64>,
        /// Revocation server base URL.
        #[arg(long, env = "CHECKPASS_SERVER")]
        server: String,
        /// Bearer token for this issuer (from `pass-server token add --issuer KEY_ID`).
        #[arg(long, env = "CHECKPASS_TOKEN", hide_env_values = true)]
        token: String,
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
    /// Origin, a GB/T 2260 code such as 440114.
    #[arg(long)]
    pub origin: Division,
    /// Destination, a GB/T 2260 code.
    #[arg(long)]
    pub destination: Division,
    /// A zone where the pass is valid (repeat for more; 440000 covers all of Guangdong).
    #[arg(long = "zone", required = true)]
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
    /// Issue time to record instead of now (test fixtures and demos only).
    #[arg(long, hide = true)]
    pub issued_at: Option<String>,
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

fn parse_kind(s: &str) -> Result<PassKind, String> {
    s.parse()
}

fn parse_vehicle_type(s: &str) -> Result<VehicleType, String> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
