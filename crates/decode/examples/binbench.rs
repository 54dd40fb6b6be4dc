#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]
fn main() {
    for path in std::env::args().skip(1) {
        let image = pass_decode::image_input::load_path(std::path::Path::new(&path)).expect("image");
        for (name, f) in [
            ("local", pass_decode::binarize::local_average as fn(&image::GrayImage) -> _),
            ("midpoint", pass_decode::binarize::local_range),
        ] {
            let mut best = f64::MAX;
            for _ in 0..std::env::var("N").map(|v| v.parse().unwrap()).unwrap_or(50) {
                let t = std::time::Instant::now();
                std::hint::black_box(f(&image));
                best = best.min(t.elapsed().as_secs_f64() * 1e3);
            }
            println!("{name}: {best:.3} ms");
        }
    }
}
