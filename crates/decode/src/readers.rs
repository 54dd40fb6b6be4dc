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

use crate::reed_solomon;
use rxing::{Point, point};

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

/// Sampled symbols that did not decode, kept for one frame: the views of a frame often sample
/// the same symbol bit for bit (a damaged code seen by every strategy), and Reed–Solomon
/// decoding it again would fail again. Most of the time spent on a small frame with an
/// unreadable code was such repeats.
#[derive(Debug, Default)]
pub struct Tried(HashSet<BitMatrix>);

impl Tried {
    /// Decodes `bits` unless the same bits already failed; a failure is remembered. `seen`:
    /// where the symbol lies in the grey view, for its washed-out modules ([`decode_symbol`]).
    fn decode(&mut self, bits: &BitMatrix, seen: Option<Seen>) -> Option<Vec<u8>> {
        if self.0.contains(bits) {
            return None;
        }
        let code = match decode_symbol(bits, seen) {
            Ok(code) => code,
            // Not readable as an upright QR code (a mirrored one, say): rxing's own decoder.
            Err(()) => rx(|| decoder::Decode(bits))
                .ok()
                .and_then(|d| crate::isolate(|| d.isValid().then(|| d.content().bytes().to_vec())).flatten()),
        };
        if code.is_none() {
            self.0.insert(bits.clone());
        }
        code
    }
}

/// Decodes a sampled symbol: rxing reads its format, version and codewords, our
/// [`reed_solomon`] corrects each block (rxing's took a sixth of a typical read, and most of
/// a failed one), rxing parses the bit stream. `Ok(None)`: a block has too many errors.
/// `Err`: the symbol could not be read this way at all.
///
/// A block that does not correct on its own is tried again with erasures, when `seen` says
/// where the symbol lies in the grey view and its timing patterns hold (≥ 70% right: a real
/// symbol, not texture that happens to parse): first the codewords of its **washed-out**
/// modules (a lamp mirrored on a phone's glass or a glare spot leaves an area where even dark
/// modules are bright, and there the binarizer's guesses are mostly wrong), then ever more of
/// its most **doubtful** ones, whose grey values lie nearest the other colour
/// ([`codeword_doubts`]). Reed–Solomon corrects twice as many erasures as errors, so a block a
/// few codewords past its reach can come back; [`reed_solomon::MIN_SPARE`] bounds the erasures
/// a block may have.
fn decode_symbol(bits: &BitMatrix, seen: Option<Seen>) -> Result<Option<Vec<u8>>, ()> {
    let mut parser = rx(|| BitMatrixParser::new(bits.clone()))?;
    // Both copies of the version information unreadable (a lamp mirrored over the top-right
    // finder, say): the size the symbol was sampled at says the version all the same.
    if rx(|| parser.readVersion()).is_err()
        && let Some(stated) = with_version_of_size(bits)
    {
        parser = rx(|| BitMatrixParser::new(stated))?;
    }
    let erasures = seen.map(|seen| {
        move |version: VersionRef| timing_patterns_hold(bits).then(|| codeword_doubts(bits, version, seen)).flatten()
    });
    if let Some(code) = decode_parsed(&mut parser, erasures.as_ref().map(|f| f as Erasures))? {
        return Ok(Some(code));
    }
    // Read upright but too damaged: perhaps seen from behind (through glass, or in a mirror),
    // as zxing's decoder tries. A mirrored reading that fails is the end of it; rxing's own
    // decoder would only repeat the same work.
    Ok(decode_mirrored(&mut parser).unwrap_or(None))
}

