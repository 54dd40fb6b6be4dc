//! Reed–Solomon correction of a QR code block (`pass_decode::reed_solomon`): any block and any
//! count of error-correction codewords. Never panics; what it corrects is a codeword (a second
//! correction changes nothing), and a block it calls clean or refuses is left as it was.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pass_decode::reed_solomon::correct;

fuzz_target!(|data: &[u8]| {
    let Some((&ec, block)) = data.split_first() else { return };
    let mut block = block.to_vec();
    let before = block.clone();
    match correct(&mut block, usize::from(ec)) {
        Ok(0) => assert_eq!(block, before),
        Ok(_) => assert_eq!(correct(&mut block, usize::from(ec)), Ok(0)),
        Err(_) => assert_eq!(block, before),
    }
});
