//! Grey to black/white: the first layer of the pipeline.
//!
//! [`local_average`] is ZXing's "hybrid" binarizer (8×8 blocks, each thresholded at the mean
//! black point of the 5×5 blocks around it), written for speed: one pass for the block
//! statistics, one for the thresholds, rows packed straight into the bit matrix. It copes with
//! uneven light and shadow, which is most of what a checkpoint camera sees. [`global`] is one
//! threshold for the whole frame (Otsu's), for images too small for 5×5 blocks. (As a strategy
//! of its own on whole frames it read nothing the others missed, in 92 photos and 372 synthetic
//! frames, and was dropped.)

use image::GrayImage;
use rxing::common::{BitArray, BitMatrix};

const BLOCK: usize = 8;
/// Blocks whose darkest and lightest pixels differ by no more than this are taken as flat.
const MIN_DYNAMIC_RANGE: u8 = 24;

/// Local-average binarization (true = black). `None` for an empty image.
pub fn local_average(image: &GrayImage) -> Option<BitMatrix> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    if w < BLOCK * 5 || h < BLOCK * 5 {
        return global(image);
    }
    let px = image.as_raw();
    let (bw, bh) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
    let (max_x, max_y) = (w - BLOCK, h - BLOCK);

    // Per block: the black point (mean, or a guess for flat blocks). Statistics are gathered
    // per pixel column over the block row's eight rows first (element-wise over contiguous
    // rows, which the compiler vectorises), then per block over eight columns. The last block
    // of a row or column overlaps its neighbour so that it is whole.
    let mut points = vec![0u32; bw * bh];
    let (mut sums, mut lows, mut highs) = (vec![0u32; bw], vec![0u8; bw], vec![0u8; bw]);
    let (mut col_sum, mut col_lo, mut col_hi) = (vec![0u16; w], vec![0u8; w], vec![0u8; w]);
    for by in 0..bh {
        let y0 = (by * BLOCK).min(max_y);
        col_sum.fill(0);
        col_lo.fill(u8::MAX);
        col_hi.fill(u8::MIN);
        for row in px[y0 * w..].chunks_exact(w).take(BLOCK) {
            for (((&p, sum), lo), hi) in row.iter().zip(&mut col_sum).zip(&mut col_lo).zip(&mut col_hi) {
                *sum += u16::from(p);
                *lo = (*lo).min(p);
                *hi = (*hi).max(p);
            }
        }
        for bx in 0..bw {
            let x0 = (bx * BLOCK).min(max_x);
            let range = x0..x0 + BLOCK;
            sums[bx] = col_sum[range.clone()].iter().map(|&v| u32::from(v)).sum();
            lows[bx] = col_lo[range.clone()].iter().copied().min().unwrap_or(0);
            highs[bx] = col_hi[range].iter().copied().max().unwrap_or(0);
        }
        for bx in 0..bw {
            let (lo, hi) = (lows[bx], highs[bx]);
            let mut point = sums[bx] / (BLOCK * BLOCK) as u32;
            if hi - lo <= MIN_DYNAMIC_RANGE {
                // A flat block: assume background (light) unless its neighbours say it is
                // darker than their black point, so flat areas do not turn into noise.
                point = u32::from(lo) / 2;
                if by > 0 && bx > 0 {
                    let neighbours =
                        (points[(by - 1) * bw + bx] + 2 * points[by * bw + bx - 1] + points[(by - 1) * bw + bx - 1])
                            / 4;
                    if u32::from(lo) < neighbours {
                        point = neighbours;
                    }
                }
            }
            points[by * bw + bx] = point;
        }
    }

    // Per block: the threshold is the mean black point of the 5×5 blocks around it.
    let mut thresholds = vec![0u8; bw * bh];
    for by in 0..bh {
        let top = by.clamp(2, bh - 3);
        for bx in 0..bw {
            let left = bx.clamp(2, bw - 3);
            let mut sum = 0;
            for row in points[(top - 2) * bw..].chunks(bw).take(5) {
                sum += row[left - 2..=left + 2].iter().sum::<u32>();
            }
            thresholds[by * bw + bx] = (sum / 25).min(255) as u8;
        }
    }

    pack(image, BLOCK, |by, row| band_row::<BLOCK>(row, &thresholds[by.min(bh - 1) * bw..][..bw]))
}

