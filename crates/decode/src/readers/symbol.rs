//! One sampled symbol to its bytes: rxing reads its format, version and codewords, our
//! Reed–Solomon corrects each block (with washed-out and doubtful codewords as erasures, from
//! the grey view registered onto the sample), rxing parses the bit stream; and the symbols of
//! a frame that failed, so none is decoded twice.

use super::*;

/// Sampled symbols that did not decode, kept for one frame: the views of a frame often sample
/// the same symbol bit for bit (a damaged code seen by every strategy), and Reed–Solomon
/// decoding it again would fail again. Most of the time spent on a small frame with an
/// unreadable code was such repeats.
#[derive(Debug, Default)]
pub struct Tried(HashSet<BitMatrix>);

impl Tried {
    /// Decodes `bits` unless the same bits already failed; a failure is remembered. `seen`:
    /// where the symbol lies in the grey view, for its washed-out modules ([`decode_symbol`]).
    pub(super) fn decode(&mut self, bits: &BitMatrix, seen: Option<Seen>) -> Option<Vec<u8>> {
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
pub(super) fn decode_symbol(bits: &BitMatrix, seen: Option<Seen>) -> Result<Option<Vec<u8>>, ()> {
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
pub(super) fn with_version_of_size(bits: &BitMatrix) -> Option<BitMatrix> {
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
pub(super) fn version_information(number: u32) -> u32 {
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
pub(super) fn decode_mirrored(parser: &mut BitMatrixParser) -> Result<Option<Vec<u8>>, ()> {
    rx(|| parser.remask())?;
    parser.setMirror(true);
    rx(|| parser.readVersion())?;
    rx(|| parser.readFormatInformation())?;
    crate::isolate(|| parser.mirror()).ok_or(())?;
    decode_parsed(parser, None)
}

/// Given a symbol's version, how much to doubt each codeword, in reading order
/// ([`codeword_doubts`]).
pub(super) type Erasures<'a> = &'a dyn Fn(VersionRef) -> Option<Vec<u8>>;

/// The codeword-level reading of [`decode_symbol`]. `erasures` says how much to doubt each
/// codeword; it is asked only once a block fails, and at most once. A block that fails on its
/// own is corrected with its washed-out codewords as erasures, then with ever more of its most
/// doubtful ones, two at a time (generalised minimum-distance decoding), while at least
/// [`reed_solomon::MIN_SPARE`] error-correction codewords remain beyond the erasures.
pub(super) fn decode_parsed(parser: &mut BitMatrixParser, erasures: Option<Erasures>) -> Result<Option<Vec<u8>>, ()> {
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
pub(super) struct Seen<'a> {
    pub(super) grey: &'a GrayImage,
    /// The symbol's outer corners in the view: top left, top right, bottom right, bottom left.
    pub(super) corners: [Point; 4],
}

impl<'a> Seen<'a> {
    /// From a detector's result points (rxing's order: top left, top right, bottom left,
    /// bottom right).
    pub(super) fn new(grey: &'a GrayImage, points: &[Point]) -> Option<Seen<'a>> {
        match points {
            &[tl, tr, bl, br] => Some(Seen { grey, corners: [tl, tr, br, bl] }),
            _ => None,
        }
    }
}

/// The percentage of the sampled timing-pattern modules (row and column 6 between the finder
/// patterns, alternating dark and light) that are right: about half on texture sampled as if
/// it were a symbol, all of them on a clean symbol; 0 below version 1's size.
pub(super) fn timing_right(bits: &BitMatrix) -> usize {
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
pub(super) fn timing_patterns_hold(bits: &BitMatrix) -> bool {
    timing_right(bits) >= 70
}

/// Whether an unread symbol's timing patterns are right enough (80%) to be sure it is one
/// ([`Found::symbol_seen`]): of the many samples tried on finder-like texture (guesses,
/// nudges), one often reaches 70% by chance (a test has such texture).
pub(super) fn surely_a_symbol(bits: &BitMatrix) -> bool {
    timing_right(bits) >= 80
}

/// The doubt of a washed-out codeword ([`codeword_doubts`]): the most there is.
pub(super) const WASHED: u8 = u8::MAX;

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
pub(super) fn codeword_doubts(bits: &BitMatrix, version: VersionRef, seen: Seen) -> Option<Vec<u8>> {
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
