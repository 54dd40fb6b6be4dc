//! Reed–Solomon error correction for QR code blocks over GF(256) (ISO/IEC 18004: field
//! polynomial x⁸ + x⁴ + x³ + x² + 1, generator roots α⁰ … α^(n−k−1)).
//!
//! rxing's decoder spent a sixth of the time of a typical read here, and most of the time of a
//! symbol that does not decode (it builds polynomials on the heap and divides for every field
//! multiplication); this one works on fixed tables and stack arrays: syndromes,
//! Berlekamp–Massey, Chien search and Forney's formula. A block is corrected only when the
//! number of error positions found equals the error locator's degree and the corrected block
//! has zero syndromes; anything else is [`Uncorrectable`].

/// The block has more errors than its error-correction codewords can correct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uncorrectable;

/// Most error-correction codewords of any QR code block (version 40 has 30 a block).
const MAX_EC: usize = 68;

/// α^i for i in 0..510 (doubled, so that a sum of two logarithms needs no reduction).
static EXP: [u8; 512] = {
    let mut exp = [0u8; 512];
    let mut x: u16 = 1;
    let mut i = 0;
    while i < 512 {
        exp[i] = x as u8;
        x <<= 1;
        if x & 0x100 != 0 {
            x ^= 0x11D;
        }
        i += 1;
    }
    exp
};

/// log_α(x) for x in 1..256 (`LOG[0]` is unused).
static LOG: [u8; 256] = {
    let mut log = [0u8; 256];
    let mut i = 0;
    while i < 255 {
        log[EXP[i] as usize] = i as u8;
        i += 1;
    }
    log
};

fn mul(a: u8, b: u8) -> u8 {
    if a == 0 || b == 0 { 0 } else { EXP[usize::from(LOG[usize::from(a)]) + usize::from(LOG[usize::from(b)])] }
}

fn div(a: u8, b: u8) -> u8 {
    debug_assert!(b != 0);
    if a == 0 { 0 } else { EXP[usize::from(LOG[usize::from(a)]) + 255 - usize::from(LOG[usize::from(b)])] }
}

/// α^e for any exponent.
fn pow_alpha(e: usize) -> u8 {
    EXP[e % 255]
}

/// `TIMES_ALPHA[i][x]` = x · α^i, for the syndromes: one lookup a step and no branch.
static TIMES_ALPHA: [[u8; 256]; MAX_EC] = {
    let mut table = [[0u8; 256]; MAX_EC];
    let mut i = 0;
    while i < MAX_EC {
        let mut x = 1;
        while x < 256 {
            table[i][x] = EXP[LOG[x] as usize + i];
            x += 1;
        }
        i += 1;
    }
    table
};

/// Syndromes S_i = r(α^i), i < `ec`, of `block` (first byte = highest power), by Horner's rule
/// for all of them at once (independent chains, so the lookups overlap). True if any is
/// non-zero.
fn syndromes(block: &[u8], ec: usize, out: &mut [u8; MAX_EC]) -> bool {
    let out = &mut out[..ec];
    out.fill(0);
    for &c in block {
        for (s, times) in out.iter_mut().zip(&TIMES_ALPHA) {
            *s = times[usize::from(*s)] ^ c;
        }
    }
    out.iter().any(|&s| s != 0)
}

/// Corrects `block` (data codewords then `ec` error-correction codewords) in place and returns
/// the number of codewords changed; a block it refuses is left as it was.
pub fn correct(block: &mut [u8], ec: usize) -> Result<usize, Uncorrectable> {
    correct_with_erasures(block, ec, &[])
}

/// Error-correction codewords that must stay beyond the erasures: with fewer, a block of
/// garbage would too often land within reach of some codeword.
pub const MIN_SPARE: usize = 8;

