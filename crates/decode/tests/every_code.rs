//! Every code in a frame, and what it costs: codes found explain their own finder patterns,
//! so the expensive strategies run only where a pair of patterns is left over.

use fast_qr::qr::QRBuilder;
use fast_qr::{ECL, Mode};
use image::{GrayImage, Luma};
use pass_decode::{Evidence, Strategy, decode_until, run};
use std::time::Duration;

/// Draws `text` as a QR code at (x0, y0), `px` pixels a module with a quiet zone of four,
/// dark on light or inverted; its size in modules.
fn draw(frame: &mut GrayImage, text: &str, (x0, y0): (u32, u32), px: u32, inverted: bool) -> u32 {
    let code = QRBuilder::new(text.as_bytes().to_vec()).ecl(ECL::M).mode(Mode::Byte).build().expect("QR code");
    let n = code.size as u32;
    let (dark, light) = if inverted { (235, 20) } else { (20, 235) };
    for y in 0..(n + 8) * px {
        for x in 0..(n + 8) * px {
            let (mx, my) = ((x / px) as i64 - 4, (y / px) as i64 - 4);
            let inside = (0..n as i64).contains(&mx) && (0..n as i64).contains(&my);
            let on = inside && code.data[(my * n as i64 + mx) as usize].value();
            frame.put_pixel(x0 + x, y0 + y, Luma([if on { dark } else { light }]));
        }
    }
    n
}

fn texts(codes: &[Vec<u8>]) -> Vec<String> {
    let mut out: Vec<String> = codes.iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect();
    out.sort();
    out
}

#[test]
fn two_codes_read_in_one_pass() {
    let mut frame = GrayImage::from_pixel(640, 360, Luma([128]));
    draw(&mut frame, "CP:first pass of a two-up sheet", (20, 40), 6, false);
    draw(&mut frame, "CP:second pass of a two-up sheet", (340, 40), 6, false);
    let decoded = decode_until(&frame, Duration::MAX, |_| false);
    assert_eq!(texts(&decoded.codes), ["CP:first pass of a two-up sheet", "CP:second pass of a two-up sheet"]);
    assert_eq!(decoded.evidence, Evidence::None, "both codes' finder patterns are accounted for");
    assert_eq!(decoded.ran, [Strategy::Local, Strategy::Inverted], "nothing left to look for");
}

#[test]
fn a_dark_and_a_light_code_in_one_frame() {
    let mut frame = GrayImage::from_pixel(640, 360, Luma([128]));
    draw(&mut frame, "CP:printed", (20, 40), 6, false);
    draw(&mut frame, "CP:phone in dark mode", (340, 40), 6, true);
    let decoded = decode_until(&frame, Duration::MAX, |_| false);
    assert_eq!(texts(&decoded.codes), ["CP:phone in dark mode", "CP:printed"]);
}

#[test]
fn a_code_and_an_unread_pair_keep_looking() {
    // A second code whose top-left finder is covered: its two other finders are a pair left
    // over, so the expensive strategies (and the guessed third finder) still run.
    let mut frame = GrayImage::from_pixel(640, 360, Luma([128]));
    draw(&mut frame, "CP:whole", (20, 40), 6, false);
    draw(&mut frame, "CP:thumb over a finder", (340, 40), 6, false);
    for y in 40..40 + 12 * 6 {
        for x in 340..340 + 12 * 6 {
            frame.put_pixel(x, y, Luma([150]));
        }
    }
    let decoded = decode_until(&frame, Duration::MAX, |_| false);
    assert_eq!(decoded.evidence, Evidence::Pair);
    assert!(texts(&decoded.codes).contains(&"CP:whole".to_owned()));
    assert!(decoded.ran.len() > 2, "{:?}", decoded.ran);
    // The expensive strategies look around the pair: all of the covered code (x 340..550),
    // not the left of the frame.
    let region = decoded.region.expect("a region around the pair");
    assert!(region.left <= 340.0 && region.right >= 550.0 && region.top <= 40.0, "{region:?}");
    assert!(region.left > 100.0, "{region:?}");
}

