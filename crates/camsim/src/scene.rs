//! What the camera looks at, in page space: a printed pass, a phone showing the code, or a
//! scene with no code in it. Values are albedo (0 black ink … 255 white paper).

use crate::qr::Qr;
use image::GrayImage;

use crate::rng::Rng;

/// Page pixels per QR module (the camera model scales from here).
pub const PAGE_MODULE: f64 = 4.0;

/// A flat thing in front of the camera, and where its QR code is (page pixels).
pub struct Page {
    /// Albedo, 0..=255.
    pub albedo: GrayImage,
    /// The code's centre.
    pub code_centre: (f64, f64),
    /// The code's side, quiet zone excluded (0 when there is no code).
    pub code_side: f64,
    /// Modules a side (0 when there is no code).
    pub modules: usize,
    /// A phone screen: it emits light (room light does not dim it) and has a pixel grid.
    pub screen: bool,
}

fn fill(img: &mut GrayImage, x0: f64, y0: f64, w: f64, h: f64, value: u8) {
    let (iw, ih) = (img.width() as i64, img.height() as i64);
    let (xa, ya) = ((x0.round() as i64).clamp(0, iw), (y0.round() as i64).clamp(0, ih));
    let (xb, yb) = (((x0 + w).round() as i64).clamp(0, iw), ((y0 + h).round() as i64).clamp(0, ih));
    for y in ya..yb {
        for x in xa..xb {
            img.put_pixel(x as u32, y as u32, image::Luma([value]));
        }
    }
}

/// A line of "text": glyph-sized dark blocks with gaps, the texture binarizers see around a code.
fn text_line(img: &mut GrayImage, rng: &mut Rng, x0: f64, y0: f64, width: f64, height: f64) {
    let mut x = x0;
    while x < x0 + width {
        let glyph = height * rng.range(0.6, 1.0);
        // A glyph is a few strokes, not a solid block.
        for _ in 0..3 {
            let (sx, sy) = (rng.range(0.0, glyph * 0.7), rng.range(0.0, height * 0.7));
            if rng.unit() < 0.5 {
                fill(img, x + sx, y0, height * 0.14, height, 45);
            } else {
                fill(img, x, y0 + sy, glyph, height * 0.14, 45);
            }
        }
        x += glyph + height * rng.range(0.15, 0.35);
    }
}

fn draw_qr(img: &mut GrayImage, qr: &Qr, x0: f64, y0: f64, dark: u8, light: u8) {
    let n = qr.width();
    fill(
        img,
        x0 - 4.0 * PAGE_MODULE,
        y0 - 4.0 * PAGE_MODULE,
        (n + 8) as f64 * PAGE_MODULE,
        (n + 8) as f64 * PAGE_MODULE,
        light,
    );
    for y in 0..n {
        for x in 0..n {
            if qr.dark(x as isize, y as isize) {
                let (px, py) = (x0 + x as f64 * PAGE_MODULE, y0 + y as f64 * PAGE_MODULE);
                fill(img, px, py, PAGE_MODULE, PAGE_MODULE, dark);
            }
        }
    }
}

/// A printed pass: title, the code with its quiet zone, the plate box and lines of text.
pub fn printed(qr: &Qr, rng: &mut Rng) -> Page {
    let n = qr.width() as f64;
    let m = PAGE_MODULE;
    let (w, h) = ((n + 40.0) * m, (n + 70.0) * m);
    let paper = rng.range(225.0, 245.0) as u8;
    let mut albedo = GrayImage::from_pixel(w as u32, h as u32, image::Luma([paper]));
    // Paper grain.
    for p in albedo.pixels_mut() {
        p.0[0] = (f64::from(p.0[0]) + rng.normal() * 2.0).clamp(0.0, 255.0) as u8;
    }
    text_line(&mut albedo, rng, 8.0 * m, 5.0 * m, w - 16.0 * m, 5.0 * m);
    let (qx, qy) = (20.0 * m, 16.0 * m);
    draw_qr(&mut albedo, qr, qx, qy, 20, paper);
    let below = qy + (n + 6.0) * m;
    // The plate box, then the details table.
    fill(&mut albedo, 10.0 * m, below, w - 20.0 * m, 1.0 * m, 40);
    text_line(&mut albedo, rng, 14.0 * m, below + 3.0 * m, w - 28.0 * m, 8.0 * m);
    fill(&mut albedo, 10.0 * m, below + 13.0 * m, w - 20.0 * m, 1.0 * m, 40);
    let mut y = below + 17.0 * m;
    while y < h - 6.0 * m {
        let length = rng.range(0.5, 1.0) * (w - 16.0 * m);
        text_line(&mut albedo, rng, 8.0 * m, y, length, 3.0 * m);
        y += 5.5 * m;
    }
    Page {
        albedo,
        code_centre: (qx + n * m / 2.0, qy + n * m / 2.0),
        code_side: n * m,
        modules: qr.width(),
        screen: false,
    }
}

