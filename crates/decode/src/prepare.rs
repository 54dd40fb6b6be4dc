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
    let (src, stride, w) = (image.as_raw(), image.width() as usize, w as usize);
    let mut out = vec![0u8; w * h as usize];
    for (y, dst) in out.chunks_exact_mut(w).enumerate() {
        let (a, b) = (&src[2 * y * stride..][..2 * w], &src[(2 * y + 1) * stride..][..2 * w]);
        for ((d, a), b) in dst.iter_mut().zip(a.chunks_exact(2)).zip(b.chunks_exact(2)) {
            let sum = u16::from(a[0]) + u16::from(a[1]) + u16::from(b[0]) + u16::from(b[1]);
            *d = ((sum + 2) / 4) as u8;
        }
    }
    GrayImage::from_raw(w as u32, h, out)
}

/// Double size, bilinear. `None` when the result would pass [`MAX_DOUBLE_SIDE`].
pub fn double(image: &GrayImage) -> Option<GrayImage> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    if w == 0 || h == 0 || 2 * w > MAX_DOUBLE_SIDE as usize || 2 * h > MAX_DOUBLE_SIDE as usize {
        return None;
    }
    let src = image.as_raw();
    let (ow, oh) = (2 * w, 2 * h);
    // Output pixel 2x+d samples the source at x + (2d - 1) / 4: weights 1/4 and 3/4, first
    // along each row (sums of weight 4, kept for every source row), then between two rows.
    let mut wide = vec![0u16; ow * h];
    for (line, row) in src.chunks_exact(w).zip(wide.chunks_exact_mut(ow)) {
        for (x, pair) in row.chunks_exact_mut(2).enumerate() {
            let (left, here, right) = (line[x.saturating_sub(1)], line[x], line[(x + 1).min(w - 1)]);
            pair[0] = u16::from(left) + 3 * u16::from(here);
            pair[1] = 3 * u16::from(here) + u16::from(right);
        }
    }
    let mut out = vec![0u8; ow * oh];
    for (oy, row) in out.chunks_exact_mut(ow).enumerate() {
        let (s, below) = (oy / 2, oy % 2 == 1);
        let (near, far) = (&wide[s * ow..][..ow], if below { (s + 1).min(h - 1) } else { s.saturating_sub(1) });
        let far = &wide[far * ow..][..ow];
        for ((px, &n), &f) in row.iter_mut().zip(near).zip(far) {
            *px = ((3 * n + f + 8) / 16) as u8;
        }
    }
    GrayImage::from_raw(ow as u32, oh as u32, out)
}

/// A 3×3 box blur (edges repeat the border pixels).
pub fn box_blur(image: &GrayImage) -> GrayImage {
    let (w, h) = (image.width() as usize, image.height() as usize);
    if w == 0 || h == 0 {
        return image.clone();
    }
    // Horizontal sums of three, then vertical sums of three of those, row slice by row slice
    // (which the compiler vectorises).
    let mut rows = vec![0u16; w * h];
    for (line, sums) in image.as_raw().chunks_exact(w).zip(rows.chunks_exact_mut(w)) {
        let at = |x: usize| u16::from(line[x.min(w - 1)]);
        sums[0] = 2 * at(0) + at(1);
        sums[w - 1] = at(w.saturating_sub(2)) + 2 * at(w - 1);
        if w > 2 {
            let (left, here, right) = (&line[..w - 2], &line[1..w - 1], &line[2..]);
            for (((sum, &l), &c), &r) in sums[1..w - 1].iter_mut().zip(left).zip(here).zip(right) {
                *sum = u16::from(l) + u16::from(c) + u16::from(r);
            }
        }
    }
    let mut out = vec![0u8; w * h];
    for (y, blurred) in out.chunks_exact_mut(w).enumerate() {
        let (up, down) = (y.saturating_sub(1), (y + 1).min(h - 1));
        let (up, here, down) = (&rows[up * w..][..w], &rows[y * w..][..w], &rows[down * w..][..w]);
        for (((px, &u), &c), &d) in blurred.iter_mut().zip(up).zip(here).zip(down) {
            *px = ((u + c + d + 4) / 9) as u8;
        }
    }
    GrayImage::from_raw(w as u32, h as u32, out).unwrap_or_default()
}

