//! Answer policies for A/AAAA RRsets: `all`, `random-one`, `hone-one`.

/// wyrand: a tiny, fast, seedable PRNG (Wang Yi, public domain).
#[derive(Debug, Clone)]
pub struct WyRand {
    state: u64,
}

impl WyRand {
    pub fn new(seed: u64) -> WyRand {
        WyRand { state: seed }
    }

    /// Next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.state) * u128::from(self.state ^ 0xe703_7ed1_a0b4_28db);
        (t as u64) ^ ((t >> 64) as u64)
    }
}
