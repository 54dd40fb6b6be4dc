//! The third-party readers, behind one shape: a prepared image in, raw code bytes out.
//!
//! - [`zxing`]: rxing's port of zxing-cpp's QR detector and decoder, run on our own bit
//!   matrix. It finds every symbol in the frame, and each symbol comes back on its own (rxing's
//!   Java-style multi reader merges a structured-append sequence into one result).
//! - [`quirc`]: rqrr, a port of quirc: a different detector (flood-filled finder regions) that
//!   reads some codes the ZXing line scanner misses. Raw bytes via `decode_to`.
//!
//! Every call into rxing or rqrr goes through `rx` or [`crate::isolate`]: both come from
//! outside and see attacker-controlled pixels, so a panic inside one is "nothing found" for
//! that call. Our own code around them (finder search, guesses, sampling geometry, erasures,
//! Reed–Solomon) runs outside any guard: a panic there is a bug of ours, and the tests and the
//! fuzzers see it.

mod finders;
mod guesses;
mod quirc;
mod symbol;

use std::collections::HashSet;

use image::GrayImage;
use rxing::common::cpp_essentials::{
    ConcentricPattern, FindLeftGuardBy, FixedPattern, IsPattern, LocateConcentricPattern, PatternRow, PatternType,
    PatternView,
};
use rxing::common::{BitArray, BitMatrix, DetectorRXingResult};
use rxing::qrcode::common::VersionRef;
use rxing::qrcode::cpp_port::detector::FinderPatternSet;
use rxing::qrcode::cpp_port::{decoder, detector};
use rxing::qrcode::decoder::{BitMatrixParser, DataBlock};
use rxing::{Point, point};

use crate::reed_solomon;

pub use self::finders::find_finder_patterns;
use self::finders::*;
use self::guesses::*;
pub use self::quirc::quirc;
pub use self::symbol::Tried;
use self::symbol::*;

/// A call into rxing that answers with a `Result`, isolated: `Err(())` when it refused or
/// panicked.
fn rx<T, E>(call: impl FnOnce() -> Result<T, E>) -> Result<T, ()> {
    match crate::isolate(call) {
        Some(Ok(value)) => Ok(value),
        _ => Err(()),
    }
}

/// What a reader found: codes, and whether it saw a sign of a code even when none decoded.
#[derive(Debug, Default)]
pub struct Found {
    /// Raw bytes of each decoded symbol.
    pub codes: Vec<Vec<u8>>,
    /// Where two finder patterns were seen that could be corners of one symbol (a thumb or a
    /// glare spot often hides the third) and that belong to no symbol decoded here: a sign of
    /// a code still unread, and the part of the matrix that such a symbol could cover (every
    /// such pair's, together). `None` when there is no such pair.
    pub finder_pair: Option<Region>,
    /// Whether at least one finder pattern was seen that belongs to no symbol decoded here: a
    /// weaker sign, enough for a cheap second look.
    pub finder_seen: bool,
    /// Where finder patterns of small modules (under [`SMALL_MODULE`] pixels) were seen that
    /// belong to no symbol decoded here and to no pair: everything a symbol with one of them at
    /// a corner could cover. A distant code turned 30–45° often shows one finder in the cheap
    /// views and loses the other two to the blur; a sharpened view finds them.
    pub small_finder: Option<Region>,
    /// Whether a symbol was sampled whose timing patterns held (a real symbol, not texture: at
    /// least 80% of them right) but that did not decode.
    pub symbol_seen: bool,
}

/// A rectangle of a frame or matrix, in pixels (edges may lie outside it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Region {
    /// Left edge.
    pub left: f32,
    /// Top edge.
    pub top: f32,
    /// Right edge.
    pub right: f32,
    /// Bottom edge.
    pub bottom: f32,
}

impl Region {
    /// Everything a symbol with finder patterns `p` and `q` at two of its corners could
    /// cover: adjacent corners put the third a side's length away, opposite ones inside the
    /// pair's bounding box. Generous: the pair's distance plus eight modules on every side.
    fn around_pair(p: &ConcentricPattern, q: &ConcentricPattern) -> Region {
        let module = pair_module(p, q);
        let margin = Point::distance(p.p, q.p) + 8.0 * module;
        Region {
            left: p.p.x.min(q.p.x) - margin,
            top: p.p.y.min(q.p.y) - margin,
            right: p.p.x.max(q.p.x) + margin,
            bottom: p.p.y.max(q.p.y) + margin,
        }
    }