#[test]
fn a_code_whose_top_left_finder_is_washed_out_is_read() {
    // A glare spot clipped to white over the top-left finder pattern, slightly rotated so the
    // corner is not where a square's would be in pixel rows: the top-left corner comes from the
    // other two patterns' edges.
    let mut flat = GrayImage::from_pixel(400, 400, Luma([128]));
    draw(&mut flat, "CP:a laminated pass under a lamp", (40, 40), 6, false);
    let mut frame = GrayImage::from_pixel(400, 400, Luma([128]));
    let (c, angle) = (200.0f32, 7f32.to_radians());
    for (x, y, px) in frame.enumerate_pixels_mut() {
        let (dx, dy) = (x as f32 - c, y as f32 - c);
        let (sx, sy) = (c + dx * angle.cos() + dy * angle.sin(), c - dx * angle.sin() + dy * angle.cos());
        if (0.0..399.0).contains(&sx) && (0.0..399.0).contains(&sy) {
            *px = *flat.get_pixel(sx as u32, sy as u32);
        }
    }
    let before = decode_until(&frame, Duration::MAX, |_| false);
    assert_eq!(texts(&before.codes), ["CP:a laminated pass under a lamp"], "the whole code reads");
    // Wash out the top-left finder (7 modules from the quiet zone's inner corner at 64, 64).
    let (fx, fy) = (40.0 + 4.0 * 6.0 + 3.5 * 6.0, 40.0 + 4.0 * 6.0 + 3.5 * 6.0);
    for (x, y, px) in frame.enumerate_pixels_mut() {
        let (dx, dy) = (x as f32 - c, y as f32 - c);
        let (sx, sy) = (c + dx * angle.cos() + dy * angle.sin(), c - dx * angle.sin() + dy * angle.cos());
        if (sx - fx).hypot(sy - fy) < 5.0 * 6.0 {
            *px = Luma([255]);
        }
    }
    let decoded = decode_until(&frame, Duration::MAX, |_| false);
    assert_eq!(texts(&decoded.codes), ["CP:a laminated pass under a lamp"], "ran {:?}", decoded.ran);
}

/// A version 3 code (light on dark when `inverted`), 6 pixels a module, whose modules in rows
/// and columns `smeared` are random noise.
fn smeared(inverted: bool, smeared: std::ops::Range<u32>) -> GrayImage {
    let mut frame = GrayImage::from_pixel(400, 400, Luma([128]));
    draw(&mut frame, "CP:phone in dark mode, data smeared", (40, 40), 6, inverted);
    let mut state = 7u32;
    let (from, to) = (40 + (4 + smeared.start) * 6, 40 + (4 + smeared.end) * 6);
    for y in from..to {
        for x in from..to {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            frame.put_pixel(x, y, Luma([if state >> 16 & 1 == 1 { 235 } else { 20 }]));
        }
    }
    frame
}

#[test]
fn a_symbol_sampled_whose_timing_patterns_hold_is_seen_unread() {
    // Smeared data, timing patterns whole: a symbol, not texture, though it does not decode
    // (a light-on-dark one wakes the strategies that read light on dark).
    for inverted in [false, true] {
        let found = run(if inverted { Strategy::Inverted } else { Strategy::Local }, &smeared(inverted, 8..22));
        assert!(found.codes.is_empty());
        assert!(found.symbol_seen, "inverted: {inverted}");
    }
    // Smeared timing patterns as well (rows and columns 6 to 22): finder patterns that frame
    // no symbol.
    let found = run(Strategy::Local, &smeared(false, 6..22));
    assert!(found.codes.is_empty() && found.finder_pair.is_some());
    assert!(!found.symbol_seen);
}

#[test]
fn light_on_dark_finders_wake_only_the_strategies_that_read_light_on_dark() {
    // A light-on-dark code with its data scrambled: the inverted matrix shows a finder pair,
    // and so does the local range's inverted reading. The strategies that can read light on
    // dark run (range, sharpened, deblurred, doubled), reading only that polarity; rqrr reads
    // dark on light only and does not. Nothing counts as evidence of a dark-on-light code.
    let frame = smeared(true, 12..30);
    let decoded = decode_until(&frame, Duration::MAX, |_| false);
    assert!(decoded.codes.is_empty());
    assert_eq!(decoded.evidence, Evidence::None);
    assert_eq!(
        decoded.ran,
        [
            Strategy::Local,
            Strategy::Inverted,
            Strategy::Range,
            Strategy::Sharpened,
            Strategy::Deblurred,
            Strategy::Double
        ]
    );
}

