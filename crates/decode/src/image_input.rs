//! Reading camera images and photos: JPEG, PNG, WebP, with EXIF orientation applied, under
//! hard limits so a hostile file (a PNG header claiming 100000×100000 pixels, a decompression
//! bomb) is refused before anything large is allocated.

use std::io::{Cursor, Read};
use std::path::Path;

use image::{DynamicImage, GrayImage, ImageDecoder, ImageReader, Limits};

/// Largest file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// Largest width or height accepted, in pixels.
pub const MAX_SIDE: u32 = 12_000;
/// Most pixels accepted: a 48-megapixel phone photo fits; a 12,000×12,000 image (144 MP) does
/// not, which took 557 MB to scan from a 435 KB PNG.
pub const MAX_PIXELS: u64 = 50_000_000;
/// Largest decoder allocation, in bytes (50 MP in RGBA, 8 bits a sample).
pub const MAX_ALLOC: u64 = 256 * 1024 * 1024;

/// Why an image could not be read. Any of these means "could not check" (exit 2), not a verdict.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The file could not be opened or read.
    #[error("cannot read file: {0}")]
    Io(#[from] std::io::Error),
    /// The file is empty.
    #[error("the file is empty")]
    Empty,
    /// Not a regular file (a FIFO, a device, a directory).
    #[error("not a regular file (a device, FIFO, socket or directory)")]
    NotAFile,
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("the file is larger than {} MiB", MAX_FILE_BYTES / 1024 / 1024)]
    TooLarge,
    /// Not a JPEG, PNG, WebP or PNM image.
    #[error("not a JPEG, PNG, WebP or PNM image")]
    UnknownFormat,
    /// The image claims dimensions beyond the limits.
    #[error(
        "the image is too large ({width}×{height} pixels; at most {MAX_SIDE} a side and {} megapixels)",
        MAX_PIXELS / 1_000_000
    )]
    Dimensions {
        /// Claimed width.
        width: u32,
        /// Claimed height.
        height: u32,
    },
    /// Decoding would exceed the memory limits.
    #[error("the image is too large to decode safely: {0}")]
    ExceedsLimits(String),
    /// The image data is damaged or truncated.
    #[error("the image is damaged or truncated: {0}")]
    Corrupt(String),
}

/// Reads an image file into greyscale, upright.
pub fn load_path(path: &Path) -> Result<GrayImage, InputError> {
    // Opening a FIFO waits for a writer, and a device never ends: only regular files are read.
    if !std::fs::metadata(path)?.is_file() {
        return Err(InputError::NotAFile);
    }
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(InputError::TooLarge);
    }
    load_bytes(&bytes)
}

/// Decodes image bytes into greyscale, upright.
pub fn load_bytes(bytes: &[u8]) -> Result<GrayImage, InputError> {
    load_dynamic(bytes).map(|img| img.into_luma8())
}

/// Decodes image bytes, upright, in their own colour type.
pub fn load_dynamic(bytes: &[u8]) -> Result<DynamicImage, InputError> {
    if bytes.is_empty() {
        return Err(InputError::Empty);
    }
    let mut reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format()?;
    if reader.format().is_none() {
        return Err(InputError::UnknownFormat);
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    if reader.format() == Some(image::ImageFormat::Jpeg) && !jpeg_is_complete(bytes) {
        // The JPEG decoder fills a cut-off image with grey instead of failing; a checkpoint
        // must hear "damaged file", not "no code found".
        return Err(InputError::Corrupt("the JPEG data ends before its end-of-image marker".into()));
    }
    // The format decoders are third-party code reading attacker-controlled bytes: a panic in
    // one is a damaged file, not a crashed checkpoint.
    crate::isolate(|| {
        let mut decoder = reader.into_decoder().map_err(classify)?;
        let (width, height) = decoder.dimensions();
        if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
            return Err(InputError::Dimensions { width, height });
        }
        let orientation = decoder.orientation().map_err(classify)?;
        let mut image = DynamicImage::from_decoder(decoder).map_err(classify)?;
        image.apply_orientation(orientation);
        Ok(image)
    })
    .unwrap_or_else(|| Err(InputError::Corrupt("the image decoder failed on this file".into())))
}

/// Walks a JPEG's marker segments and entropy-coded scans to its end-of-image marker (EOI).
/// Data after EOI (phone "motion photo" trailers) is allowed; a missing EOI means truncated.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    const SOI: u8 = 0xD8;
    const EOI: u8 = 0xD9;
    const SOS: u8 = 0xDA;
    if bytes.len() < 4 || bytes[0] != 0xFF || bytes[1] != SOI {
        return false;
    }
    let mut i = 2;
    loop {
        // At a marker: skip fill bytes (0xFF 0xFF ...).
        while bytes.get(i) == Some(&0xFF) && bytes.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        if bytes.get(i) != Some(&0xFF) {
            return false;
        }
        let Some(&marker) = bytes.get(i + 1) else {
            return false;
        };
        i += 2;
        match marker {
            EOI => return true,
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let Some(len) = bytes.get(i..i + 2).map(|l| usize::from(u16::from_be_bytes([l[0], l[1]]))) else {
            return false;
        };
        if len < 2 {
            return false;
        }
        i += len;
        if marker == SOS {
            // Entropy-coded data: 0xFF is followed by 0x00 (a stuffed byte) or a restart
            // marker inside a scan; anything else is the next marker.
            loop {
                match (bytes.get(i), bytes.get(i + 1)) {
                    (Some(0xFF), Some(0x00 | 0xD0..=0xD7)) => i += 2,
                    (Some(0xFF), Some(_)) => break,
                    (Some(_), _) => i += 1,
                    (None, _) => return false,
                }
            }
        }
    }
}

fn classify(e: image::ImageError) -> InputError {
    match e {
        image::ImageError::Limits(l) => InputError::ExceedsLimits(l.to_string()),
        image::ImageError::Unsupported(_) => InputError::UnknownFormat,
        image::ImageError::IoError(e) => InputError::Corrupt(e.to_string()),
        other => InputError::Corrupt(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg() -> Vec<u8> {
        let image = GrayImage::from_fn(64, 48, |x, y| image::Luma([(x * 3 + y * 5) as u8]));
        let mut out = Vec::new();
        image.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Jpeg).expect("encodes");
        out
    }

    #[test]
    fn complete_jpegs_load_and_cut_ones_are_damaged() {
        let full = jpeg();
        assert!(jpeg_is_complete(&full));
        assert_eq!(load_bytes(&full).expect("loads").dimensions(), (64, 48));
        let mut trailer = full.clone();
        trailer.extend_from_slice(b"ftypmp42 motion photo trailer");
        assert!(load_bytes(&trailer).is_ok());
        for cut in [full.len() - 1, full.len() / 2, 10, 3] {
            assert!(matches!(load_bytes(&full[..cut]), Err(InputError::Corrupt(_))), "cut at {cut}");
        }
    }
}