/// [`correct`] with `erasures`: positions (indices into `block`) known to be unreliable, whose
/// values are not trusted. `e` errors and `f` erasures are corrected when `2e + f ≤ ec` and at
/// least [`MIN_SPARE`] error-correction codewords are left beyond the erasures (`ec − f`).
/// Returns the number of codewords changed; a block it refuses is left as it was.
pub fn correct_with_erasures(block: &mut [u8], ec: usize, erasures: &[usize]) -> Result<usize, Uncorrectable> {
    let n = block.len();
    let f = erasures.len();
    if ec == 0 || ec > MAX_EC || ec >= n || n > 255 || (f > 0 && f + MIN_SPARE > ec) {
        return Err(Uncorrectable);
    }
    let mut s = [0u8; MAX_EC];
    if !syndromes(block, ec, &mut s) {
        return Ok(0);
    }

    // The erasure locator Γ(x) = Π (1 − X_j x) over the erased positions, lowest power first.
    let mut gamma = [0u8; MAX_EC + 1];
    gamma[0] = 1;
    for (k, &p) in erasures.iter().enumerate() {
        if p >= n || erasures[..k].contains(&p) {
            return Err(Uncorrectable);
        }
        let x = pow_alpha(n - 1 - p);
        for i in (1..=k + 1).rev() {
            gamma[i] ^= mul(gamma[i - 1], x);
        }
    }

    // Berlekamp–Massey from Γ: the errata locator Λ(x) = Γ(x) · Π (1 − X_k x) over the errors.
    let mut lambda = gamma;
    let mut prev = gamma;
    let (mut l, mut m, mut b) = (f, 1usize, 1u8);
    for r in f..ec {
        let mut delta = s[r];
        for i in 1..=l.min(r) {
            delta ^= mul(lambda[i], s[r - i]);
        }
        if delta == 0 {
            m += 1;
            continue;
        }
        let coef = div(delta, b);
        let old = lambda;
        for i in 0..=ec - m {
            lambda[i + m] ^= mul(coef, prev[i]);
        }
        if 2 * l <= r + f {
            l = r + 1 + f - l;
            prev = old;
            b = delta;
            m = 1;
        } else {
            m += 1;
        }
    }
    // l − f errors at two codewords each, f erasures at one.
    if l == 0 || l > ec || 2 * (l - f) + f > ec {
        return Err(Uncorrectable);
    }

    // Ω(x) = S(x) Λ(x) mod x^ec.
    let mut omega = [0u8; MAX_EC];
    for i in 0..ec {
        let mut acc = 0u8;
        for j in 0..=i.min(l) {
            acc ^= mul(lambda[j], s[i - j]);
        }
        omega[i] = acc;
    }

    // Chien search over the block's positions; Forney's formula for each magnitude. Position
    // `p` (index into `block`) holds the coefficient of x^(n−1−p), locator X = α^(n−1−p).
    let mut fixes = [(0usize, 0u8); MAX_EC];
    let mut found = 0;
    for (p, byte) in block.iter_mut().enumerate() {
        let power = n - 1 - p;
        let x_inv = pow_alpha(255 - power % 255); // X⁻¹
        // Λ(X⁻¹)
        let mut value = 0u8;
        let mut x_pow = 1u8;
        for &c in &lambda[..=l] {
            value ^= mul(c, x_pow);
            x_pow = mul(x_pow, x_inv);
        }
        if value != 0 {
            continue;
        }
        // Λ'(X⁻¹): the odd-power terms (characteristic 2).
        let mut derivative = 0u8;
        let mut x_pow = 1u8; // (X⁻¹)^(i−1) for odd i
        let x_inv2 = mul(x_inv, x_inv);
        for i in (1..=l).step_by(2) {
            derivative ^= mul(lambda[i], x_pow);
            x_pow = mul(x_pow, x_inv2);
        }
        if derivative == 0 || found == l {
            undo(block, &fixes[..found]);
            return Err(Uncorrectable);
        }
        let mut om = 0u8;
        let mut x_pow = 1u8;
        for &c in &omega[..ec] {
            om ^= mul(c, x_pow);
            x_pow = mul(x_pow, x_inv);
        }
        // e = X · Ω(X⁻¹) / Λ'(X⁻¹)   (generator roots from α⁰)
        let magnitude = mul(pow_alpha(power), div(om, derivative));
        *byte ^= magnitude;
        fixes[found] = (p, magnitude);
        found += 1;
    }
    if found != l || syndromes(block, ec, &mut s) {
        undo(block, &fixes[..found]);
        return Err(Uncorrectable);
    }
    // An erased codeword may have been right all along.
    Ok(fixes[..found].iter().filter(|(_, magnitude)| *magnitude != 0).count())
}

