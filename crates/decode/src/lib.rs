//! Finding QR codes in camera frames and photos and returning their raw bytes: the decoding
//! that the checkpoint (`pass-verifier`) and the issuing office's print QA (`pass-issuer`)
//! share. It knows nothing of passes, keys or verdicts; a caller says when it has what it wants.
//!
//! # Layout
//! - [`image_input`]: loading JPEG/PNG/WebP/PNM safely (size limits, EXIF orientation).
//! - [`prepare`], [`binarize`], [`readers`]: the three layers of the pipeline, below.
//! - [`reed_solomon`]: error correction over GF(256), for the readers.
//! - this module: the [`Strategy`] list and [`decode_until`], which runs them within a budget.
//!
//! Three layers, each in its own module:
//!
//! 1. [`prepare`]: views of the grey frame (half size, double size, sharpened), made only when
//!    a strategy asks for one and kept for the rest of the frame.
//! 2. [`binarize`]: grey to black/white (local average, or one global threshold).
//! 3. [`readers`]: the third-party detectors and decoders (rxing's zxing-cpp port, rqrr).
//!
//! A [`Strategy`] is one combination of the three. [`STRATEGIES`] lists them cheapest and most
//! productive first, an order chosen by measurement (docs/DECODING.md has the figures and what
//! each strategy buys). [`decode_until`] runs them in that order until the caller is satisfied
//! (for `scan`: a code that verifies as a pass, so a frame with an unrelated QR code keeps
//! looking) or the frame's time budget is spent. Every third-party call is isolated
//! ([`isolate`]): a panic inside a decoder counts as "nothing found" for that call. Our own code
//! is not: a panic in it fails the tests and the fuzzers.

pub mod binarize;
pub mod image_input;
pub mod prepare;
pub mod readers;
pub mod reed_solomon;

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Once, OnceLock};
use std::time::{Duration, Instant};

use image::GrayImage;
use rxing::common::BitMatrix;

pub use readers::{Found, Region};

/// Codes larger than this are not passes and are not kept (a v40 QR code holds 2953 bytes).
pub const MAX_CODE_BYTES: usize = 4096;

/// The default time budget for one frame. A strategy is not started when the time already
/// spent plus its estimated cost would pass the budget, so a frame never takes much longer
/// than this (docs/DECODING.md gives the measured worst case for 1920×1080 frames).
pub const DEFAULT_BUDGET: Duration = Duration::from_millis(150);

/// One way of looking at a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Strategy {
    /// Local-average binarization, zxing-cpp detector: most codes, in most light.
    Local,
    /// The local binarization inverted: light modules on dark (phone dark mode, negatives).
    Inverted,
    /// A threshold low in the range of 12-pixel windows, both polarities: moiré fringes on a
    /// phone screen, which dim the light modules in bands a module or two apart. It runs on
    /// every frame: under strong moiré the local average shows no finder pattern at all.
    Range,
    /// Half size: large, blurred or noisy codes in big frames, where a finder pattern was seen.
    Half,
    /// Mild unsharp masking first: slightly defocused or curled codes.
    Sharpened,
    /// Strong unsharp masking first: codes blurred over half a module or more.
    Deblurred,
    /// rqrr on the grey frame: a different detector for codes the line scanner misses.
    Quirc,
    /// Double size (bilinear): distant codes under 3 pixels a module.
    Double,
}

