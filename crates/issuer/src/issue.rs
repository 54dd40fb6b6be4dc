//! Issuing: a request from the office → a serial from the ledger → a signed envelope → a QR code.

use pass_core::envelope::{self, EnvelopeError};
use pass_core::{Division, Pass, PassKind, SecretKey, VehicleType};

use crate::ledger::{BatchInfo, Ledger, LedgerError, Record};
use crate::render::{Qr, RenderError};

/// What the office enters for one pass: everything but the serial and issue time.
#[derive(Clone, Debug)]
pub struct PassRequest {
    /// What the pass is for.
    pub kind: PassKind,
    /// Vehicle plate.
    pub plate: String,
    /// Vehicle type.
    pub vehicle_type: VehicleType,
    /// Holder organisation.
    pub holder: String,
    /// Unified social credit code.
    pub org_code: Option<String>,
    /// The crew: the driver first, then up to two more (names only).
    pub crew: Vec<String>,
    /// Origin division.
    pub origin: Division,
    /// Destination division.
    pub destination: Division,
    /// Zones.
    pub zones: Vec<Division>,
    /// Cargo category.
    pub cargo: String,
    /// Unix seconds, inclusive.
    pub valid_from: u64,
    /// Unix seconds, inclusive.
    pub valid_until: u64,
    /// Serial of the pass this one replaces.
    pub supersedes: Option<u64>,
}

/// The longest time from issue to expiry the issuer signs: the checkpoints' default bound
/// (`max_lifetime_days` in the trust list), so no office prints a pass they would reject.
pub const MAX_LIFETIME: u64 = pass_core::trust::DEFAULT_MAX_LIFETIME_DAYS as u64 * 86_400;

impl PassRequest {
    /// Refuses a pass valid for longer after `now` than [`MAX_LIFETIME`].
    pub fn check_lifetime(&self, now: u64) -> Result<(), IssueError> {
        match self.valid_until.saturating_sub(now) {
            secs if secs > MAX_LIFETIME => Err(IssueError::TooLong { days: secs.div_ceil(86_400) }),
            _ => Ok(()),
        }
    }

    /// The request that would make `pass` again (its serial and issue time aside).
    pub fn from_pass(pass: &Pass) -> Self {
        Self {
            kind: pass.kind,
            plate: pass.plate.clone(),
            vehicle_type: pass.vehicle_type,
            holder: pass.holder.clone(),
            org_code: pass.org_code.clone(),
            crew: pass.crew.clone(),
            origin: pass.origin,
            destination: pass.destination,
            zones: pass.zones.clone(),
            cargo: pass.cargo.clone(),
            valid_from: pass.valid_from,
            valid_until: pass.valid_until,
            supersedes: pass.supersedes,
        }
    }

    /// The pass this request becomes under `serial`, issued at `issued_at`.
    pub fn into_pass(self, serial: u64, issued_at: u64) -> Pass {
        Pass {
            serial,
            kind: self.kind,
            plate: self.plate,
            vehicle_type: self.vehicle_type,
            holder: self.holder,
            org_code: self.org_code,
            crew: self.crew,
            origin: self.origin,
            destination: self.destination,
            zones: self.zones,
            cargo: self.cargo,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            issued_at,
            supersedes: self.supersedes,
        }
    }
}

/// What a reissue changes; whatever is not given is kept from the old pass.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    /// A new plate.
    pub plate: Option<String>,
    /// A new vehicle type.
    pub vehicle_type: Option<VehicleType>,
    /// A new driver (the co-drivers stay unless given).
    pub driver: Option<String>,
    /// New co-drivers (empty: kept).
    pub co_drivers: Vec<String>,
    /// A new destination.
    pub destination: Option<Division>,
    /// New zones (empty: kept).
    pub zones: Vec<Division>,
    /// A new cargo category.
    pub cargo: Option<String>,
    /// A new start of validity.
    pub valid_from: Option<u64>,
    /// A new end of validity.
    pub valid_until: Option<u64>,
}

impl PassRequest {
    /// The request that replaces `old` with `changes`: it supersedes `old`'s serial, so
    /// issuing it marks `old` for revocation in the same ledger transaction.
    pub fn reissue_of(old: &Pass, changes: Changes) -> PassRequest {
        let driver = changes.driver.or_else(|| old.crew.first().cloned());
        let co_drivers =
            if changes.co_drivers.is_empty() { old.crew.iter().skip(1).cloned().collect() } else { changes.co_drivers };
        PassRequest {
            plate: changes.plate.unwrap_or_else(|| old.plate.clone()),
            vehicle_type: changes.vehicle_type.unwrap_or(old.vehicle_type),
            crew: driver.into_iter().chain(co_drivers).collect(),
            destination: changes.destination.unwrap_or(old.destination),
            zones: if changes.zones.is_empty() { old.zones.clone() } else { changes.zones },
            cargo: changes.cargo.unwrap_or_else(|| old.cargo.clone()),
            valid_from: changes.valid_from.unwrap_or(old.valid_from),
            valid_until: changes.valid_until.unwrap_or(old.valid_until),
            supersedes: Some(old.serial),
            ..PassRequest::from_pass(old)
        }
    }
}

/// Why a pass could not be issued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The fields break the format's limits, or the envelope is too large.
    #[error("invalid pass: {0}")]
    Invalid(#[from] EnvelopeError),
    /// The ledger failed; nothing was issued.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The pass would be valid for longer after its issue than checkpoints accept.
    #[error(
        "valid until {days} days from now; checkpoints accept passes valid at most {} days after issue \
         (issue a new pass later instead)",
        MAX_LIFETIME / 86_400
    )]
    TooLong {
        /// Days from now to the end of validity.
        days: u64,
    },
    /// The QR code could not be made (the pass is recorded in the ledger).
    #[error(transparent)]
    Render(#[from] RenderError),
    /// One vehicle of a batch cannot be issued; nothing of the batch was.
    #[error("{plate}: {source}")]
    Vehicle {
        /// The vehicle's plate.
        plate: String,
        /// Why.
        source: Box<IssueError>,
    },
}

