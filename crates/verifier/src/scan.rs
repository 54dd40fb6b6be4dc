//! From an image or a text form to a verdict.

use std::time::Duration;

use image::GrayImage;
use pass_core::TrustList;
use pass_core::envelope;
use pass_core::verdict::{self, Checkpoint, Reason, Verdict};

use pass_decode as decode;

/// Decodes `image` and checks every code found, stopping at the first that is accepted.
/// Otherwise the verdict that got furthest wins: a forged pass is reported rather than an
/// unrelated QR code beside it. No code at all is `no_code_found`.
pub fn scan(image: &GrayImage, trust: &TrustList, checkpoint: &Checkpoint) -> Verdict {
    scan_within(image, trust, checkpoint, decode::DEFAULT_BUDGET)
}

/// [`scan`] with a time budget for decoding (`Duration::MAX` for none: tests that must not
/// depend on the machine's speed).
pub fn scan_within(image: &GrayImage, trust: &TrustList, checkpoint: &Checkpoint, budget: Duration) -> Verdict {
    scan_code(image, trust, checkpoint, budget).0
}

/// [`scan_within`], also returning the bytes of the code the verdict is about (`None` when no
/// code was found): the station tells one presentation of a pass from the next by them.
pub fn scan_code(
    image: &GrayImage,
    trust: &TrustList,
    checkpoint: &Checkpoint,
    budget: Duration,
) -> (Verdict, Option<Vec<u8>>) {
    scan_code_with(image, budget, |code| verdict::verify(code, trust, checkpoint))
}

/// [`scan_code`] with the check of each code found given by the caller (root mode picks each
/// pass's authority's data: `Settings::check`).
pub fn scan_code_with(
    image: &GrayImage,
    budget: Duration,
    mut check: impl FnMut(&[u8]) -> Verdict,
) -> (Verdict, Option<Vec<u8>>) {
    let mut best: Option<(Verdict, Vec<u8>)> = None;
    decode::decode_until(image, budget, |code| {
        let verdict = check(code);
        let accepted = verdict.accepted();
        if best.as_ref().is_none_or(|(b, _)| verdict.stage() > b.stage()) {
            best = Some((verdict, code.to_vec()));
        }
        accepted
    });
    match best {
        Some((verdict, code)) => (verdict, Some(code)),
        None => (Verdict::rejected(Reason::NoCodeFound, None), None),
    }
}

/// Checks the text form (`CP:...`) typed or pasted by hand.
pub fn check_text(text: &str, trust: &TrustList, checkpoint: &Checkpoint) -> Verdict {
    check_text_with(text, |bytes| verdict::verify(bytes, trust, checkpoint))
}

/// [`check_text`] with the check given by the caller.
pub fn check_text_with(text: &str, check: impl FnOnce(&[u8]) -> Verdict) -> Verdict {
    match envelope::from_text(text) {
        Ok(bytes) => check(&bytes),
        Err(e @ envelope::EnvelopeError::WrongMagic) => Verdict::rejected(Reason::NotAPass, e.to_string()),
        Err(e) => Verdict::rejected(Reason::Malformed, e.to_string()),
    }
}