impl Strategy {
    /// A short name for reports and benchmarks.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Local => "local",
            Strategy::Inverted => "inverted",
            Strategy::Half => "half",
            Strategy::Range => "range",
            Strategy::Quirc => "quirc",
            Strategy::Sharpened => "sharpened",
            Strategy::Deblurred => "deblurred",
            Strategy::Double => "double",
        }
    }

    /// The strategy with this name.
    pub fn from_name(name: &str) -> Option<Strategy> {
        STRATEGIES.iter().copied().find(|s| s.name() == name)
    }

    /// What an earlier strategy must have seen before this one runs. The half-size view waits
    /// for a finder pattern in a full-size view (in every set measured, no code needed it
    /// without one: docs/DECODING.md); the mildly sharpened view for a small one (a distant
    /// code, turned, whose other two finders the cheap views lose to blur);
    /// the other expensive strategies wait for two that could be corners of one symbol, so a
    /// frame with no code in it (most of a live camera's frames) costs only the cheap ones.
    fn needs(self) -> Evidence {
        match self {
            Strategy::Local | Strategy::Inverted | Strategy::Range => Evidence::None,
            Strategy::Half => Evidence::Finder,
            Strategy::Sharpened => Evidence::SmallFinder,
            Strategy::Deblurred | Strategy::Quirc | Strategy::Double => Evidence::Pair,
        }
    }

    /// Whether the strategy always looks at the whole frame; the others (the expensive ones)
    /// look only around the finder patterns the whole-frame strategies saw.
    fn whole_frame(self) -> bool {
        self.needs() < Evidence::SmallFinder
    }

    /// Estimated cost for a frame of `pixels` pixels, from a measured cost per pixel rounded
    /// up, used to keep a frame within its budget.
    fn estimate(self, pixels: u64) -> Duration {
        let ns_per_pixel: u64 = match self {
            Strategy::Local | Strategy::Inverted => 8,
            Strategy::Half => 3,
            Strategy::Range => 5,
            Strategy::Quirc if quirc_at_half(pixels) => 40 / 4 + 1,
            Strategy::Quirc => 40,
            Strategy::Sharpened => 12,
            Strategy::Deblurred => 16,
            Strategy::Double => 45,
        };
        Duration::from_nanos(ns_per_pixel.saturating_mul(pixels))
    }
}

/// Frames with more pixels than 1280×720 go to rqrr at half size: its flood fill costs 20 to
/// 27 ns a pixel on textured frames (55 ms for 1920×1080), and a code that fills enough of a
/// full-HD frame to be read at all still has modules of 2 pixels or more at half size.
pub const QUIRC_MAX_PIXELS: u64 = 1280 * 720;

/// Whether rqrr gets the half-size view of a frame of `pixels` pixels.
fn quirc_at_half(pixels: u64) -> bool {
    pixels > QUIRC_MAX_PIXELS
}

/// The strategies in the order they run.
pub const STRATEGIES: &[Strategy] = &[
    Strategy::Local,
    Strategy::Inverted,
    Strategy::Range,
    Strategy::Half,
    Strategy::Sharpened,
    Strategy::Deblurred,
    Strategy::Quirc,
    Strategy::Double,
];

/// Signs of a code not (yet) read, weakest first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Evidence {
    /// Nothing seen.
    #[default]
    None,
    /// A finder pattern that belongs to no code read.
    Finder,
    /// A finder pattern of small modules (`readers::SMALL_MODULE`) that belongs to no code read.
    SmallFinder,
    /// Two finder patterns, belonging to no code read, that could be corners of one symbol.
    Pair,
}

/// What decoding a frame found, and what it cost.
#[derive(Debug, Default)]
pub struct Decoded {
    /// Distinct codes, in the order found.
    pub codes: Vec<Vec<u8>>,
    /// The strategies that ran, in order.
    pub ran: Vec<Strategy>,
    /// The strategies left out because the budget was spent.
    pub skipped: usize,
    /// The strongest sign of a code still unread that any strategy saw: finder patterns that
    /// belong to no symbol it decoded.
    pub evidence: Evidence,
    /// Where the whole-frame strategies saw finder pairs left over (frame pixels): the part of
    /// the frame the expensive strategies look at.
    pub region: Option<Region>,
    /// Where they saw small finder patterns left over and no pair: the part of the frame the
    /// sharpened view looks at when there is no pair.
    pub small_region: Option<Region>,
}

/// Every distinct code found by all strategies (no budget): for tests and exploration.
pub fn decode_all(image: &GrayImage) -> Vec<Vec<u8>> {
    decode_until(image, Duration::MAX, |_| false).codes
}

