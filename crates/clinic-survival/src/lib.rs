#![doc = include_str!("../README.md")]

pub mod analysis;
pub mod chi2;
pub mod cohort;
pub mod cox;
pub mod csv;
pub mod km;
pub mod logrank;

/// Φ⁻¹(0.975), the normal quantile of every 95 % interval (survival.md §5).
pub const Z_95: f64 = 1.959_963_984_540_054;

/// A count as a float, exact below 2⁵³ (no `as` casts: workspace lint).
pub(crate) fn count_f64(count: u64) -> f64 {
    let high = u32::try_from(count >> 32).unwrap_or(u32::MAX);
    let low = u32::try_from(count & 0xFFFF_FFFF).unwrap_or(u32::MAX);
    f64::from(high) * 4_294_967_296.0 + f64::from(low)
}
