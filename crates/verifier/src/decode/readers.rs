//! The third-party readers, behind one shape: a prepared image in, raw code bytes out.
//!
//! - [`zxing`]: rxing's port of zxing-cpp's QR detector and decoder, run on our own bit
//!   matrix. It finds every symbol in the frame, and each symbol comes back on its own (rxing's
//!   Java-style multi reader merges a structured-append sequence into one result).
//! - [`quirc`]: rqrr, a port of quirc: a different detector (flood-filled finder regions) that
//!   reads some codes the ZXing line scanner misses. Raw bytes via `decode_to`.
//!
//! Callers isolate these (a panic is "nothing found"): both come from outside and see
//! attacker-controlled pixels.

use image::GrayImage;
use rxing::common::cpp_essentials::ConcentricPattern;
use rxing::common::{BitMatrix, DetectorRXingResult};
use rxing::qrcode::cpp_port::detector::FinderPatternSet;
use rxing::qrcode::cpp_port::{decoder, detector};

/// What a reader found: codes, and how many finder patterns it saw (a sign that a code is
/// there even when none decoded).
#[derive(Debug, Default)]
pub struct Found {
    /// Raw bytes of each decoded symbol.
    pub codes: Vec<Vec<u8>>,
    /// Finder patterns seen.
    pub finders: usize,
}

/// Every QR symbol the zxing-cpp detector finds in `matrix`. `thorough` scans every third
/// row for finder patterns instead of a step sized for codes up to version 20. When no
/// finder-pattern triple decodes, the matrix is tried as a "pure" code (the symbol alone with
/// a thin quiet zone, as in a screenshot or a tiny crop), which costs next to nothing.
pub fn zxing(matrix: &BitMatrix, thorough: bool) -> Found {
    let finders = detector::FindFinderPatterns(matrix, thorough, 0);
    let seen = finders.len();
    let mut used = Vec::new();
    let mut codes = Vec::new();
    let mut attempts = 0;
    let guesses = third_finder_guesses(&finders);
    // rxing's own triples first (nearest neighbours: every symbol of a multi-code sheet),
    // then all triples (codes among finder-like text), then guessed thirds.
    let nearest = detector::GenerateFinderPatternSets(&mut finders.clone());
    for set in nearest.into_iter().chain(finder_sets(finders)).chain(guesses) {
        // Triples that share a pattern with a decoded symbol are not tried and not counted:
        // a sheet with two passes must reach the second one's triple.
        if used.contains(&set.bl) || used.contains(&set.tl) || used.contains(&set.tr) {
            continue;
        }
        attempts += 1;
        if attempts > MAX_SETS {
            break;
        }
        let Ok(detected) = detector::SampleQR(matrix, &set) else { continue };
        let Ok(decoded) = decoder::Decode(detected.getBits()) else { continue };
        if decoded.isValid() {
            used.extend([set.bl, set.tl, set.tr]);
            codes.push(decoded.content().bytes().to_vec());
        }
    }
    if codes.is_empty()
        && let Ok(detected) = detector::DetectPureQR(matrix)
        && let Ok(decoded) = decoder::Decode(detected.getBits())
        && decoded.isValid()
    {
        codes.push(decoded.content().bytes().to_vec());
    }
    Found { codes, finders: seen }
}

/// Finder patterns considered (the largest first): enough for a page of text around a code.
const MAX_PATTERNS: usize = 120;
/// Finder-pattern triples sampled and decoded (guesses included), the most plausible first.
const MAX_SETS: usize = 96;