/// A code under moiré: the beat of a webcam's sensor grid and a phone screen's sub-pixels
/// multiplies the screen's light by curved fringes `period` pixels apart, dimming light modules
/// by up to `depth` (0.45: 45%).
fn on_a_phone(text: &str, period: f32, depth: f32) -> GrayImage {
    let mut frame = GrayImage::from_pixel(480, 480, Luma([128]));
    draw(&mut frame, text, (60, 60), 6, false);
    let angle = 0.5f32;
    for (x, y, px) in frame.enumerate_pixels_mut() {
        let along = x as f32 * angle.cos() + y as f32 * angle.sin() + 0.002 * (y as f32).powi(2);
        let gain = 1.0 + depth * (std::f32::consts::TAU * along / period).sin();
        px.0[0] = (f32::from(px.0[0]) * gain).min(255.0) as u8;
    }
    frame
}

#[test]
fn moire_fringes_on_a_phone_screen_are_read() {
    // Fringes about two modules apart: under the 40-pixel mean the dim bands turn dark and the
    // local average reads nothing; the local range, which runs on every frame, does.
    for period in [10.0, 12.0, 14.0, 18.0] {
        let frame = on_a_phone("CP:a pass shown on a phone", period, 0.45);
        let decoded = decode_until(&frame, Duration::MAX, |_| true);
        assert_eq!(texts(&decoded.codes), ["CP:a pass shown on a phone"], "period {period}");
        assert_eq!(decoded.ran, [Strategy::Local, Strategy::Inverted, Strategy::Range]);
    }
}

#[test]
fn moire_that_hides_every_finder_from_the_local_average_is_read() {
    // Deeper, wider fringes: the local average, its inverse and the half-size view show no
    // finder pattern at all, so nothing would wake a strategy that waited for one.
    for period in [14.0, 16.0, 20.0] {
        let frame = on_a_phone("CP:a pass under deep moire", period, 0.5);
        for strategy in [Strategy::Local, Strategy::Inverted, Strategy::Half] {
            let found = run(strategy, &frame);
            assert!(!found.finder_seen && found.codes.is_empty(), "{strategy:?}, period {period}");
        }
        let decoded = decode_until(&frame, Duration::MAX, |_| true);
        assert_eq!(texts(&decoded.codes), ["CP:a pass under deep moire"], "period {period}");
    }
}

#[test]
fn a_code_seen_from_behind_is_read() {
    // Through a glass door or in a mirror: the symbol is mirrored.
    let mut frame = GrayImage::from_pixel(320, 320, Luma([128]));
    draw(&mut frame, "CP:seen through the glass", (40, 40), 6, false);
    let mirrored = image::imageops::flip_horizontal(&frame);
    let decoded = decode_until(&mirrored, Duration::MAX, |_| false);
    assert_eq!(texts(&decoded.codes), ["CP:seen through the glass"]);
}

/// A 400×400 frame seen at an angle: its right side farther away, shrunk by `amount` a pixel
/// from x = 40.
fn keystone(flat: &GrayImage, amount: f32) -> GrayImage {
    let mut frame = GrayImage::from_pixel(400, 400, Luma([128]));
    for (x, y, p) in frame.enumerate_pixels_mut() {
        let w = 1.0 - amount * (x as f32 - 40.0);
        let (sx, sy) = (40.0 + (x as f32 - 40.0) / w, 200.0 + (y as f32 - 200.0) / w);
        if (0.0..399.0).contains(&sx) && (0.0..399.0).contains(&sy) {
            *p = *flat.get_pixel(sx as u32, sy as u32);
        }
    }
    frame
}

#[test]
fn a_finder_whose_centre_the_moire_breaks_is_found_near_its_guess() {
    // The code seen at an angle (its right side farther away and smaller), and thin bright
    // stripes across the top-right finder's centre, as moiré draws them, so that no row or
    // column through it shows the 1:1:3:1:1 pattern. The third finder is guessed from the other
    // two as a square's corner, which perspective puts two modules off, too far for the guess
    // to sample the symbol; the search around the guess finds the pattern.
    let text = "CP:a pass on a tilted phone, moire on a finder";
    let (px, quiet) = (6u32, 4u32);
    let mut flat = GrayImage::from_pixel(400, 400, Luma([128]));
    let n = draw(&mut flat, text, (40, 40), px, false);
    let centre = |m: u32| (40 + (quiet + m) * px) as f32;
    let (fx, fy) = (centre(n - 4) + 0.5 * px as f32, centre(3) + 0.5 * px as f32);
    for (x, y, p) in flat.enumerate_pixels_mut() {
        let (dx, dy) = (x as f32 - fx, y as f32 - fy);
        if dx.abs().max(dy.abs()) < 1.5 * px as f32 && (x + y) % 6 == 0 {
            *p = Luma([235]);
        }
    }
    // Keystone: the far (right) side about a tenth smaller.
    let frame = keystone(&flat, 0.0004);
    let found = pass_decode::run(Strategy::Local, &frame);
    assert_eq!(texts(&found.codes), [text], "read from the local average alone");
}