/// `bits` with its version information (versions 7 and up) rewritten to state the version of
/// its size. rxing accepts version information only when it states that size, so it is a check,
/// not a source: the sampling grid was already laid out for the size, and where the guess was
/// wrong the codewords are noise that Reed–Solomon refuses. `None` for a size without version
/// information.
fn with_version_of_size(bits: &BitMatrix) -> Option<BitMatrix> {
    let n = bits.getWidth();
    let number = n.checked_sub(17)? / 4;
    if !(7..=40).contains(&number) || n != 17 + 4 * number || bits.getHeight() != n {
        return None;
    }
    let info = version_information(number);
    let mut stated = bits.clone();
    // Bit k of the 18 lies in the 3×6 block left of the top-right finder at column n − 11 + k % 3,
    // row k / 3, and transposed in the block above the bottom-left finder.
    for k in 0..18 {
        let (across, down) = (n - 11 + k % 3, k / 3);
        for (x, y) in [(across, down), (down, across)] {
            if stated.get(x, y) != (info >> k & 1 == 1) {
                stated.flip_coords(x, y);
            }
        }
    }
    Some(stated)
}

/// The 18-bit version information of version `number`: the number in the top six bits, then
/// the remainder of its multiple of x¹² divided by the BCH(18, 6) generator (ISO/IEC 18004 annex D).
fn version_information(number: u32) -> u32 {
    const GENERATOR: u32 = 0x1F25;
    let mut remainder = number << 12;
    for bit in (12..18).rev() {
        if remainder >> bit & 1 == 1 {
            remainder ^= GENERATOR << (bit - 12);
        }
    }
    number << 12 | remainder
}

/// The symbol `parser` has read upright, read again mirrored.
fn decode_mirrored(parser: &mut BitMatrixParser) -> Result<Option<Vec<u8>>, ()> {
    rx(|| parser.remask())?;
    parser.setMirror(true);
    rx(|| parser.readVersion())?;
    rx(|| parser.readFormatInformation())?;
    crate::isolate(|| parser.mirror()).ok_or(())?;
    decode_parsed(parser, None)
}

/// Given a symbol's version, how much to doubt each codeword, in reading order
/// ([`codeword_doubts`]).
type Erasures<'a> = &'a dyn Fn(VersionRef) -> Option<Vec<u8>>;

/// The codeword-level reading of [`decode_symbol`]. `erasures` says how much to doubt each
/// codeword; it is asked only once a block fails, and at most once. A block that fails on its
/// own is corrected with its washed-out codewords as erasures, then with ever more of its most
/// doubtful ones, two at a time (generalised minimum-distance decoding), while at least
/// [`reed_solomon::MIN_SPARE`] error-correction codewords remain beyond the erasures.
fn decode_parsed(parser: &mut BitMatrixParser, erasures: Option<Erasures>) -> Result<Option<Vec<u8>>, ()> {
    let level = rx(|| parser.readFormatInformation())?.getErrorCorrectionLevel();
    let version = rx(|| parser.readVersion())?;
    let codewords = rx(|| parser.readCodewords())?;
    let blocks = rx(|| DataBlock::getDataBlocks(&codewords, version, level))?;
    let mut erasures = erasures;
    let mut doubts: Option<Vec<DataBlock>> = None;
    let mut data = Vec::with_capacity(codewords.len());
    for (i, block) in blocks.iter().enumerate() {
        let mut words = block.getCodewords().to_vec();
        let data_len = block.getNumDataCodewords() as usize;
        let ec = words.len().saturating_sub(data_len);
        if reed_solomon::correct(&mut words, ec).is_err() {
            if let Some(doubt) = erasures.take().and_then(|erasures| erasures(version)) {
                doubts = rx(|| DataBlock::getDataBlocks(&doubt, version, level)).ok();
            }
            let Some(doubt) = doubts.as_ref().and_then(|d| d.get(i)).map(|d| d.getCodewords()) else {
                return Ok(None);
            };
            // Most doubtful first (the washed-out ones lead), in reading order among equals.
            let mut order: Vec<usize> = (0..doubt.len().min(words.len())).collect();
            order.sort_by_key(|&p| std::cmp::Reverse(doubt[p]));
            let washed = order.iter().filter(|&&p| doubt[p] == WASHED).count();
            let most = ec.saturating_sub(reed_solomon::MIN_SPARE).min(order.len());
            let counts = (washed > 0).then_some(washed).into_iter().chain((washed + 2..=most).step_by(2));
            let corrected = counts.into_iter().find_map(|f| {
                let mut tried = words.clone();
                reed_solomon::correct_with_erasures(&mut tried, ec, &order[..f]).is_ok().then_some(tried)
            });
            let Some(corrected) = corrected else { return Ok(None) };
            words = corrected;
        }
        data.extend_from_slice(&words[..data_len.min(words.len())]);
    }
    Ok(rx(|| decoder::DecodeBitStream(&data, version, level))
        .ok()
        .and_then(|d| crate::isolate(|| d.isValid().then(|| d.content().bytes().to_vec())).flatten()))
}