/// Contrast below which a [`local_range`] window is taken as flat (sensor noise alone spans
/// about 24 levels over 144 pixels, and would turn flat areas into speckle).
const RANGE_MIN_CONTRAST: u8 = 40;
/// Where [`local_range`] puts its threshold, in eighths of the way from the darkest pixel to
/// the lightest.
const RANGE_EIGHTHS: u16 = 3;
/// Side of the blocks of [`local_range`].
const SMALL_BLOCK: usize = 4;

/// Local-range binarization (true = black): each 4×4 block is thresholded three eighths of
/// the way from the darkest to the lightest pixel of the 3×3 blocks around it, a window of 12
/// pixels. It is made for the moiré of a phone screen filmed by a camera: the beat between the
/// sensor's grid and the screen's sub-pixels multiplies the screen's light by fringes a module
/// or two apart, so light modules dim in bands (by up to half) while dark ones stay dark. The
/// 40-pixel mean of [`local_average`] sits about halfway up and turns the dim bands dark; a
/// threshold low in a small window's range keeps them light. A window with less contrast than
/// 40 levels takes its upper or left neighbour's threshold when it is darker than
/// that (inside a large dark module), and is light otherwise. `None` for an empty image.
pub fn local_range(image: &GrayImage) -> Option<BitMatrix> {
    const B: usize = SMALL_BLOCK;
    let (w, h) = (image.width() as usize, image.height() as usize);
    if w < B * 3 || h < B * 3 {
        return global(image);
    }
    let px = image.as_raw();
    let (bw, bh) = (w.div_ceil(B), h.div_ceil(B));
    let (max_x, max_y) = (w - B, h - B);

    // Per block: darkest and lightest pixel (the last block of a row or column overlaps its
    // neighbour so that it is whole), gathered per pixel column first as in `local_average`.
    let (mut lows, mut highs) = (vec![0u8; bw * bh], vec![0u8; bw * bh]);
    let (mut col_lo, mut col_hi) = (vec![0u8; w], vec![0u8; w]);
    for by in 0..bh {
        let y0 = (by * B).min(max_y);
        col_lo.fill(u8::MAX);
        col_hi.fill(u8::MIN);
        for row in px[y0 * w..].chunks_exact(w).take(B) {
            for ((&p, lo), hi) in row.iter().zip(&mut col_lo).zip(&mut col_hi) {
                *lo = (*lo).min(p);
                *hi = (*hi).max(p);
            }
        }
        for bx in 0..bw {
            let x0 = (bx * B).min(max_x);
            lows[by * bw + bx] = col_lo[x0..x0 + B].iter().copied().min().unwrap_or(0);
            highs[by * bw + bx] = col_hi[x0..x0 + B].iter().copied().max().unwrap_or(0);
        }
    }
    // The 3×3 neighbourhood, one direction at a time (over whole rows, so that it vectorises).
    let spread = |values: &mut [u8], pick: fn(u8, u8) -> u8| {
        let mut across = vec![0u8; values.len()];
        for (row, out) in values.chunks_exact(bw).zip(across.chunks_exact_mut(bw)) {
            out[0] = pick(row[0], row[1]);
            out[bw - 1] = pick(row[bw - 2], row[bw - 1]);
            for (((out, &a), &b), &c) in out[1..bw - 1].iter_mut().zip(row).zip(&row[1..]).zip(&row[2..]) {
                *out = pick(pick(a, b), c);
            }
        }
        for by in 0..bh {
            let (up, down) = (by.saturating_sub(1), (by + 1).min(bh - 1));
            let (a, b, c) = (&across[up * bw..][..bw], &across[by * bw..][..bw], &across[down * bw..][..bw]);
            for (((out, &a), &b), &c) in values[by * bw..][..bw].iter_mut().zip(a).zip(b).zip(c) {
                *out = pick(pick(a, b), c);
            }
        }
    };
    spread(&mut lows, u8::min);
    spread(&mut highs, u8::max);

    let mut thresholds = vec![0u8; bw * bh];
    for by in 0..bh {
        for bx in 0..bw {
            let (lo, hi) = (lows[by * bw + bx], highs[by * bw + bx]);
            // Both thresholds, then a choice without a branch: whether a window is flat is
            // as unpredictable as the picture.
            let steep = (u16::from(lo) + u16::from(hi - lo) * RANGE_EIGHTHS / 8) as u8;
            let up = if by > 0 { thresholds[(by - 1) * bw + bx] } else { 0 };
            let left = if bx > 0 { thresholds[by * bw + bx - 1] } else { 0 };
            let neighbour = up.max(left);
            let flat = if lo < neighbour { neighbour } else { lo / 2 };
            thresholds[by * bw + bx] = if hi - lo > RANGE_MIN_CONTRAST { steep } else { flat };
        }
    }
    pack(image, B, |by, row| band_row::<B>(row, &thresholds[by.min(bh - 1) * bw..][..bw]))
}

