//! The frame budget's worst case: 40 full-HD frames with no code but finder-like texture
//! (printed text, cloth, art), decoded as `scan` does, with every strategy allowed.
//! Prints the slowest frame and what each strategy costs on it.
#![allow(missing_docs)]
use pass_camsim::{Category, Spec, generate};
use pass_decode as decode;

fn main() {
    let spec = |seed: u64| Spec {
        category: Category::NoCode,
        severity: (seed % 10) as f64 / 9.0,
        seed: 1000 + seed,
        size: (1920, 1080),
    };
    let (mut worst, mut worst_seed, mut evidence) = (0.0f64, 0, 0);
    for seed in 0..40 {
        let frame = generate(spec(seed));
        let start = std::time::Instant::now();
        let decoded = decode::decode_until(&frame.image, decode::DEFAULT_BUDGET, |_| false);
        let ms = start.elapsed().as_secs_f64() * 1e3;
        assert!(decoded.codes.is_empty(), "a code in a frame without one");
        evidence += usize::from(decoded.evidence == decode::Evidence::Pair);
        if ms > worst {
            (worst, worst_seed) = (ms, seed);
        }
    }
    println!(
        "40 no-code 1920x1080 frames, {evidence} with finder evidence: slowest {worst:.1} ms (budget {} ms)",
        decode::DEFAULT_BUDGET.as_millis()
    );
    let frame = generate(spec(worst_seed));
    for &strategy in decode::STRATEGIES {
        let start = std::time::Instant::now();
        decode::run(strategy, &frame.image);
        println!("  {}: {:.1} ms", strategy.name(), start.elapsed().as_secs_f64() * 1e3);
    }
}
