//! Everything a check needs, resolved once from flags, environment and files: the effective
//! trust list, the synced state, the checkpoint's zone, the display time zone and the freshness
//! limit. `scan`, `check`, `sync`, `import` and the station share it.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use jiff::tz::TimeZone;
use pass_core::time::{self, Bound};
use pass_core::verdict::{self, Reason, Verdict};
use pass_core::{Checkpoint, Division, Freshness, TrustList};

use crate::config;
use crate::report;
use crate::rooted::RootedView;
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
    /// Root mode (`[root]` in the trust file): each authority's part.
    rooted: Option<RootedView>,
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
        let state = match &local_trust.root {
            Some(root) => LocalState::load_rooted(&state_path, &root.key)?,
            None => LocalState::load_verified(&state_path, local_trust.authority.as_ref().map(|a| &a.key))?,
        };
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
            rooted: None,
        };
        settings.set_state(state);
        Ok(settings)
    }

    /// Takes a newly synced or imported state: the trust list in force follows it.
    pub fn set_state(&mut self, state: LocalState) {
        if let Some(root) = &self.local_trust.root {
            let (trust, view) = RootedView::new(&self.local_trust, &state, &root.key, self.clock());
            self.trust = trust;
            self.newest_signed_at = view.newest_signed_at;
            self.rooted = Some(view);
            self.state = state;
            return;
        }
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
            list_stale: false,
        });
        let now = match &freshness {
            Some(f) if !self.fixed_now => f.floor(),
            _ => clock,
        };
        Checkpoint { now, zone: self.zone, revocations: Some(&self.state.revocations), freshness }
    }

    /// The instant a check made when the clock says `clock` is made at (see
    /// [`Settings::checkpoint_at`]).
    pub fn now_at(&self, clock: u64) -> u64 {
        match &self.rooted {
            Some(_) if self.fixed_now => self.now,
            Some(view) => clock.max(view.newest_signed_at),
            None => self.checkpoint_at(clock).now,
        }
    }

    /// Checks one code when the clock says `clock`. In root mode against the data of the
    /// authority that vouches for its issuer (its revocations, its freshness); an unknown issuer
    /// names the authorities no data has come from yet.
    pub fn check(&self, code: &[u8], clock: u64) -> Verdict {
        let Some(view) = &self.rooted else { return verdict::verify(code, &self.trust, &self.checkpoint_at(clock)) };
        let index = pass_core::envelope::Envelope::decode(code).ok().and_then(|e| view.owner.get(&e.key_id).copied());
        let owner = index.and_then(|i| view.authorities.get(i));
        // The floor of the pass's own authority (and the root's list), not every authority's.
        let now = if self.fixed_now { self.now } else { view.floor_for(index, clock) };
        let checkpoint = match owner {
            Some(authority) => Checkpoint {
                now,
                zone: self.zone,
                revocations: self.state.authorities.get(&authority.key.id()).map(|s| &s.revocations),
                freshness: Some(Freshness {
                    confirmed_at: authority.confirmed_at,
                    max_age: self.max_age,
                    newest_signed_at: view.floor_for(index, 0),
                    clock,
                    trust_stale: authority.trust_stale,
                    list_stale: view.list_stale(clock),
                }),
            },
            // An issuer of the local trust file (no authority vouches for it), or none known.
            None => Checkpoint { now, zone: self.zone, revocations: None, freshness: None },
        };
        let mut verdict = verdict::verify(code, &self.trust, &checkpoint);
        if verdict.reason == Some(Reason::UnknownIssuer) {
            let missing = view.never_synced();
            if !missing.is_empty() {
                let detail = verdict.detail.take().unwrap_or_default();
                verdict.detail = Some(format!("{detail}; no data from {} yet", missing.join("、")));
            }
        }
        verdict
    }

    /// Root mode: each authority as held (`None` in single-authority mode).
    pub fn rooted(&self) -> Option<&RootedView> {
        self.rooted.as_ref()
    }

    /// The clock for a check made now: the system clock, or the fixed `--at` time.
    pub fn clock(&self) -> u64 {
        if self.fixed_now { self.now } else { unix_now() }
    }

    /// The freshness line for one verdict: in root mode the data of the pass's authority (by
    /// name, and whether it is stale), else [`Settings::freshness_line`].
    pub fn freshness_line_for(&self, verdict: &Verdict) -> Option<String> {
        let Some(view) = &self.rooted else { return self.freshness_line() };
        let owner =
            verdict.issuer.as_ref().and_then(|i| view.owner.get(&i.key_id)).and_then(|&i| view.authorities.get(i));
        match owner {
            Some(a) => Some(self.authority_line(a)),
            None => self.freshness_line(),
        }
    }

    /// One authority's line: "注销名单 Revocation data 广东省: version 3, confirmed 2 min ago".
    pub fn authority_line(&self, a: &crate::rooted::AuthorityStatus) -> String {
        match a.confirmed_at {
            None => format!("注销名单 Revocation data {}: none yet — run `pass-verifier sync`", a.name),
            Some(at) => {
                let age = self.now.saturating_sub(at);
                let stale = if age > self.max_age {
                    format!(" — revocation_data_stale: {} last confirmed {} ago", a.name, report::age(age))
                } else {
                    String::new()
                };
                format!(
                    "注销名单 Revocation data {}: version {}, confirmed {} ago{stale}",
                    a.name,
                    a.version,
                    report::age(age)
                )
            }
        }
    }

    /// What `pass-verifier status` says: the freshness of the data held, one line per
    /// authority in root mode (and the issuers refused), and how many issuers are trusted.
    pub fn status_lines(&self) -> Vec<String> {
        let printable = crate::report::printable;
        let mut lines = Vec::new();
        match self.rooted() {
            None => lines.push(
                self.freshness_line().unwrap_or_else(|| "no authority configured: revocations are not checked".into()),
            ),
            Some(view) => {
                lines.push(self.freshness_line().unwrap_or_default());
                for authority in &view.authorities {
                    let window = if authority.active {
                        ""
                    } else {
                        " (outside its validity window: its passes are not trusted)"
                    };
                    lines.push(format!("  {}{window}", printable(&self.authority_line(authority))));
                }
                for refused in &view.refused {
                    lines.push(format!("  warning: {}", printable(refused)));
                }
            }
        }
        lines.push(match (self.trust.issuers.len(), self.rooted().is_some()) {
            (0, true) => "0 trusted issuers: sync, or import the root's authority list and then each authority's \
                          documents (`pass-server export --authorities LIST --trust TRUST`)"
                .to_owned(),
            (0, false) => {
                "0 trusted issuers: the trust file names no [[issuer]], and no trust list was synced".to_owned()
            }
            (n, _) => format!("{n} trusted issuers"),
        });
        lines
    }

    /// "revocation data: version 12, confirmed 3 min ago" for the human output.
    pub fn freshness_line(&self) -> Option<String> {
        if let Some(view) = &self.rooted {
            let synced = view.authorities.iter().filter(|a| a.synced).count();
            let stale: Vec<&str> = view
                .authorities
                .iter()
                .filter(|a| a.active && a.confirmed_at.is_none_or(|at| self.now.saturating_sub(at) > self.max_age))
                .map(|a| a.name.as_str())
                .collect();
            let mut line = format!(
                "注销名单 Revocation data: authority list version {}, {synced} of {} authorities synced",
                view.list_version,
                view.authorities.len()
            );
            if !stale.is_empty() {
                line.push_str(&format!("; not current: {}", stale.join("、")));
            }
            if view.list_stale(self.now) {
                let age = report::age(self.now.saturating_sub(view.list_issued_at));
                line.push_str(&format!("; authority_list_stale: the root's list is {age} old"));
            }
            return Some(line);
        }
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
