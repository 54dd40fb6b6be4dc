//! The trust list TOML (a local file, or the text inside a signed trust-list document):
//! parsing and checking never panic, and what parses answers every question the verifier asks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pass_core::{Division, TrustList};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(trust) = TrustList::from_toml(text) else { return };
    let zones = [Division::new(440114).ok(), Division::new(110101).ok()];
    let zones: Vec<Division> = zones.into_iter().flatten().collect();
    for issuer in &trust.issuers {
        assert_eq!(trust.issuer(issuer.key.id()).map(|i| i.key.id()), Some(issuer.key.id()));
        for t in [0, 1_780_000_000, u64::MAX] {
            let _ = issuer.trusted_at(t);
            let _ = issuer.lifetime_allowed(t, u64::MAX);
        }
        let _ = issuer.zone_outside_authority(&zones);
    }
});
