//! The live checkpoint station: the officer holds a pass up to the laptop camera and the
//! verdict fills the screen. A page served on loopback captures the camera and sends greyscale
//! frames over a WebSocket; the station decodes the newest frame on a blocking thread, checks
//! it like `scan`, and answers with the verdict. Everything works with the network cable pulled.
//!
//! # Layout
//! - this module: [`Station`], the part without a network: one input (camera frame, text form,
//!   photo) in, one answer out, with announcements, the scan log and the status line.
//! - [`presence`]: one announcement per presentation of a pass.
//! - [`web`]: the axum server, the per-run token and `Origin` checks, the WebSocket session.
//! - [`protocol`]: the messages to the page, as types.
//! - `station/assets/`: the page (HTML, CSS, JS), embedded in the binary.

pub mod presence;
pub mod protocol;
pub mod web;

use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use image::GrayImage;
use pass_core::time::{clock as clock_time, day_start};
use pass_core::verdict::{Reason, Verdict};
use pass_core::view::verdict_json;
use pass_decode::image_input;

use sha2::{Digest, Sha256};

use crate::scan;
use crate::scanlog::{Entry, LogError, ScanLog, Source};
use crate::settings::Settings;
use crate::state::LocalState;

use self::presence::{Observation, Presence};
use self::protocol::{Answer, Shown, Status};

/// How long a pass may be out of view (missed frames while the hand moves) and still be the
/// same presentation.
pub const GRACE: Duration = Duration::from_secs(2);

/// The time budget for decoding one camera frame: the page waits for each answer, so a frame
/// must never take long (docs/DECODING.md gives the measured worst cases).
pub const FRAME_BUDGET: Duration = Duration::from_millis(120);

/// Largest camera frame accepted, in pixels a side.
pub const MAX_FRAME_SIDE: u32 = 1920;

/// What the last background sync did, for the status line.
#[derive(Clone, Debug, Default)]
pub struct SyncStatus {
    /// When it last ran, Unix seconds.
    pub at: Option<u64>,
    /// `None` when it succeeded, else why it failed.
    pub error: Option<String>,
}

/// The station without its network: settings, scan log and presentation tracking.
pub struct Station {
    settings: RwLock<Settings>,
    log: Mutex<ScanLog>,
    presence: Mutex<Presence>,
    sync: Mutex<SyncStatus>,
    disk: Mutex<Disk>,
    /// How long one camera frame may take to decode ([`FRAME_BUDGET`]).
    frame_budget: Duration,
}