/// Fills `row` (a threshold a pixel) from `band`, a threshold for each `B` pixels; the pixels
/// past the last whole block take the last threshold. Whole blocks are written as arrays (a
/// `fill` of four bytes was a call to `memset`, 15% of `local_range`).
fn band_row<const B: usize>(row: &mut [u8], band: &[u8]) {
    let (whole, rest) = row.as_chunks_mut::<B>();
    for (pixels, &t) in whole.iter_mut().zip(band) {
        *pixels = [t; B];
    }
    if let Some(&last) = band.last() {
        rest.fill(last);
    }
}

/// Builds the bit matrix of `image` (true = black: at or below its threshold). Rows come in
/// bands of `band` rows that share one threshold per pixel column; `thresholds(b, row)` fills
/// `row` (one byte per pixel) with band `b`'s. Eight pixels at a time are compared as one
/// 64-bit word, without branches: photo noise defeats a branch predictor.
fn pack(image: &GrayImage, band: usize, mut thresholds: impl FnMut(usize, &mut [u8])) -> Option<BitMatrix> {
    const WORD: usize = usize::BITS as usize;
    let (w, h) = (image.width() as usize, image.height() as usize);
    let mut matrix = BitMatrix::new(w as u32, h as u32).ok()?;
    let mut row = BitArray::with_size(w);
    // Rows padded to whole words, pixels with 0 (never above a threshold of 0 or more, but
    // those bits lie past the row's end and are cleared below).
    let padded = w.div_ceil(WORD) * WORD;
    let mut limits = vec![0u8; padded];
    let mut pixels = vec![0u8; padded];
    for (y, source) in image.as_raw().chunks_exact(w).enumerate() {
        if y % band == 0 {
            thresholds(y / band, &mut limits[..w]);
        }
        pixels[..w].copy_from_slice(source);
        for (i, (p, t)) in pixels.chunks_exact(WORD).zip(limits.chunks_exact(WORD)).enumerate() {
            let mut word = 0usize;
            for (j, (p, t)) in p.chunks_exact(8).zip(t.chunks_exact(8)).enumerate() {
                let bits = at_or_below(
                    u64::from_le_bytes(p.try_into().unwrap_or_default()),
                    u64::from_le_bytes(t.try_into().unwrap_or_default()),
                );
                word |= (bits as usize) << (8 * j);
            }
            if (i + 1) * WORD > w {
                word &= usize::MAX >> ((i + 1) * WORD - w);
            }
            row.setBulk(i * WORD, word);
        }
        matrix.setRow(y as u32, &row);
    }
    Some(matrix)
}

