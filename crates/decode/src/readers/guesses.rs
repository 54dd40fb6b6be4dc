//! Symbols with a finder pattern hidden or broken: the third pattern guessed from a pair (and
//! nudged, and refined), and a symbol sampled without its top-left pattern.

use super::*;

/// Pairs of finder patterns tried with a guessed third.
pub(super) const MAX_PAIRS: usize = 6;

/// A finder-pattern triple completed from a pair: where the third pattern is guessed to be.
#[derive(Clone)]
pub(super) struct Guess {
    /// The two patterns seen.
    pub(super) pair: [ConcentricPattern; 2],
    /// Where the third was guessed.
    pub(super) at: Point,
    /// One module along a side of the symbol, as the pair shows it.
    pub(super) axis: Point,
}

impl Guess {
    /// The triple with the third pattern at `at`.
    pub(super) fn set(&self, at: Point) -> FinderPatternSet {
        let [p, q] = self.pair;
        let mut r = p;
        r.p = at;
        ordered(p, q, r)
    }

    /// The triples with the third pattern `ring` modules away from the guess (along the
    /// symbol's sides and diagonals: the square of that radius around it).
    pub(super) fn nudged(&self, ring: i32) -> impl Iterator<Item = FinderPatternSet> + '_ {
        let across = point(-self.axis.y, self.axis.x);
        (-ring..=ring)
            .flat_map(move |j| (-ring..=ring).map(move |i| (i, j)))
            .filter(move |&(i, j)| i.abs().max(j.abs()) == ring)
            .map(move |(i, j)| self.set(self.at + self.axis * i as f32 + across * j as f32))
    }

    /// The triple with the third pattern where the matrix looks most like a finder pattern
    /// near the guess ([`refine_guess`]: perspective puts the true corner modules away), or
    /// `None` when that is the guess itself.
    pub(super) fn refined(&self, matrix: &BitMatrix) -> Option<FinderPatternSet> {
        let at = refine_guess(matrix, self.at, self.axis);
        (at != self.at).then(|| self.set(at))
    }
}

/// Finder-pattern triples completed from pairs: a thumb, a glare spot or a crease often
/// hides one finder pattern (or its quiet zone) while the other two show, and moiré can break
/// the third's centre so that the line scan misses it. For each pair of similar patterns, the
/// third is guessed where it would be if the two were adjacent corners (either side) or
/// opposite corners. A wrong guess fails in sampling or error correction.
pub(super) fn third_finder_guesses(finders: &[ConcentricPattern]) -> Vec<Guess> {
    let mut guesses = Vec::new();
    for (p, q) in likely_pairs(finders) {
        let (dx, dy) = (q.p.x - p.p.x, q.p.y - p.p.y);
        let module = pair_module(&p, &q);
        let length = dx.hypot(dy).max(1.0);
        // The symbol's sides: along the pair for adjacent corners, at 45° to it for opposite ones.
        let side = point(dx / length * module, dy / length * module);
        let diagonal =
            point((side.x - side.y) / std::f32::consts::SQRT_2, (side.x + side.y) / std::f32::consts::SQRT_2);
        let adjacent = [
            point(p.p.x - dy, p.p.y + dx),
            point(p.p.x + dy, p.p.y - dx),
            point(q.p.x - dy, q.p.y + dx),
            point(q.p.x + dy, q.p.y - dx),
        ];
        let axes = [side; 4].into_iter().chain([diagonal; 2]);
        for (at, axis) in adjacent.into_iter().chain(opposite_corners(p, q)).zip(axes) {
            guesses.push(Guess { pair: [p, q], at, axis });
        }
    }
    guesses
}

/// How far from a guessed finder pattern's centre [`refine_guess`] looks, in modules.
pub(super) const REFINE_REACH: i32 = 3;