/// What the station knows of its state file: another process (`pass-verifier import` from a
/// USB stick, `pass-verifier sync`) may replace it at any time, and every verdict must use the
/// newest data. Every save is a new file renamed into place, so a new inode, size or mtime
/// says the file changed: one `stat` before each verdict, a load only when it changed.
#[derive(Default)]
struct Disk {
    /// The file as last looked at.
    stamp: Option<Stamp>,
    /// Why the file could not be taken, when it could not (shown on the status line).
    error: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl Stamp {
    fn of(path: &std::path::Path) -> Option<Stamp> {
        let meta = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some(Stamp { modified: meta.modified().ok(), len: meta.len(), inode })
    }
}

/// Why an input could not be checked (a clear message for the page; never a verdict).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StationError {
    /// The scan log could not be written: nothing is announced that is not logged.
    #[error(transparent)]
    Log(#[from] LogError),
    /// An uploaded photo could not be read.
    #[error("the photo could not be read: {0}")]
    Photo(#[from] image_input::InputError),
}

/// Milliseconds since the Unix epoch on the system clock.
fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl Station {
    /// A station checking with `settings` and logging to `log`.
    pub fn new(settings: Settings, log: ScanLog) -> Station {
        let disk = Disk { stamp: Stamp::of(&settings.state_path), error: None };
        Station {
            settings: RwLock::new(settings),
            log: Mutex::new(log),
            presence: Mutex::new(Presence::new(GRACE)),
            sync: Mutex::new(SyncStatus::default()),
            disk: Mutex::new(disk),
            frame_budget: FRAME_BUDGET,
        }
    }

    /// The same station with another frame budget (a test on a loaded machine, where a frame
    /// that takes longer than [`FRAME_BUDGET`] must still be decoded, not raced).
    pub fn with_frame_budget(self, budget: Duration) -> Station {
        Station { frame_budget: budget, ..self }
    }

    /// The state file it checks with.
    pub fn state_path(&self) -> std::path::PathBuf {
        self.settings().state_path.clone()
    }

    /// The same station with another grace (tests use a short one).
    pub fn with_grace(self, grace: Duration) -> Station {
        Station { presence: Mutex::new(Presence::new(grace)), ..self }
    }

    fn settings(&self) -> std::sync::RwLockReadGuard<'_, Settings> {
        self.settings.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the state file when another process has changed it since it was last looked at
    /// (an import from a USB stick, a sync): the next verdict uses it. A file that cannot be
    /// read or is damaged leaves the state in force as it is, and says why on the status line.
    /// Revocation data never goes back to an older version.
    pub fn refresh(&self) {
        let path = self.settings().state_path.clone();
        let stamp = Stamp::of(&path);
        let mut disk = self.disk.lock().unwrap_or_else(|p| p.into_inner());
        if stamp == disk.stamp {
            return;
        }
        disk.stamp = stamp;
        if stamp.is_none() {
            return;
        }
        let authority = self.settings().local_trust.authority.as_ref().map(|a| a.key);
        match LocalState::load_verified(&path, authority.as_ref()) {
            Ok(state) => {
                disk.error = None;
                if state.revocations.version >= self.settings().state.revocations.version {
                    self.set_state(state);
                }
            }
            Err(e) => disk.error = Some(e.to_string()),
        }
    }

    /// Takes newly synced data: from the next frame on, verdicts use it (a pass in view whose
    /// verdict changes is announced again).
    pub fn set_state(&self, state: LocalState) {
        self.settings.write().unwrap_or_else(|p| p.into_inner()).set_state(state);
    }

    /// Records how the last background sync went.
    pub fn set_sync_status(&self, status: SyncStatus) {
        *self.sync.lock().unwrap_or_else(|p| p.into_inner()) = status;
    }

    /// The root key of the trust list in force (root mode), for a background sync.
    pub fn root(&self) -> Option<pass_core::PublicKey> {
        self.settings().trust.root.as_ref().map(|r| r.key)
    }

    /// The authority key of the trust list in force, for a background sync.
    pub fn authority(&self) -> Option<pass_core::PublicKey> {
        self.settings().authority().ok().copied()
    }

    /// Checks one camera frame. The answer says whether a code was in view, and carries the
    /// verdict when this frame starts a new presentation (an announcement).
    pub fn frame(&self, image: &GrayImage) -> Result<Answer, StationError> {
        let start = Instant::now();
        self.refresh();
        let settings = self.settings();
        let clock = settings.clock();
        let (verdict, code) = scan::scan_code_with(image, self.frame_budget, |code| settings.check(code, clock));
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        let Some(code) = code else {
            let presenting = self.presence.lock().unwrap_or_else(|p| p.into_inner()).presenting(Instant::now());
            return Ok(Answer::frame(false, presenting, ms));
        };
        let identity: [u8; 32] = Sha256::digest(&code).into();
        let outcome = verdict.reason.map_or("accepted", Reason::code);
        let now_ms = unix_ms();
        let mut presence = self.presence.lock().unwrap_or_else(|p| p.into_inner());
        match presence.observe(identity, outcome, Instant::now()) {
            Observation::Same { log_id, frames, flush } => {
                if flush && let Some(id) = log_id {
                    // Best effort: the row exists already; only its last-seen time and count grow.
                    let _ = self.log().update_seen(id, now_ms, frames);
                }
                Ok(Answer::frame(true, true, ms))
            }
            Observation::New => {
                let (answer, id) =
                    self.announce(&settings, &verdict, settings.now_at(clock), now_ms, Source::Camera)?;
                presence.logged(id);
                Ok(Answer { in_view: Some(true), presenting: Some(true), ms: Some(ms), ..answer })
            }
        }
    }

    /// Checks a text form (`CP:...`), typed, pasted or from a keyboard-wedge scanner: every
    /// submission is announced.
    pub fn text(&self, text: &str) -> Result<Answer, StationError> {
        self.refresh();
        let settings = self.settings();
        let clock = settings.clock();
        let verdict = scan::check_text_with(text.trim(), |code| settings.check(code, clock));
        Ok(self.announce(&settings, &verdict, settings.now_at(clock), unix_ms(), Source::Text)?.0)
    }

    /// Checks an uploaded photo (the fallback for a broken camera): every upload is announced,
    /// `no_code_found` included, so the officer knows the photo was looked at.
    pub fn photo(&self, bytes: &[u8]) -> Result<Answer, StationError> {
        let image = image_input::load_bytes(bytes)?;
        self.refresh();
        let settings = self.settings();
        let clock = settings.clock();
        let verdict = scan::scan_code_with(&image, pass_decode::DEFAULT_BUDGET, |code| settings.check(code, clock)).0;
        Ok(self.announce(&settings, &verdict, settings.now_at(clock), unix_ms(), Source::Photo)?.0)
    }

    fn log(&self) -> std::sync::MutexGuard<'_, ScanLog> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Logs an announcement (committed before the page is told) and builds the page's answer.
    fn announce(
        &self,
        settings: &Settings,
        verdict: &Verdict,
        now: u64,
        now_ms: u64,
        source: Source,
    ) -> Result<(Answer, i64), StationError> {
        let log = self.log();
        let key_id = verdict.issuer.as_ref().map(|i| i.key_id.to_string());
        let serial = verdict.pass.as_ref().map(|p| p.serial);
        let day_start = day_start(now, &settings.tz);
        let seen_before = match (&key_id, serial) {
            (Some(key_id), Some(serial)) => log.seen_since(key_id, serial, day_start)?,
            _ => None,
        };
        let crew_text = verdict.pass.as_ref().map(|p| pass_core::view::crew_text(&p.crew));
        let entry = Entry {
            id: 0,
            at: now,
            verdict: if verdict.accepted() { "accepted" } else { "rejected" }.into(),
            reason: verdict.reason.map(|r| r.code().to_owned()),
            serial,
            key_id,
            plate: verdict.pass.as_ref().map(|p| p.plate.clone()),
            pass_number: verdict.pass.as_ref().zip(verdict.issuer.as_ref()).map(|(p, i)| i.pass_number(p)),
            crew: crew_text.clone(),
            first_seen_ms: now_ms,
            last_seen_ms: now_ms,
            frames: 1,
            source,
            revocation_age: settings.confirmed_at().map(|t| now.saturating_sub(t)),
            warnings: verdict.warnings.iter().map(|w| w.code()).collect::<Vec<_>>().join(","),
        };
        let id = log.record(&entry)?;
        let tz = &settings.tz;
        let pass = verdict.pass.as_ref();
        let shown = Shown {
            verdict: verdict_json(source.name(), verdict, tz),
            message: verdict.reason.map(Reason::message),
            warning_messages: verdict.warnings.iter().map(|w| w.message()).collect(),
            valid_text: pass.map(|p| pass_core::time::human_span(p.valid_from, p.valid_until, tz)),
            issued_text: pass.map(|p| pass_core::time::human_minute(p.issued_at, tz)),
            crew_text,
            seen_before: seen_before
                .map(|seen| protocol::SeenBefore { count: seen.count, first: clock_time(seen.first_at, tz) }),
        };
        let answer = Answer {
            source: source.name(),
            announce: true,
            in_view: None,
            presenting: None,
            ms: None,
            station_ms: None,
            log_id: Some(id),
            verdict: Some(shown),
        };
        Ok((answer, id))
    }

    /// The status line: zone, trusted issuers, revocation data age, last sync, today's counts.
    pub fn status(&self) -> Status {
        self.refresh();
        let state_error = self.disk.lock().unwrap_or_else(|p| p.into_inner()).error.clone();
        let settings = self.settings();
        let now = settings.now_at(settings.clock());
        let (accepted, rejected) = self.log().counts_since(day_start(now, &settings.tz)).unwrap_or((0, 0));
        let sync = self.sync.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let revocations = &settings.state.revocations;
        Status {
            zone: settings.zone.map(|z| z.to_string()),
            issuers: settings.trust.issuers.len(),
            revocation: match settings.rooted() {
                // Root mode: every authority together: the list's version, all their revoked
                // serials, and the oldest confirmation among them (stale if any is).
                Some(view) => {
                    let active: Vec<_> = view.authorities.iter().filter(|a| a.active).collect();
                    let oldest = active.iter().map(|a| a.confirmed_at).min().flatten();
                    let all_confirmed = active.iter().all(|a| a.confirmed_at.is_some());
                    Some(protocol::Revocation {
                        version: view.list_version,
                        revoked: settings.state.authorities.values().map(|s| s.revocations.revoked_count()).sum(),
                        age_s: oldest.filter(|_| all_confirmed).map(|t| now.saturating_sub(t)),
                        stale: !all_confirmed || oldest.is_none_or(|t| now.saturating_sub(t) > settings.max_age),
                    })
                }
                None => settings.trust.authority.as_ref().map(|_| protocol::Revocation {
                    version: revocations.version,
                    revoked: revocations.revoked_count(),
                    age_s: settings.confirmed_at().map(|t| now.saturating_sub(t)),
                    stale: settings.confirmed_at().is_none_or(|t| now.saturating_sub(t) > settings.max_age),
                }),
            },
            last_sync: sync.at.map(|t| clock_time(t, &settings.tz)),
            sync_error: sync.error.or(state_error),
            today: protocol::Today { accepted, rejected },
        }
    }
}
