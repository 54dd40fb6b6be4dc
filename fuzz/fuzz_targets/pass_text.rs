//! What a QR code holds, at a checkpoint: the text form and the envelope bytes through the
//! whole verdict (structure, issuer, signature, fields, revocation, limits, window, zone).
//! The envelope is decoded before its signature is checked, so this reaches the pass decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pass_core::{Checkpoint, Division, envelope, verdict};
use pass_fuzz::{held_state, trust};

fuzz_target!(|data: &[u8]| {
    let trust = trust();
    let state = held_state();
    let checkpoint = Checkpoint {
        now: 1_780_000_000,
        zone: Division::new(440114).ok(),
        revocations: Some(&state.revocations),
        freshness: None,
    };
    let verdict = verdict::verify(data, trust, &checkpoint);
    assert!(!verdict.accepted(), "unsigned fuzz input accepted");
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(bytes) = envelope::from_text(text)
    {
        assert!(!verdict::verify(&bytes, trust, &checkpoint).accepted(), "unsigned text accepted");
        let _ = envelope::manual_code(&bytes);
    }
});
