//! Finding QR codes in a greyscale image and returning their raw bytes.
//!
//! Strategies run cheapest-useful first and stop as soon as the caller is satisfied (for
//! `scan`: a code that verifies as a pass), so a frame with an unrelated QR code keeps looking:
//!
//! 1. rxing (a pure-Rust ZXing port), multi-code reader, try-harder: reads 80% of the real
//!    photo set where rqrr reads 36% (BRIEF.md).
//! 2. rqrr via `decode_to` (raw bytes, no UTF-8 demand): a different detector that sometimes
//!    finds what rxing misses.
//!
//! Every third-party call is isolated: a panic inside a decoder (rqrr 0.11 asserts on some
//! photos) is caught and counts as "nothing found" for that strategy.

use std::cell::Cell;
use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use image::GrayImage;
use rxing::common::HybridBinarizer;
use rxing::multi::MultipleBarcodeReader;
use rxing::multi::qrcode::QRCodeMultiReader;
use rxing::qrcode::QRCodeReader;
use rxing::{
    BarcodeFormat, BinaryBitmap, DecodeHints, Luma8LuminanceSource, RXingResult, RXingResultMetadataType,
    RXingResultMetadataValue, Reader,
};

/// Codes larger than this are not passes and are not kept (a v40 QR code holds 2953 bytes).
pub const MAX_CODE_BYTES: usize = 4096;

/// A decoding strategy, for reports and benchmarks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// rxing, multi-code, try-harder.
    Rxing,
    /// rqrr on the whole frame.
    Rqrr,
}

/// The strategies in the order they run.
pub const STRATEGIES: &[Strategy] = &[Strategy::Rxing, Strategy::Rqrr];

/// Every distinct code found by all strategies.
pub fn decode_all(image: &GrayImage) -> Vec<Vec<u8>> {
    decode_until(image, |_| false)
}

/// Runs the strategies in order, collecting distinct codes, until `done` returns true for a
/// code (that code is the last one returned).
pub fn decode_until(image: &GrayImage, mut done: impl FnMut(&[u8]) -> bool) -> Vec<Vec<u8>> {
    let mut seen = HashSet::new();
    let mut codes = Vec::new();
    if image.width() == 0 || image.height() == 0 {
        return codes;
    }
    for strategy in STRATEGIES {
        for code in run(*strategy, image) {
            if code.len() > MAX_CODE_BYTES || !seen.insert(code.clone()) {
                continue;
            }
            let finished = done(&code);
            codes.push(code);
            if finished {
                return codes;
            }
        }
    }
    codes
}

/// Runs one strategy, isolated.
pub fn run(strategy: Strategy, image: &GrayImage) -> Vec<Vec<u8>> {
    isolate(|| match strategy {
        Strategy::Rxing => rxing_codes(image),
        Strategy::Rqrr => rqrr_codes(image),
    })
    .unwrap_or_default()
}

fn rxing_codes(image: &GrayImage) -> Vec<Vec<u8>> {
    let hints = DecodeHints {
        TryHarder: Some(true),
        PossibleFormats: Some(HashSet::from([BarcodeFormat::QR_CODE])),
        ..DecodeHints::default()
    };
    let bitmap = || {
        Luma8LuminanceSource::new(image.as_raw().clone(), image.width(), image.height())
            .ok()
            .map(|source| BinaryBitmap::new(HybridBinarizer::new(source)))
    };
    // The multi-code reader finds several codes in one frame; the single-code reader's
    // detector is more forgiving, so it runs when the first finds nothing.
    let mut found: Vec<Vec<u8>> = bitmap()
        .and_then(|mut b| QRCodeMultiReader::new().decode_multiple_with_hints(&mut b, &hints).ok())
        .map(|rs| rs.iter().filter_map(raw_bytes).collect())
        .unwrap_or_default();
    if found.is_empty()
        && let Some(result) = bitmap().and_then(|mut b| QRCodeReader.decode_with_hints(&mut b, &hints).ok())
    {
        found.extend(raw_bytes(&result));
    }
    found
}

/// The exact bytes of a result: its byte segments when it has them (our passes are one byte
/// segment), else its text (numeric or alphanumeric codes).
fn raw_bytes(result: &RXingResult) -> Option<Vec<u8>> {
    if *result.getBarcodeFormat() != BarcodeFormat::QR_CODE {
        return None;
    }
    if let Some(RXingResultMetadataValue::ByteSegments(segments)) =
        result.getRXingResultMetadata().get(&RXingResultMetadataType::BYTE_SEGMENTS)
        && !segments.is_empty()
    {
        return Some(segments.concat());
    }
    let text = result.getText();
    (!text.is_empty()).then(|| text.as_bytes().to_vec())
}

fn rqrr_codes(image: &GrayImage) -> Vec<Vec<u8>> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| image.as_raw()[y * w + x]);
    prepared
        .detect_grids()
        .into_iter()
        .filter_map(|grid| {
            let mut bytes = Vec::new();
            grid.decode_to(&mut bytes).ok().map(|_| bytes)
        })
        .collect()
}

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs third-party code, turning a panic into `None`. The panic message is not printed
/// (it is expected on hostile input); panics elsewhere still print as usual.
pub fn isolate<T>(f: impl FnOnce() -> T) -> Option<T> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                default(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    result.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_a_decoder_is_nothing_found() {
        assert_eq!(isolate(|| -> u8 { panic!("decoder assertion") }), None);
        assert_eq!(isolate(|| 7), Some(7));
    }

    #[test]
    fn blank_and_tiny_images_decode_to_nothing() {
        assert!(decode_all(&GrayImage::new(0, 0)).is_empty());
        assert!(decode_all(&GrayImage::new(1, 1)).is_empty());
        assert!(decode_all(&GrayImage::from_pixel(640, 480, image::Luma([255]))).is_empty());
    }
}
