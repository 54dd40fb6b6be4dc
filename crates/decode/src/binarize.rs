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

    pack(image, |y, group| [thresholds[(y / BLOCK) * bw + group]; 8])
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
    // The 3×3 neighbourhood, one direction at a time.
    let spread = |values: &mut [u8], pick: fn(u8, u8) -> u8| {
        let mut across = vec![0u8; values.len()];
        for (row, out) in values.chunks_exact(bw).zip(across.chunks_exact_mut(bw)) {
            for bx in 0..bw {
                let (l, r) = (bx.saturating_sub(1), (bx + 1).min(bw - 1));
                out[bx] = pick(pick(row[l], row[bx]), row[r]);
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
            let contrast = hi - lo;
            thresholds[by * bw + bx] = if contrast > RANGE_MIN_CONTRAST {
                (u16::from(lo) + u16::from(hi - lo) * RANGE_EIGHTHS / 8) as u8
            } else {
                let up = if by > 0 { thresholds[(by - 1) * bw + bx] } else { 0 };
                let left = if bx > 0 { thresholds[by * bw + bx - 1] } else { 0 };
                let neighbour = up.max(left);
                if lo < neighbour { neighbour } else { lo / 2 }
            };
        }
    }
    // Thresholds by 8-pixel group, as `pack` takes them.
    let groups = w.div_ceil(8);
    let mut by_group = vec![[0u8; 8]; bh * groups];
    for (row, out) in thresholds.chunks_exact(bw).zip(by_group.chunks_exact_mut(groups)) {
        for (g, out) in out.iter_mut().enumerate() {
            let (a, b) = (row[2 * g], row[(2 * g + 1).min(bw - 1)]);
            *out = [a, a, a, a, b, b, b, b];
        }
    }
    pack(image, |y, group| by_group[(y / B) * groups + group])
}

/// Builds the bit matrix of `image` (true = black: at or below its threshold; the thresholds
/// of the pixels of 8-pixel group `x / 8` in row `y` are `threshold(y, x / 8)`), without
/// branches: photo noise defeats a branch predictor.
fn pack(image: &GrayImage, threshold: impl Fn(usize, usize) -> [u8; 8]) -> Option<BitMatrix> {
    const WORD: usize = usize::BITS as usize;
    let (w, h) = (image.width() as usize, image.height() as usize);
    let mut matrix = BitMatrix::new(w as u32, h as u32).ok()?;
    let mut row = BitArray::with_size(w);
    for (y, pixels) in image.as_raw().chunks_exact(w).enumerate() {
        for (i, word_pixels) in pixels.chunks(WORD).enumerate() {
            let mut bytes = [0u8; WORD / 8];
            for (j, (group, byte)) in word_pixels.chunks(8).zip(&mut bytes).enumerate() {
                let t = threshold(y, i * (WORD / 8) + j);
                let mut flags = [0u8; 8];
                if let Ok(group) = <&[u8; 8]>::try_from(group) {
                    for k in 0..8 {
                        flags[k] = u8::from(group[k] <= t[k]);
                    }
                } else {
                    for ((flag, &p), &t) in flags.iter_mut().zip(group).zip(&t) {
                        *flag = u8::from(p <= t);
                    }
                }
                // Eight 0/1 bytes to eight bits, lowest byte to lowest bit.
                *byte = (u64::from_le_bytes(flags).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8;
            }
            let mut word = [0u8; size_of::<usize>()];
            word.copy_from_slice(&bytes);
            row.setBulk(i * WORD, usize::from_le_bytes(word));
        }
        matrix.setRow(y as u32, &row);
    }
    Some(matrix)
}

/// One threshold for the whole image (Otsu's method on its histogram; true = black).
pub fn global(image: &GrayImage) -> Option<BitMatrix> {
    let threshold = otsu(image);
    pack(image, |_, _| [threshold; 8])
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
    fn a_flat_image_is_all_light_locally() {
        let flat = GrayImage::from_pixel(64, 64, image::Luma([200]));
        for matrix in [local_average(&flat).expect("matrix"), local_range(&flat).expect("matrix")] {
            assert!((0..64).all(|y| (0..64).all(|x| !matrix.get(x, y))));
        }
        assert!(local_average(&GrayImage::new(0, 0)).is_none());
    }
}
