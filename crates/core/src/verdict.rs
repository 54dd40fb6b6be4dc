//! The checkpoint's decision. A rejected pass is a [`Verdict`] with a stable [`Reason`], never an
//! error: errors are for "could not do the work" (an unreadable file, a bad trust list).

use serde::Serialize;

use crate::division::Division;
use crate::envelope::{Envelope, EnvelopeError};
use crate::keys::KeyId;
use crate::model::Pass;
use crate::revocation::RevocationState;
use crate::trust::TrustList;

/// Why a pass was rejected. The `code()` strings are stable: scripts and logs depend on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// No QR code could be read in the image.
    NoCodeFound,
    /// A code was read, but it is not a checkpass pass.
    NotAPass,
    /// A pass whose bytes are damaged, truncated, padded or break the field limits.
    Malformed,
    /// A pass format version this verifier does not know.
    UnsupportedVersion,
    /// Signed by a key that is not in the trust list (or not trusted when it signed).
    UnknownIssuer,
    /// The signature does not match the bytes: altered or forged.
    BadSignature,
    /// Before `valid_from`.
    NotYetValid,
    /// After `valid_until`.
    Expired,
    /// The checkpoint is not in the pass's zones, or the pass names zones its issuer may not.
    OutsideZone,
    /// The pass was cancelled by its issuer.
    Revoked,
    /// The issuer's key was withdrawn for passes like this one.
    IssuerRevoked,
    /// Valid for longer after its issue than the trust list allows the office: the mark of a
    /// backdated pass from a leaked or withdrawn key.
    LifetimeTooLong,
}

impl Reason {
    /// Every reason.
    pub const ALL: &'static [Reason] = &[
        Reason::NoCodeFound,
        Reason::NotAPass,
        Reason::Malformed,
        Reason::UnsupportedVersion,
        Reason::UnknownIssuer,
        Reason::BadSignature,
        Reason::NotYetValid,
        Reason::Expired,
        Reason::OutsideZone,
        Reason::Revoked,
        Reason::IssuerRevoked,
        Reason::LifetimeTooLong,
    ];

    /// The stable code, e.g. `bad_signature`.
    pub fn code(self) -> &'static str {
        match self {
            Reason::NoCodeFound => "no_code_found",
            Reason::NotAPass => "not_a_pass",
            Reason::Malformed => "malformed",
            Reason::UnsupportedVersion => "unsupported_version",
            Reason::UnknownIssuer => "unknown_issuer",
            Reason::BadSignature => "bad_signature",
            Reason::NotYetValid => "not_yet_valid",
            Reason::Expired => "expired",
            Reason::OutsideZone => "outside_zone",
            Reason::Revoked => "revoked",
            Reason::IssuerRevoked => "issuer_revoked",
            Reason::LifetimeTooLong => "lifetime_too_long",
        }
    }

    /// The plain-language message for checkpoint staff (Chinese, then English).
    pub fn message(self) -> &'static str {
        match self {
            Reason::NoCodeFound => {
                "未识别到二维码 — No QR code could be read. Hold the pass flat and closer, in better light."
            }
            Reason::NotAPass => "不是通行证二维码 — The QR code is not a checkpass pass.",
            Reason::Malformed => "通行证数据损坏 — The pass data is damaged or invalid.",
            Reason::UnsupportedVersion => "通行证格式版本不受支持 — Unknown pass format version: update the verifier.",
            Reason::UnknownIssuer => "签发机关不受信任 — Issued by an office this checkpoint does not trust.",
            Reason::BadSignature => {
                "签名无效：通行证被篡改或伪造 — The signature does not match: the pass was altered or forged."
            }
            Reason::NotYetValid => "通行证尚未生效 — The pass is not valid yet.",
            Reason::Expired => "通行证已过期 — The pass has expired.",
            Reason::OutsideZone => "不在通行区域内 — The pass is not valid in this zone.",
            Reason::Revoked => "通行证已被注销 — The pass has been cancelled by its issuing office.",
            Reason::IssuerRevoked => "签发机关密钥已被撤销 — The issuing office's key has been withdrawn.",
            Reason::LifetimeTooLong => {
                "有效期超出签发机关上限 — The pass is valid for longer after its issue than its office may allow: treat it as forged."
            }
        }
    }

    /// How far verification got before this rejection; when an image holds several codes the
    /// verdict that got furthest is reported (a forged pass beats an unrelated QR code).
    pub fn stage(self) -> u8 {
        match self {
            Reason::NoCodeFound => 0,
            Reason::NotAPass => 1,
            Reason::Malformed | Reason::UnsupportedVersion => 2,
            Reason::UnknownIssuer | Reason::BadSignature => 3,
            _ => 4,
        }
    }
}