/// The point within [`REFINE_REACH`] modules of `guess` (in half-module steps) where the
/// matrix best matches a finder pattern: its 7×7 module centres, sampled along `axis` (one
/// module along a side of the symbol) and its perpendicular. `guess` itself unless a point
/// matches at least three quarters of the 49 modules (moiré breaks up a centre, perspective
/// shrinks the far side) and more than `guess` does.
pub(super) fn refine_guess(matrix: &BitMatrix, guess: Point, axis: Point) -> Point {
    const MODULES: u32 = 49;
    // Three quarters of them, rounded up.
    const ENOUGH: u32 = 37;
    let across = point(-axis.y, axis.x);
    let (width, height) = (matrix.getWidth() as f32, matrix.getHeight() as f32);
    // The modules matched at `centre`, or `None` as soon as it cannot beat `beat`.
    let score = |centre: Point, beat: u32| -> Option<u32> {
        let mut misses = 0;
        for j in -3i32..=3 {
            for i in -3i32..=3 {
                let at = centre + axis * i as f32 + across * j as f32;
                // Dark centre and outer ring, light ring between.
                let dark = i.abs().max(j.abs()) != 2;
                let inside = (0.0..width).contains(&at.x) && (0.0..height).contains(&at.y);
                misses += u32::from(!inside || matrix.get(at.x as u32, at.y as u32) != dark);
                if MODULES - misses <= beat {
                    return None;
                }
            }
        }
        Some(MODULES - misses)
    };
    let (mut best, mut best_score) = (guess, score(guess, 0).unwrap_or(0).max(ENOUGH - 1));
    for b in -2 * REFINE_REACH..=2 * REFINE_REACH {
        for a in -2 * REFINE_REACH..=2 * REFINE_REACH {
            let at = guess + axis * (a as f32 / 2.0) + across * (b as f32 / 2.0);
            if let Some(s) = score(at, best_score) {
                (best, best_score) = (at, s);
            }
        }
    }
    best
}

/// The pairs of similar finder patterns worth a guess: among the 8 largest, at most
/// [`MAX_PAIRS`], so texture with many finder-like patterns does not buy many samplings.
pub(super) fn likely_pairs(finders: &[ConcentricPattern]) -> Vec<(ConcentricPattern, ConcentricPattern)> {
    let mut patterns = finders.to_vec();
    patterns.sort_by_key(|p| std::cmp::Reverse(p.size));
    patterns.truncate(8);
    let mut pairs = Vec::new();
    for (i, p) in patterns.iter().enumerate() {
        for q in &patterns[i + 1..] {
            if pairs.len() < MAX_PAIRS && could_share_a_symbol(p, q) {
                pairs.push((*p, *q));
            }
        }
    }
    pairs
}

/// Where the third corner of a square is when `p` and `q` are opposite corners: either side
/// of the diagonal.
pub(super) fn opposite_corners(p: ConcentricPattern, q: ConcentricPattern) -> [Point; 2] {
    let (dx, dy) = (q.p.x - p.p.x, q.p.y - p.p.y);
    let (mx, my) = ((p.p.x + q.p.x) / 2.0, (p.p.y + q.p.y) / 2.0);
    [point(mx - dy / 2.0, my + dx / 2.0), point(mx + dy / 2.0, my - dx / 2.0)]
}

/// Pairs of similar finder patterns taken as the top-right and bottom-left corners of a symbol
/// whose top-left pattern is hidden, with a first guess of where the top-left one would be
/// (either side of the diagonal).
pub(super) fn hidden_top_left_candidates(
    finders: &[ConcentricPattern],
) -> Vec<(ConcentricPattern, ConcentricPattern, Point)> {
    let mut out = Vec::new();
    for (p, q) in likely_pairs(finders) {
        for guess in opposite_corners(p, q) {
            let mut tl = p;
            tl.p = guess;
            let set = ordered(p, q, tl);
            out.push((set.tr, set.bl, guess));
        }
    }
    out
}