/// Runs the strategies in order, collecting distinct codes, and stops after the strategy in
/// which `done` returned true for a code, or when the budget is spent. The first strategy
/// always runs.
pub fn decode_until(image: &GrayImage, budget: Duration, mut done: impl FnMut(&[u8]) -> bool) -> Decoded {
    let mut decoded = Decoded::default();
    if image.width() == 0 || image.height() == 0 {
        return decoded;
    }
    let start = Instant::now();
    let frame = Frame::new(image);
    let mut seen = HashSet::new();
    // Finder patterns seen only in the inverted matrix (light on dark).
    let mut light_on_dark = Evidence::None;
    for (i, &strategy) in STRATEGIES.iter().enumerate() {
        // Once a code is found, the further strategies wait for a pair of finder patterns left
        // over, except the inverted matrix: a light-on-dark code leaves no dark finders to see.
        let mut needs = strategy.needs();
        if !decoded.codes.is_empty() && strategy != Strategy::Inverted {
            needs = Evidence::Pair;
        }
        // Light-on-dark finders wake the strategies that read light on dark too: the sharpened
        // and doubled views a pair (in the inverted local average) confirmed by a light finder
        // in the range's inverted reading, as one sighting is common in texture; or a light-on-
        // dark symbol sampled whose timing patterns held (a lamp over one finder leaves one).
        let light_confirmed =
            frame.light_symbol_seen.get() || (light_on_dark == Evidence::Pair && frame.light_seen_again.get());
        let have = match strategy {
            Strategy::Sharpened | Strategy::Deblurred | Strategy::Double if light_confirmed => Evidence::Pair,
            _ => decoded.evidence,
        };
        if have < needs {
            continue;
        }
        // The first expensive strategy to get here fixes the cut that all of them look at.
        let view = frame.view(strategy, decoded.region.or(decoded.small_region));
        let estimate = strategy.estimate(pixels(view));
        if !decoded.ran.is_empty() && start.elapsed().saturating_add(estimate) > budget {
            decoded.skipped = STRATEGIES.len() - i;
            break;
        }
        decoded.ran.push(strategy);
        let mut finished = false;
        // Each polarity is read where finder patterns of that polarity were seen; the range
        // strategy reads dark on light everywhere, and light on dark where the inverted local
        // average saw a light finder.
        let polarities = match strategy {
            Strategy::Range => (true, light_on_dark >= Evidence::Finder),
            _ => (decoded.evidence >= Evidence::SmallFinder, light_confirmed),
        };
        let found = frame.run(strategy, view, polarities);
        // A code found is not itself evidence: its own finder patterns are accounted for, so
        // asking for every code costs the expensive strategies only where a pair is left over.
        // Every strategy after the inverted one reads dark modules on light (the range strategy
        // both), so finder patterns seen only in the inverted matrix are no reason to run them.
        // The expensive strategies look only where the whole-frame ones saw a pair.
        if let Some(mut region) = found.finder_pair
            && strategy.whole_frame()
            && strategy != Strategy::Inverted
        {
            if strategy == Strategy::Half {
                region = region.scaled(2.0);
            }
            decoded.region = Some(decoded.region.map_or(region, |r| r.union(region)));
        }
        if let Some(region) = found.small_finder
            && strategy.whole_frame()
            && strategy != Strategy::Inverted
            && strategy != Strategy::Half
        {
            decoded.small_region = Some(decoded.small_region.map_or(region, |r| r.union(region)));
        }
        let sign = if found.finder_pair.is_some() {
            Evidence::Pair
        } else if found.small_finder.is_some() && strategy != Strategy::Half {
            Evidence::SmallFinder
        } else if found.finder_seen {
            Evidence::Finder
        } else {
            Evidence::None
        };
        if strategy == Strategy::Inverted {
            light_on_dark = sign;
            frame.light_symbol_seen.set(found.symbol_seen);
        } else {
            // The sharpened view woken by a lone small finder is one look: a pair it sees (in
            // texture, often) does not wake the rest, which kept the no-code p90 within 2× of
            // zxing-cpp's at the cost of one small turned frame in 300 (docs/DECODING.md).
            if !(strategy == Strategy::Sharpened && decoded.evidence == Evidence::SmallFinder) {
                decoded.evidence = decoded.evidence.max(sign);
            }
        }
        for code in found.codes {
            if code.len() <= MAX_CODE_BYTES && seen.insert(code.clone()) {
                finished |= done(&code);
                decoded.codes.push(code);
            }
        }
        if finished {
            break;
        }
    }
    decoded
}

/// Runs one strategy on its own (for benchmarks and tests).
pub fn run(strategy: Strategy, image: &GrayImage) -> Found {
    if image.width() == 0 || image.height() == 0 {
        return Found::default();
    }
    Frame::new(image).run(strategy, image, (true, true))
}

fn pixels(image: &GrayImage) -> u64 {
    u64::from(image.width()) * u64::from(image.height())
}

/// A frame and the views and bit matrices made from it so far.
struct Frame<'a> {
    grey: &'a GrayImage,
    local: OnceLock<Option<BitMatrix>>,
    half: OnceLock<Option<GrayImage>>,
    /// Symbols sampled in this frame that did not decode.
    tried: RefCell<readers::Tried>,
    /// The part of the frame the expensive strategies look at, once cut out (`None`: all of it).
    cut: OnceLock<Option<GrayImage>>,
    /// Whether the range strategy's light-on-dark reading showed a finder pattern (where the
    /// inverted local average showed a pair): a dark-mode screen, seen by two binarizations.
    light_seen_again: Cell<bool>,
    /// Whether a light-on-dark reading sampled a symbol whose timing patterns held.
    light_symbol_seen: Cell<bool>,
}

