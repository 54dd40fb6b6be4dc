//! Times each decoding strategy on the given images (a quick look; the decode bench is the real measure).
#![allow(missing_docs)]
fn main() {
    for path in std::env::args().skip(1) {
        let image = pass_decode::image_input::load_path(std::path::Path::new(&path)).expect("image");
        for strategy in pass_decode::STRATEGIES {
            let start = std::time::Instant::now();
            let codes = pass_decode::run(*strategy, &image);
            println!(
                "{path}: {}: {} code(s) in {:.2} ms{}",
                strategy.name(),
                codes.codes.len(),
                start.elapsed().as_secs_f64() * 1000.0,
                if codes.finder_pair.is_some() {
                    ", a finder pair left over"
                } else if codes.finder_seen {
                    ", a finder pattern left over"
                } else {
                    ""
                }
            );
        }
    }
}
