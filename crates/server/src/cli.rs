//! Command-line definition of `pass-server`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use pass_core::KeyId;

/// checkpass revocation and trust-list server.
#[derive(Debug, Parser)]
#[command(name = "pass-server", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve revocations and the trust list over HTTP until SIGTERM or Ctrl-C.
    Serve(ServeArgs),
    /// Write a consistent copy of the database to a new file (0600); the server may be
    /// running. Keys are never in it.
    Backup {
        /// The data directory.
        #[arg(long, env = "CHECKPASS_SERVER_DATA")]
        data: PathBuf,
        /// The file to write (never replaced).
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup into a new or empty data directory, then take back every revocation
    /// the signed snapshots given show (a mirror's or the `--publish` directory's
    /// `v1/revocations`): the data goes on from the newest version any checkpoint holds.
    Restore {
        /// The file `backup` wrote.
        backup: PathBuf,
        /// The data directory to restore into (missing or empty).
        #[arg(long)]
        data: PathBuf,
        /// The authority key (to check the snapshots and sign the recovered state).
        #[arg(long, env = "CHECKPASS_AUTHORITY_KEY")]
        authority_key: PathBuf,
        /// A signed snapshot a checkpoint or mirror holds (repeat for several). Without one,
        /// a restored older database signs versions every checkpoint refuses: the command
        /// says so.
        #[arg(long)]
        recover_from: Vec<PathBuf>,
    },
    /// Manage bearer tokens.
    Token {
        /// Token operation.
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// The national root's authority list (run where the root key is, never on a server).
    Authorities {
        /// Operation.
        #[command(subcommand)]
        command: AuthoritiesCommand,
    },
    /// Write this authority's signed documents as plain files once (docs/FORMAT.md, "Static
    /// layout"), with a heartbeat signed now, and exit: for a server that is not running (a
    /// running one keeps them current with `serve --publish DIR`). Takes the settings of `serve`.
    Publish {
        /// The directory to write.
        #[arg(long)]
        out: PathBuf,
        /// The data directory, key and trust list, as for `serve`.
        #[command(flatten)]
        authority: AuthorityArgs,
    },
    /// Mirror every authority the root lists into a directory any static web server can serve
    /// (docs/FORMAT.md, "Static layout"): each document verified against its authority's key
    /// from the root's list, never older than the copy held; plus the list and a combined
    /// heartbeat file, so an up-to-date checkpoint syncs in one request.
    Mirror {
        /// The root's public key: its .pub file, or a trust file with a [root] section.
        #[arg(long)]
        root: PathBuf,
        /// The root's signed authority list (else fetched from the --from bases).
        #[arg(long)]
        authorities: Option<PathBuf>,
        /// Other mirrors to copy from first (each authority is also fetched from the URLs the
        /// list gives it). Repeat, or separate with commas.
        #[arg(long, value_delimiter = ',')]
        from: Vec<String>,
        /// The directory to write.
        #[arg(long)]
        out: PathBuf,
        /// Mirror every DURATION (30s, 5m) until stopped, instead of once.
        #[arg(long)]
        every: Option<String>,
    },
    /// Write the current signed revocation snapshot to a file (for a USB stick).
    Export {
        /// Data directory.
        #[arg(long, env = "CHECKPASS_SERVER_DATA")]
        data: PathBuf,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// The authority key: the export then carries a heartbeat signed now, so a checkpoint
        /// that imports it counts its data as confirmed now. Without it, only the snapshot,
        /// confirmed as of its own signing time.
        #[arg(long, env = "CHECKPASS_AUTHORITY_KEY")]
        authority_key: Option<PathBuf>,
        /// The trust list the server publishes (as `serve --trust`): signed into the export,
        /// and named by its heartbeat, so a checkpoint learns the issuers from the file alone.
        #[arg(long, requires = "authority_key")]
        trust: Option<PathBuf>,
        /// The root's signed authority list, put first in the export: a root-mode checkpoint
        /// (a `[root]` trust file) then imports everything from this one file.
        #[arg(long)]
        authorities: Option<PathBuf>,
    },
}

/// Authority-list operations.
#[derive(Debug, Subcommand)]
pub enum AuthoritiesCommand {
    /// Sign an authority list (TOML: `version`, then `[[authority]]` entries with name, key_id,
    /// public_key, provinces, urls, optional not_before/not_after) with the root key, signed at
    /// this machine's clock. Refuses a list that breaks a rule, and an output file that exists.
    Sign {
        /// The root's secret key (PKCS#8 PEM, made by keygen like any other key).
        #[arg(long)]
        root_key: PathBuf,
        /// The list (TOML).
        list: PathBuf,
        /// Where to write the signed list (never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
}

/// Token operations.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once, alone on the last line of stdout. Only its hash is
    /// stored.
    Add {
        /// Data directory.
        #[arg(long, env = "CHECKPASS_SERVER_DATA")]
        data: PathBuf,
        /// A token for this issuer key: it may revoke that issuer's passes only.
        #[arg(long, conflicts_with = "admin", required_unless_present = "admin")]
        issuer: Option<KeyId>,
        /// An admin token: may revoke any pass and revoke issuer keys.
        #[arg(long)]
        admin: bool,
    },
    /// List tokens: an id (not the token), role and creation time. Nothing here can be used
    /// as a token.
    List {
        /// Data directory.
        #[arg(long, env = "CHECKPASS_SERVER_DATA")]
        data: PathBuf,
    },
    /// Withdraw a token by its id from `token list`: refused from the next request on, also by
    /// a running server.
    Remove {
        /// Data directory.
        #[arg(long, env = "CHECKPASS_SERVER_DATA")]
        data: PathBuf,
        /// The token's id (16 hex digits, from `token list`).
        id: String,
    },
}

/// The authority's data directory, key and trust list (`serve` and `publish`). Each may also
/// come from the environment or the `--config` TOML file (keys `data`, `authority_key`,
/// `listen`, `trust`, `log_json`); flags win, then environment.
#[derive(Debug, Args)]
pub struct AuthorityArgs {
    /// Config file (TOML).
    #[arg(long, env = "CHECKPASS_SERVER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (the SQLite database lives here).
    #[arg(long, env = "CHECKPASS_SERVER_DATA")]
    pub data: Option<PathBuf>,
    /// The authority's secret key (PKCS#8 PEM): signs snapshots, deltas and the trust list.
    #[arg(long, env = "CHECKPASS_AUTHORITY_KEY")]
    pub authority_key: Option<PathBuf>,
    /// Trust list (TOML) to sign and publish at /v1/trust.
    #[arg(long, env = "CHECKPASS_SERVER_TRUST")]
    pub trust: Option<PathBuf>,
    /// Log as JSON lines.
    #[arg(long)]
    pub log_json: bool,
}

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The data directory, key and trust list.
    #[command(flatten)]
    pub authority: AuthorityArgs,
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, env = "CHECKPASS_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// The national root's signed authority list (`pass-server authorities sign`) to serve at
    /// /v1/authorities, for checkpoints with a `[root]` trust file.
    #[arg(long, env = "CHECKPASS_AUTHORITIES")]
    pub authorities: Option<PathBuf>,
    /// Also write the signed documents as plain files into this directory after every commit
    /// and heartbeat (docs/FORMAT.md, "Static layout"), for any web server or CDN to serve.
    #[arg(long, env = "CHECKPASS_PUBLISH")]
    pub publish: Option<PathBuf>,
    /// Publish the revocation data and the trust list again, unchanged, as new versions signed
    /// at this machine's clock. The recovery when they were signed while the clock was ahead:
    /// `serve` refuses to start on data dated in its future (README, "A clock set ahead").
    #[arg(long)]
    pub re_sign: bool,
    /// Connections one client address may hold at once; more are closed as soon as accepted,
    /// so one client cannot take the connections every checkpoint needs. Raise it behind a
    /// proxy (every connection then comes from the proxy) or for a load test from one machine.
    #[arg(long, default_value_t = pass_http::limits::DEFAULT_PER_ADDRESS, value_parser = clap::value_parser!(usize))]
    pub max_connections_per_address: usize,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
