//! Golden vector of a signed heartbeat (docs/FORMAT.md), signed with the example authority key:
//! Ed25519 is deterministic, so the bytes are stable. `CHECKPASS_BLESS=1` rewrites the file
//! after a deliberate format change.

#![allow(missing_docs, clippy::unwrap_used)]

use std::path::Path;

use pass_core::authority::{self, DocKind, Heartbeat};
use pass_core::revocation::RevocationState;
use pass_core::{KeyId, SecretKey};
use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Vector {
    description: String,
    version: u64,
    digest_hex: String,
    issued_at: u64,
    heartbeat_hex: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn heartbeat_vector_is_stable_and_opens() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let key = SecretKey::from_pem(&std::fs::read_to_string(root.join("keys-example/authority.key")).unwrap()).unwrap();
    let mut state = RevocationState { version: 7, issued_at: 1_794_990_000, ..RevocationState::default() };
    let issuer: KeyId = "f3c3dcf66c87927e".parse().unwrap();
    state.add_serials(issuer, [17, 18, 19]);
    let beat = Heartbeat { version: 7, digest: state.digest(), issued_at: 1_795_000_000, trust: None };
    let signed = beat.sign(&key);
    let vector = Vector {
        description: "Version 7 (serials 17, 18, 19 of key f3c3dcf66c87927e revoked) is current as of \
                      2026-11-18T11:06:40Z; signed with keys-example/authority.key."
            .into(),
        version: 7,
        digest_hex: hex(&beat.digest),
        issued_at: beat.issued_at,
        heartbeat_hex: hex(&signed),
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/authority-vectors/heartbeat_v7.toml");
    if std::env::var_os("CHECKPASS_BLESS").is_some() {
        std::fs::write(&path, toml::to_string(&vector).unwrap()).unwrap();
    }
    let stored: Vector = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(stored, vector, "the heartbeat format or its signing changed");
    assert_eq!(signed.len(), 114);
    assert_eq!(signed[3], DocKind::Heartbeat as u8);
    assert_eq!(Heartbeat::open(&signed, &key.public_key()), Ok(beat));
    let mut tampered = signed.clone();
    tampered[20] ^= 1;
    assert_eq!(Heartbeat::open(&tampered, &key.public_key()), Err(authority::DocError::BadSignature));
}
