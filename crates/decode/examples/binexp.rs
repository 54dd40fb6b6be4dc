#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]
use image::GrayImage;
use rxing::common::BitMatrix;

fn minmax(image: &GrayImage, frac: f32, block: usize, reach: usize) -> BitMatrix {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let (bw, bh) = (w.div_ceil(block), h.div_ceil(block));
    let mut lo = vec![255u8; bw * bh];
    let mut hi = vec![0u8; bw * bh];
    let mut sum = vec![0u32; bw * bh];
    for y in 0..h {
        for x in 0..w {
            let p = image.as_raw()[y * w + x];
            let b = (y / block) * bw + x / block;
            lo[b] = lo[b].min(p);
            hi[b] = hi[b].max(p);
            sum[b] += p as u32;
        }
    }
    let mut t = vec![0u8; bw * bh];
    for by in 0..bh {
        for bx in 0..bw {
            let (mut l, mut hh) = (255u8, 0u8);
            for yy in by.saturating_sub(reach)..(by + reach + 1).min(bh) {
                for xx in bx.saturating_sub(reach)..(bx + reach + 1).min(bw) {
                    l = l.min(lo[yy * bw + xx]);
                    hh = hh.max(hi[yy * bw + xx]);
                }
            }
            t[by * bw + bx] =
                if hh - l < MINR.with(|m| m.get()) { l / 2 } else { (l as f32 + frac * (hh - l) as f32) as u8 };
        }
    }
    let mut m = BitMatrix::new(w as u32, h as u32).unwrap();
    for y in 0..h {
        for x in 0..w {
            if image.as_raw()[y * w + x] <= t[(y / block) * bw + x / block] {
                m.set(x as u32, y as u32);
            }
        }
    }
    m
}

thread_local! { static MINR: std::cell::Cell<u8> = const { std::cell::Cell::new(24) }; }
fn main() {
    if let Ok(v) = std::env::var("MINR") {
        MINR.with(|m| m.set(v.parse().unwrap()));
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args[0] == "count" {
        for p in &args[1..] {
            println!("{p}: {:?}", count(p));
        }
        return;
    }
    let frac: f32 = args[0].parse().unwrap();
    let block: usize = args[1].parse().unwrap();
    let reach: usize = args[2].parse().unwrap();
    for path in &args[3..] {
        let mut image = pass_decode::image_input::load_path(std::path::Path::new(path)).expect("image");
        for _ in 0..std::env::var("BLUR").map(|v| v.parse().unwrap()).unwrap_or(0) {
            image = pass_decode::prepare::box_blur(&image);
        }
        let start = std::time::Instant::now();
        let t0 = std::time::Instant::now();
        let m = if frac < -1.5 {
            pass_decode::binarize::local_range(&image).unwrap()
        } else if frac < 0.0 {
            pass_decode::binarize::local_average(&image).unwrap()
        } else {
            minmax(&image, frac, block, reach)
        };
        eprintln!(
            "bin {:.2} ms, {} finders",
            t0.elapsed().as_secs_f64() * 1e3,
            pass_decode::readers::find_finder_patterns(&m, false).len()
        );
        if let Ok(d) = std::env::var("DUMP") {
            let img = GrayImage::from_fn(m.getWidth(), m.getHeight(), |x, y| {
                image::Luma([if m.get(x, y) { 0 } else { 255 }])
            });
            img.save(format!("{d}/{}", std::path::Path::new(path).file_name().unwrap().to_str().unwrap())).unwrap();
        }
        let f = pass_decode::readers::zxing(&m, false, &mut Default::default());
        let mut inv = m.clone();
        inv.flip_self();
        let g = pass_decode::readers::zxing(&inv, false, &mut Default::default());
        println!(
            "{path}: {} {} | inv {} {} {:.1}ms",
            f.codes.len(),
            f.finder_pair.is_some(),
            g.codes.len(),
            g.finder_pair.is_some(),
            start.elapsed().as_secs_f64() * 1e3
        );
    }
}
#[allow(dead_code)]
pub fn count(path: &str) -> (usize, usize) {
    let image = pass_decode::image_input::load_path(std::path::Path::new(path)).expect("image");
    let m = pass_decode::binarize::local_average(&image).unwrap();
    let a = pass_decode::readers::find_finder_patterns(&m, false).len();
    let mut inv = m.clone();
    inv.flip_self();
    (a, pass_decode::readers::find_finder_patterns(&inv, false).len())
}
