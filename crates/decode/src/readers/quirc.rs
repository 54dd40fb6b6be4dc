//! rqrr (a port of quirc): a different detector, isolated as a whole.

use super::*;

/// Every QR symbol rqrr finds in the grey image (rqrr isolated as a whole: all of it is
/// rqrr's, and it once panicked on a real photo).
pub fn quirc(image: &GrayImage) -> Found {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let pixels = image.as_raw();
    let codes = crate::isolate(|| {
        let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
        let grids = prepared.detect_grids();
        grids
            .into_iter()
            .filter_map(|grid| {
                let mut bytes = Vec::new();
                grid.decode_to(&mut bytes).ok().map(|_| bytes)
            })
            .collect()
    })
    .unwrap_or_default();
    Found { codes, ..Found::default() }
}