/// Plausible finder-pattern triples, most plausible first: zxing-cpp's rules (similar sizes,
/// 21 to 265 modules across, a corner between 60° and 120°, scored by how square the triple
/// is) over every triple. rxing 0.9 only pairs each pattern with its 15 nearest neighbours,
/// which misses the code on a printed pass whose text forms finder-like patterns nearby.
fn finder_sets(mut patterns: Vec<ConcentricPattern>) -> Vec<FinderPatternSet> {
    patterns.sort_by_key(|p| std::cmp::Reverse(p.size));
    patterns.truncate(MAX_PATTERNS);
    // Squared distance, weighted by the size ratio as zxing-cpp does.
    let dist2 = |a: &ConcentricPattern, b: &ConcentricPattern| {
        let (dx, dy) = (f64::from(a.p.x - b.p.x), f64::from(a.p.y - b.p.y));
        (dx * dx + dy * dy) * (f64::from(b.size) / f64::from(a.size.max(1)))
    };
    let (cos_upper, cos_lower) = (60f64.to_radians().cos(), 120f64.to_radians().cos());
    let mut sets: Vec<(f64, FinderPatternSet)> = Vec::new();
    let n = patterns.len();
    for i in 0..n {
        for j in i + 1..n {
            if patterns[i].size > 2 * patterns[j].size {
                break;
            }
            for k in j + 1..n {
                if patterns[i].size > 2 * patterns[k].size {
                    break;
                }
                let (mut a, mut b, mut c) = (patterns[k], patterns[j], patterns[i]);
                let (mut ab, mut bc, mut ac) = (dist2(&a, &b), dist2(&b, &c), dist2(&a, &c));
                // b is the corner: opposite the longest side.
                if bc >= ab && bc >= ac {
                    std::mem::swap(&mut a, &mut b);
                    std::mem::swap(&mut bc, &mut ac);
                } else if ab >= ac && ab >= bc {
                    std::mem::swap(&mut b, &mut c);
                    std::mem::swap(&mut ab, &mut ac);
                }
                if ab > 4.0 * bc || bc > 4.0 * ab {
                    continue;
                }
                let (d_ab, d_bc) = (ab.sqrt(), bc.sqrt());
                let modules = (d_ab + d_bc) / (2.0 * f64::from(a.size + b.size + c.size) / 21.0) + 7.0;
                if !(21.0 * 0.9..=177.0 * 1.5).contains(&modules) {
                    continue;
                }
                let cos = (ab + bc - ac) / (2.0 * d_ab * d_bc);
                if cos.is_nan() || cos > cos_upper || cos < cos_lower {
                    continue;
                }
                let cross = (c.p.x - b.p.x) * (a.p.y - b.p.y) - (c.p.y - b.p.y) * (a.p.x - b.p.x);
                if cross < 0.0 {
                    std::mem::swap(&mut a, &mut c);
                }
                sets.push((d_ab + d_bc + (d_ab - d_bc).abs(), FinderPatternSet { bl: a, tl: b, tr: c }));
            }
        }
    }
    sets.sort_by(|x, y| x.0.total_cmp(&y.0));
    sets.into_iter().map(|(_, set)| set).collect()
}

/// Pairs of finder patterns tried with a guessed third.
const MAX_PAIRS: usize = 6;

/// Finder-pattern triples completed from pairs: a thumb, a glare spot or a crease often
/// hides one finder pattern (or its quiet zone) while the other two show. For each pair of
/// similar patterns, the third is guessed where it would be if the two were adjacent corners
/// (either side) or opposite corners. A wrong guess fails in sampling or error correction.
fn third_finder_guesses(finders: &[ConcentricPattern]) -> Vec<FinderPatternSet> {
    let mut patterns = finders.to_vec();
    patterns.sort_by_key(|p| std::cmp::Reverse(p.size));
    patterns.truncate(8);
    let mut guesses = Vec::new();
    let mut pairs = 0;
    for (i, p) in patterns.iter().enumerate() {
        for q in &patterns[i + 1..] {
            let (dx, dy) = (q.p.x - p.p.x, q.p.y - p.p.y);
            let modules = (dx * dx + dy * dy).sqrt() / (f64::from(p.size + q.size) as f32 / 14.0);
            if 2 * p.size.min(q.size) < p.size.max(q.size) || !(14.0..=250.0).contains(&modules) || pairs == MAX_PAIRS {
                continue;
            }
            pairs += 1;
            let at = |x: f32, y: f32| {
                let mut r = *p;
                r.p.x = x;
                r.p.y = y;
                r
            };
            let (mx, my) = ((p.p.x + q.p.x) / 2.0, (p.p.y + q.p.y) / 2.0);
            let thirds = [
                at(p.p.x - dy, p.p.y + dx),
                at(p.p.x + dy, p.p.y - dx),
                at(q.p.x - dy, q.p.y + dx),
                at(q.p.x + dy, q.p.y - dx),
                at(mx - dy / 2.0, my + dx / 2.0),
                at(mx + dy / 2.0, my - dx / 2.0),
            ];
            for r in thirds {
                guesses.push(ordered(*p, *q, r));
            }
        }
    }
    guesses
}

/// Orders three finder patterns as zxing-cpp expects: `tl` at the right-angle corner, then
/// `bl` and `tr` by handedness.
fn ordered(x: ConcentricPattern, y: ConcentricPattern, z: ConcentricPattern) -> FinderPatternSet {
    let d2 = |a: &ConcentricPattern, b: &ConcentricPattern| (a.p.x - b.p.x).powi(2) + (a.p.y - b.p.y).powi(2);
    let (xy, yz, xz) = (d2(&x, &y), d2(&y, &z), d2(&x, &z));
    let (mut a, b, mut c) = if xz >= xy && xz >= yz {
        (x, y, z)
    } else if xy >= yz {
        (x, z, y)
    } else {
        (y, x, z)
    };
    let cross = (c.p.x - b.p.x) * (a.p.y - b.p.y) - (c.p.y - b.p.y) * (a.p.x - b.p.x);
    if cross < 0.0 {
        std::mem::swap(&mut a, &mut c);
    }
    FinderPatternSet { bl: a, tl: b, tr: c }
}

/// Every QR symbol rqrr finds in the grey image.
pub fn quirc(image: &GrayImage) -> Found {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let pixels = image.as_raw();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
    let grids = prepared.detect_grids();
    let codes = grids
        .into_iter()
        .filter_map(|grid| {
            let mut bytes = Vec::new();
            grid.decode_to(&mut bytes).ok().map(|_| bytes)
        })
        .collect();
    Found { codes, finders: 0 }
}
