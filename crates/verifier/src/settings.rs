//! Everything a check needs, resolved once from flags, environment and files: the effective
//! trust list, the synced state, the checkpoint's zone, the display time zone and the freshness
//! limit. `scan`, `check`, `sync`, `import` and the station share it.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use jiff::tz::TimeZone;
use pass_core::time::{self, Bound};
use pass_core::{Checkpoint, Division, Freshness, TrustList};

use crate::config;
use crate::report;
use crate::state::{self, LocalState};
use crate::sync::{self, SyncError};

/// The settings as given (flags and environment; the binary's `CheckArgs` fill it).
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Trust list file.
    pub trust: Option<PathBuf>,
    /// The checkpoint's zone.
    pub zone: Option<Division>,
    /// Check as of this time instead of the clock (audits).
    pub at: Option<String>,
    /// Display time zone.
    pub tz: Option<String>,
    /// State file.
    pub state: Option<PathBuf>,
    /// Freshness limit, e.g. `24h`.
    pub max_age: String,
    /// Config file.
    pub config: Option<PathBuf>,
}

/// Why settings could not be resolved: "could not check", never a verdict.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// A config file, trust list or zone is wrong.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The state file is damaged or unreadable.
    #[error(transparent)]
    State(#[from] state::StateError),
    /// A time, time zone or duration did not parse.
    #[error("{0}")]
    Invalid(String),
}

/// The resolved settings.
pub struct Settings {
    /// The trust list in force: the local file, updated by a synced signed trust list.
    pub trust: TrustList,
    /// The synced state.
    pub state: LocalState,
    /// Where the state lives.
    pub state_path: PathBuf,
    /// The instant checks are made at (the clock, or `--at`).
    pub now: u64,
    /// Whether `now` was fixed by `--at` rather than read from the clock.
    pub fixed_now: bool,
    /// The checkpoint's zone; `None` leaves zones unchecked (with a warning).
    pub zone: Option<Division>,
    /// Freshness limit in seconds.
    pub max_age: u64,
    /// Display time zone.
    pub tz: TimeZone,
    /// The trust list as the local file gives it (before any synced update).
    pub local_trust: TrustList,
    /// Up to when the revocation data is confirmed by signed time (computed once per state).
    confirmed: Option<u64>,
    /// The newest signed time held, the trusted time floor (computed once per state: it
    /// verifies signatures, and the station needs it for every frame).
    newest_signed_at: u64,
    /// Whether the newest heartbeat names a newer trust list than the one held.
    trust_stale: bool,
}

/// The system clock in Unix seconds.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Settings {
    /// Resolves `options` against the config file and the state file.
    pub fn load(options: &Options) -> Result<Settings, SettingsError> {
        let config = config::load_config(options.config.as_deref())?;
        let tz = match options.tz.as_deref().or(config.tz.as_deref()) {
            Some(name) => time::zone(name).map_err(|e| SettingsError::Invalid(format!("time zone: {e}")))?,
            None => time::default_zone(),
        };
        let local_trust = config::load_trust(&config::trust_path(options.trust.as_deref(), &config)?)?;
        let state_path = config::state_path(options.state.as_deref())?;
        let state = LocalState::load_verified(&state_path, local_trust.authority.as_ref().map(|a| &a.key))?;
        let trust = state::effective_trust(&local_trust, &state);
        let max_age =
            sync::parse_duration(&options.max_age).map_err(|e| SettingsError::Invalid(format!("--max-age: {e}")))?;
        let (now, fixed_now) = match &options.at {
            Some(at) => (
                time::parse_instant(at, &tz, Bound::StartOfDay)
                    .map_err(|e| SettingsError::Invalid(format!("--at: {e}")))?,
                true,
            ),
            None => (unix_now(), false),
        };
        let zone = config::zone(options.zone, &config)?;
        let mut settings = Settings {
            trust,
            state: LocalState::default(),
            state_path,
            now,
            fixed_now,
            zone,
            max_age: max_age.as_secs(),
            tz,
            local_trust,
            confirmed: None,
            newest_signed_at: 0,
            trust_stale: false,
        };
        settings.set_state(state);
        Ok(settings)
    }

    /// Takes a newly synced or imported state: the trust list in force follows it.
    pub fn set_state(&mut self, state: LocalState) {
        self.trust = state::effective_trust(&self.local_trust, &state);
        let authority = self.local_trust.authority.as_ref().map(|a| &a.key);
        self.confirmed = authority.and_then(|a| state.confirmed_at(a));
        self.newest_signed_at = state.newest_signed_at(authority);
        self.trust_stale = authority.is_some_and(|a| state.trust_stale(a));
        self.state = state;
    }

    /// Up to when the revocation data is known to be current, from signed time only (its own
    /// signing time or a matching signed heartbeat; never a bare 304).
    pub fn confirmed_at(&self) -> Option<u64> {
        self.confirmed
    }

    /// The checkpoint to verify against, with the clock read when the settings were loaded
    /// (or `--at`).
    pub fn checkpoint(&self) -> Checkpoint<'_> {
        self.checkpoint_at(self.now)
    }

    /// The checkpoint to verify against when the clock says `clock` (the station reads it for
    /// every frame). Checks are made at the clock, but never earlier than the newest signed time
    /// held (the trusted time floor: a laptop clock set back cannot revive an expired pass);
    /// `--at`, an explicit audit time, is taken as it is.
    pub fn checkpoint_at(&self, clock: u64) -> Checkpoint<'_> {
        let authority = self.trust.authority.as_ref().map(|a| &a.key);
        // Revocation is configured when the trust list names an authority.
        let freshness = authority.map(|_| Freshness {
            confirmed_at: self.confirmed_at(),
            max_age: self.max_age,
            newest_signed_at: self.newest_signed_at,
            clock,
            trust_stale: self.trust_stale,
        });
        let now = match &freshness {
            Some(f) if !self.fixed_now => f.floor(),
            _ => clock,
        };
        Checkpoint { now, zone: self.zone, revocations: Some(&self.state.revocations), freshness }
    }

    /// The clock for a check made now: the system clock, or the fixed `--at` time.
    pub fn clock(&self) -> u64 {
        if self.fixed_now { self.now } else { unix_now() }
    }

    /// "revocation data: version 12, confirmed 3 min ago" for the human output.
    pub fn freshness_line(&self) -> Option<String> {
        self.trust.authority.as_ref()?;
        let r = &self.state.revocations;
        Some(match self.confirmed_at() {
            None => "注销名单 Revocation data: none yet — run `pass-verifier sync` or `import`".to_owned(),
            Some(at) => format!(
                "注销名单 Revocation data: version {}, {} revoked, confirmed {} ago",
                r.version,
                r.revoked_count(),
                report::age(self.now.saturating_sub(at))
            ),
        })
    }

    /// The authority key named by the trust list, which signs everything synced.
    pub fn authority(&self) -> Result<&pass_core::PublicKey, SyncError> {
        Ok(&self.trust.authority.as_ref().ok_or(SyncError::NoAuthority)?.key)
    }
}
