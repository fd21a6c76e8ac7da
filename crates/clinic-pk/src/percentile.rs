//! Percentiles by the rule of numpy's and R's default (Hyndman–Fan type 7):
//! position `h = (N − 1)·q`, linear interpolation between the order
//! statistics at `floor(h)` and `floor(h) + 1`, with numpy's lerp.

/// The percentiles the population report prints, as fractions.
pub const P5_P50_P95: [f64; 3] = [5.0 / 100.0, 50.0 / 100.0, 95.0 / 100.0];

/// `floor(h)` as an index, for `0 ≤ h ≤ n − 1` (no float-to-int cast).
fn floor_index(h: f64, n: usize) -> usize {
    let (mut lo, mut hi) = (0_usize, n.saturating_sub(1));
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if index_as_f64(mid) <= h {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

fn index_as_f64(idx: usize) -> f64 {
    match u32::try_from(idx) {
        Ok(small) => f64::from(small),
        Err(_) => {
            let wide = u64::try_from(idx).unwrap_or(u64::MAX);
            f64::from(u32::try_from(wide >> 32).unwrap_or(u32::MAX)) * 4_294_967_296.0 + f64::from(u32::try_from(wide & 0xFFFF_FFFF).unwrap_or(0))
        }
    }
}

/// numpy's `_lerp`: `a + (b − a)·t`, or `b − (b − a)·(1 − t)` when `t ≥ 0.5`.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// Type-7 percentiles of `values` at each fraction in `qs` (each in [0, 1]).
/// `values` is reordered. Returns NaN for an empty slice.
pub fn percentiles(values: &mut [f64], qs: &[f64]) -> Vec<f64> {
    let n = values.len();
    if n == 0 {
        return vec![f64::NAN; qs.len()];
    }
    let last = index_as_f64(n - 1);
    qs.iter()
        .map(|&q| {
            let h = last * q;
            let lo = floor_index(h, n);
            let t = h - index_as_f64(lo);
            let (_, &mut a, rest) = values.select_nth_unstable_by(lo, f64::total_cmp);
            let b = rest.iter().copied().min_by(f64::total_cmp).unwrap_or(a);
            lerp(a, b, t)
        })
        .collect()
}
