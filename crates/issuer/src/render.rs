//! QR rendering: envelope bytes → a QR code in byte mode at level M → PNG or SVG.
//!
//! The whole envelope goes in one byte-mode segment (never a mixed numeric/alphanumeric
//! segmentation): decoders then hand back the exact bytes, whatever character set they guess.

use fast_qr::qr::QRBuilder;
use fast_qr::{ECL, Mode};

/// Modules of white border on every side (the QR specification's minimum).
pub const QUIET_ZONE: usize = 4;
/// Default PNG module size: 8 px at 300 dpi is 0.68 mm a module, so a version 10 code
/// (57 modules + border) prints about 44 mm wide.
pub const DEFAULT_MODULE_PX: usize = 8;
/// Print resolution written into PNG files.
pub const PRINT_DPI: u32 = 300;

/// Why a QR code could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The data does not fit any QR version at level M.
    #[error("{0} bytes do not fit a QR code at error-correction level M")]
    TooLong(usize),
    /// The PNG encoder failed.
    #[error("PNG encoding failed: {0}")]
    Png(String),
}

/// A QR code ready to draw.
pub struct Qr {
    version: i16,
    width: usize,
    modules: Vec<bool>,
}

impl Qr {
    /// Encodes `data` in one byte-mode segment at level M, in the smallest version that fits.
    pub fn new(data: &[u8]) -> Result<Self, RenderError> {
        let code = QRBuilder::new(data.to_vec())
            .ecl(ECL::M)
            .mode(Mode::Byte)
            .build()
            .map_err(|_| RenderError::TooLong(data.len()))?;
        let version = code.version.map(|v| v as i16 + 1).ok_or(RenderError::TooLong(data.len()))?;
        let width = code.size;
        let modules = code.data[..width * width].iter().map(|m| m.value()).collect();
        Ok(Self { version, width, modules })
    }

    /// The QR version (1..=40).
    pub fn version(&self) -> i16 {
        self.version
    }

    /// Modules per side, without the quiet zone.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Whether the module at (x, y) is dark; coordinates outside the code are light.
    pub fn dark(&self, x: isize, y: isize) -> bool {
        let w = self.width as isize;
        (0..w).contains(&x) && (0..w).contains(&y) && self.modules[y as usize * self.width + x as usize]
    }

    /// A greyscale bitmap (0 dark, 255 light) with the quiet zone: `(pixels, side)`.
    pub fn to_luma(&self, module_px: usize) -> (Vec<u8>, usize) {
        let modules = self.width() + 2 * QUIET_ZONE;
        let side = modules * module_px;
        let mut pixels = vec![255u8; side * side];
        for y in 0..side {
            let my = (y / module_px) as isize - QUIET_ZONE as isize;
            for x in 0..side {
                let mx = (x / module_px) as isize - QUIET_ZONE as isize;
                if self.dark(mx, my) {
                    pixels[y * side + x] = 0;
                }
            }
        }
        (pixels, side)
    }

    /// A 1-bit PNG with the quiet zone, tagged with 300 dpi so it prints at its intended size.
    pub fn to_png(&self, module_px: usize) -> Result<Vec<u8>, RenderError> {
        let modules = self.width() + 2 * QUIET_ZONE;
        let side = modules * module_px;
        let row_bytes = side.div_ceil(8);
        let mut data = Vec::with_capacity(row_bytes * side);
        let mut row = vec![0u8; row_bytes];
        for my in 0..modules {
            // One pixel row per module row, repeated: light pixels are 1 bits.
            row.fill(0);
            for mx in 0..modules {
                if !self.dark(mx as isize - QUIET_ZONE as isize, my as isize - QUIET_ZONE as isize) {
                    for x in mx * module_px..(mx + 1) * module_px {
                        row[x / 8] |= 0x80 >> (x % 8);
                    }
                }
            }
            for _ in 0..module_px {
                data.extend_from_slice(&row);
            }
        }
        let mut out = Vec::new();
        let png_err = |e: png::EncodingError| RenderError::Png(e.to_string());
        {
            let side32 = u32::try_from(side).map_err(|_| RenderError::TooLong(side))?;
            let mut encoder = png::Encoder::new(&mut out, side32, side32);
            encoder.set_color(png::ColorType::Grayscale);
            encoder.set_depth(png::BitDepth::One);
            encoder.set_compression(png::Compression::Fast);
            let per_metre = (f64::from(PRINT_DPI) / 0.0254).round() as u32;
            encoder.set_pixel_dims(Some(png::PixelDimensions {
                xppu: per_metre,
                yppu: per_metre,
                unit: png::Unit::Meter,
            }));
            let mut writer = encoder.write_header().map_err(png_err)?;
            writer.write_image_data(&data).map_err(png_err)?;
            writer.finish().map_err(png_err)?;
        }
        Ok(out)
    }

    /// An SVG document (one path, crisp edges) with the quiet zone, sized in millimetres.
    pub fn to_svg(&self, module_mm: f64) -> String {
        let modules = self.width() + 2 * QUIET_ZONE;
        let mut path = String::new();
        for y in 0..self.width() as isize {
            let mut x = 0;
            while x < self.width() as isize {
                if self.dark(x, y) {
                    let start = x;
                    while self.dark(x, y) {
                        x += 1;
                    }
                    let (px, py) = (start as usize + QUIET_ZONE, y as usize + QUIET_ZONE);
                    path.push_str(&format!("M{px} {py}h{}v1h-{}z", x - start, x - start));
                } else {
                    x += 1;
                }
            }
        }
        let size = modules as f64 * module_mm;
        format!(
            concat!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{size:.2}mm\" height=\"{size:.2}mm\" ",
                "viewBox=\"0 0 {m} {m}\" shape-rendering=\"crispEdges\">\n",
                "<rect width=\"{m}\" height=\"{m}\" fill=\"#fff\"/>\n<path fill=\"#000\" d=\"{path}\"/>\n</svg>\n"
            ),
            size = size,
            m = modules,
            path = path
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_grow_with_data_and_cap_at_level_m() {
        assert_eq!(Qr::new(&[0xAB; 10]).expect("fits").version(), 1);
        // 213 bytes is the byte-mode capacity of version 10 at level M; 214 needs version 11.
        assert_eq!(Qr::new(&[0xAB; 213]).expect("fits").version(), 10);
        assert_eq!(Qr::new(&[0xAB; 214]).expect("fits").version(), 11);
        assert!(Qr::new(&[0xAB; 3000]).is_err());
    }

    #[test]
    fn png_has_the_quiet_zone_and_print_resolution() {
        let qr = Qr::new(b"CP test").expect("fits");
        let png = qr.to_png(4).expect("png");
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let reader = decoder.read_info().expect("valid png");
        let info = reader.info();
        assert_eq!(info.width as usize, (qr.width() + 8) * 4);
        assert_eq!(info.pixel_dims.map(|d| d.xppu), Some(11811));
        let (luma, side) = qr.to_luma(4);
        assert!(luma[..side * QUIET_ZONE * 4].iter().all(|p| *p == 255), "top border is light");
        assert_eq!(luma[side * 16 + 16], 0, "finder pattern corner is dark");
    }
}