impl<'a> Frame<'a> {
    fn new(grey: &'a GrayImage) -> Self {
        Frame {
            grey,
            local: OnceLock::new(),
            half: OnceLock::new(),
            tried: RefCell::default(),
            cut: OnceLock::new(),
            light_seen_again: Cell::new(false),
            light_symbol_seen: Cell::new(false),
        }
    }

    /// What `strategy` looks at: the whole frame, or for the expensive strategies the part
    /// within `region` (fixed the first time one asks; the whole frame when that is most of it).
    fn view(&self, strategy: Strategy, region: Option<Region>) -> &GrayImage {
        if strategy.whole_frame() {
            return self.grey;
        }
        self.cut.get_or_init(|| cut(self.grey, region?)).as_ref().unwrap_or(self.grey)
    }

    fn half(&self) -> Option<&GrayImage> {
        self.half.get_or_init(|| prepare::half(self.grey)).as_ref()
    }

    fn local(&self) -> Option<&BitMatrix> {
        self.local.get_or_init(|| binarize::local_average(self.grey)).as_ref()
    }

    /// Runs `strategy` on `view` (the whole frame, or for an expensive strategy the cut
    /// [`Frame::view`] gave); the range, sharpened and doubled views read dark on light and
    /// light on dark as `polarities` say.
    fn run(&self, strategy: Strategy, view: &GrayImage, polarities: (bool, bool)) -> Found {
        let whole = std::ptr::eq(view, self.grey);
        own_code(strategy, || match strategy {
            Strategy::Local => self.local().map(|m| self.zxing(m, self.grey, false)).unwrap_or_default(),
            Strategy::Inverted => self
                .local()
                .map(|m| {
                    let mut inverted = m.clone();
                    inverted.flip_self();
                    self.zxing(&inverted, self.grey, false)
                })
                .unwrap_or_default(),
            Strategy::Half => {
                let read = |half| binarize::local_average(half).map(|m| self.zxing(&m, half, false));
                self.half().and_then(read).unwrap_or_default()
            }
            Strategy::Range => binarize::local_range(self.grey)
                .map(|m| self.read_polarities(m, self.grey, false, polarities))
                .unwrap_or_default(),
            Strategy::Quirc if quirc_at_half(pixels(view)) && whole => {
                self.half().map(readers::quirc).unwrap_or_default()
            }
            Strategy::Quirc if quirc_at_half(pixels(view)) => {
                prepare::half(view).map(|half| readers::quirc(&half)).unwrap_or_default()
            }
            Strategy::Quirc => readers::quirc(view),
            Strategy::Sharpened => self.read_view(&prepare::sharpen(view, prepare::MILD), polarities),
            Strategy::Deblurred => self.read_view(&prepare::sharpen(view, prepare::STRONG), polarities),
            Strategy::Double => {
                prepare::double(view).map(|double| self.read_view(&double, polarities)).unwrap_or_default()
            }
        })
    }

    /// The zxing-cpp detector on a bit matrix of this frame, made from the grey view `grey`.
    fn zxing(&self, matrix: &BitMatrix, grey: &GrayImage, thorough: bool) -> Found {
        readers::zxing(matrix, Some(grey), thorough, &mut self.tried.borrow_mut())
    }

    /// A view binarized by local average and read by the zxing-cpp detector, every third row.
    fn read_view(&self, view: &GrayImage, polarities: (bool, bool)) -> Found {
        binarize::local_average(view).map(|m| self.read_polarities(m, view, true, polarities)).unwrap_or_default()
    }

    /// `matrix` read dark on light and inverted (light on dark) as `polarities` say. Only the
    /// dark-on-light reading's finder patterns are evidence (a dark-mode screen: its light
    /// modules dim in the same moiré bands); whether the light-on-dark reading showed a finder
    /// pattern is kept for the expensive strategies.
    fn read_polarities(
        &self,
        matrix: BitMatrix,
        grey: &GrayImage,
        thorough: bool,
        (dark_on_light, light_on_dark): (bool, bool),
    ) -> Found {
        let mut found = if dark_on_light { self.zxing(&matrix, grey, thorough) } else { Found::default() };
        if light_on_dark {
            let mut inverted = matrix;
            inverted.flip_self();
            let light = self.zxing(&inverted, grey, thorough);
            self.light_seen_again.set(self.light_seen_again.get() || light.finder_seen);
            self.light_symbol_seen.set(self.light_symbol_seen.get() || light.symbol_seen);
            found.codes.extend(light.codes);
        }
        found
    }
}

