//! The QR symbol a frame shows: the pass's envelope bytes in one byte-mode segment at level M,
//! in the smallest version that holds them, as the issuer prints it (drawn here with fast_qr
//! directly, so the test tool does not depend on the issuer).

use fast_qr::qr::QRBuilder;
use fast_qr::{ECL, Mode};

/// A QR symbol's modules.
pub struct Qr {
    width: usize,
    modules: Vec<bool>,
}

impl Qr {
    /// Encodes `data`; `None` when it does not fit any version.
    pub fn new(data: &[u8]) -> Option<Qr> {
        let code = QRBuilder::new(data.to_vec()).ecl(ECL::M).mode(Mode::Byte).build().ok()?;
        let width = code.size;
        let modules = code.data[..width * width].iter().map(|m| m.value()).collect();
        Some(Qr { width, modules })
    }

    /// Modules per side, without the quiet zone.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Whether the module at (x, y) is dark; coordinates outside the symbol are light.
    pub fn dark(&self, x: isize, y: isize) -> bool {
        let w = self.width as isize;
        (0..w).contains(&x) && (0..w).contains(&y) && self.modules[y as usize * self.width + x as usize]
    }
}
