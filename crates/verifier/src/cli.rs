//! Command-line definition of `pass-verifier`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use pass_core::Division;

/// The version, and whether this binary is a checkpoint build (no signing code linked: built
/// on its own, `cargo build -p pass-verifier`) or was built together with the issuer or server,
/// whose `sign` feature Cargo then turns on for it too.
pub const VERSION: &str = if pass_core::SIGNING {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (WITH signing code: not a checkpoint build; build it with -p pass-verifier alone)"
    )
} else {
    concat!(env!("CARGO_PKG_VERSION"), " (checkpoint build: no signing code)")
};

/// checkpass checkpoint verifier: scan pass photos or camera frames, check text forms, offline.
///
/// Exit status: 0 every input accepted, 1 any rejected, 2 any could not be checked.
#[derive(Debug, Parser)]
#[command(name = "pass-verifier", version = VERSION)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read the pass in each image (JPEG, PNG, WebP) and give a verdict.
    Scan {
        /// Image files.
        #[arg(required = true)]
        images: Vec<PathBuf>,
        /// Settings shared with `check`.
        #[command(flatten)]
        check: CheckArgs,
    },
    /// Check passes given in text form (CP:...).
    Check {
        /// Text forms.
        #[arg(required = true)]
        texts: Vec<String>,
        /// Settings shared with `scan`.
        #[command(flatten)]
        check: CheckArgs,
    },
    /// Fetch revocation data and the trust list from a revocation server: once, or every
    /// DURATION with jitter and backoff. Everything is checked against the authority key of
    /// the local trust list before it is kept; on any failure the last good state is kept.
    Sync {
        /// Server base URL, e.g. http://revocations.example:8080. With a `[root]` trust file,
        /// give it once per server (or comma-separated): mirrors, static copies or authorities'
        /// own servers; each authority is also fetched from the URLs the root's list gives.
        #[arg(long, env = "CHECKPASS_SERVER", value_delimiter = ',', required = true)]
        server: Vec<String>,
        /// Sync every DURATION (30s, 5m, 1h) until stopped, instead of once.
        #[arg(long)]
        every: Option<String>,
        /// Give up on a request after this long.
        #[arg(long, default_value = "20s")]
        timeout: String,
        /// Where this checkpoint's state and trust list are.
        #[command(flatten)]
        state: StateArgs,
    },
    /// Show what this checkpoint holds: its revocation data and trust list, or with a `[root]`
    /// trust file each authority's version and age, and issuer entries refused.
    Status {
        /// Where this checkpoint's state and trust list are.
        #[command(flatten)]
        state: StateArgs,
    },
    /// Apply a signed revocation snapshot, delta or trust list from a file (a USB stick), with
    /// exactly the checks of `sync`.
    Import {
        /// The file (`pass-server export` writes one).
        file: PathBuf,
        /// Where this checkpoint's state and trust list are.
        #[command(flatten)]
        state: StateArgs,
    },
    /// Start the live checkpoint station: a local page that shows the laptop camera, reads
    /// each pass held up to it and fills the screen with the verdict. Prints the address to
    /// open (it carries a per-run token); listens on loopback only; works offline.
    Station {
        /// Address to listen on (loopback only; port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:8477")]
        listen: std::net::SocketAddr,
        /// Open the page in the default browser.
        #[arg(long)]
        open: bool,
        /// Keep revocation data and the trust list synced from this server in the background.
        #[arg(long, env = "CHECKPASS_SERVER")]
        sync: Option<String>,
        /// How often to sync with --sync.
        #[arg(long, default_value = "5m", requires = "sync")]
        every: String,
        /// Give up on a sync request after this long.
        #[arg(long, default_value = "20s")]
        timeout: String,
        /// The scan log (default: scanlog.sqlite beside the state file).
        #[arg(long)]
        log: Option<PathBuf>,
        /// This checkpoint's GB/T 2260 code or name (`pass-verifier zones NAME` finds it);
        /// without one, zones are not checked.
        #[arg(long, env = "CHECKPASS_ZONE", value_parser = pass_core::division::parse_place)]
        zone: Option<Division>,
        /// Where this checkpoint's state and trust list are.
        #[command(flatten)]
        state: StateArgs,
    },
    /// List divisions whose name contains TEXT (or whose code starts with it), with their
    /// codes: for finding this checkpoint's --zone.
    Zones {
        /// Part of a name (花都, 鼓楼区) or a code prefix (4401).
        text: String,
        /// One JSON object per line: {"code","name","retired_since"}.
        #[arg(long)]
        json: bool,
    },
    /// Export the station's scan log: one row per announced verdict.
    Log {
        /// Only rows at or after this time (RFC 3339, local date-time or date).
        #[arg(long)]
        since: Option<String>,
        /// One JSON object per line.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// CSV with a header row.
        #[arg(long)]
        csv: bool,
        /// The scan log (default: scanlog.sqlite beside the state file).
        #[arg(long)]
        log: Option<PathBuf>,
        /// State file whose directory holds the scan log.
        #[arg(long, env = "CHECKPASS_STATE")]
        state: Option<PathBuf>,
        /// Time zone for display and for --since.
        #[arg(long, env = "CHECKPASS_TZ")]
        tz: Option<String>,
    },
    /// Print every QR code found in each image, as base64 and as text when UTF-8, with the
    /// decode time (excluding the file read). For debugging and benchmarks.
    Decode {
        /// Image files.
        #[arg(required = true)]
        images: Vec<PathBuf>,
        /// One JSON object per line: {"input","codes":[{"bytes_b64","text"}],"ms"}.
        #[arg(long)]
        json: bool,
        /// Stop at the first strategy that finds a code (as `scan` does once a pass verifies);
        /// the decode bench measures this. Without it, every strategy runs (within the budget).
        #[arg(long)]
        first: bool,
    },
}

