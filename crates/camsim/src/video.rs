//! Videos for a browser's fake webcam (Chromium's `--use-file-for-fake-video-capture`): y4m
//! files of synthetic frames, so the live station can be tested and demonstrated without a
//! camera.

use std::io::{self, Write};
use std::path::Path;

use image::GrayImage;
use pass_core::envelope::Envelope;

use crate::{Category, FRAME_720P, Spec, generate, generate_with};

/// Frames per second written in the y4m header.
pub const FPS: u32 = 10;

/// The frames of one presentation: `before` blank frames, the code held up for `shown`
/// frames, then `after` blank frames. Chromium loops the file.
pub fn presentation(code: &[u8], before: usize, shown: usize, after: usize) -> Vec<GrayImage> {
    // A forged or damaged code still shows its (unverified) pass in the picture.
    let pass = Envelope::decode(code).map(|e| e.pass).unwrap_or_else(|_| pass_core::Pass::realistic_example());
    let blank = generate(Spec { category: Category::NoCode, severity: 0.3, seed: 7, size: FRAME_720P }).image;
    let held = Spec { category: Category::Perspective, severity: 0.1, seed: 11, size: FRAME_720P };
    let held = generate_with(held, pass, code.to_vec()).image;
    let mut frames = vec![blank.clone(); before];
    frames.extend(std::iter::repeat_n(held, shown));
    frames.extend(std::iter::repeat_n(blank, after));
    frames
}

/// Writes `frames` (all of one size, even sides) as a y4m file: 4:2:0, grey chroma.
pub fn write_y4m(path: &Path, frames: &[GrayImage]) -> io::Result<()> {
    let (w, h) = frames.first().map_or((0, 0), GrayImage::dimensions);
    let mut out = io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "YUV4MPEG2 W{w} H{h} F{FPS}:1 Ip A1:1 C420jpeg")?;
    let chroma = vec![128u8; (w as usize / 2) * (h as usize / 2)];
    for frame in frames {
        if frame.dimensions() != (w, h) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "frames of different sizes"));
        }
        out.write_all(b"FRAME\n")?;
        out.write_all(frame.as_raw())?;
        out.write_all(&chroma)?;
        out.write_all(&chroma)?;
    }
    out.flush()
}
