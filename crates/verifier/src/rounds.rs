//! One sync round, as `pass-verifier sync` and the station's background sync both run it:
//! from one authority's server, or in root mode (a `[root]` trust file) every authority the
//! root lists, from mirrors and the authorities' own servers. The command line prints what a
//! round [`Said`]; the station puts it on its status line.

use std::time::Duration;

use jiff::tz::TimeZone;

use crate::report::printable;
use crate::rooted::{self, RootedReport};
use crate::settings::{Options, Settings, SettingsError, unix_now};
use crate::station::{Station, SyncStatus};
use crate::sync::{self, RoundError, SyncError, SyncReport};

impl From<SettingsError> for RoundError {
    fn from(e: SettingsError) -> RoundError {
        match e {
            SettingsError::State(e) => RoundError::State(e),
            e => RoundError::Settings(Box::new(e)),
        }
    }
}

/// Where a round fetches from.
pub enum Upstream {
    /// One authority's server.
    Authority(sync::Client),
    /// Root mode: these bases (mirrors, authorities' own servers), then the URLs the root's
    /// list gives each authority.
    Rooted {
        /// The bases, in the order tried.
        bases: Vec<String>,
        /// Each request's time limit.
        timeout: Duration,
    },
}

impl Upstream {
    /// The upstream for `servers`: root mode takes several, one authority exactly one.
    pub fn new(servers: &[String], timeout: Duration, rooted: bool) -> Result<Upstream, SyncError> {
        match (rooted, servers) {
            (true, _) => Ok(Upstream::Rooted { bases: servers.to_vec(), timeout }),
            (false, [server]) => Ok(Upstream::Authority(sync::Client::new(server, timeout))),
            (false, _) => Err(SyncError::OneServer),
        }
    }
}

/// What a round has to say: lines for standard output, and warnings for standard error.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Said {
    /// Lines for standard output.
    pub out: Vec<String>,
    /// Lines for standard error.
    pub err: Vec<String>,
}

/// One round for the command line: the settings are read again each round (another process
/// may have imported meanwhile, or the operator fixed the trust file), the state file synced
/// under its lock. Whether everything went well, and what to say.
pub fn round(options: &Options, upstream: &Upstream) -> Result<(bool, Said), RoundError> {
    let settings = Settings::load(options)?;
    match upstream {
        Upstream::Authority(client) => {
            let authority = *settings.authority()?;
            let (_, report) = sync::sync_file(client, &authority, &settings.state_path, unix_now())?;
            Ok((report.trust_error.is_none(), say(&report, &settings.tz)))
        }
        Upstream::Rooted { bases, timeout } => {
            let root = settings.trust.root.as_ref().map(|r| r.key).ok_or(SyncError::NoAuthority)?;
            let (state, report) = rooted::sync_rooted_file(bases, *timeout, &root, &settings.state_path, unix_now())?;
            let (_, view) = rooted::RootedView::new(&settings.local_trust, &state, &root, unix_now());
            let ok = report.list_error.is_none() && report.authorities.iter().all(|a| a.error.is_none());
            Ok((ok, say_rooted(&report, &view.refused, &settings.tz)))
        }
    }
}

/// One round of the station's background sync: the station takes the new state at once (and
/// would from the file before its next verdict anyway), and its status line says how it went.
pub fn station_round(station: &Station, upstream: &Upstream) -> Result<(), RoundError> {
    let path = station.state_path();
    let result = match upstream {
        Upstream::Authority(client) => station
            .authority()
            .ok_or(RoundError::Sync(SyncError::NoAuthority))
            .and_then(|authority| sync::sync_file(client, &authority, &path, unix_now()))
            .map(|(state, report)| (state, report.trust_error.map(|e| format!("trust list refused: {e}")))),
        Upstream::Rooted { bases, timeout } => station
            .root()
            .ok_or(RoundError::Sync(SyncError::NoAuthority))
            .and_then(|root| rooted::sync_rooted_file(bases, *timeout, &root, &path, unix_now()))
            .map(|(state, report)| {
                let behind: Vec<&str> =
                    report.authorities.iter().filter(|a| a.error.is_some()).map(|a| a.name.as_str()).collect();
                (state, (!behind.is_empty()).then(|| format!("not brought up to date: {}", behind.join("、"))))
            }),
    };
    let error = match &result {
        Ok((_, error)) => error.clone(),
        Err(e) => Some(e.to_string()),
    };
    station.set_sync_status(SyncStatus { at: Some(unix_now()), error });
    result.map(|(state, _)| station.set_state(state))
}