/// `region` of `image`, cut out, or `None` when it covers most of the image anyway.
fn cut(image: &GrayImage, region: Region) -> Option<GrayImage> {
    // Edges on the binarizer's 8-pixel block grid, so that inside the cut every view (and its
    // bit matrix) is the same as in the whole frame.
    let (w, h) = (image.width() as f32, image.height() as f32);
    let (left, top) = (region.left.clamp(0.0, w) as u32 / 8 * 8, region.top.clamp(0.0, h) as u32 / 8 * 8);
    let (right, bottom) = (
        (region.right.clamp(0.0, w).ceil() as u32).next_multiple_of(8).min(image.width()),
        (region.bottom.clamp(0.0, h).ceil() as u32).next_multiple_of(8).min(image.height()),
    );
    let area = u64::from(right.saturating_sub(left)) * u64::from(bottom.saturating_sub(top));
    if area * 10 > pixels(image) * 6 || right <= left || bottom <= top {
        return None;
    }
    Some(image::imageops::crop_imm(image, left, top, right - left, bottom - top).to_image())
}

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs one strategy: our own code, which calls third-party code only through [`isolate`]. A
/// panic here is a bug of ours. Under tests, debug builds and the fuzzers it is a panic like
/// any other, so they see it; a release build (a checkpoint station decoding frames all day)
/// prints it, marked as a bug, and counts the strategy as having found nothing, rather than
/// stopping the station for one frame.
fn own_code(strategy: Strategy, f: impl FnOnce() -> Found) -> Found {
    if cfg!(any(debug_assertions, fuzzing)) {
        return f();
    }
    panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        eprintln!("pass-decode: BUG: the {} strategy panicked (message above); please report it", strategy.name());
        Found::default()
    })
}

/// Runs third-party code (rxing, rqrr, the image decoders), turning a panic into `None`. The
/// panic message is not printed (it is expected on hostile input); panics elsewhere, our own
/// code's, still print as usual.
pub fn isolate<T>(f: impl FnOnce() -> T) -> Option<T> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                default(info);
            }
        }));
    });
    let was_quiet = QUIET.with(|q| q.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(was_quiet));
    result.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_a_decoder_is_nothing_found() {
        assert_eq!(isolate(|| -> u8 { panic!("decoder assertion") }), None);
        assert_eq!(isolate(|| 7), Some(7));
    }

    /// A panic in our own code is not turned into "nothing found" under tests and fuzzers
    /// (it used to be, with its message silenced, so neither could ever see one).
    #[test]
    #[should_panic(expected = "a bug of ours")]
    fn a_panic_in_our_own_code_is_seen() {
        own_code(Strategy::Local, || panic!("a bug of ours"));
    }

    #[test]
    fn blank_and_tiny_images_decode_to_nothing() {
        assert!(decode_all(&GrayImage::new(0, 0)).is_empty());
        assert!(decode_all(&GrayImage::new(1, 1)).is_empty());
        assert!(decode_all(&GrayImage::new(1, 300)).is_empty());
        assert!(decode_all(&GrayImage::from_pixel(640, 480, image::Luma([255]))).is_empty());
    }

    #[test]
    fn names_round_trip() {
        for &s in STRATEGIES {
            assert_eq!(Strategy::from_name(s.name()), Some(s));
        }
    }

    #[test]
    fn a_spent_budget_runs_only_the_first_strategy() {
        let frame = GrayImage::from_pixel(320, 240, image::Luma([200]));
        let decoded = decode_until(&frame, Duration::ZERO, |_| false);
        assert_eq!(decoded.ran, [Strategy::Local]);
        assert_eq!(decoded.skipped, STRATEGIES.len() - 1);
        let decoded = decode_until(&frame, Duration::MAX, |_| false);
        assert_eq!(decoded.evidence, Evidence::None);
        assert_eq!(
            decoded.ran,
            [Strategy::Local, Strategy::Inverted, Strategy::Range],
            "no finder patterns: the expensive strategies wait"
        );
    }
}
