#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]
fn main() {
    let images: Vec<_> = std::env::args()
        .skip(1)
        .filter_map(|p| pass_decode::image_input::load_path(std::path::Path::new(&p)).ok())
        .collect();
    // Only the images decoded in under 0.5 ms (the ones that set the median).
    let images: Vec<_> = images
        .into_iter()
        .filter(|image| {
            let t = std::time::Instant::now();
            pass_decode::decode_until(image, pass_decode::DEFAULT_BUDGET, |_| true);
            std::env::var("FAST").is_err() || t.elapsed().as_secs_f64() < 0.0005
        })
        .collect();
    let n: usize = std::env::var("N").map(|v| v.parse().unwrap()).unwrap_or(20);
    let mut times = vec![f64::MAX; images.len()];
    for _ in 0..n {
        for (image, best) in images.iter().zip(&mut times) {
            let t = std::time::Instant::now();
            std::hint::black_box(pass_decode::decode_until(image, pass_decode::DEFAULT_BUDGET, |_| true));
            *best = best.min(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "{} images, median of best {:.3} ms, total {:.1} ms",
        images.len(),
        sorted[sorted.len() / 2],
        times.iter().sum::<f64>()
    );
}