    /// Everything a symbol of up to [`SMALL_REACH`] modules a side with finder pattern `p` at
    /// a corner could cover, turned any way.
    fn around_small(p: &ConcentricPattern) -> Region {
        let reach = SMALL_REACH * p.size as f32 / 7.0;
        Region { left: p.p.x - reach, top: p.p.y - reach, right: p.p.x + reach, bottom: p.p.y + reach }
    }

    /// The smallest region holding both.
    pub fn union(self, other: Region) -> Region {
        Region {
            left: self.left.min(other.left),
            top: self.top.min(other.top),
            right: self.right.max(other.right),
            bottom: self.bottom.max(other.bottom),
        }
    }

    /// The same region in an image `factor` times the size.
    pub fn scaled(self, factor: f32) -> Region {
        Region {
            left: self.left * factor,
            top: self.top * factor,
            right: self.right * factor,
            bottom: self.bottom * factor,
        }
    }
}

/// A finder pattern with modules under this many pixels is a small one ([`Found::small_finder`]).
pub const SMALL_MODULE: f32 = 3.0;

/// How far (in modules) from a small finder pattern a symbol is looked for: the far corner of
/// a version 10 symbol (57 modules) from its finder's centre, diagonally, with room for tilt.
const SMALL_REACH: f32 = 90.0;

/// At most this many small finder patterns left over make a [`Found::small_finder`].
const MAX_SMALL: usize = 2;

/// What the symbols sampled from one matrix have given so far.
#[derive(Default)]
struct Reading {
    codes: Vec<Vec<u8>>,
    /// The finder patterns of the symbols decoded.
    used: Vec<ConcentricPattern>,
    /// [`Found::symbol_seen`].
    symbol_seen: bool,
}

impl Reading {
    /// Decodes the symbol sampled as `bits` (where `seen` says, framed by `patterns`): a code
    /// is kept and its patterns are used; an unread symbol is noted if it surely is one.
    /// Whether it decoded.
    fn decode(
        &mut self,
        tried: &mut Tried,
        bits: &BitMatrix,
        seen: Option<Seen>,
        patterns: &[ConcentricPattern],
    ) -> bool {
        match tried.decode(bits, seen) {
            Some(code) => {
                self.codes.push(code);
                self.used.extend_from_slice(patterns);
                true
            }
            None => {
                self.symbol_seen |= surely_a_symbol(bits);
                false
            }
        }
    }

    /// The symbol a finder-pattern triple frames in `matrix`, sampled and decoded.
    fn sample(
        &mut self,
        tried: &mut Tried,
        matrix: &BitMatrix,
        grey: Option<&GrayImage>,
        set: &FinderPatternSet,
    ) -> bool {
        let Ok(detected) = rx(|| detector::SampleQR(matrix, set)) else { return false };
        let seen = grey.and_then(|grey| Seen::new(grey, detected.getPoints()));
        self.decode(tried, detected.getBits(), seen, &[set.bl, set.tl, set.tr])
    }

    /// Whether a pattern of `set` belongs to a symbol decoded.
    fn uses_any(&self, set: &FinderPatternSet) -> bool {
        [set.bl, set.tl, set.tr].iter().any(|p| self.used.contains(p))
    }
}