/// Where a checkpoint keeps its trust list and state, shared by every subcommand that uses them.
#[derive(Debug, Args)]
pub struct StateArgs {
    /// Trust list (TOML). Default: trust.toml in the config directory.
    #[arg(long, env = "CHECKPASS_TRUST")]
    pub trust: Option<PathBuf>,
    /// Local state: synced revocation data and trust list (default: state.bin in the data
    /// directory, ~/.local/share/checkpass on Linux).
    #[arg(long, env = "CHECKPASS_STATE")]
    pub state: Option<PathBuf>,
    /// Time zone for display (and for --at).
    #[arg(long, env = "CHECKPASS_TZ")]
    pub tz: Option<String>,
    /// Warn `revocation_data_stale` when the server has not confirmed the revocation data for
    /// longer than this.
    #[arg(long, default_value = "24h")]
    pub max_age: String,
    /// Config file (default: verifier.toml in the config directory, when present).
    #[arg(long, env = "CHECKPASS_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Settings for checking passes (`scan`, `check`).
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// This checkpoint's GB/T 2260 code or name (`pass-verifier zones NAME` finds it); without
    /// one, zones are not checked.
    #[arg(long, env = "CHECKPASS_ZONE", value_parser = pass_core::division::parse_place)]
    pub zone: Option<Division>,
    /// Check as if it were this time (RFC 3339 or a local date-time), for audits and tests.
    #[arg(long)]
    pub at: Option<String>,
    /// One JSON object per line per input:
    /// {"input","verdict","reason","detail","pass","warnings"}.
    #[arg(long)]
    pub json: bool,
    /// Where this checkpoint's state and trust list are.
    #[command(flatten)]
    pub state: StateArgs,
}

impl StateArgs {
    /// The library's view of these settings, checking in `zone` as of the clock.
    pub fn options(&self, zone: Option<Division>, at: Option<String>) -> pass_verifier::settings::Options {
        pass_verifier::settings::Options {
            trust: self.trust.clone(),
            zone,
            at,
            tz: self.tz.clone(),
            state: self.state.clone(),
            max_age: self.max_age.clone(),
            config: self.config.clone(),
        }
    }
}

impl CheckArgs {
    /// The library's view of these settings.
    pub fn options(&self) -> pass_verifier::settings::Options {
        self.state.options(self.zone, self.at.clone())
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
