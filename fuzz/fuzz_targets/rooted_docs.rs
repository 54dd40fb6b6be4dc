//! Root mode's untrusted inputs: combined heartbeat files, authority lists and whatever a USB
//! stick or a mirror hands `pass_verifier::rooted::import_rooted`, raw and signed by the root
//! (the list's rules behind the signature: provinces, keys, URLs, caps), and combined
//! heartbeat files beside a held list (naming it, or another version and digest) whose
//! heartbeats the authority signed over the input.
//!
//! Invariants: no panic; a refused import leaves the state byte-identical; an accepted import
//! never lowers the authority list's version nor an authority's revocation version, keeps
//! only listed authorities, and survives the state file's round trip; a combined heartbeat
//! file that splits packs back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pass_core::SecretKey;
use pass_core::authorities::AuthorityList;
use pass_core::authority::{self, DocKind};
use pass_verifier::rooted::{apply_combined, import_rooted};
use pass_verifier::state::LocalState;

/// The fuzzed checkpoint's clock.
const NOW: u64 = u64::MAX / 2;

fn root() -> SecretKey {
    SecretKey::from_seed(&[0xB0; 32])
}

/// A list naming one authority (seed 0xB1, governing 440000), and that authority's key.
fn one_authority_list() -> (AuthorityList, SecretKey) {
    let authority_key = SecretKey::from_seed(&[0xB1; 32]);
    let list = AuthorityList {
        version: 1,
        issued_at: 1_780_000_000,
        authorities: vec![pass_core::authorities::AuthorityEntry {
            name: "广东省".into(),
            key: authority_key.public_key().verifying_key().to_bytes(),
            provinces: vec![440_000],
            urls: Vec::new(),
            not_before: None,
            not_after: None,
        }],
    };
    (list, authority_key)
}

fn check(bytes: &[u8], state: &mut LocalState) {
    let root = root().public_key();
    let before = state.clone();
    let before_bytes = state.to_bytes();
    match import_rooted(bytes, &root, state, NOW) {
        Err(_) => assert_eq!(state.to_bytes(), before_bytes, "a refused import changed the state"),
        Ok(_) => {
            let list = state.authority_list(&root).expect("an accepted import leaves a list that verifies");
            if let Some(old) = before.authority_list(&root) {
                assert!(list.version >= old.version, "the authority list went back");
            }
            for (id, held) in &state.authorities {
                assert!(list.authority(*id).is_some(), "an authority the list does not name is kept");
                let old = before.authorities.get(id).map_or(0, |s| s.revocations.version);
                assert!(held.revocations.version >= old, "an authority's version went back");
            }
            let reloaded = LocalState::from_bytes(&state.to_bytes()).expect("saved state reloads");
            assert_eq!(reloaded.to_bytes(), state.to_bytes(), "state file round trip");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [mode, rest @ ..] = data else { return };
    if let Ok(combined) = authority::split_heartbeats(rest) {
        let again = authority::combine_heartbeats(combined.list, &combined.beats);
        assert_eq!(again, rest, "a combined heartbeat file that splits packs back the same");
    }
    let root = root();
    let _ = AuthorityList::open(rest, &root.public_key());
    let mut state = LocalState::default();
    match mode % 4 {
        // Raw bytes, as a file on a USB stick.
        0 => check(rest, &mut state),
        // A body signed by the root as an authority list: the rules behind the signature.
        1 => check(&authority::sign(DocKind::AuthorityList, rest, &root), &mut state),
        // A valid list first (one authority, seed 0xB1, governing 440000), then the input
        // signed by that authority as each kind of document.
        2 => {
            let (list, authority_key) = one_authority_list();
            check(&list.sign(&root), &mut state);
            for kind in [DocKind::Snapshot, DocKind::Delta, DocKind::TrustList, DocKind::Heartbeat] {
                check(&authority::sign(kind, rest, &authority_key), &mut state);
            }
        }
        // A mirror's combined heartbeat file beside a held list, as `sync_rooted` reads it:
        // naming the list (or a version and digest from the input), carrying a heartbeat the
        // authority signed over the input, one the root signed over it, and the input raw.
        _ => {
            let (list, authority_key) = one_authority_list();
            let signed_list = list.sign(&root);
            check(&signed_list, &mut state);
            let [how, body @ ..] = rest else { return };
            let named = match how % 3 {
                0 => Some((list.version, pass_core::authorities::list_digest(&signed_list))),
                1 => body.get(..40).map(|head| {
                    let version = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
                    (version, head[8..40].try_into().expect("32 bytes"))
                }),
                _ => None,
            };
            let beat = authority::sign(DocKind::Heartbeat, body, &authority_key);
            let stranger = authority::sign(DocKind::Heartbeat, body, &root);
            let file = authority::combine_heartbeats(named, &[&beat, &stranger, body]);
            let split = authority::split_heartbeats(&file).expect("a file packed here splits");
            assert_eq!(split.list, named, "the list it names survives packing");
            let key = authority_key.public_key();
            // Held: nothing, or this authority's data after the input as its snapshot.
            let mut held = state.authorities.get(&key.id()).cloned().unwrap_or_default();
            if how & 0x80 != 0 {
                let _ = pass_verifier::sync::import(
                    &authority::sign(DocKind::Snapshot, body, &authority_key),
                    &key,
                    &mut held,
                    NOW,
                );
            }
            for own_given in [false, true] {
                let (next, confirmed) = apply_combined(&held, &split.beats, &key, own_given, NOW);
                assert!(!(own_given && confirmed), "a combined file confirmed an authority whose own server was given");
                assert_eq!(
                    (next.revocations.version, next.revocations.digest()),
                    (held.revocations.version, held.revocations.digest()),
                    "heartbeats changed the data"
                );
                if confirmed {
                    assert_eq!(next.heartbeat.as_deref(), Some(&beat[..]), "confirmed by a heartbeat not the authority's");
                }
                if let (Some(old), Some(new)) = (held.heartbeat(&key), next.heartbeat(&key)) {
                    assert!(new.issued_at >= old.issued_at, "the heartbeat went back");
                }
            }
        }
    }
});
