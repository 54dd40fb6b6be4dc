//! The third-party readers, behind one shape: a prepared image in, raw code bytes out.
//!
//! - [`zxing`]: rxing's port of zxing-cpp's QR detector and decoder, run on our own bit
//!   matrix. It finds every symbol in the frame, and each symbol comes back on its own (rxing's
//!   Java-style multi reader merges a structured-append sequence into one result).
//! - [`quirc`]: rqrr, a port of quirc: a different detector (flood-filled finder regions) that
//!   reads some codes the ZXing line scanner misses. Raw bytes via `decode_to`.
//!
//! Callers isolate these (a panic is "nothing found"): both come from outside and see
//! attacker-controlled pixels.

use image::GrayImage;
use rxing::common::{BitMatrix, DetectorRXingResult};
use rxing::qrcode::cpp_port::{decoder, detector};

/// What a reader found: codes, and how many finder patterns it saw (a sign that a code is
/// there even when none decoded).
#[derive(Debug, Default)]
pub struct Found {
    /// Raw bytes of each decoded symbol.
    pub codes: Vec<Vec<u8>>,
    /// Finder patterns seen.
    pub finders: usize,
}

/// Every QR symbol the zxing-cpp detector finds in `matrix`. `thorough` scans every third
/// row for finder patterns instead of a step sized for codes up to version 20. When no
/// finder-pattern triple decodes, the matrix is tried as a "pure" code (the symbol alone with
/// a thin quiet zone, as in a screenshot or a tiny crop), which costs next to nothing.
pub fn zxing(matrix: &BitMatrix, thorough: bool) -> Found {
    let mut finders = detector::FindFinderPatterns(matrix, thorough, 0);
    let seen = finders.len();
    let mut used = Vec::new();
    let mut codes = Vec::new();
    for set in detector::GenerateFinderPatternSets(&mut finders) {
        if used.contains(&set.bl) || used.contains(&set.tl) || used.contains(&set.tr) {
            continue;
        }
        let Ok(detected) = detector::SampleQR(matrix, &set) else { continue };
        let Ok(decoded) = decoder::Decode(detected.getBits()) else { continue };
        if decoded.isValid() {
            used.extend([set.bl, set.tl, set.tr]);
            codes.push(decoded.content().bytes().to_vec());
        }
    }
    if codes.is_empty()
        && let Ok(detected) = detector::DetectPureQR(matrix)
        && let Ok(decoded) = decoder::Decode(detected.getBits())
        && decoded.isValid()
    {
        codes.push(decoded.content().bytes().to_vec());
    }
    Found { codes, finders: seen }
}

/// Every QR symbol rqrr finds in the grey image.
pub fn quirc(image: &GrayImage) -> Found {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let pixels = image.as_raw();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
    let grids = prepared.detect_grids();
    let codes = grids
        .into_iter()
        .filter_map(|grid| {
            let mut bytes = Vec::new();
            grid.decode_to(&mut bytes).ok().map(|_| bytes)
        })
        .collect();
    Found { codes, finders: 0 }
}
