//! Views of a grey frame for the strategies that need one: half size, double size, smoothed.

use image::GrayImage;

/// Frames whose double would be larger than this on a side are not doubled.
pub const MAX_DOUBLE_SIDE: u32 = 4096;

/// Half size, each pixel the mean of a 2×2 block. `None` when too small to halve.
pub fn half(image: &GrayImage) -> Option<GrayImage> {
    let (w, h) = (image.width() / 2, image.height() / 2);
    if w < 21 || h < 21 {
        return None;
    }
    let src = image.as_raw();
    let stride = image.width() as usize;
    let mut out = Vec::with_capacity(w as usize * h as usize);
    for y in 0..h as usize {
        let (a, b) = (&src[2 * y * stride..], &src[(2 * y + 1) * stride..]);
        for x in 0..w as usize {
            let sum = u16::from(a[2 * x]) + u16::from(a[2 * x + 1]) + u16::from(b[2 * x]) + u16::from(b[2 * x + 1]);
            out.push(((sum + 2) / 4) as u8);
        }
    }
    GrayImage::from_raw(w, h, out)
}

/// Double size, bilinear. `None` when the result would pass [`MAX_DOUBLE_SIDE`].
pub fn double(image: &GrayImage) -> Option<GrayImage> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    if w == 0 || h == 0 || 2 * w > MAX_DOUBLE_SIDE as usize || 2 * h > MAX_DOUBLE_SIDE as usize {
        return None;
    }
    let src = image.as_raw();
    let (ow, oh) = (2 * w, 2 * h);
    let mut out = vec![0u8; ow * oh];
    // Output pixel 2x+d samples the source at x + (2d - 1) / 4: weights 1/4 and 3/4.
    let weights = |i: usize, n: usize| -> [(usize, u16); 2] {
        let (s, d) = (i / 2, i % 2);
        if d == 0 { [(s.saturating_sub(1), 1), (s, 3)] } else { [(s, 3), ((s + 1).min(n - 1), 1)] }
    };
    for oy in 0..oh {
        let [(y0, wy0), (y1, wy1)] = weights(oy, h);
        let (r0, r1) = (&src[y0 * w..(y0 + 1) * w], &src[y1 * w..(y1 + 1) * w]);
        let row = &mut out[oy * ow..(oy + 1) * ow];
        for (ox, px) in row.iter_mut().enumerate() {
            let [(x0, wx0), (x1, wx1)] = weights(ox, w);
            let sum = wy0 * (wx0 * u16::from(r0[x0]) + wx1 * u16::from(r0[x1]))
                + wy1 * (wx0 * u16::from(r1[x0]) + wx1 * u16::from(r1[x1]));
            *px = ((sum + 8) / 16) as u8;
        }
    }
    GrayImage::from_raw(ow as u32, oh as u32, out)
}

/// A 3×3 box blur (edges repeat the border pixels).
pub fn box_blur(image: &GrayImage) -> GrayImage {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let src = image.as_raw();
    // Horizontal sums of three, then vertical sums of three of those.
    let mut rows = vec![0u16; w * h];
    for y in 0..h {
        let line = &src[y * w..(y + 1) * w];
        for x in 0..w {
            rows[y * w + x] =
                u16::from(line[x.saturating_sub(1)]) + u16::from(line[x]) + u16::from(line[(x + 1).min(w - 1)]);
        }
    }
    let mut out = vec![0u8; w * h];
    for y in 0..h {
        let (up, down) = (y.saturating_sub(1), (y + 1).min(h - 1));
        for x in 0..w {
            let sum = rows[up * w + x] + rows[y * w + x] + rows[down * w + x];
            out[y * w + x] = ((sum + 4) / 9) as u8;
        }
    }
    GrayImage::from_raw(w as u32, h as u32, out).unwrap_or_default()
}

/// Unsharp masking against the 3×3 box blur (amount 1.5): restores some of the edge contrast
/// a fixed-focus lens loses close up.
pub fn sharpen(image: &GrayImage) -> GrayImage {
    let blurred = box_blur(image);
    let data = image
        .as_raw()
        .iter()
        .zip(blurred.as_raw())
        .map(|(&p, &b)| (f32::from(p) + 1.5 * (f32::from(p) - f32::from(b))).clamp(0.0, 255.0) as u8)
        .collect();
    GrayImage::from_raw(image.width(), image.height(), data).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_double_and_blur_keep_flat_images_flat_and_sizes_right() {
        let flat = GrayImage::from_pixel(60, 50, image::Luma([77]));
        let halved = half(&flat).expect("half");
        assert_eq!(halved.dimensions(), (30, 25));
        let doubled = double(&flat).expect("double");
        assert_eq!(doubled.dimensions(), (120, 100));
        let blurred = box_blur(&flat);
        for img in [&halved, &doubled, &blurred] {
            assert!(img.pixels().all(|p| p.0[0] == 77));
        }
        assert!(half(&GrayImage::new(30, 30)).is_none());
        assert!(double(&GrayImage::new(MAX_DOUBLE_SIDE, 10)).is_none());
    }

    #[test]
    fn doubling_interpolates_between_neighbours() {
        let ramp = GrayImage::from_fn(4, 1, |x, _| image::Luma([(x * 80) as u8]));
        let doubled = double(&ramp).expect("double");
        let row: Vec<u8> = doubled.pixels().take(8).map(|p| p.0[0]).collect();
        assert_eq!(row, [0, 20, 60, 100, 140, 180, 220, 240]);
    }
}
