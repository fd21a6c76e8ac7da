//! Percentiles by the rule of numpy's and R's default (Hyndman–Fan type 7):
//! position `h = (N − 1)·q`, linear interpolation between the order
//! statistics at `floor(h)` and `floor(h) + 1`, with numpy's lerp.

use std::cmp::Ordering;

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

/// The percentile between the order statistics `a` (at the rank of
/// `position`) and `b` (the next one, or `a` again at the end), by numpy's
/// `_lerp`: `a + (b − a)·t`, or `b − (b − a)·(1 − t)` when `t ≥ 0.5`.
pub fn interpolate(a: f64, b: f64, t: f64) -> f64 {
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// The type-7 position of fraction `q` (in [0, 1]) among `n ≥ 1` values:
/// the rank `floor(h)` (0-based) and the weight `h − floor(h)` of the next
/// rank, with `h = (n − 1)·q`.
pub fn position(n: usize, q: f64) -> (usize, f64) {
    let h = index_as_f64(n.saturating_sub(1)) * q;
    let lo = floor_index(h, n);
    (lo, h - index_as_f64(lo))
}

/// Type-7 percentiles of `values` at each fraction in `qs` (each in [0, 1]).
/// `values` is reordered. Returns NaN for an empty slice.
pub fn percentiles(values: &mut [f64], qs: &[f64]) -> Vec<f64> {
    if values.is_empty() {
        return vec![f64::NAN; qs.len()];
    }
    let positions: Vec<(usize, f64)> = qs.iter().map(|&q| position(values.len(), q)).collect();
    let ranks: Vec<usize> = positions.iter().map(|&(rank, _)| rank).collect();
    order_statistics(values, &ranks, f64::total_cmp)
        .into_iter()
        .zip(&positions)
        .map(|((a, b), &(_, t))| interpolate(a, b, t))
        .collect()
}

/// A signed integer with the order of `f64::total_cmp`: comparing keys is
/// comparing the values, and cheaper.
pub fn order_key(value: f64) -> i64 {
    let bits = value.to_bits().cast_signed();
    bits ^ ((bits >> 63).cast_unsigned() >> 1).cast_signed()
}

/// The value of an `order_key`.
pub fn from_order_key(key: i64) -> f64 {
    f64::from_bits((key ^ ((key >> 63).cast_unsigned() >> 1).cast_signed()).cast_unsigned())
}

/// For each rank (0-based, each below `values.len()`), the order statistic
/// at that rank and the next one (the same again at the last rank), in the
/// order `compare`. `values` is reordered.
///
/// The middle rank is selected first, then the lower ranks in the part below
/// it and the higher ranks in the part above, and so on; at the end each
/// next order statistic is the least value between its rank and the next
/// rank placed.
pub fn order_statistics<T: Copy>(values: &mut [T], ranks: &[usize], compare: impl Fn(&T, &T) -> Ordering + Copy) -> Vec<(T, T)> {
    let mut placed: Vec<usize> = ranks.to_vec();
    placed.sort_unstable();
    placed.dedup();
    place(values, &placed, compare);
    ranks
        .iter()
        .map(|&rank| {
            let at = values[rank];
            // The values above `rank` and below the next placed rank are unordered but above it.
            let next_placed = placed.iter().copied().find(|&other| other > rank).unwrap_or(values.len());
            let next = values[rank + 1..next_placed.min(values.len() - 1) + 1]
                .iter()
                .copied()
                .min_by(compare)
                .unwrap_or(at);
            (at, next)
        })
        .collect()
}

/// Puts the values of `ranks` (increasing, each below `values.len()`) in
/// their places, with every smaller value before and every larger after.
fn place<T: Copy>(values: &mut [T], ranks: &[usize], compare: impl Fn(&T, &T) -> Ordering + Copy) {
    if ranks.is_empty() {
        return;
    }
    let middle = ranks.len() / 2;
    let rank = ranks[middle];
    values.select_nth_unstable_by(rank, compare);
    let (below, above) = values.split_at_mut(rank);
    place(below, &ranks[..middle], compare);
    let above_ranks: Vec<usize> = ranks[middle + 1..].iter().map(|&other| other - rank - 1).collect();
    place(&mut above[1..], &above_ranks, compare);
}
