//! Shared set-up of the document fuzz targets: the fuzzing authority and issuer keys, a held
//! state to apply documents to, and the framing that turns fuzz input into signed documents.
//!
//! The fuzzer cannot forge Ed25519 signatures, so random bytes stop at the signature check.
//! To reach the body decoders behind it (what an attacker holding the authority key, or a bug
//! on the server, could send), the targets sign the fuzzed bodies with the authority key the
//! verifier is configured with, and also feed the raw input unsigned.

use pass_core::authority::{self, DocKind};
use pass_core::keys::SecretKey;
use pass_core::revocation::RevocationState;
use pass_core::{KeyId, PublicKey, TrustList};
use pass_verifier::state::LocalState;

/// The authority the fuzzed verifier trusts.
pub fn authority() -> SecretKey {
    SecretKey::from_seed(&[0xA0; 32])
}

/// An issuer the trust list names.
pub fn issuer() -> SecretKey {
    SecretKey::from_seed(&[0x15; 32])
}

/// A trust list naming the authority and the issuer.
pub fn trust_toml() -> String {
    let entry = |section: &str, name: &str, key: &SecretKey| {
        let public = key.public_key();
        format!("[{section}]\nname = \"{name}\"\nkey_id = \"{}\"\npublic_key = \"{}\"\n", public.id(), public.encode())
    };
    format!(
        "{}\n{}zones = [\"440100\", \"310000\"]\nmax_lifetime_days = 30\n",
        entry("authority", "fuzz authority", &authority()),
        entry("[issuer]", "fuzz office", &issuer())
    )
}

/// The local trust list (parsed once: the targets use it on every run).
pub fn trust() -> &'static TrustList {
    static TRUST: std::sync::OnceLock<TrustList> = std::sync::OnceLock::new();
    TRUST.get_or_init(|| TrustList::from_toml(&trust_toml()).expect("fuzz trust list"))
}

/// A state holding version 3 with a few revoked serials, a trust list and a heartbeat (signed
/// once: the targets start from it on every run).
pub fn held_state() -> LocalState {
    static HELD: std::sync::OnceLock<LocalState> = std::sync::OnceLock::new();
    HELD.get_or_init(make_held_state).clone()
}

fn make_held_state() -> LocalState {
    let key = authority();
    let mut revocations = RevocationState::default();
    revocations.add_serials(issuer().public_key().id(), [1, 5, 70_000]);
    revocations.add_key(KeyId([9; 8]), Some(1_700_000_000));
    revocations.version = 3;
    revocations.issued_at = 1_780_000_000;
    let trust_doc = authority::TrustDoc { version: 2, issued_at: 1_780_000_000, toml: trust_toml() };
    let beat = authority::Heartbeat { version: 3, digest: revocations.digest(), issued_at: 1_780_000_300, trust: None };
    let revocations_snapshot = revocations.snapshot();
    LocalState {
        revocations,
        trust_doc: Some(authority::sign(DocKind::TrustList, &authority::encode_body(&trust_doc), &key)),
        last_sync: Some(1_780_000_300),
        heartbeat: Some(beat.sign(&key)),
        revocation_doc: Some(pass_core::revocation::sign_snapshot(&revocations_snapshot, &key)),
        ..LocalState::default()
    }
}

/// Whether `after` still revokes everything `before` revoked (and each key at least as
/// strictly).
pub fn keeps_all(before: &RevocationState, after: &RevocationState) -> bool {
    before.serials.iter().all(|(key, serials)| serials.iter().all(|s| after.is_revoked(*key, *s)))
        && before.keys.iter().all(|(key, cut)| {
            after.keys.get(key).is_some_and(|offered| pass_core::revocation::stricter(*offered, *cut) == *offered)
        })
}

/// Frames fuzz input as documents: `kind u8 | length u16 LE | body` repeated; each body is
/// signed as a document of that kind (`kind` taken modulo 5, 0 meaning "raw, unsigned").
pub fn documents(mut data: &[u8], key: &SecretKey) -> Vec<Vec<u8>> {
    let mut docs = Vec::new();
    while let [kind, l0, l1, rest @ ..] = data {
        let len = usize::from(u16::from_le_bytes([*l0, *l1])).min(rest.len());
        let (body, tail) = rest.split_at(len);
        data = tail;
        let kind = match kind % 5 {
            1 => DocKind::Snapshot,
            2 => DocKind::Delta,
            3 => DocKind::TrustList,
            4 => DocKind::Heartbeat,
            _ => {
                docs.push(body.to_vec());
                continue;
            }
        };
        docs.push(authority::sign(kind, body, key));
    }
    docs
}

/// The authority's public key.
pub fn authority_public() -> PublicKey {
    authority().public_key()
}
