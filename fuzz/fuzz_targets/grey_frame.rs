//! Any grey frame through our own layers and then the whole decoding pipeline. Only the calls
//! into rxing and rqrr are isolated (as in production); a panic anywhere in our own code
//! (views, binarizers, finder search, guesses, sampling, erasures, Reed–Solomon) is a crash.
#![no_main]

use image::GrayImage;
use libfuzzer_sys::fuzz_target;
use pass_decode::{self as decode, binarize, prepare, readers};

fuzz_target!(|data: &[u8]| {
    // Two bytes of width, the rest pixels (repeated to fill the frame, so a short input can
    // still make a frame large enough for every strategy).
    let [w0, w1, pixels @ ..] = data else { return };
    if pixels.is_empty() {
        return;
    }
    let width = 1 + u32::from(u16::from_le_bytes([*w0, *w1]) % 400);
    let height = (pixels.len() as u32).div_ceil(width).clamp(1, 400);
    let image =
        GrayImage::from_fn(width, height, |x, y| image::Luma([pixels[(y * width + x) as usize % pixels.len()]]));
    for view in [
        Some(image.clone()),
        prepare::half(&image),
        prepare::double(&image),
        Some(prepare::sharpen(&image, prepare::MILD)),
        Some(prepare::sharpen(&image, prepare::STRONG)),
    ]
    .into_iter()
    .flatten()
    {
        let matrices = [binarize::local_average(&view), binarize::local_range(&view), binarize::global(&view)];
        for matrix in matrices.into_iter().flatten() {
            assert_eq!((matrix.getWidth(), matrix.getHeight()), view.dimensions());
            // Our row scan; rxing's pattern walker inside it is isolated row by row.
            readers::find_finder_patterns(&matrix, true);
        }
    }
    let codes = decode::decode_all(&image);
    assert!(codes.iter().all(|c| c.len() <= decode::MAX_CODE_BYTES));
});