/// Samples a symbol whose top-left finder pattern cannot be seen. zxing-cpp's `SampleQR`
/// measures the module size along the top and left edges starting from the top-left pattern,
/// so it gives up. Here the top-left corner is where the top edge through the top-right pattern
/// meets the left edge through the bottom-left one (each edge's direction from that pattern's
/// own outline; `guess` when an outline is not found), the module size is measured across
/// both patterns along the diagonal, and the grid comes from that parallelogram, corrected by
/// the bottom-right alignment pattern where there is one. A wrong guess fails in error
/// correction like any other.
pub(super) fn sample_hidden_top_left(
    matrix: &BitMatrix,
    tr: ConcentricPattern,
    bl: ConcentricPattern,
    guess: Point,
) -> Option<(BitMatrix, [Point; 4])> {
    use rxing::common::{DefaultGridSampler, GridSampler, Quadrilateral, SamplerControl};

    let tl = top_left_from_edges(matrix, tr, bl, guess).unwrap_or(guess);
    let across =
        |a: ConcentricPattern, b: ConcentricPattern| crate::isolate(|| detector::EstimateModuleSize(matrix, a, b));
    let diagonal_module = match (across(tr, bl), across(bl, tr)) {
        (Some(a), Some(b)) if a > 0.0 && b > 0.0 => (a + b) / 2.0,
        // Along the diagonal a module measures √2 of its side.
        _ => f64::from(tr.size + bl.size) / 14.0 * std::f64::consts::SQRT_2,
    };
    let span = f64::from(Point::distance(tr.p, bl.p)) / diagonal_module + 7.0;
    let version = ((span - 17.0) / 4.0).round().clamp(1.0, 40.0) as i32;
    let dimension = 17 + 4 * version;
    let br = tr.p + bl.p - tl;
    let mut transform =
        rx(|| detector::Mod2Pix(dimension, point(0.0, 0.0), Quadrilateral::from([tl, tr.p, br, bl.p]))).ok()?;
    if version > 1 {
        // The bottom-right alignment pattern's centre is 6.5 modules in from that corner.
        let module = (diagonal_module / std::f64::consts::SQRT_2 + 1.0) as i32;
        let centre = dimension as f32 - 6.5;
        let predicted = crate::isolate(|| transform.transform_point(point(centre, centre)))?;
        if let Some(found) = crate::isolate(|| detector::LocateAlignmentPattern(matrix, module, predicted)).flatten()
            && let Ok(better) =
                rx(|| detector::Mod2Pix(dimension, point(3.0, 3.0), Quadrilateral::from([tl, tr.p, found, bl.p])))
        {
            transform = better;
        }
    }
    let control = SamplerControl { p0: point(0.0, 0.0), p1: point(dimension as f32, dimension as f32), transform };
    rx(|| DefaultGridSampler.sample_grid(matrix, dimension as u32, dimension as u32, &[control])).ok()
}

/// Where the top edge through `tr` meets the left edge through `bl`, each edge's direction
/// taken from that finder pattern's outline (the side closer to parallel with the line from
/// `guess`); `None` when an outline is not found or the result strays far from `guess`.
pub(super) fn top_left_from_edges(
    matrix: &BitMatrix,
    tr: ConcentricPattern,
    bl: ConcentricPattern,
    guess: Point,
) -> Option<Point> {
    use rxing::common::cpp_essentials::FindConcentricPatternCorners;
    let side = |pattern: ConcentricPattern| -> Option<Point> {
        let quad = crate::isolate(|| FindConcentricPatternCorners(matrix, pattern.p, pattern.size, 2)).flatten()?;
        let towards = pattern.p - guess;
        let (a, b) = (quad.0[1] - quad.0[0], quad.0[2] - quad.0[1]);
        let along = |d: Point| {
            (d.x * towards.x + d.y * towards.y).abs() / (d.x.hypot(d.y) * towards.x.hypot(towards.y)).max(1e-6)
        };
        Some(if along(a) >= along(b) { a } else { b })
    };
    let (h, v) = (side(tr)?, side(bl)?);
    // tr + s·h = bl + t·v
    let det = h.x * (-v.y) - h.y * (-v.x);
    if det.abs() < 1e-6 {
        return None;
    }
    let (rx, ry) = (bl.p.x - tr.p.x, bl.p.y - tr.p.y);
    let s = (rx * (-v.y) - ry * (-v.x)) / det;
    let tl = point(tr.p.x + s * h.x, tr.p.y + s * h.y);
    (Point::distance(tl, guess) < 0.25 * Point::distance(tr.p, bl.p)).then_some(tl)
}