/// Where a sampled symbol lies in the grey view its bit matrix was made from.
#[derive(Clone, Copy)]
struct Seen<'a> {
    grey: &'a GrayImage,
    /// The symbol's outer corners in the view: top left, top right, bottom right, bottom left.
    corners: [Point; 4],
}

impl<'a> Seen<'a> {
    /// From a detector's result points (rxing's order: top left, top right, bottom left,
    /// bottom right).
    fn new(grey: &'a GrayImage, points: &[Point]) -> Option<Seen<'a>> {
        match points {
            &[tl, tr, bl, br] => Some(Seen { grey, corners: [tl, tr, br, bl] }),
            _ => None,
        }
    }
}

/// The percentage of the sampled timing-pattern modules (row and column 6 between the finder
/// patterns, alternating dark and light) that are right: about half on texture sampled as if
/// it were a symbol, all of them on a clean symbol; 0 below version 1's size.
fn timing_right(bits: &BitMatrix) -> usize {
    let n = bits.getWidth();
    if n < 21 {
        return 0;
    }
    let span = 8..n - 8;
    let right = span.clone().filter(|&i| bits.get(i, 6) == (i % 2 == 0)).count()
        + span.clone().filter(|&i| bits.get(6, i) == (i % 2 == 0)).count();
    100 * right / (2 * span.len())
}

/// Whether at least 70% of the sampled timing-pattern modules are right ([`timing_right`]):
/// the sample is registered on a real symbol, not on texture. Not 80%: a lamp mirrored along
/// one timing pattern leaves a quarter of them wrong on a symbol that erasures read (five
/// frames of the harder sets), and the erasures keep [`reed_solomon::MIN_SPARE`] codewords in
/// hand.
fn timing_patterns_hold(bits: &BitMatrix) -> bool {
    timing_right(bits) >= 70
}

/// Whether an unread symbol's timing patterns are right enough (80%) to be sure it is one
/// ([`Found::symbol_seen`]): of the many samples tried on finder-like texture (guesses,
/// nudges), one often reaches 70% by chance (a test has such texture).
fn surely_a_symbol(bits: &BitMatrix) -> bool {
    timing_right(bits) >= 80
}

/// The doubt of a washed-out codeword ([`codeword_doubts`]): the most there is.
const WASHED: u8 = u8::MAX;

/// How much to doubt each codeword of the symbol sampled as `bits`, in reading order, from
/// its modules' grey values in the view where it was seen (`seen`, registered onto the sample
/// tile by tile): [`WASHED`] when one of its modules lies in a washed-out area (a lamp mirrored
/// on a phone's glass, a glare spot: no module within two modules of it is darker than halfway
/// between the symbol's dark and light levels, the 20th and 90th percentiles of its module
/// centres; anywhere else a 5×5 neighbourhood of a QR symbol holds a dark module). Otherwise
/// the largest doubt of its modules, from 1 (the grey value as dark or as light as the
/// darkest or lightest module within two, on the sample's side of their midpoint) to 253 (as
/// far on the other side): moiré fringes and bloom pull modules towards that midpoint and
/// past it. `None` when the symbol shows too little contrast to tell.
fn codeword_doubts(bits: &BitMatrix, version: VersionRef, seen: Seen) -> Option<Vec<u8>> {
    use rxing::common::{PerspectiveTransform, Quadrilateral};
    let n = bits.getWidth();
    let size = n as usize;
    let to_view = rx(|| {
        let modules = Quadrilateral::rectangle_from_xy(0.0, n as f32, 0.0, n as f32, Some(0.0));
        PerspectiveTransform::quadrilateralToQuadrilateral(modules, Quadrilateral(seen.corners))
    })
    .ok()?;
    let (w, h) = (seen.grey.width(), seen.grey.height());
    if w == 0 || h == 0 || size < 21 {
        return None;
    }
    // Module centres as pixels of the view, and the grey value there shifted by whole pixels.
    let raw = seen.grey.as_raw();
    let (w, h) = (w as i32, h as i32);
    let centres: Vec<(i32, i32)> = (0..size * size)
        .map(|i| {
            let p = to_view.transform_point(point((i % size) as f32 + 0.5, (i / size) as f32 + 0.5));
            ((p.x - 0.5).round().clamp(-1e6, 1e6) as i32, (p.y - 0.5).round().clamp(-1e6, 1e6) as i32)
        })
        .collect();
    let at = |i: usize, (dx, dy): (i32, i32)| {
        let (x, y) = ((centres[i].0 + dx).clamp(0, w - 1), (centres[i].1 + dy).clamp(0, h - 1));
        raw[y as usize * w as usize + x as usize]
    };
    let mut sorted: Vec<u8> = (0..size * size).map(|i| at(i, (0, 0))).collect();
    sorted.sort_unstable();
    let (dark, light) = (sorted[sorted.len() / 5], sorted[sorted.len() * 9 / 10]);
    if light.saturating_sub(dark) < 40 {
        return None;
    }
    // The grey value at a module, signed by the sample's colour: positive where they agree.
    // A set bit is a dark module in the view unless most modules say otherwise (a light-on-
    // dark reading).
    let middle = i32::from(dark) + (i32::from(light) - i32::from(dark)) / 2;
    let set = |i: usize| bits.get((i % size) as u32, (i / size) as u32);
    let signed = |i: usize, shift: (i32, i32)| {
        let v = i32::from(at(i, shift)) - middle;
        if set(i) { -v } else { v }
    };
    let light_set = (0..size * size).map(|i| i64::from(signed(i, (0, 0)))).sum::<i64>() < 0;
    let agrees = |i: usize, shift: (i32, i32)| (signed(i, shift) > 0) != light_set;
    // The corners come from the detector's outermost sampling grids, which can lie a module
    // or two off where a finder pattern was guessed, while the sample itself is mostly right.
    // Each tile of 8×8 modules where fewer than 85% of the modules agree with the sample is
    // shifted (within 2.5 modules: half-module steps, then halved steps down to single pixels)
    // to where the grey view agrees best.
    let pitch = Point::distance(seen.corners[0], seen.corners[1])
        .max(Point::distance(seen.corners[0], seen.corners[3]))
        / n as f32;
    if !(1.0..=w.max(h) as f32 / 8.0).contains(&pitch) {
        return None;
    }
    let (reach_px, step) = ((2.5 * pitch).ceil() as i32, ((pitch / 2.0).round() as i32).max(1));
    const TILE: usize = 8;
    let tiles = size.div_ceil(TILE);
    let mut shifts = vec![(0, 0); tiles * tiles];
    // Each module as its centre in the view and +1 where the sample says it is light in the
    // view, -1 where dark: a tile's score at a shift is the sum of the grey values there, so
    // signed (the middle grey adds the same at every shift and is left out).
    let modules: Vec<(i32, i32, i32)> =
        (0..size * size).map(|i| (centres[i].0, centres[i].1, if set(i) != light_set { -1 } else { 1 })).collect();
    for ty in 0..tiles {
        for tx in 0..tiles {
            let members: Vec<usize> = (ty * TILE..(ty * TILE + TILE).min(size))
                .flat_map(|y| (tx * TILE..(tx * TILE + TILE).min(size)).map(move |x| y * size + x))
                .collect();
            if 100 * members.iter().filter(|&&i| agrees(i, (0, 0))).count() >= 85 * members.len() {
                continue;
            }
            let tile: Vec<(i32, i32, i32)> = members.iter().map(|&i| modules[i]).collect();
            // Where every shift tried stays inside the view (the fine steps add less than one
            // coarse step), a shift is one offset into the raw pixels; at the view's edges,
            // each pixel is clamped.
            let span = reach_px + step;
            let inside = tile.iter().all(|&(x, y, _)| x >= span && x < w - span && y >= span && y < h - span);
            let offsets = |sign: i32| -> Vec<isize> {
                tile.iter().filter(|m| m.2 == sign).map(|&(x, y, _)| y as isize * w as isize + x as isize).collect()
            };
            let (lights, darks) = if inside { (offsets(1), offsets(-1)) } else { (Vec::new(), Vec::new()) };
            let score = |(dx, dy): (i32, i32)| -> i64 {
                if inside {
                    let shift = dy as isize * w as isize + dx as isize;
                    let sum = |at: &[isize]| at.iter().map(|&i| i64::from(raw[(i + shift) as usize])).sum::<i64>();
                    return sum(&lights) - sum(&darks);
                }
                tile.iter()
                    .map(|&(x, y, sign)| {
                        let (x, y) = ((x + dx).clamp(0, w - 1), (y + dy).clamp(0, h - 1));
                        i64::from(sign * i32::from(raw[y as usize * w as usize + x as usize]))
                    })
                    .sum()
            };
            let mut best = (score((0, 0)), (0, 0));
            let coarse = (-reach_px..=reach_px).step_by(step as usize);
            for dy in coarse.clone() {
                for dx in coarse.clone() {
                    let here = score((dx, dy));
                    if here > best.0 {
                        best = (here, (dx, dy));
                    }
                }
            }
            // Then halved steps around the best, down to single pixels.
            let mut fine = step / 2;
            while fine >= 1 {
                let (cx, cy) = best.1;
                for (dx, dy) in
                    [-fine, 0, fine].into_iter().flat_map(|dy| [-fine, 0, fine].map(|dx| (cx + dx, cy + dy)))
                {
                    let here = score((dx, dy));
                    if here > best.0 {
                        best = (here, (dx, dy));
                    }
                }
                fine /= 2;
            }
            shifts[ty * tiles + tx] = best.1;
        }
    }
    let values: Vec<u8> =
        (0..size * size).map(|i| at(i, shifts[(i / size / TILE) * tiles + (i % size) / TILE])).collect();
    let halfway = dark + (light - dark) / 2;
    // Darkest and lightest module within two, along rows, then along columns.
    let reach = |i: usize| i.saturating_sub(2)..(i + 3).min(size);
    let (mut row_lo, mut row_hi) = (vec![0u8; size * size], vec![0u8; size * size]);
    for y in 0..size {
        for x in 0..size {
            let near = reach(x).map(|xx| values[y * size + xx]);
            row_lo[y * size + x] = near.clone().min().unwrap_or(0);
            row_hi[y * size + x] = near.max().unwrap_or(0);
        }
    }
    let (mut lows, mut highs) = (vec![0u8; size * size], vec![0u8; size * size]);
    for y in 0..size {
        for x in 0..size {
            lows[y * size + x] = reach(y).map(|yy| row_lo[yy * size + x]).min().unwrap_or(0);
            highs[y * size + x] = reach(y).map(|yy| row_hi[yy * size + x]).max().unwrap_or(0);
        }
    }
    let mid = |i: usize| (i32::from(lows[i]) + i32::from(highs[i])) / 2;
    let doubt_of = |x: usize, y: usize| -> u8 {
        let i = y * size + x;
        if lows[i] > halfway {
            return WASHED;
        }
        // How far the grey value lies on the sample's side of the midpoint: 1 at the darkest
        // or lightest, 253 as far on the other side.
        let v = i32::from(values[i]);
        let dark_in_view = bits.get(x as u32, y as u32) != light_set;
        let side = if dark_in_view { mid(i) - v } else { v - mid(i) };
        let half_range = ((i32::from(highs[i]) - i32::from(lows[i])) / 2).max(1);
        (127 - (side * 126 / half_range).clamp(-126, 126)) as u8
    };
    // The data modules in rxing's reading order (`BitMatrixParser::readCodewords`): column
    // pairs from the right, up and down in turn, skipping the timing column and every
    // function pattern; eight modules to a codeword.
    let function = version.buildFunctionPattern().ok()?;
    let mut doubts = vec![0u8; version.getTotalCodewords() as usize];
    let (mut read, mut up) = (0usize, true);
    let mut j = size - 1;
    while j > 0 {
        if j == 6 {
            j -= 1;
        }
        for count in 0..size {
            let i = if up { size - 1 - count } else { count };
            for x in [j, j - 1] {
                if !function.get(x as u32, i as u32) {
                    // (The few remainder bits after the last codeword belong to none.)
                    if let Some(slot) = doubts.get_mut(read / 8) {
                        *slot = (*slot).max(doubt_of(x, i));
                    }
                    read += 1;
                }
            }
        }
        up = !up;
        j = j.saturating_sub(2);
    }
    (read / 8 == doubts.len()).then_some(doubts)
}

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
    Found { codes: reading.codes, finder_pair, finder_seen: !rest.is_empty(), symbol_seen: reading.symbol_seen }
}

