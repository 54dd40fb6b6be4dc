//! Any file as an image: our size limits and JPEG completeness check, the format decoders
//! (isolated), then decoding of what loads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pass_decode::{self as decode, image_input};

fuzz_target!(|data: &[u8]| {
    if let Ok(image) = image_input::load_bytes(data) {
        assert!(image.width() <= image_input::MAX_SIDE && image.height() <= image_input::MAX_SIDE);
        // Large frames are the pipeline's normal work; keep each run short for the fuzzer.
        if u64::from(image.width()) * u64::from(image.height()) <= 640 * 480 {
            decode::decode_all(&image);
        }
    }
});
