//! criterion: decode + verify of one 720p webcam frame holding a pass, and of one holding no
//! code (the live camera's common case), with the default frame budget, as `scan` runs.
//!
//!     cargo bench -p pass-verifier --bench decode

#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use pass_camsim::{Category, EXAMPLE_TRUST, FRAME_720P, Spec, generate};
use pass_core::TrustList;
use pass_core::verdict::Checkpoint;
use pass_verifier::scan;

fn decode_and_verify(c: &mut Criterion) {
    let trust = TrustList::from_toml(EXAMPLE_TRUST).expect("example trust list");
    let with_pass = generate(Spec { category: Category::Perspective, severity: 0.3, seed: 7, size: FRAME_720P });
    let no_code = generate(Spec { category: Category::NoCode, severity: 0.5, seed: 8, size: FRAME_720P });
    let now = with_pass.pass.as_ref().expect("a pass").valid_from + 3600;
    let checkpoint = Checkpoint { now, ..Checkpoint::default() };
    assert!(scan::scan(&with_pass.image, &trust, &checkpoint).accepted(), "the bench frame must verify");

    let mut group = c.benchmark_group("scan 1280x720");
    group.bench_function("frame with a pass (decode + verify)", |b| {
        b.iter(|| scan::scan(&with_pass.image, &trust, &checkpoint))
    });
    group.bench_function("frame without a code", |b| b.iter(|| scan::scan(&no_code.image, &trust, &checkpoint)));
    group.finish();
}

criterion_group!(benches, decode_and_verify);
criterion_main!(benches);