/// The finder pattern's module widths across its centre: dark, light, dark ×3, light, dark.
const FINDER: FixedPattern<5, 7> = FixedPattern::new([1, 1, 3, 1, 1]);

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
fn scan_row(matrix: &BitMatrix, row: &PatternRow, y: u32, found: &mut Vec<ConcentricPattern>) {
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
fn run_lengths(row: &BitArray, runs: &mut Vec<PatternType>) {
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
const MAX_PATTERNS: usize = 120;
/// Finder-pattern triples sampled and decoded (guesses included), the most plausible first.
const MAX_SETS: usize = 96;
/// How far guessed corners are nudged, in modules ([`Guess::nudged`]).
const NUDGE_RINGS: i32 = 2;
/// Nudged triples sampled and decoded at most, after every triple has been.
const MAX_NUDGES: usize = 2 * MAX_SETS;

/// Plausible finder-pattern triples, most plausible first: zxing-cpp's rules (similar sizes,
/// 21 to 265 modules across, a corner between 60° and 120°, scored by how square the triple
/// is) over every triple. rxing 0.9 only pairs each pattern with its 15 nearest neighbours,
/// which misses the code on a printed pass whose text forms finder-like patterns nearby.
fn finder_sets(finders: &[ConcentricPattern]) -> Vec<FinderPatternSet> {
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

/// Pairs of finder patterns tried with a guessed third.
const MAX_PAIRS: usize = 6;

/// A finder-pattern triple completed from a pair: where the third pattern is guessed to be.
#[derive(Clone)]
struct Guess {
    /// The two patterns seen.
    pair: [ConcentricPattern; 2],
    /// Where the third was guessed.
    at: Point,
    /// One module along a side of the symbol, as the pair shows it.
    axis: Point,
}

impl Guess {
    /// The triple with the third pattern at `at`.
    fn set(&self, at: Point) -> FinderPatternSet {
        let [p, q] = self.pair;
        let mut r = p;
        r.p = at;
        ordered(p, q, r)
    }

    /// The triples with the third pattern `ring` modules away from the guess (along the
    /// symbol's sides and diagonals: the square of that radius around it).
    fn nudged(&self, ring: i32) -> impl Iterator<Item = FinderPatternSet> + '_ {
        let across = point(-self.axis.y, self.axis.x);
        (-ring..=ring)
            .flat_map(move |j| (-ring..=ring).map(move |i| (i, j)))
            .filter(move |&(i, j)| i.abs().max(j.abs()) == ring)
            .map(move |(i, j)| self.set(self.at + self.axis * i as f32 + across * j as f32))
    }

    /// The triple with the third pattern where the matrix looks most like a finder pattern
    /// near the guess ([`refine_guess`]: perspective puts the true corner modules away), or
    /// `None` when that is the guess itself.
    fn refined(&self, matrix: &BitMatrix) -> Option<FinderPatternSet> {
        let at = refine_guess(matrix, self.at, self.axis);
        (at != self.at).then(|| self.set(at))
    }
}

/// Finder-pattern triples completed from pairs: a thumb, a glare spot or a crease often
/// hides one finder pattern (or its quiet zone) while the other two show, and moiré can break
/// the third's centre so that the line scan misses it. For each pair of similar patterns, the
/// third is guessed where it would be if the two were adjacent corners (either side) or
/// opposite corners. A wrong guess fails in sampling or error correction.
fn third_finder_guesses(finders: &[ConcentricPattern]) -> Vec<Guess> {
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
const REFINE_REACH: i32 = 3;

/// The point within [`REFINE_REACH`] modules of `guess` (in half-module steps) where the
/// matrix best matches a finder pattern: its 7×7 module centres, sampled along `axis` (one
/// module along a side of the symbol) and its perpendicular. `guess` itself unless a point
/// matches at least three quarters of the 49 modules (moiré breaks up a centre, perspective
/// shrinks the far side) and more than `guess` does.
fn refine_guess(matrix: &BitMatrix, guess: Point, axis: Point) -> Point {
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
fn likely_pairs(finders: &[ConcentricPattern]) -> Vec<(ConcentricPattern, ConcentricPattern)> {
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
fn opposite_corners(p: ConcentricPattern, q: ConcentricPattern) -> [Point; 2] {
    let (dx, dy) = (q.p.x - p.p.x, q.p.y - p.p.y);
    let (mx, my) = ((p.p.x + q.p.x) / 2.0, (p.p.y + q.p.y) / 2.0);
    [point(mx - dy / 2.0, my + dx / 2.0), point(mx + dy / 2.0, my - dx / 2.0)]
}

/// Pairs of similar finder patterns taken as the top-right and bottom-left corners of a symbol
/// whose top-left pattern is hidden, with a first guess of where the top-left one would be
/// (either side of the diagonal).
fn hidden_top_left_candidates(finders: &[ConcentricPattern]) -> Vec<(ConcentricPattern, ConcentricPattern, Point)> {
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
fn sample_hidden_top_left(
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
fn top_left_from_edges(
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

/// The module size two finder patterns show, in pixels: each is seven modules across.
fn pair_module(p: &ConcentricPattern, q: &ConcentricPattern) -> f32 {
    (p.size + q.size) as f32 / 14.0
}

/// Whether two finder patterns could be two corners of one symbol: sizes within a factor of
/// two, and 14 to 250 module widths apart (adjacent corners of version 1 to opposite corners
/// of version 40, with room for perspective).
fn could_share_a_symbol(p: &ConcentricPattern, q: &ConcentricPattern) -> bool {
    let (dx, dy) = (q.p.x - p.p.x, q.p.y - p.p.y);
    let modules = (dx * dx + dy * dy).sqrt() / pair_module(p, q);
    2 * p.size.min(q.size) >= p.size.max(q.size) && (14.0..=250.0).contains(&modules)
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

/// Every QR symbol rqrr finds in the grey image (rqrr isolated as a whole: all of it is
/// rqrr's, and it once panicked on a real photo).
pub fn quirc(image: &GrayImage) -> Found {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let pixels = image.as_raw();
    let codes = crate::isolate(|| {
        let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
        let grids = prepared.detect_grids();
        grids
            .into_iter()
            .filter_map(|grid| {
                let mut bytes = Vec::new();
                grid.decode_to(&mut bytes).ok().map(|_| bytes)
            })
            .collect()
    })
    .unwrap_or_default();
    Found { codes, ..Found::default() }
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