/// How strongly [`sharpen`] works.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unsharp {
    /// 3×3 box-blur passes for the mask: 1 is a 3×3 box; 3 is close to a Gaussian of σ 1.4 px.
    pub blur_passes: usize,
    /// The amount, in halves: 3 adds 1.5 times the difference from the blur.
    pub amount_halves: i16,
}

/// Restores some of the edge contrast a fixed-focus lens loses close up: the mild one
/// (3×3 box, amount 1.5) for slight defocus and curl.
pub const MILD: Unsharp = Unsharp { blur_passes: 1, amount_halves: 3 };
/// For codes blurred over about half a module or more (σ 1.4 px mask, amount 5).
pub const STRONG: Unsharp = Unsharp { blur_passes: 3, amount_halves: 10 };

/// Unsharp masking: p + amount × (p − blur(p)), clamped.
pub fn sharpen(image: &GrayImage, how: Unsharp) -> GrayImage {
    let mut blurred = box_blur(image);
    for _ in 1..how.blur_passes {
        blurred = box_blur(&blurred);
    }
    // In integers: ((2 + h) p - h b) / 2 for an amount of h halves.
    let h = how.amount_halves;
    let data = image
        .as_raw()
        .iter()
        .zip(blurred.as_raw())
        .map(|(&p, &b)| (((2 + h) * i16::from(p) - h * i16::from(b)) / 2).clamp(0, 255) as u8)
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

    #[test]
    fn views_match_their_definitions() {
        let image = GrayImage::from_fn(57, 45, |x, y| image::Luma([((x * 57 + y * 31 + x * y) % 256) as u8]));
        let (w, h) = (57i64, 45i64);
        let at = |x: i64, y: i64| u32::from(image.get_pixel(x.clamp(0, w - 1) as u32, y.clamp(0, h - 1) as u32).0[0]);
        let doubled = double(&image).expect("double");
        for (ox, oy, px) in doubled.enumerate_pixels() {
            // Source position (o - 1/2) / 2: the nearer pixel weighs 3/4, the other 1/4.
            let (x, y) = (i64::from(ox / 2), i64::from(oy / 2));
            let (fx, fy) = (if ox % 2 == 0 { x - 1 } else { x + 1 }, if oy % 2 == 0 { y - 1 } else { y + 1 });
            let sum = 9 * at(x, y) + 3 * at(fx, y) + 3 * at(x, fy) + at(fx, fy);
            assert_eq!(u32::from(px.0[0]), (sum + 8) / 16, "pixel {ox},{oy}");
        }
        let blurred = box_blur(&image);
        let sharpened = sharpen(&image, MILD);
        for (x, y, px) in blurred.enumerate_pixels() {
            let (x, y) = (i64::from(x), i64::from(y));
            let sum: u32 =
                (-1..=1).flat_map(|dy| (-1..=1).map(move |dx| (dx, dy))).map(|(dx, dy)| at(x + dx, y + dy)).sum();
            assert_eq!(u32::from(px.0[0]), (sum + 4) / 9, "blur {x},{y}");
            let (p, b) = (at(x, y) as f32, f32::from(px.0[0]));
            let expected = (p + 1.5 * (p - b)).clamp(0.0, 255.0) as u8;
            assert_eq!(sharpened.get_pixel(x as u32, y as u32).0[0], expected, "sharpen {x},{y}");
        }
        let twice = box_blur(&box_blur(&image));
        let strong = sharpen(&image, Unsharp { blur_passes: 2, amount_halves: 10 });
        for ((&p, &b), &s) in image.as_raw().iter().zip(twice.as_raw()).zip(strong.as_raw()) {
            let (p, b) = (f32::from(p), f32::from(b));
            assert_eq!(s, (p + 5.0 * (p - b)).clamp(0.0, 255.0) as u8);
        }
        for narrow in [
            GrayImage::from_fn(1, 3, |_, y| image::Luma([y as u8 * 9])),
            GrayImage::from_fn(2, 1, |x, _| image::Luma([x as u8 * 9])),
        ] {
            assert_eq!(box_blur(&narrow).dimensions(), narrow.dimensions());
        }
        let halved = half(&image).expect("half");
        for (x, y, px) in halved.enumerate_pixels() {
            let (x, y) = (i64::from(2 * x), i64::from(2 * y));
            let sum = at(x, y) + at(x + 1, y) + at(x, y + 1) + at(x + 1, y + 1);
            assert_eq!(u32::from(px.0[0]), (sum + 2) / 4);
        }
    }
}
