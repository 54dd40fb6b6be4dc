//! The rules by which an authority's newly offered document replaces what a holder keeps of
//! that authority: a checkpoint's state (`pass-verifier sync` and `import`, in either mode) or
//! a mirror's copy (`pass-server mirror`). One place, so a mirror can never pass on what a
//! checkpoint would refuse.
//!
//! Every document must verify with the authority's key, be of the kind expected, and be signed
//! no more than [`MAX_SIGNED_AHEAD`] after the holder's clock. Beyond that:
//! - **revocation data** (snapshot or delta) never goes back a version, never loses a serial,
//!   and the same version must be the same set ([`RevocationState::apply_document`]);
//! - a **heartbeat** replaces the one held only when newer: signed later, or in the same second
//!   for a newer version;
//! - the root's **authority list** never goes back a version, and the same version must be the
//!   same list;
//! - a **trust list** must be a valid trust list, never older than the one held nor than the
//!   version the newest heartbeat names, and the same version must be the same list.

use crate::authority::{self, DocKind, Heartbeat, TrustDoc, TrustRef};
use crate::keys::PublicKey;
use crate::revocation::{RevocationError, RevocationState};
use crate::verdict::MAX_SIGNED_AHEAD;

/// Why an offered document was refused (what is held stays as it was).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// The revocation data failed a check.
    #[error("revocation data refused: {0}")]
    Revocations(#[from] RevocationError),
    /// The trust list failed a check.
    #[error("trust list refused: {0}")]
    Trust(String),
    /// The heartbeat failed a check.
    #[error("heartbeat refused: {0}")]
    Heartbeat(String),
    /// The root's authority list failed a check.
    #[error("authority list refused: {0}")]
    List(String),
    /// A document is signed later than the holder's clock allows: the authority's clock, or
    /// the holder's, is wrong.
    #[error(
        "{what} is signed at {signed_at} (Unix time), more than {} h ahead of this computer's clock \
         ({clock}): refused; check this computer's clock, and tell the authority its clock may be ahead",
        MAX_SIGNED_AHEAD / 3600
    )]
    SignedAhead {
        /// Which document.
        what: &'static str,
        /// Its signing time.
        signed_at: u64,
        /// The holder's clock.
        clock: u64,
    },
}

/// Refuses a document signed more than [`MAX_SIGNED_AHEAD`] after `clock`.
pub fn not_ahead(what: &'static str, signed_at: u64, clock: u64) -> Result<(), RuleError> {
    if signed_at > clock.saturating_add(MAX_SIGNED_AHEAD) {
        return Err(RuleError::SignedAhead { what, signed_at, clock });
    }
    Ok(())
}

/// Revocation data `held` brought up to date by the signed snapshot or delta `bytes`: the new
/// state and whether it changed. `now`: the holder's clock.
pub fn revocations(
    held: &RevocationState,
    bytes: &[u8],
    key: &PublicKey,
    now: u64,
) -> Result<(RevocationState, bool), RuleError> {
    let mut next = held.clone();
    let changed = next.apply_document(bytes, key)?;
    not_ahead("the revocation data", next.issued_at, now)?;
    Ok((next, changed))
}

/// The heartbeat `bytes` checked; `Some` when it should replace `held` (it is newer: signed
/// later, or in the same second for a newer version, as a commit right after a heartbeat
/// re-signed in that second), `None` when it is not newer (a replay changes nothing).
pub fn heartbeat(
    held: Option<&Heartbeat>,
    bytes: &[u8],
    key: &PublicKey,
    now: u64,
) -> Result<Option<Heartbeat>, RuleError> {
    let beat = Heartbeat::open(bytes, key).map_err(|e| RuleError::Heartbeat(e.to_string()))?;
    not_ahead("the heartbeat", beat.issued_at, now)?;
    Ok(held.is_none_or(|held| (beat.issued_at, beat.version) > (held.issued_at, held.version)).then_some(beat))
}

