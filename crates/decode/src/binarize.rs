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

    pack(image, |y, group| thresholds[(y / BLOCK) * bw + group])
}

/// Builds the bit matrix of `image` (true = black: at or below the threshold of its 8-pixel
/// group, `threshold(y, x / 8)`), without branches: photo noise defeats a branch predictor.
fn pack(image: &GrayImage, threshold: impl Fn(usize, usize) -> u8) -> Option<BitMatrix> {
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
                for (flag, &p) in flags.iter_mut().zip(group) {
                    *flag = u8::from(p <= t);
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
    pack(image, |_, _| threshold)
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
    fn both_binarizers_keep_the_stripes() {
        let image = stripes();
        for matrix in [local_average(&image).expect("matrix"), global(&image).expect("matrix")] {
            for (x, y) in [(1, 1), (9, 30), (17, 60), (90, 5)] {
                assert_eq!(matrix.get(x, y), (x / 4) % 2 == 0, "pixel {x},{y}");
            }
        }
    }

    #[test]
    fn a_flat_image_is_all_light_locally() {
        let flat = GrayImage::from_pixel(64, 64, image::Luma([200]));
        let matrix = local_average(&flat).expect("matrix");
        assert!((0..64).all(|y| (0..64).all(|x| !matrix.get(x, y))));
        assert!(local_average(&GrayImage::new(0, 0)).is_none());
    }
}