/// Something the checkpoint should know even when the pass is accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Warning {
    /// No checkpoint zone is configured, so the pass's zones were not checked.
    ZoneNotChecked,
    /// The revocation data is older than the configured maximum age.
    RevocationDataStale,
    /// The system clock is earlier than the newest signed time the verifier holds.
    ClockBehind,
    /// The authority's newest heartbeat names a trust list newer than the one held (a trust
    /// list withheld or rolled back on the way): an office it removed may still be trusted here.
    TrustListStale,
    /// Root mode: the root's list of authorities held is older than
    /// [`crate::authorities::MAX_LIST_AGE`]: the root re-signs it more often, so a newer one is
    /// being withheld (a mirror hiding a removed authority), or no sync has reached the root's
    /// word for that long.
    AuthorityListStale,
}

impl Warning {
    /// The stable code, e.g. `zone_not_checked`.
    pub fn code(self) -> &'static str {
        match self {
            Warning::ZoneNotChecked => "zone_not_checked",
            Warning::RevocationDataStale => "revocation_data_stale",
            Warning::ClockBehind => "clock_behind",
            Warning::TrustListStale => "trust_list_stale",
            Warning::AuthorityListStale => "authority_list_stale",
        }
    }

    /// The plain-language message.
    pub fn message(self) -> &'static str {
        match self {
            Warning::ZoneNotChecked => {
                "未设置检查站区域，未核对通行区域 — No checkpoint zone is set: zones were not checked."
            }
            Warning::RevocationDataStale => "注销名单已过时 — The revocation data is out of date: sync when you can.",
            Warning::ClockBehind => {
                "本机时钟慢于已签名数据 — This computer's clock is behind signed data it holds: check the clock."
            }
            Warning::TrustListStale => {
                "信任名单未更新 — The authority has published a newer trust list than this one: sync when you can."
            }
            Warning::AuthorityListStale => {
                "全国机关名单已过时 — The root's list of authorities is out of date (a mirror may be withholding a newer one): sync from the authorities' own servers."
            }
        }
    }
}

/// Where and when a pass is checked, and what the checkpoint knows of revocations.
#[derive(Clone, Copy, Debug, Default)]
pub struct Checkpoint<'a> {
    /// The current instant, Unix seconds (from the caller: the core never reads the clock).
    pub now: u64,
    /// The checkpoint's own division code; `None` skips the zone check (with a warning).
    pub zone: Option<Division>,
    /// Revocation data held, when any.
    pub revocations: Option<&'a RevocationState>,
    /// How fresh that data is; `None` when revocation is not configured (no warnings).
    pub freshness: Option<Freshness>,
}

/// What the checkpoint knows about the age of its signed data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Freshness {
    /// When the server last confirmed the revocation data (local clock), if ever.
    pub confirmed_at: Option<u64>,
    /// Older than this many seconds is stale.
    pub max_age: u64,
    /// The newest signed instant held (snapshot or trust list `issued_at`): the trusted time
    /// floor.
    pub newest_signed_at: u64,
    /// What the system clock said, Unix seconds. Checks are made at [`Freshness::floor`] of it;
    /// a clock behind the floor is reported on every verdict.
    pub clock: u64,
    /// Whether the newest heartbeat held names a newer trust list than the one held.
    pub trust_stale: bool,
    /// Root mode: whether the root's list of authorities held is older than
    /// [`crate::authorities::MAX_LIST_AGE`] at the clock.
    pub list_stale: bool,
}

/// How far ahead of a checkpoint's clock signed time may be. Sync and import refuse a document
/// signed later than this (an authority's clock set ahead, or an attack on its time source): one
/// future-dated signature must not make every pass look expired. And a pass is not accepted as
/// already valid on signed time further than this ahead of the clock ([`Freshness::opened_by`]).
pub const MAX_SIGNED_AHEAD: u64 = 24 * 3600;

impl Freshness {
    /// The instant to check at: the clock, but never earlier than the newest signed time held.
    /// Signed data cannot come from the future, so a clock behind it is wrong, and trusting it
    /// would let a clock set back revive expired passes.
    pub fn floor(&self) -> u64 {
        self.clock.max(self.newest_signed_at)
    }