/// A phone showing the code full width, light on dark in dark mode.
pub fn phone(qr: &Qr, dark_mode: bool) -> Page {
    let n = qr.width() as f64;
    let m = PAGE_MODULE;
    let (w, h) = ((n + 16.0) * m, (n * 2.0 + 16.0) * m);
    let mut albedo = GrayImage::from_pixel(w as u32, h as u32, image::Luma([18]));
    let (screen_bg, ink) = if dark_mode { (28, 235) } else { (240, 25) };
    fill(&mut albedo, 3.0 * m, 6.0 * m, w - 6.0 * m, h - 12.0 * m, screen_bg);
    // Status bar and an app header above the code.
    fill(&mut albedo, 5.0 * m, 8.0 * m, w - 10.0 * m, 2.0 * m, if dark_mode { 90 } else { 150 });
    let (qx, qy) = (8.0 * m, 18.0 * m);
    draw_qr(&mut albedo, qr, qx, qy, ink, screen_bg);
    Page {
        albedo,
        code_centre: (qx + n * m / 2.0, qy + n * m / 2.0),
        code_side: n * m,
        modules: qr.width(),
        screen: true,
    }
}

/// A scene with no code: a printed page whose code area holds a photo-like pattern, woven
/// cloth, a desk with objects, or a sheet of text and a 1D barcode.
pub fn no_code(rng: &mut Rng) -> Page {
    let m = PAGE_MODULE;
    let (w, h) = (97.0 * m, 127.0 * m);
    let mut albedo = GrayImage::from_pixel(w as u32, h as u32, image::Luma([rng.range(200.0, 245.0) as u8]));
    match rng.below(4) {
        0 => {
            // Cloth: a fine check with a coarse overcheck.
            let (fine, coarse) = (rng.range(2.0, 5.0) * m / 2.0, rng.range(8.0, 20.0) * m);
            for (x, y, p) in albedo.enumerate_pixels_mut() {
                let (x, y) = (f64::from(x), f64::from(y));
                let f = ((x / fine) as i64 + (y / fine) as i64) % 2;
                let c = ((x / coarse) as i64 % 2) + ((y / coarse) as i64 % 2);
                p.0[0] = (60 + 50 * f + 45 * c) as u8;
            }
        }
        1 => {
            // A desk: overlapping blocks of many greys.
            for _ in 0..40 {
                let (x, y) = (rng.range(-20.0, w), rng.range(-20.0, h));
                fill(
                    &mut albedo,
                    x,
                    y,
                    rng.range(5.0, 40.0) * m,
                    rng.range(5.0, 40.0) * m,
                    rng.range(10.0, 250.0) as u8,
                );
            }
        }
        2 => {
            // A sheet of text with a linear barcode.
            let mut y = 6.0 * m;
            while y < h - 40.0 * m {
                text_line(&mut albedo, rng, 8.0 * m, y, w - 16.0 * m, 3.0 * m);
                y += 5.0 * m;
            }
            let mut x = 10.0 * m;
            while x < w - 10.0 * m {
                let bar = rng.range(0.5, 2.5) * m;
                fill(&mut albedo, x, h - 30.0 * m, bar, 20.0 * m, 20);
                x += bar + rng.range(0.5, 2.5) * m;
            }
        }
        _ => {
            // A pass-like page whose code area holds blocky art (a logo, a photo).
            let mut y = 6.0 * m;
            while y < h - 6.0 * m {
                text_line(&mut albedo, rng, 8.0 * m, y, w - 16.0 * m, 3.0 * m);
                y += 5.5 * m;
            }
            let cell = rng.range(2.0, 6.0) * m;
            let (x0, y0) = (20.0 * m, 20.0 * m);
            let mut cy = y0;
            while cy < y0 + 57.0 * m {
                let mut cx = x0;
                while cx < x0 + 57.0 * m {
                    fill(&mut albedo, cx, cy, cell, cell, rng.range(0.0, 255.0) as u8);
                    cx += cell;
                }
                cy += cell;
            }
        }
    }
    Page { albedo, code_centre: (w / 2.0, h / 2.0), code_side: 57.0 * m, modules: 0, screen: false }
}
