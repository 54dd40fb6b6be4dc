//! Reed–Solomon correction of a QR code block (`pass_decode::reed_solomon`): any block, any
//! count of error-correction codewords and any erasure positions. Never panics; what it
//! corrects is a codeword (a second correction changes nothing), and a block it calls clean or
//! refuses is left as it was.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pass_decode::reed_solomon::{correct, correct_with_erasures};

fuzz_target!(|data: &[u8]| {
    let Some((&ec, rest)) = data.split_first() else { return };
    let Some((&count, rest)) = rest.split_first() else { return };
    // The first `count % 32` bytes after the header are erasure positions.
    let count = usize::from(count % 32).min(rest.len());
    let (positions, block) = rest.split_at(count);
    let erasures: Vec<usize> = positions.iter().map(|&p| usize::from(p)).collect();
    let ec = usize::from(ec);
    let mut block = block.to_vec();
    let before = block.clone();
    match correct_with_erasures(&mut block, ec, &erasures) {
        Ok(0) => assert_eq!(block, before),
        Ok(_) => assert_eq!(correct(&mut block, ec), Ok(0)),
        Err(_) => assert_eq!(block, before),
    }
});