/// The trust list `bytes` checked against the one `held` and the version the newest heartbeat
/// `named`; `Some` when it replaces the one held, `None` when it is the same.
pub fn trust(
    held: Option<&TrustDoc>,
    named: Option<TrustRef>,
    bytes: &[u8],
    key: &PublicKey,
    now: u64,
) -> Result<Option<TrustDoc>, RuleError> {
    let doc: TrustDoc = match authority::open(bytes, key) {
        Ok((DocKind::TrustList, body)) => authority::decode_body(body).map_err(|e| RuleError::Trust(e.to_string()))?,
        Ok((kind, _)) => return Err(RuleError::Trust(authority::DocError::WrongKind(kind as u8).to_string())),
        Err(e) => return Err(RuleError::Trust(e.to_string())),
    };
    crate::TrustList::from_toml(&doc.toml).map_err(|e| RuleError::Trust(e.to_string()))?;
    not_ahead("the trust list", doc.issued_at, now)?;
    if let Some(named) = named
        && doc.version < named.version
    {
        return Err(RuleError::Trust(format!(
            "version {} is older than the version {} the authority's heartbeat names",
            doc.version, named.version
        )));
    }
    match held {
        Some(held) if doc.version < held.version => {
            Err(RuleError::Trust(format!("version {} is older than the version held ({})", doc.version, held.version)))
        }
        Some(held) if doc.version == held.version && doc != *held => {
            Err(RuleError::Trust(format!("version {} offered with different content than held", doc.version)))
        }
        Some(held) if doc == *held => Ok(None),
        _ => Ok(Some(doc)),
    }
}

/// The root's authority list `bytes` checked (signed by `root`, not ahead of `now`) against
/// the one `held`: never older, and the same version must be the same list (equivocation).
pub fn authority_list(
    held: Option<&crate::authorities::AuthorityList>,
    bytes: &[u8],
    root: &PublicKey,
    now: u64,
) -> Result<crate::authorities::AuthorityList, RuleError> {
    let list = crate::authorities::AuthorityList::open(bytes, root).map_err(|e| RuleError::List(e.to_string()))?;
    not_ahead("the authority list", list.issued_at, now)?;
    if let Some(held) = held {
        held.may_be_replaced_by(&list).map_err(|e| RuleError::List(e.to_string()))?;
    }
    Ok(list)
}

#[cfg(all(test, feature = "sign"))]
mod tests {
    use super::*;
    use crate::keys::SecretKey;

    const NOW: u64 = 1_800_000_000;

    fn key() -> SecretKey {
        SecretKey::from_seed(&[0xA5; 32])
    }

    #[test]
    fn documents_signed_far_ahead_of_the_clock_are_refused_a_little_ahead_taken() {
        let key = key();
        let far = NOW + MAX_SIGNED_AHEAD + 1;
        let beat = |at| Heartbeat { version: 1, digest: [0; 32], issued_at: at, trust: None }.sign(&key);
        assert!(matches!(heartbeat(None, &beat(far), &key.public_key(), NOW), Err(RuleError::SignedAhead { .. })));
        assert!(heartbeat(None, &beat(NOW + 3600), &key.public_key(), NOW).expect("an hour ahead").is_some());
        let data = RevocationState { version: 2, issued_at: far, ..RevocationState::default() };
        let snapshot = crate::revocation::sign_snapshot(&data.snapshot(), &key);
        let refused = revocations(&RevocationState::default(), &snapshot, &key.public_key(), NOW);
        assert!(matches!(refused, Err(RuleError::SignedAhead { what: "the revocation data", .. })));
    }

    #[test]
    fn a_heartbeat_replaces_only_an_older_one() {
        let key = key();
        let public = key.public_key();
        let beat = |version, at| Heartbeat { version, digest: [0; 32], issued_at: at, trust: None };
        let held = beat(3, NOW);
        assert!(heartbeat(Some(&held), &beat(3, NOW - 1).sign(&key), &public, NOW).expect("checks").is_none());
        assert!(heartbeat(Some(&held), &beat(3, NOW).sign(&key), &public, NOW).expect("checks").is_none());
        assert!(heartbeat(Some(&held), &beat(4, NOW).sign(&key), &public, NOW).expect("checks").is_some());
        assert!(heartbeat(Some(&held), &beat(3, NOW + 1).sign(&key), &public, NOW).expect("checks").is_some());
    }

    #[test]
    fn a_trust_list_never_goes_back_nor_below_what_the_heartbeat_names() {
        let key = key();
        let public = key.public_key();
        let doc = |version| TrustDoc { version, issued_at: NOW, toml: String::new() };
        let signed = |version| authority::sign(DocKind::TrustList, &authority::encode_body(&doc(version)), &key);
        let held = doc(2);
        assert!(trust(Some(&held), None, &signed(1), &public, NOW).is_err(), "older than held");
        assert!(trust(Some(&held), None, &signed(2), &public, NOW).expect("same").is_none());
        assert!(trust(Some(&held), None, &signed(3), &public, NOW).expect("newer").is_some());
        let named = TrustRef { version: 4, digest: [0; 32] };
        assert!(trust(Some(&held), Some(named), &signed(3), &public, NOW).is_err(), "below the heartbeat's");
    }
}