/// Imports documents carried by hand (`pass-server export` on a USB stick), as a sync would
/// take them, into the state file under its lock: what was imported. A refused import
/// ([`RoundError::Sync`]) keeps the last good state.
pub fn import(options: &Options, bytes: &[u8]) -> Result<String, RoundError> {
    let _lock = crate::state::lock(&crate::config::state_path(options.state.as_deref()).map_err(SettingsError::from)?)?;
    let mut settings = Settings::load(options)?;
    let what = match settings.trust.root.as_ref().map(|r| r.key) {
        Some(root) => rooted::import_rooted(bytes, &root, &mut settings.state, unix_now())?,
        None => {
            let authority = *settings.authority()?;
            sync::import(bytes, &authority, &mut settings.state, unix_now())?
        }
    };
    settings.state.save(&settings.state_path)?;
    Ok(what)
}

fn confirmed(at: Option<u64>, tz: &TimeZone) -> String {
    at.map_or_else(
        || "not confirmed by signed time".to_owned(),
        |at| format!("confirmed current as of {} (signed)", pass_core::time::human(at, tz)),
    )
}

/// What a sync from one authority's server says.
pub fn say(report: &SyncReport, tz: &TimeZone) -> Said {
    let what = if report.revocations_current {
        format!("revocation data current (version {})", report.to_version)
    } else {
        format!(
            "revocation data version {} → {} ({} bytes)",
            report.from_version, report.to_version, report.revocation_bytes
        )
    };
    let trust = match (&report.trust_error, report.trust_published) {
        (Some(_), _) => "trust list refused (kept the last good one)".to_owned(),
        (None, false) => "the server publishes no trust list".to_owned(),
        (None, true) => format!("trust list version {}", report.trust_version),
    };
    let mut said = Said::default();
    said.out.push(format!("synced: {what}; {trust}; {}", confirmed(report.confirmed_at, tz)));
    if let Some(error) = &report.heartbeat_error {
        said.out.push(format!(
            "warning: no valid signed heartbeat ({}): the revocation data counts as current only as of its own signing time",
            printable(error)
        ));
    }
    if let Some(error) = &report.trust_error {
        said.err.push(format!("trust list refused, keeping the last good one: {}", printable(error)));
    }
    if report.trust_stale {
        said.out.push(format!("warning: trust_list_stale: {}", pass_core::Warning::TrustListStale.message()));
    }
    said
}

/// What a root-mode sync says: the list, then each authority (where its data came from, or
/// why it could not be brought up to date), then the issuers refused.
pub fn say_rooted(report: &RootedReport, refused: &[String], tz: &TimeZone) -> Said {
    let mut said = Said::default();
    let plural = if report.requests == 1 { "" } else { "s" };
    said.out.push(format!(
        "synced: authority list version {}; {} HTTP request{plural}, {} bytes",
        report.list_version, report.requests, report.bytes
    ));
    if let Some(error) = &report.list_error {
        said.err.push(format!("authority list refused, keeping the last good one: {}", printable(error)));
    }
    for line in &report.authorities {
        let confirmed = confirmed(line.confirmed_at, tz);
        let name = printable(&line.name);
        said.out.push(match (&line.source, &line.error) {
            (Some(source), _) => format!(
                "  {name}: version {} → {} from {}; {confirmed}",
                line.from_version,
                line.to_version,
                printable(source)
            ),
            (None, error) => format!(
                "  warning: {name}: not brought up to date, keeping version {} ({confirmed}): {}",
                line.to_version,
                printable(error.as_deref().unwrap_or(""))
            ),
        });
    }
    for id in &report.dropped {
        said.out.push(format!("  authority {id} is no longer in the root's list: its data was dropped"));
    }
    for refused in refused {
        said.out.push(format!("  warning: {}", printable(refused)));
    }
    said
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_says_what_changed_and_warns_on_stderr_about_a_refused_trust_list() {
        let tz = pass_core::time::default_zone();
        let report = SyncReport {
            from_version: 1,
            to_version: 3,
            revocation_bytes: 120,
            trust_error: Some("bad signature".into()),
            ..SyncReport::default()
        };
        let said = say(&report, &tz);
        assert_eq!(said.out.len(), 1);
        assert!(said.out[0].contains("version 1 → 3 (120 bytes)") && said.out[0].contains("not confirmed"));
        assert_eq!(said.err, vec!["trust list refused, keeping the last good one: bad signature".to_owned()]);
    }

    #[test]
    fn one_authority_takes_one_server_root_mode_several() {
        let servers = vec!["http://a".to_owned(), "http://b".to_owned()];
        assert!(matches!(Upstream::new(&servers, Duration::from_secs(1), false), Err(SyncError::OneServer)));
        assert!(matches!(Upstream::new(&servers, Duration::from_secs(1), true), Ok(Upstream::Rooted { .. })));
        assert!(matches!(Upstream::new(&servers[..1], Duration::from_secs(1), false), Ok(Upstream::Authority(_))));
    }
}