    /// The latest instant a pass may start to be valid and be accepted: the floor, but never
    /// more than [`MAX_SIGNED_AHEAD`] past the clock. Signed time proves that an instant has
    /// passed (a clock set back does not revive an expired pass); it does not open a pass valid
    /// from next week on a checkpoint whose clock says today.
    pub fn opened_by(&self) -> u64 {
        self.floor().min(self.clock.saturating_add(MAX_SIGNED_AHEAD))
    }

    /// The warnings this freshness earns at `now`.
    pub fn warnings(&self, now: u64) -> Vec<Warning> {
        let mut warnings = Vec::new();
        if self.confirmed_at.is_none_or(|t| now.saturating_sub(t) > self.max_age) {
            warnings.push(Warning::RevocationDataStale);
        }
        if self.clock < self.newest_signed_at {
            warnings.push(Warning::ClockBehind);
        }
        if self.trust_stale {
            warnings.push(Warning::TrustListStale);
        }
        if self.list_stale {
            warnings.push(Warning::AuthorityListStale);
        }
        warnings
    }
}

/// The issuer of a verified pass, as named in the trust list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IssuerRef {
    /// Name from the trust list.
    pub name: String,
    /// Key id.
    pub key_id: KeyId,
    /// The office's home division from the trust list, the first six digits of its pass
    /// numbers ([`crate::model::pass_number`]).
    pub division: Option<crate::division::Division>,
}

impl IssuerRef {
    /// The number of `pass` as its office writes it: division and serial, or the bare serial.
    pub fn pass_number(&self, pass: &crate::model::Pass) -> String {
        crate::model::pass_number(self.division, pass.serial)
    }
}

/// The outcome of checking one pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// `None` when accepted.
    pub reason: Option<Reason>,
    /// Specifics beyond the reason's message (which field, which zone, which version).
    pub detail: Option<String>,
    /// The pass, only when its signature verified (unauthenticated content is never shown).
    pub pass: Option<Pass>,
    /// The issuer, only when its signature verified.
    pub issuer: Option<IssuerRef>,
    /// Warnings, also on accepted passes.
    pub warnings: Vec<Warning>,
}

impl Verdict {
    /// A rejection with nothing verified.
    pub fn rejected(reason: Reason, detail: impl Into<Option<String>>) -> Self {
        Self { reason: Some(reason), detail: detail.into(), pass: None, issuer: None, warnings: Vec::new() }
    }

    /// Whether the pass is accepted.
    pub fn accepted(&self) -> bool {
        self.reason.is_none()
    }

    /// How far verification got (see [`Reason::stage`]); accepted is furthest.
    pub fn stage(&self) -> u8 {
        self.reason.map_or(u8::MAX, Reason::stage)
    }
}

fn envelope_reason(error: &EnvelopeError) -> Reason {
    match error {
        EnvelopeError::WrongMagic => Reason::NotAPass,
        EnvelopeError::UnsupportedVersion(_) => Reason::UnsupportedVersion,
        _ => Reason::Malformed,
    }
}

/// Checks envelope bytes at a checkpoint: structure, issuer, signature, fields, revocation of
/// the key then of the pass, issuer limits, validity window, zone — in that order; the first
/// failure is the verdict.
pub fn verify(bytes: &[u8], trust: &TrustList, checkpoint: &Checkpoint) -> Verdict {
    let mut verdict = verify_pass(bytes, trust, checkpoint);
    if let Some(freshness) = &checkpoint.freshness {
        verdict.warnings.extend(freshness.warnings(checkpoint.now));
    }
    verdict
}