/// A freshly issued pass.
pub struct Issued {
    /// The ledger record (pass and envelope bytes).
    pub record: Record,
    /// The text form, `CP:...`.
    pub text: String,
    /// The QR code holding the envelope bytes.
    pub qr: Qr,
}

/// Issues one pass: validates it, takes a serial, signs and records it, and makes its QR code.
/// `now` is the issue time (Unix seconds). A request that supersedes a serial marks that
/// serial for revocation in the same ledger transaction, with `reason`.
pub fn issue(
    key: &SecretKey,
    ledger: &mut Ledger,
    request: PassRequest,
    reason: &str,
    now: u64,
) -> Result<Issued, IssueError> {
    check(key, &request, now)?;
    let record = ledger.issue(key.public_key().id(), reason, now, |serial| sign(key, request, serial, now))?;
    let qr = Qr::new(&record.envelope)?;
    Ok(Issued { text: envelope::to_text(&record.envelope), qr, record })
}

/// Checks a request's fields before a serial is taken, so a typo costs no serial and no lock:
/// its lifetime from `now`, and the format's limits (by signing it as a probe).
fn check(key: &SecretKey, request: &PassRequest, now: u64) -> Result<(), IssueError> {
    request.check_lifetime(now)?;
    // (Probed as serial 1, or 2 for a reissue of serial 1: a pass never supersedes itself.)
    let probe = if request.supersedes == Some(1) { 2 } else { 1 };
    envelope::sign(&request.clone().into_pass(probe, now), key)?;
    Ok(())
}

/// Signs `request` as the pass `serial`, issued at `now`, and checks that its QR code can be
/// made: inside the ledger's transaction, so a pass that cannot be printed costs no serial.
/// The one place pass-issuer (and so the console) signs a pass.
fn sign(key: &SecretKey, request: PassRequest, serial: u64, now: u64) -> Result<(Pass, Vec<u8>), IssueError> {
    let pass = request.into_pass(serial, now);
    let bytes = envelope::sign(&pass, key)?;
    Qr::new(&bytes)?;
    Ok((pass, bytes))
}

/// Issues a batch (a spreadsheet, an approved application) in one ledger transaction: every
/// request is checked first (its lifetime at `batch.now`, the format's limits), so a bad row
/// costs no serial; then consecutive serials are taken and each pass is signed and its QR code
/// made, as [`issue`] does. The whole batch is recorded or nothing; a batch already issued
/// (by `batch.sha256`) is refused unless `batch.again`.
pub fn issue_batch(
    key: &SecretKey,
    ledger: &mut Ledger,
    requests: &[PassRequest],
    batch: &BatchInfo,
) -> Result<Vec<Record>, IssueError> {
    let now = batch.now;
    for request in requests {
        check(key, request, now)
            .map_err(|source| IssueError::Vehicle { plate: request.plate.clone(), source: Box::new(source) })?;
    }
    ledger.issue_batch(key.public_key().id(), batch, requests.len(), |serial, index| {
        sign(key, requests[index].clone(), serial, now)
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The realistic pass of the brief.
    pub(crate) fn request() -> PassRequest {
        PassRequest::from_pass(&Pass::realistic_example())
    }

    #[test]
    fn invalid_requests_cost_no_serial() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut ledger = Ledger::open(&dir.path().join("l.sqlite")).expect("opens");
        let key = SecretKey::from_seed(&[4; 32]);
        let mut bad = request();
        bad.plate = "bad plate".into();
        assert!(matches!(issue(&key, &mut ledger, bad, "", 1_648_700_000), Err(IssueError::Invalid(_))));
        let issued = issue(&key, &mut ledger, request(), "", 1_648_700_000).expect("issues");
        assert_eq!(issued.record.pass.serial, 1);
        assert!(issued.text.starts_with("CP:"));
    }

    /// A reissue is one transaction: when marking the old serial fails, the new serial is not
    /// recorded either (it was, as a second transaction, before).
    #[test]
    fn a_reissue_is_recorded_whole_or_not_at_all() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("l.sqlite");
        let mut ledger = Ledger::open(&path).expect("opens");
        let key = SecretKey::from_seed(&[4; 32]);
        let key_id = key.public_key().id();
        let now = 1_648_700_000;
        issue(&key, &mut ledger, request(), "", now).expect("issues serial 1");
        let mut again = request();
        again.supersedes = Some(1);
        // Marking a revocation fails (a full disk, a locked table): here a trigger.
        let conn = rusqlite::Connection::open(&path).expect("opens");
        conn.execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON revocations BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
        )
        .expect("trigger");
        let refused = issue(&key, &mut ledger, again.clone(), "vehicle sold", now).err().map(|e| e.to_string());
        assert!(refused.as_deref().is_some_and(|e| e.contains("disk full")), "{refused:?}");
        assert_eq!(ledger.envelopes(key_id).expect("lists").len(), 1, "no serial 2 without its revocation");
        conn.execute_batch("DROP TRIGGER refuse;").expect("drops");
        let issued = issue(&key, &mut ledger, again, "vehicle sold", now).expect("reissues");
        assert_eq!(issued.record.pass.serial, 2);
        let (reason, _) = ledger.revocation(key_id, 1).expect("reads").expect("serial 1 is marked");
        assert_eq!(reason, "vehicle sold (serial 2)");
    }
}