/// Every QR symbol the zxing-cpp detector finds in `matrix`. `thorough` scans every third
/// row for finder patterns instead of a step sized for codes up to version 20. When no
/// finder-pattern triple decodes, the matrix is tried as a "pure" code (the symbol alone with
/// a thin quiet zone, as in a screenshot or a tiny crop), which costs next to nothing.
pub fn zxing(matrix: &BitMatrix, grey: Option<&GrayImage>, thorough: bool, tried: &mut Tried) -> Found {
    let finders = find_finder_patterns(matrix, thorough);
    let mut reading = Reading::default();
    let mut attempts = 0;
    // rxing's own triples first (nearest neighbours: every symbol of a multi-code sheet),
    // then all triples (codes among finder-like text), then guessed thirds; the later lists
    // are built only when the earlier ones run out.
    let nearest = crate::isolate(|| detector::GenerateFinderPatternSets(&mut finders.clone())).unwrap_or_default();
    let all = std::iter::once_with(|| finder_sets(&finders)).flatten();
    let guesses = std::iter::once_with(|| third_finder_guesses(&finders)).flatten();
    let sets = nearest.into_iter().chain(all).map(|set| (set, None));
    // The guesses reached, for nudging later.
    let mut reached = Vec::new();
    'sets: for (set, guess) in sets.chain(guesses.map(|guess| (guess.set(guess.at), Some(guess)))) {
        // Triples that share a pattern with a decoded symbol are not tried and not counted:
        // a sheet with two passes must reach the second one's triple.
        if reading.uses_any(&set) {
            continue;
        }
        if let Some(guess) = &guess {
            reached.push(guess.clone());
        }
        // A guessed corner as guessed, then where the matrix looks most like a finder pattern
        // nearby, if that is elsewhere (worked out only when the guess is reached and fails).
        let mut refined = guess.map(|guess| std::iter::once_with(move || guess.refined(matrix)).flatten());
        for set in std::iter::once(set).chain(refined.iter_mut().flatten()) {
            attempts += 1;
            if attempts > MAX_SETS {
                break 'sets;
            }
            if reading.sample(tried, matrix, grey, &set) {
                break;
            }
        }
    }
    // Guessed corners a module or two off, where no finder pattern showed near the guess to
    // refine it to (a washed-out finder, under perspective): tried once every triple has
    // been, every guess a module off before any two.
    if reading.codes.is_empty() {
        let mut nudges = 0;
        let nudged = (1..=NUDGE_RINGS).flat_map(|ring| reached.iter().flat_map(move |guess| guess.nudged(ring)));
        for set in nudged {
            nudges += 1;
            if nudges > MAX_NUDGES {
                break;
            }
            if reading.sample(tried, matrix, grey, &set) {
                break;
            }
        }
    }
    // A hidden top-left finder (a glare spot or a thumb on it): sampled from the other two.
    if reading.codes.is_empty() {
        for (tr, bl, guess) in hidden_top_left_candidates(&finders) {
            attempts += 1;
            if attempts > MAX_SETS {
                break;
            }
            if let Some((bits, points)) = sample_hidden_top_left(matrix, tr, bl, guess)
                && reading.decode(tried, &bits, grey.and_then(|grey| Seen::new(grey, &points)), &[tr, bl])
            {
                break;
            }
        }
    }
    if reading.codes.is_empty()
        && let Ok(detected) = rx(|| detector::DetectPureQR(matrix))
    {
        reading.decode(tried, detected.getBits(), None, &[]);
    }
    // Patterns of decoded symbols explain themselves; a pair among the rest may be another code.
    let rest: Vec<&ConcentricPattern> = finders.iter().filter(|p| !reading.used.contains(*p)).collect();
    let mut finder_pair: Option<Region> = None;
    for (i, p) in rest.iter().enumerate() {
        for q in rest[i + 1..].iter().filter(|q| could_share_a_symbol(p, q)) {
            let region = Region::around_pair(p, q);
            finder_pair = Some(finder_pair.map_or(region, |r| r.union(region)));
        }
    }
    // One or two: a distant symbol shows one or two of its three finders; more than that, and
    // none of them a pair, is texture (printed text at that scale shows dozens).
    let small: Vec<&&ConcentricPattern> = rest.iter().filter(|p| (p.size as f32) < 7.0 * SMALL_MODULE).collect();
    let small_finder = if finder_pair.is_some() || small.len() > MAX_SMALL {
        None
    } else {
        small.iter().map(|p| Region::around_small(p)).reduce(Region::union)
    };
    Found {
        codes: reading.codes,
        finder_pair,
        finder_seen: !rest.is_empty(),
        small_finder,
        symbol_seen: reading.symbol_seen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A matrix with finder-like squares of several sizes, some at the edges (rows that start
    /// and end dark), on a field of random dark blocks (patterns that almost match).
    fn textured(width: u32, height: u32, seed: u64) -> BitMatrix {
        let mut matrix = BitMatrix::new(width, height).expect("matrix");
        let mut state = seed;
        let mut next = move |n: u32| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) % u64::from(n)) as u32
        };
        for _ in 0..width * height / 40 {
            let (x, y, w, h) = (next(width), next(height), 1 + next(6), 1 + next(6));
            for yy in y..(y + h).min(height) {
                for xx in x..(x + w).min(width) {
                    matrix.set(xx, yy);
                }
            }
        }
        let squares = [
            (0, 10, 3),
            (width.saturating_sub(21), 40, 3),
            (30, 30, 4),
            (120, 60, 2),
            (60, height.saturating_sub(14), 2),
            (150, 5, 5),
        ];
        for (left, top, module) in squares {
            for y in 0..7 * module {
                for x in 0..7 * module {
                    let (mx, my) = (x / module, y / module);
                    let ring = mx.min(my).min(6 - mx).min(6 - my);
                    let (px, py) = (left + x, top + y);
                    if px < width && py < height {
                        if ring != 1 {
                            matrix.set(px, py);
                        } else {
                            matrix.unset(px, py);
                        }
                    }
                }
            }
        }
        matrix
    }

    #[test]
    fn run_lengths_match_a_bit_by_bit_count() {
        for seed in 0..20 {
            let matrix = textured(203, 5, seed);
            for y in 0..5 {
                let row = matrix.getRow(y);
                let mut runs = Vec::new();
                run_lengths(&row, &mut runs);
                let (mut expected, mut count, mut dark) = (Vec::new(), 0, false);
                for x in 0..row.get_size() {
                    if row.get(x) != dark {
                        expected.push(count);
                        (count, dark) = (0, !dark);
                    }
                    count += 1;
                }
                expected.push(count);
                if dark {
                    expected.push(0);
                }
                assert_eq!(runs, expected, "seed {seed} row {y}");
            }
        }
    }

    #[test]
    fn finder_patterns_are_those_rxing_finds() {
        let mut total = 0;
        for seed in 0..12 {
            let matrix = textured(240 + 7 * seed as u32, 200, seed);
            for thorough in [false, true] {
                let ours = find_finder_patterns(&matrix, thorough);
                assert_eq!(ours, detector::FindFinderPatterns(&matrix, thorough, 0), "seed {seed}");
                total += ours.len();
            }
        }
        assert!(total >= 12 * 2 * 4, "the drawn finder patterns are found ({total})");
    }

    #[test]
    fn a_symbol_whose_version_information_is_lost_decodes_by_its_size() {
        use rxing::qrcode::common::Version;
        for number in 7..=40 {
            let parsed = Version::decodeVersionInformation(version_information(number)).expect("version information");
            assert_eq!(parsed.getVersionNumber(), number);
        }
        // A version 10 symbol with both copies of its version information garbled (four bits
        // each, past what BCH(18, 6) corrects): unreadable as sampled, read by its size.
        let text: Vec<u8> = (0..200).map(|i| b'a' + (i * 5 % 26) as u8).collect();
        let code = fast_qr::qr::QRBuilder::new(text.clone()).ecl(fast_qr::ECL::M).build().expect("QR code");
        let n = code.size as u32;
        let mut bits = BitMatrix::new(n, n).expect("matrix");
        for i in 0..n * n {
            if code.data[i as usize].value() {
                bits.set(i % n, i / n);
            }
        }
        for k in [0, 4, 8, 13] {
            bits.flip_coords(n - 11 + k % 3, k / 3);
            bits.flip_coords(k / 3, n - 11 + k % 3);
        }
        assert!(BitMatrixParser::new(bits.clone()).expect("parser").readVersion().is_err());
        assert_eq!(decode_symbol(&bits, None), Ok(Some(text)));
        // Below version 7 there is no version information to state.
        assert!(with_version_of_size(&BitMatrix::new(41, 41).expect("matrix")).is_none());
    }

    #[test]
    fn a_washed_band_along_a_timing_pattern_is_read_as_erasures() {
        // Version 5 (seven remainder bits after the last codeword) and version 10 symbols, 4
        // pixels a module, with a lamp's reflection over the top third between the finder patterns:
        // every module there is bright in the grey view and light in the sample, so a quarter
        // of the timing modules and more codewords a block than it corrects as errors are
        // wrong, but they are known erasures.
        let digits: Vec<u8> = (0..200).map(|i| b'0' + (i * 3 % 10) as u8).collect();
        let letters: Vec<u8> = (0..200).map(|i| b'a' + (i * 5 % 26) as u8).collect();
        for (text, size) in [(digits, 37), (letters, 57)] {
            let code = fast_qr::qr::QRBuilder::new(text.clone()).ecl(fast_qr::ECL::M).build().expect("QR code");
            let (n, px, margin) = (code.size as u32, 4u32, 16u32);
            assert_eq!(n, size);
            let washed = |x: u32, y: u32| (8..n - 8).contains(&x) && y < n / 3;
            let mut bits = BitMatrix::new(n, n).expect("matrix");
            let mut grey = GrayImage::from_pixel(n * px + 2 * margin, n * px + 2 * margin, image::Luma([230]));
            for y in 0..n {
                for x in 0..n {
                    let dark = code.data[(y * n + x) as usize].value();
                    if dark && !washed(x, y) {
                        bits.set(x, y);
                    }
                    let value = match (washed(x, y), dark) {
                        (true, _) => 250,
                        (false, true) => 30,
                        (false, false) => 230,
                    };
                    for (dx, dy) in (0..px).flat_map(|dx| (0..px).map(move |dy| (dx, dy))) {
                        grey.put_pixel(margin + x * px + dx, margin + y * px + dy, image::Luma([value]));
                    }
                }
            }
            let right = (8..n - 8).filter(|&i| bits.get(i, 6) == (i % 2 == 0)).count() + (n as usize - 16);
            assert!((100 * right) / (2 * (n as usize - 16)) < 80, "timing patterns {right} right");
            let corner = |x: f32, y: f32| point(margin as f32 + x * px as f32, margin as f32 + y * px as f32);
            let n = n as f32;
            let corners = [corner(0.0, 0.0), corner(n, 0.0), corner(n, n), corner(0.0, n)];
            assert_eq!(decode_symbol(&bits, None), Ok(None), "too many errors without erasures");
            assert_eq!(decode_symbol(&bits, Some(Seen { grey: &grey, corners })), Ok(Some(text)));
        }
    }

    #[test]
    fn doubts_register_to_the_sample_where_the_corners_are_off() {
        // A version 10 symbol drawn 4 pixels a module, clean: hardly a codeword is doubtful,
        // even when the corners the detector reports lie up to two modules off (as where a
        // finder pattern was guessed), as each tile of modules is shifted onto the sample.
        let text: Vec<u8> = (0..200).map(|i| b'A' + (i * 7 % 26) as u8).collect();
        let code = fast_qr::qr::QRBuilder::new(text).ecl(fast_qr::ECL::M).build().expect("QR code");
        let (n, px, margin) = (code.size as u32, 4u32, 16u32);
        let mut bits = BitMatrix::new(n, n).expect("matrix");
        let mut grey = GrayImage::from_pixel(n * px + 2 * margin, n * px + 2 * margin, image::Luma([230]));
        for y in 0..n {
            for x in 0..n {
                if code.data[(y * n + x) as usize].value() {
                    bits.set(x, y);
                    for (dx, dy) in (0..px).flat_map(|dx| (0..px).map(move |dy| (dx, dy))) {
                        grey.put_pixel(margin + x * px + dx, margin + y * px + dy, image::Luma([30]));
                    }
                }
            }
        }
        let mut parser = BitMatrixParser::new(bits.clone()).expect("parser");
        let version = parser.readVersion().expect("version");
        let corner = |x: f32, y: f32| point(margin as f32 + x * px as f32 + 0.5, margin as f32 + y * px as f32 + 0.5);
        let n = n as f32;
        let right = [corner(0.0, 0.0), corner(n, 0.0), corner(n, n), corner(0.0, n)];
        // The bottom-right corner two modules out, the bottom-left one and a half.
        let off = [corner(0.0, 0.0), corner(n + 0.5, 0.0), corner(n + 2.0, n + 2.0), corner(-1.5, n + 1.0)];
        for corners in [right, off] {
            let doubts = codeword_doubts(&bits, version, Seen { grey: &grey, corners }).expect("doubts");
            assert_eq!(doubts.len(), version.getTotalCodewords() as usize);
            // (A tile is shifted as a whole, so a codeword or two at its far side may straddle.)
            let doubtful = doubts.iter().filter(|&&d| d >= 64).count();
            assert!(doubtful <= 4, "{doubtful} doubtful codewords");
        }
    }

    #[test]
    fn guesses_are_nudged_ring_by_ring_along_the_symbols_sides() {
        // A pair along x, 2 pixels a module, the third corner guessed below the first: a ring
        // of radius r holds the 8r points at that many modules, sides and diagonals.
        let pattern = |x: f32, y: f32| ConcentricPattern { p: point(x, y), size: 14 };
        let (p, q) = (pattern(100.0, 100.0), pattern(200.0, 100.0));
        let guess = Guess { pair: [p, q], at: point(100.0, 200.0), axis: point(2.0, 0.0) };
        for ring in 1..=NUDGE_RINGS {
            let thirds: Vec<Point> = guess
                .nudged(ring)
                .map(|set| [set.bl, set.tl, set.tr].into_iter().find(|c| c.p != p.p && c.p != q.p).expect("third").p)
                .collect();
            assert_eq!(thirds.len(), 8 * ring as usize);
            for third in thirds {
                let (dx, dy) = ((third.x - 100.0) / 2.0, (third.y - 200.0) / 2.0);
                assert_eq!(dx.abs().max(dy.abs()), ring as f32, "{third:?}");
                assert_eq!((dx.fract(), dy.fract()), (0.0, 0.0), "whole modules: {third:?}");
            }
        }
    }
}