/// Takes corrections back: a refused block is left as it came.
fn undo(block: &mut [u8], fixes: &[(usize, u8)]) {
    for &(p, magnitude) in fixes {
        block[p] ^= magnitude;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends `ec` error-correction codewords to `data`: the remainder of data·x^ec divided by
    /// the generator Π (x − α^i), i < ec.
    fn encode(data: &[u8], ec: usize) -> Vec<u8> {
        let mut generator = vec![1u8]; // highest power first
        for i in 0..ec {
            let root = pow_alpha(i);
            let mut next = vec![0u8; generator.len() + 1];
            for (j, &g) in generator.iter().enumerate() {
                next[j] ^= g;
                next[j + 1] ^= mul(g, root);
            }
            generator = next;
        }
        let mut rest: Vec<u8> = data.iter().copied().chain(std::iter::repeat_n(0, ec)).collect();
        for i in 0..data.len() {
            let c = rest[i];
            if c != 0 {
                for (j, &g) in generator.iter().enumerate() {
                    rest[i + j] ^= mul(g, c);
                }
            }
        }
        data.iter().copied().chain(rest[data.len()..].iter().copied()).collect()
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn the_tables_are_the_qr_field() {
        assert_eq!(EXP[8], 0x1D);
        assert_eq!(EXP[255], 1);
        assert_eq!(mul(0x53, 0xCA), mul(0xCA, 0x53));
        for a in 1..=255u8 {
            assert_eq!(div(mul(a, 0x8E), 0x8E), a);
        }
    }

    #[test]
    fn up_to_half_the_ec_codewords_are_corrected() {
        let mut rng = Rng(1);
        for (data_len, ec) in [(19, 7), (16, 10), (13, 13), (9, 17), (80, 20), (115, 30), (15, 30)] {
            for errors in 0..=ec / 2 {
                let data: Vec<u8> = (0..data_len).map(|_| rng.next() as u8).collect();
                let clean = encode(&data, ec);
                let mut block = clean.clone();
                let wrong = positions(&mut rng, block.len(), errors, &[]);
                garble(&mut rng, &mut block, &wrong);
                assert_eq!(correct(&mut block, ec), Ok(errors), "{data_len}+{ec}, {errors} errors");
                assert_eq!(block, clean);
            }
        }
    }

    #[test]
    fn too_many_errors_are_refused_or_give_a_codeword() {
        // Beyond half the EC codewords a decoder must refuse; rarely the block lands within
        // reach of another codeword, and then the result is that codeword, never garbage.
        let mut rng = Rng(2);
        let (mut refused, mut total) = (0, 0);
        for _ in 0..2000 {
            let (data_len, ec) = (40, 10 + 2 * rng.below(6));
            let data: Vec<u8> = (0..data_len).map(|_| rng.next() as u8).collect();
            let mut block = encode(&data, ec);
            let errors = ec / 2 + 1 + rng.below(ec);
            let wrong = positions(&mut rng, block.len(), errors, &[]);
            garble(&mut rng, &mut block, &wrong);
            total += 1;
            refused += usize::from(refused_or_codeword(&mut block, data_len, ec, |block| correct(block, ec)));
        }
        assert!(refused * 100 >= total * 99, "{refused} of {total} refused");
    }

    /// Gives each codeword of `block` at `at` another value.
    fn garble(rng: &mut Rng, block: &mut [u8], at: &[usize]) {
        for &p in at {
            block[p] ^= 1 + rng.below(255) as u8;
        }
    }

    /// Runs `correct` on `block` (`data_len` data codewords, then `ec`): true when it refused
    /// and left the block as it came, false when it made the block a codeword; anything else
    /// fails the test.
    fn refused_or_codeword(
        block: &mut [u8],
        data_len: usize,
        ec: usize,
        correct: impl FnOnce(&mut [u8]) -> Result<usize, Uncorrectable>,
    ) -> bool {
        let received = block.to_vec();
        match correct(block) {
            Err(Uncorrectable) => {
                assert_eq!(block, received, "a refused block is left as it came");
                true
            }
            Ok(_) => {
                assert_eq!(encode(&block[..data_len], ec), block, "a valid codeword");
                false
            }
        }
    }

    /// `count` distinct positions below `n` that are not in `avoid`.
    fn positions(rng: &mut Rng, n: usize, count: usize, avoid: &[usize]) -> Vec<usize> {
        let mut out = Vec::new();
        while out.len() < count {
            let p = rng.below(n);
            if !out.contains(&p) && !avoid.contains(&p) {
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn errors_and_erasures_within_reach_are_corrected() {
        // e errors and f erasures with 2e + f ≤ ec; some erased codewords were right all along.
        let mut rng = Rng(4);
        for (data_len, ec) in [(43, 26), (44, 26), (16, 10), (80, 20), (115, 30), (15, 30)] {
            for f in [0, 1, 2, 5, 9, ec - MIN_SPARE].into_iter().filter(|&f| f + MIN_SPARE <= ec) {
                for errors in 0..=(ec - f) / 2 {
                    let data: Vec<u8> = (0..data_len).map(|_| rng.next() as u8).collect();
                    let clean = encode(&data, ec);
                    let mut block = clean.clone();
                    let erased = positions(&mut rng, block.len(), f, &[]);
                    let wrong = positions(&mut rng, block.len(), errors, &erased);
                    for &p in &erased {
                        if rng.below(4) != 0 {
                            block[p] = rng.next() as u8;
                        }
                    }
                    garble(&mut rng, &mut block, &wrong);
                    let changed = (0..block.len()).filter(|&p| block[p] != clean[p]).count();
                    assert_eq!(
                        correct_with_erasures(&mut block, ec, &erased),
                        Ok(changed),
                        "{data_len}+{ec}, {f} erasures, {errors} errors"
                    );
                    assert_eq!(block, clean, "{data_len}+{ec}, {f} erasures, {errors} errors");
                }
            }
        }
    }

    #[test]
    fn erasures_reach_past_half_the_ec_codewords() {
        // 15 wrong codewords of a 26-EC block (level M, version 10): past errors alone, within
        // reach when 10 of them are known.
        let mut rng = Rng(5);
        let data: Vec<u8> = (0..43).map(|_| rng.next() as u8).collect();
        let clean = encode(&data, 26);
        let mut block = clean.clone();
        let wrong = positions(&mut rng, block.len(), 15, &[]);
        garble(&mut rng, &mut block, &wrong);
        let received = block.clone();
        assert_eq!(correct(&mut block, 26), Err(Uncorrectable));
        assert_eq!(block, received);
        assert_eq!(correct_with_erasures(&mut block, 26, &wrong[..10]), Ok(15));
        assert_eq!(block, clean);
    }

    #[test]
    fn erasures_past_reach_are_refused_or_give_a_codeword() {
        let mut rng = Rng(6);
        let (mut refused, mut total) = (0, 0);
        for _ in 0..2000 {
            let (data_len, ec) = (43, 26);
            let data: Vec<u8> = (0..data_len).map(|_| rng.next() as u8).collect();
            let mut block = encode(&data, ec);
            let f = rng.below(ec - MIN_SPARE + 1);
            let erased = positions(&mut rng, block.len(), f, &[]);
            // One error more than the erasures leave room for, and up to ten more.
            let errors = (ec - f) / 2 + 1 + rng.below(10);
            let wrong = positions(&mut rng, block.len(), errors, &erased);
            garble(&mut rng, &mut block, &erased);
            garble(&mut rng, &mut block, &wrong);
            total += 1;
            refused += usize::from(refused_or_codeword(&mut block, data_len, ec, |block| {
                correct_with_erasures(block, ec, &erased)
            }));
        }
        assert!(refused * 100 >= total * 99, "{refused} of {total} refused");
    }

    #[test]
    fn too_many_or_malformed_erasures_are_refused() {
        let clean = encode(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 10);
        let mut block = clean.clone();
        block[0] ^= 1;
        // Ten EC codewords leave room for two erasures beyond the spare ones.
        assert_eq!(correct_with_erasures(&mut block, 10, &[0, 1, 2]), Err(Uncorrectable));
        assert_eq!(correct_with_erasures(&mut block, 10, &[0, 0]), Err(Uncorrectable));
        assert_eq!(correct_with_erasures(&mut block, 10, &[0, 99]), Err(Uncorrectable));
        assert_eq!(correct_with_erasures(&mut block, 10, &[0, 1]), Ok(1));
        assert_eq!(block, clean);
    }

    #[test]
    fn malformed_blocks_are_refused() {
        assert_eq!(correct(&mut [1, 2, 3], 0), Err(Uncorrectable));
        assert_eq!(correct(&mut [1, 2, 3], 3), Err(Uncorrectable));
        assert_eq!(correct(&mut [0; 300], 30), Err(Uncorrectable));
        assert_eq!(correct(&mut [7; 10], 69), Err(Uncorrectable));
        // Garbage of every shape: refused or corrected to a codeword, never a panic.
        let mut rng = Rng(3);
        for _ in 0..5000 {
            let n = 2 + rng.below(254);
            let ec = 1 + rng.below(n - 1).min(MAX_EC - 1);
            let mut block: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            if correct(&mut block, ec).is_ok() {
                assert_eq!(encode(&block[..n - ec], ec), block);
            }
        }
    }
}
