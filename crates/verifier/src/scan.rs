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

/// Why an image file could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeFileError {
    /// It could not be read (missing, too large, not a regular file).
    #[error("cannot read file: {0}")]
    Read(#[from] std::io::Error),
    /// It is not an image this program reads.
    #[error(transparent)]
    Image(#[from] decode::image_input::InputError),
}

/// What `pass-verifier decode` found in one image file.
pub struct DecodedFile {
    /// The codes' bytes.
    pub codes: Vec<Vec<u8>>,
    /// Milliseconds spent decoding (reading the file aside).
    pub ms: f64,
    /// The strategies that ran, by name.
    pub strategies: Vec<&'static str>,
}

/// Decodes every QR code in the image file at `path` (read under its size cap), or only until
/// one is found when `first`: a debugging aid, passes not checked.
pub fn decode_file(path: &std::path::Path, first: bool) -> Result<DecodedFile, DecodeFileError> {
    let bytes = pass_files::read_capped(path, decode::image_input::MAX_FILE_BYTES)?;
    let image = decode::image_input::load_bytes(&bytes)?;
    let start = std::time::Instant::now();
    let decoded = decode::decode_until(&image, decode::DEFAULT_BUDGET, |_| first);
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    Ok(DecodedFile { codes: decoded.codes, ms, strategies: decoded.ran.iter().map(|s| s.name()).collect() })
}
