//! Authority documents (snapshot, delta, trust list, heartbeat, and bundles of them) through
//! the verifier's import path, which applies exactly the checks of a sync: once raw (header,
//! signature and bundle parsing) and once signed by the configured authority (the body
//! decoders and the rules behind the signature).
//!
//! Invariants: no panic; an import is all or nothing (on error the state is byte-identical);
//! an accepted import never lowers the revocation version nor drops a revocation; what is
//! accepted survives the state file round trip; the trust list held still parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pass_core::authority;
use pass_fuzz::{authority, authority_public, documents, held_state, keeps_all, trust};
use pass_verifier::state::{LocalState, effective_trust};
use pass_verifier::sync::import;

fn check(bytes: &[u8], fresh: bool) {
    let public = authority_public();
    let mut state = if fresh { LocalState::default() } else { held_state() };
    let before = state.clone();
    let before_bytes = state.to_bytes();
    match import(bytes, &public, &mut state, u64::MAX / 2) {
        Err(_) => assert_eq!(state.to_bytes(), before_bytes, "a refused import changed the state"),
        Ok(_) => {
            assert!(state.revocations.version >= before.revocations.version, "version went back");
            assert!(keeps_all(&before.revocations, &state.revocations), "a revocation was dropped");
            if let Some(doc) = state.trust_doc(&public) {
                assert!(pass_core::TrustList::from_toml(&doc.toml).is_ok(), "held trust list does not parse");
                if let Some(old) = before.trust_doc(&public) {
                    assert!(doc.version >= old.version, "trust list version went back");
                }
            }
            if let (Some(new), Some(old)) = (state.heartbeat(&public), before.heartbeat(&public)) {
                assert!(new.issued_at >= old.issued_at, "heartbeat went back");
            }
            let reloaded = LocalState::from_bytes(&state.to_bytes()).expect("saved state reloads");
            assert_eq!(reloaded.to_bytes(), state.to_bytes(), "state file round trip");
            let _ = state.confirmed_at(&public);
            let _ = state.newest_signed_at(Some(&public));
            let _ = effective_trust(trust(), &state);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [mode, rest @ ..] = data else { return };
    let fresh = mode & 1 == 1;
    if mode & 2 == 0 {
        // Raw bytes, as a file on a USB stick or a body from the network.
        check(rest, fresh);
        return;
    }
    let docs = documents(rest, &authority());
    if mode & 4 == 0 {
        for doc in &docs {
            check(doc, fresh);
        }
    } else {
        let refs: Vec<&[u8]> = docs.iter().map(Vec::as_slice).collect();
        check(&authority::bundle(&refs), fresh);
    }
});