#[test]
fn a_washed_out_finder_under_perspective_is_found_a_module_from_its_guess() {
    // The code at an angle, and a lamp mirrored on the glass over its top-right finder
    // pattern: nothing of that pattern shows, so the search around the guessed corner finds
    // nothing, and the guess, a square's corner, lies about a module off under perspective.
    let text = "CP:a pass on a tilted phone, a lamp on a finder";
    let (px, quiet) = (6u32, 4u32);
    let mut flat = GrayImage::from_pixel(400, 400, Luma([128]));
    let n = draw(&mut flat, text, (40, 40), px, false);
    let edge = |m: u32| 40 + (quiet + m) * px;
    for y in edge(0)..edge(8) {
        for x in edge(n - 8)..edge(n) {
            flat.put_pixel(x, y, Luma([250]));
        }
    }
    // Keystone: the far (right) side about a twentieth smaller.
    let frame = keystone(&flat, 0.0002);
    let found = pass_decode::run(Strategy::Local, &frame);
    assert_eq!(texts(&found.codes), [text], "read from the local average alone");
}

/// A version 10 symbol (five blocks of 26 error-correction codewords, as a pass's) of 200
/// letters stepping by `step`, its text, and a 320×320 frame with it drawn 4 pixels a module
/// at (10, 10).
fn version_10(step: usize) -> (String, fast_qr::QRCode, GrayImage) {
    let text: String = (0..200).map(|i| char::from(b'A' + (i * step % 26) as u8)).collect();
    let code = QRBuilder::new(text.as_bytes().to_vec()).ecl(ECL::M).mode(Mode::Byte).build().expect("QR code");
    assert_eq!(code.size, 57, "version 10");
    let mut frame = GrayImage::from_pixel(320, 320, Luma([128]));
    draw(&mut frame, &text, (10, 10), 4, false);
    (text, code, frame)
}

#[test]
fn a_code_with_many_faint_modules_is_read_by_what_it_doubts() {
    // Moiré and bloom pull modules towards the middle grey until the binarizer reads them the
    // wrong colour: here 80 data modules of a version 10 symbol, about 16 codewords in each
    // block of 26 error-correction codewords, past the 13 errors it corrects. Their grey values
    // lie close to the midpoint of their neighbours, so they are the most doubtful codewords,
    // and erased they are within reach.
    let (text, code, mut frame) = version_10(11);
    let (n, px) = (code.size as u32, 4u32);
    let mut state = 99u32;
    let mut faint = std::collections::HashSet::new();
    while faint.len() < 80 {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        // Data modules only: off the finder, timing and format areas and the middle alignment
        // pattern.
        let (mx, my) = (9 + (state >> 8) % (n - 18), 9 + (state >> 20) % (n - 18));
        if mx.abs_diff(28) > 2 || my.abs_diff(28) > 2 {
            faint.insert((mx, my));
        }
    }
    for &(mx, my) in &faint {
        let dark = code.data[(my * n + mx) as usize].value();
        for y in 0..px {
            for x in 0..px {
                frame.put_pixel(10 + (4 + mx) * px + x, 10 + (4 + my) * px + y, Luma([if dark { 175 } else { 80 }]));
            }
        }
    }
    let decoded = decode_until(&frame, Duration::MAX, |_| true);
    assert_eq!(texts(&decoded.codes), [text]);
}

#[test]
fn a_code_washed_out_over_a_sixth_of_it_is_read_with_erasures() {
    // A lamp mirrored on a phone's glass, clipped to white over a square of the data a sixth of
    // the symbol's area: every dark module there reads light, past what the error correction
    // of level M corrects as errors. Those modules are washed out (no dark module near them),
    // so they are read as erasures, which it corrects twice as many of.
    let (text, _, mut frame) = version_10(7);
    let px = 4;
    // Modules 18..41 each way: off the finder patterns, the timing patterns and the format.
    let (from, to) = (10 + (4 + 18) * px, 10 + (4 + 41) * px);
    for y in from..to {
        for x in from..to {
            frame.put_pixel(x, y, Luma([255]));
        }
    }
    let decoded = decode_until(&frame, Duration::MAX, |_| true);
    assert_eq!(texts(&decoded.codes), [text]);
}