/// Byte by byte, whether `p <= t`, as eight bits (byte k to bit k).
fn at_or_below(p: u64, t: u64) -> u8 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Per byte, the high bit of (t | 0x80) - (p & 0x7f) says t's low seven bits >= p's; no
    // borrow crosses bytes. Where the high bits differ, t's decides.
    let low = (t | HIGH).wrapping_sub(p & !HIGH);
    let ge = ((t & !p) | (!(t ^ p) & low)) & HIGH;
    ((ge >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8
}

/// One threshold for the whole image (Otsu's method on its histogram; true = black).
pub fn global(image: &GrayImage) -> Option<BitMatrix> {
    let threshold = otsu(image);
    pack(image, usize::MAX, |_, row| row.fill(threshold))
}

/// The threshold that best separates the image's histogram into two classes.
fn otsu(image: &GrayImage) -> u8 {
    // Every second pixel of every second row is plenty for a histogram.
    let mut histogram = [0u64; 256];
    let w = image.width() as usize;
    for row in image.as_raw().chunks(w.max(1)).step_by(2) {
        for &p in row.iter().step_by(2) {
            histogram[usize::from(p)] += 1;
        }
    }
    let total: u64 = histogram.iter().sum();
    let weighted: u64 = histogram.iter().enumerate().map(|(v, &n)| v as u64 * n).sum();
    let (mut below, mut below_weighted) = (0u64, 0u64);
    let (mut best, mut best_variance) = (127u8, 0f64);
    for (value, &count) in histogram.iter().enumerate() {
        below += count;
        below_weighted += value as u64 * count;
        let above = total - below;
        if below == 0 || above == 0 {
            continue;
        }
        let mean_below = below_weighted as f64 / below as f64;
        let mean_above = (weighted - below_weighted) as f64 / above as f64;
        let variance = below as f64 * above as f64 * (mean_below - mean_above).powi(2);
        if variance > best_variance {
            best_variance = variance;
            best = value as u8;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripes() -> GrayImage {
        // Vertical stripes, 4 px dark / 4 px light, with a brightness ramp across the image.
        GrayImage::from_fn(96, 64, |x, y| {
            let light = (120 + (x + y) / 2) as u8;
            image::Luma([if (x / 4) % 2 == 0 { light / 4 } else { light }])
        })
    }

    #[test]
    fn every_binarizer_keeps_the_stripes() {
        let image = stripes();
        let matrices = [local_average(&image), local_range(&image), global(&image)];
        for matrix in matrices.into_iter().map(|m| m.expect("matrix")) {
            for (x, y) in [(1, 1), (9, 30), (17, 60), (90, 5)] {
                assert_eq!(matrix.get(x, y), (x / 4) % 2 == 0, "pixel {x},{y}");
            }
        }
    }

    #[test]
    fn eight_pixels_compare_as_one_by_one() {
        // Every pair of values, in every byte position, beside neighbours that could borrow.
        for p in 0..=255u8 {
            for t in 0..=255u8 {
                let k = usize::from(p ^ t) % 8;
                let (mut ps, mut ts) = ([255u8, 0, 128, 127, 1, 254, 3, 200], [0u8, 255, 127, 128, 254, 1, 200, 3]);
                (ps[k], ts[k]) = (p, t);
                let expected = (0..8).fold(0u8, |bits, i| bits | (u8::from(ps[i] <= ts[i]) << i));
                assert_eq!(at_or_below(u64::from_le_bytes(ps), u64::from_le_bytes(ts)), expected, "{p} {t} at {k}");
            }
        }
    }

    #[test]
    fn widths_off_the_word_leave_no_bits_past_the_row() {
        // 67 pixels: a whole 64-bit word and three more; every pixel dark.
        let matrix = global(&GrayImage::from_pixel(67, 3, image::Luma([0]))).expect("matrix");
        let mut dark = BitArray::with_size(67);
        (0..67).for_each(|x| dark.set(x));
        for y in 0..3 {
            assert_eq!(matrix.getRow(y), dark);
        }
    }

    #[test]
    fn a_flat_image_is_all_light_locally() {
        let flat = GrayImage::from_pixel(64, 64, image::Luma([200]));
        for matrix in [local_average(&flat).expect("matrix"), local_range(&flat).expect("matrix")] {
            assert!((0..64).all(|y| (0..64).all(|x| !matrix.get(x, y))));
        }
        assert!(local_average(&GrayImage::new(0, 0)).is_none());
    }
}