fn verify_pass(bytes: &[u8], trust: &TrustList, checkpoint: &Checkpoint) -> Verdict {
    let envelope = match Envelope::decode(bytes) {
        Ok(envelope) => envelope,
        Err(e) => return Verdict::rejected(envelope_reason(&e), e.to_string()),
    };
    let Some(issuer) = trust.issuer(envelope.key_id) else {
        return Verdict::rejected(
            Reason::UnknownIssuer,
            format!("key id {} is not in the trust list", envelope.key_id),
        );
    };
    if !envelope.verify(&issuer.key) {
        return Verdict::rejected(Reason::BadSignature, None);
    }
    let pass = envelope.pass;
    if let Err(e) = pass.validate() {
        return Verdict::rejected(Reason::Malformed, format!("signed but invalid: {e}"));
    }
    let mut verdict = Verdict {
        reason: None,
        detail: None,
        issuer: Some(IssuerRef { name: issuer.name.clone(), key_id: issuer.key.id(), division: issuer.division }),
        pass: None,
        warnings: Vec::new(),
    };
    let mut reject = |reason, detail: String| {
        if verdict.reason.is_none() {
            verdict.reason = Some(reason);
            verdict.detail = Some(detail);
        }
    };
    if let Some(revocations) = checkpoint.revocations {
        if revocations.key_revoked_for(issuer.key.id(), pass.issued_at) {
            reject(
                Reason::IssuerRevoked,
                format!("key {} of {} is revoked for passes issued at this time", issuer.key.id(), issuer.name),
            );
        }
        if revocations.is_revoked(issuer.key.id(), pass.serial) {
            reject(Reason::Revoked, format!("serial {} is on the revocation list", pass.serial));
        }
    }
    if !issuer.lifetime_allowed(pass.issued_at, pass.valid_until) {
        reject(
            Reason::LifetimeTooLong,
            format!(
                "valid {} days after its issue; {} may issue passes for at most {} days",
                pass.valid_until.saturating_sub(pass.issued_at).div_ceil(86_400),
                issuer.name,
                issuer.max_lifetime / 86_400
            ),
        );
    }
    if !issuer.trusted_at(pass.issued_at) {
        reject(Reason::UnknownIssuer, format!("{} was not trusted to sign when this pass was issued", issuer.name));
    }
    if let Some(zone) = issuer.zone_outside_authority(&pass.zones) {
        reject(Reason::OutsideZone, format!("{} may not issue passes for {}", issuer.name, zone.label()));
    }
    let opened_by = checkpoint.freshness.as_ref().map_or(checkpoint.now, |f| checkpoint.now.min(f.opened_by()));
    if opened_by < pass.valid_from {
        reject(Reason::NotYetValid, "the validity window has not started".into());
    }
    if checkpoint.now > pass.valid_until {
        reject(Reason::Expired, "the validity window has ended".into());
    }
    match checkpoint.zone {
        Some(here) if !pass.valid_in(here) => {
            let zones: Vec<String> =
                pass.zones.iter().map(|z| z.full_name().unwrap_or_else(|| z.to_string())).collect();
            reject(
                Reason::OutsideZone,
                format!("this checkpoint, {}, is not in the pass's zones: {}", here.label(), zones.join(", ")),
            );
        }
        Some(_) => {}
        None => verdict.warnings.push(Warning::ZoneNotChecked),
    }
    verdict.pass = Some(pass);
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::sign;
    use crate::keys::SecretKey;

    fn setup(extra: &str) -> (SecretKey, TrustList) {
        let key = SecretKey::from_seed(&[5; 32]);
        let public = key.public_key();
        let toml = format!(
            "[[issuer]]\nname = \"花都\"\nkey_id = \"{}\"\npublic_key = \"{}\"\n{extra}",
            public.id(),
            public.encode()
        );
        (key, TrustList::from_toml(&toml).expect("trust list"))
    }

    fn at(now: u64, zone: Option<&str>) -> Checkpoint<'static> {
        Checkpoint { now, zone: zone.map(|z| z.parse().expect("zone")), ..Checkpoint::default() }
    }

    #[test]
    fn freshness_warnings() {
        let f = Freshness {
            confirmed_at: Some(1000),
            max_age: 100,
            newest_signed_at: 900,
            clock: 1050,
            trust_stale: false,
            list_stale: false,
        };
        assert_eq!(f.warnings(1050), vec![]);
        assert_eq!(f.warnings(1101), vec![Warning::RevocationDataStale]);
        let behind = Freshness { clock: 899, ..f };
        assert_eq!(behind.warnings(behind.floor()), vec![Warning::ClockBehind]);
        assert_eq!(behind.floor(), 900, "checks never run earlier than signed data held");
        assert_eq!(f.floor(), 1050);
        let never = Freshness { confirmed_at: None, ..f };
        assert_eq!(never.warnings(1000), vec![Warning::RevocationDataStale]);
        let stale_list = Freshness { list_stale: true, ..f };
        assert_eq!(stale_list.warnings(1050), vec![Warning::AuthorityListStale]);
        let stale_trust = Freshness { trust_stale: true, ..f };
        assert_eq!(stale_trust.warnings(1050), vec![Warning::TrustListStale]);
        // Signed time far ahead of the clock (the clock set back, or an authority's clock a year
        // ahead) counts for expiry, but opens passes at most MAX_SIGNED_AHEAD past the clock.
        let ahead = Freshness { newest_signed_at: 1050 + 400 * 86_400, ..f };
        assert_eq!(ahead.floor(), 1050 + 400 * 86_400);
        assert_eq!(ahead.opened_by(), 1050 + MAX_SIGNED_AHEAD);
    }

    /// A pass valid from four days ahead is not accepted because a future-dated signature says
    /// it is later than the clock does.
    #[test]
    fn future_signed_time_does_not_open_a_future_pass() {
        let (key, trust) = setup("");
        let mut pass = crate::model::tests::sample();
        let clock = pass.valid_from - 4 * 86_400;
        pass.issued_at = clock - 86_400;
        let bytes = sign(&pass, &key).expect("signs");
        let freshness = Freshness {
            confirmed_at: Some(clock),
            max_age: 86_400,
            newest_signed_at: pass.valid_from + 3600,
            clock,
            trust_stale: false,
            list_stale: false,
        };
        let revocations = RevocationState::default();
        let checkpoint = Checkpoint {
            now: freshness.floor(),
            zone: None,
            revocations: Some(&revocations),
            freshness: Some(freshness),
        };
        assert_eq!(verify(&bytes, &trust, &checkpoint).reason, Some(Reason::NotYetValid));
    }

    #[test]
    fn revocations_are_verdicts() {
        let (key, trust) = setup("");
        let pass = crate::model::tests::sample();
        let bytes = sign(&pass, &key).expect("signs");
        let id = key.public_key().id();
        let mut revoked = RevocationState::default();
        revoked.add_serials(id, [pass.serial]);
        let mut checkpoint = at(pass.valid_from + 1, None);
        checkpoint.revocations = Some(&revoked);
        assert_eq!(verify(&bytes, &trust, &checkpoint).reason, Some(Reason::Revoked));
        let mut cut = RevocationState::default();
        cut.add_key(id, Some(pass.issued_at));
        checkpoint.revocations = Some(&cut);
        assert!(verify(&bytes, &trust, &checkpoint).accepted(), "issued at the cut-off: still valid");
        let mut earlier = cut.clone();
        earlier.add_key(id, Some(pass.issued_at - 1));
        checkpoint.revocations = Some(&earlier);
        assert_eq!(verify(&bytes, &trust, &checkpoint).reason, Some(Reason::IssuerRevoked));
    }

    #[test]
    fn verdicts_follow_the_rules() {
        let (key, trust) = setup("");
        let pass = crate::model::tests::sample();
        let bytes = sign(&pass, &key).expect("signs");
        let mid = pass.valid_from + 1000;
        let check = |c: Checkpoint| verify(&bytes, &trust, &c).reason;
        assert_eq!(check(at(mid, Some("440114"))), None);
        assert_eq!(check(at(mid, Some("310115"))), None);
        assert_eq!(check(at(mid, Some("320506"))), None);
        assert_eq!(check(at(mid, Some("110101"))), Some(Reason::OutsideZone));
        assert_eq!(check(at(pass.valid_from - 1, Some("440114"))), Some(Reason::NotYetValid));
        assert_eq!(check(at(pass.valid_until, Some("440114"))), None);
        assert_eq!(check(at(pass.valid_until + 1, Some("440114"))), Some(Reason::Expired));
        let unchecked = verify(&bytes, &trust, &at(mid, None));
        assert!(unchecked.accepted());
        assert_eq!(unchecked.warnings, vec![Warning::ZoneNotChecked]);

        let (_, other_trust) = setup("");
        let stranger = sign(&pass, &SecretKey::from_seed(&[6; 32])).expect("signs");
        assert_eq!(verify(&stranger, &other_trust, &at(mid, None)).reason, Some(Reason::UnknownIssuer));
    }

    #[test]
    fn issuer_limits_apply() {
        let (key, trust) = setup("zones = [\"440000\"]\nnot_after = \"2022-03-01\"");
        let pass = crate::model::tests::sample();
        let bytes = sign(&pass, &key).expect("signs");
        let verdict = verify(&bytes, &trust, &at(pass.valid_from + 1, Some("440114")));
        assert_eq!(verdict.reason, Some(Reason::UnknownIssuer), "{verdict:?}");
        let (key, trust) = setup("zones = [\"440000\"]");
        let bytes = sign(&pass, &key).expect("signs");
        let verdict = verify(&bytes, &trust, &at(pass.valid_from + 1, Some("440114")));
        assert_eq!(verdict.reason, Some(Reason::OutsideZone));
        assert!(verdict.detail.as_deref().unwrap_or("").contains("310000"));
    }

    #[test]
    fn every_reason_has_a_distinct_code() {
        let codes: std::collections::BTreeSet<_> = Reason::ALL.iter().map(|r| r.code()).collect();
        assert_eq!(codes.len(), Reason::ALL.len());
        for r in Reason::ALL {
            assert_eq!(serde_json::to_value(r).expect("json"), r.code());
        }
    }
}
