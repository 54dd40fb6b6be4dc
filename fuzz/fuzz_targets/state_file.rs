//! The verifier's state file. A file on the checkpoint's disk can be damaged (power loss on a
//! FAT stick, a bad sector) or edited; loading must refuse it with a message or load a state
//! whose every use is safe. The checksum would stop nearly all random input at once, so the
//! target also frames the input as a file with a correct checksum to reach the decoder.
//!
//! Invariants: no panic; what loads saves back to a file that loads to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pass_fuzz::{authority_public, trust};
use pass_verifier::state::{LocalState, effective_trust};
use sha2::{Digest, Sha256};

fuzz_target!(|data: &[u8]| {
    let [mode, body @ ..] = data else { return };
    let file = if mode & 1 == 0 {
        body.to_vec()
    } else {
        let mut file = b"CPVS".to_vec();
        file.push([4, 3, 2, 1][usize::from(mode >> 1 & 3)]);
        file.extend_from_slice(body);
        let sum = Sha256::digest(&file);
        file.extend_from_slice(&sum);
        file
    };
    let Ok(state) = LocalState::from_bytes(&file) else { return };
    let saved = state.to_bytes();
    let again = LocalState::from_bytes(&saved).expect("a saved state loads");
    assert_eq!(again.to_bytes(), saved, "state file round trip");
    let public = authority_public();
    let _ = state.trust_doc(&public);
    let _ = state.heartbeat(&public);
    let _ = state.confirmed_at(&public);
    let _ = state.newest_signed_at(Some(&public));
    let _ = state.vouched(&public);
    let _ = state.trust_stale(&public);
    let _ = state.revocations.revoked_count();
    let _ = effective_trust(trust(), &state);
    // Root mode: the list and each authority's data, as a root-mode checkpoint reads them.
    let root = pass_core::SecretKey::from_seed(&[0xB0; 32]).public_key();
    let _ = state.authority_list(&root);
    for held in state.authorities.values() {
        let _ = held.confirmed_at(&public);
        let _ = held.vouched(&public);
    }
    let _ = pass_verifier::rooted::RootedView::new(trust(), &state, &root, 1_780_000_000);
});
