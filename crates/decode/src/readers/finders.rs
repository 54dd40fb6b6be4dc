//! Finding finder patterns: the row scan (rxing's pattern walker, isolated row by row), the
//! plausible triples, and whether two patterns could share a symbol.

use super::*;

/// The finder pattern's module widths across its centre: dark, light, dark ×3, light, dark.
pub(super) const FINDER: FixedPattern<5, 7> = FixedPattern::new([1, 1, 3, 1, 1]);

/// Every finder pattern zxing-cpp's detector finds in `matrix`: rxing's `FindFinderPatterns`
/// step for step, except that each scanned row is run-length encoded a machine word (64
/// pixels) at a time (rxing reads it a bit at a time, which was a quarter of the time spent on
/// a frame without a code). A test checks that both find the same patterns.
pub fn find_finder_patterns(matrix: &BitMatrix, thorough: bool) -> Vec<ConcentricPattern> {
    // Rows are scanned with a step that still crosses a version 20 code's finder centre three
    // times when the code fills a quarter of the frame's height; `thorough` scans every third row.
    const MAX_MODULES_FAST: u32 = 20 * 4 + 17;
    let height = matrix.getHeight();
    let skip = if thorough { 3 } else { (3 * height / (4 * MAX_MODULES_FAST)).max(3) };
    let mut found: Vec<ConcentricPattern> = Vec::new();
    let mut runs = Vec::with_capacity(matrix.getWidth() as usize / 4);
    let mut y = skip - 1;
    while y < height {
        run_lengths(&matrix.getRow(y), &mut runs);
        let row = PatternRow::new(std::mem::take(&mut runs));
        // rxing's pattern walker over one row, isolated as one call (a panic loses that row).
        crate::isolate(|| scan_row(matrix, &row, y, &mut found));
        runs = row.into_iter().collect();
        y += skip;
    }
    found
}

/// The finder patterns rxing's walker finds along one row's runs, added to `found`.
pub(super) fn scan_row(matrix: &BitMatrix, row: &PatternRow, y: u32, found: &mut Vec<ConcentricPattern>) {
    let mut next = PatternView::new(row);
    while let Ok(view) = FindLeftGuardBy::<5, _>(next, 5, |view: &PatternView, space: Option<f32>| {
        // A quick 1:1:3:1:1 test before the exact one.
        let bar = |i: usize| view[i];
        bar(2) >= 3
            && bar(2) >= 2 * bar(0).max(bar(4))
            && bar(2) >= bar(1).max(bar(3))
            && IsPattern::<true, 5, 7, false>(view, &FINDER, space, 0.1, 0.0, 0.0) != 0.0
    }) {
        next = view;
        if !next.isValid() {
            break;
        }
        let centre = point(
            f32::from(next.pixelsInFront())
                + f32::from(next[0usize])
                + f32::from(next[1usize])
                + f32::from(next[2usize]) / 2.0,
            y as f32 + 0.5,
        );
        // Not inside a pattern already found.
        if !found.iter().any(|old| Point::distance(centre, old.p) < old.size as f32 / 2.0) {
            let range = i32::from(next.iter().sum::<PatternType>()) * 3; // 3 for very skewed samples
            if let Some(pattern) = LocateConcentricPattern::<true, 5, 7>(matrix, &FINDER.into(), centre, range) {
                found.push(pattern);
            }
        }
        next.skipPair();
        next.skipPair();
        next.extend();
    }
}

/// The run lengths of a row, light first (0 when the row starts dark), ending with a 0 when the
/// row ends dark: the layout of rxing's `PatternRow`.
pub(super) fn run_lengths(row: &BitArray, runs: &mut Vec<PatternType>) {
    runs.clear();
    let size = row.get_size();
    let (mut at, mut dark) = (0, false);
    while at < size {
        let end = if dark { row.getNextUnset(at) } else { row.getNextSet(at) };
        runs.push((end - at) as PatternType);
        (at, dark) = (end, !dark);
    }
    // `dark` is now the colour after the last run.
    if size > 0 && !dark {
        runs.push(0);
    }
}

/// Finder patterns considered (the largest first): enough for a page of text around a code.
pub(super) const MAX_PATTERNS: usize = 120;
/// Finder-pattern triples sampled and decoded (guesses included), the most plausible first.
pub(super) const MAX_SETS: usize = 96;
/// How far guessed corners are nudged, in modules ([`Guess::nudged`]).
pub(super) const NUDGE_RINGS: i32 = 2;
/// Nudged triples sampled and decoded at most, after every triple has been.
pub(super) const MAX_NUDGES: usize = 2 * MAX_SETS;

/// Plausible finder-pattern triples, most plausible first: zxing-cpp's rules (similar sizes,
/// 21 to 265 modules across, a corner between 60° and 120°, scored by how square the triple
/// is) over every triple. rxing 0.9 only pairs each pattern with its 15 nearest neighbours,
/// which misses the code on a printed pass whose text forms finder-like patterns nearby.
pub(super) fn finder_sets(finders: &[ConcentricPattern]) -> Vec<FinderPatternSet> {
    let mut patterns = finders.to_vec();
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

/// The module size two finder patterns show, in pixels: each is seven modules across.
pub(super) fn pair_module(p: &ConcentricPattern, q: &ConcentricPattern) -> f32 {
    (p.size + q.size) as f32 / 14.0
}

/// Whether two finder patterns could be two corners of one symbol: sizes within a factor of
/// two, and 14 to 250 module widths apart (adjacent corners of version 1 to opposite corners
/// of version 40, with room for perspective).
pub(super) fn could_share_a_symbol(p: &ConcentricPattern, q: &ConcentricPattern) -> bool {
    let (dx, dy) = (q.p.x - p.p.x, q.p.y - p.p.y);
    let modules = (dx * dx + dy * dy).sqrt() / pair_module(p, q);
    2 * p.size.min(q.size) >= p.size.max(q.size) && (14.0..=250.0).contains(&modules)
}

/// Orders three finder patterns as zxing-cpp expects: `tl` at the right-angle corner, then
/// `bl` and `tr` by handedness.
pub(super) fn ordered(x: ConcentricPattern, y: ConcentricPattern, z: ConcentricPattern) -> FinderPatternSet {
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
