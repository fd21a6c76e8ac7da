//! A small seeded generator, fixed here so a seed gives the same subjects on
//! every platform and every version: SplitMix64 seeding xoshiro256**, and
//! standard normals by the Box–Muller transform (both values used, in order).

#[derive(Debug, Clone)]
pub struct Rng {
    state: [u64; 4],
    spare_normal: Option<f64>,
}

/// SplitMix64: one step of the seeding generator (also a small generator on
/// its own, as the demo seed uses it).
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    pub fn seeded(seed: u64) -> Rng {
        let mut sm = seed;
        let state = [splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm)];
        Rng { state, spare_normal: None }
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.state[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.state[1] << 17;
        self.state[2] ^= self.state[0];
        self.state[3] ^= self.state[1];
        self.state[1] ^= self.state[2];
        self.state[0] ^= self.state[3];
        self.state[2] ^= t;
        self.state[3] = self.state[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        let bits = self.next_u64() >> 11;
        let high = f64::from(u32::try_from(bits >> 32).unwrap_or(0));
        let low = f64::from(u32::try_from(bits & 0xFFFF_FFFF).unwrap_or(0));
        (high * 4_294_967_296.0 + low) / 9_007_199_254_740_992.0
    }

    /// A standard normal (Box–Muller; `1 − u` keeps the logarithm finite).
    pub fn next_normal(&mut self) -> f64 {
        if let Some(spare) = self.spare_normal.take() {
            return spare;
        }
        let radius = (-2.0 * (1.0 - self.next_f64()).ln()).sqrt();
        let angle = 2.0 * std::f64::consts::PI * self.next_f64();
        self.spare_normal = Some(radius * angle.sin());
        radius * angle.cos()
    }
}
