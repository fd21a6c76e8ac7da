//! Exact order statistics of a large column from one pass over it, without
//! keeping the column: a sample of the column brackets each wanted rank
//! between two of its values; the pass counts the values below each bracket
//! and keeps the few inside it; the wanted ranks are then selected among the
//! kept values. A bracket that misses its rank (an unlucky sample, or many
//! equal values) says so, and the caller computes that column in full
//! instead; either way the result is the same order statistic, bit for bit.
//!
//! Every value below a bracket is smaller than every kept value, and every
//! value above it is larger, so the kept values are exactly the ranks
//! `below .. below + kept` of the column. Concentrations are never NaN
//! (`cohort.rs` clamps with `max`), which this relies on.

use crate::cohort::BLOCK;
use crate::percentile::{from_order_key, interpolate, order_key, order_statistics};

/// How wide a bracket is, in standard deviations of a sample quantile:
/// a bracket misses with a probability of about 1e-5, and a miss costs only
/// time.
const SPREAD_SDS_TIMES_2: u64 = 9;

/// The values `lo ..= hi` around one wanted rank, and how many values the
/// pass may keep before it gives up (many equal values).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bracket {
    lo: f32,
    hi: f32,
    max_kept: usize,
}

/// The nearest `f32`. Rounding is monotone (`x ≤ y` gives `narrow(x) ≤
/// narrow(y)`), so values classified against brackets through it keep their
/// order: everything counted below a bracket is smaller than everything kept
/// in it, which is all that exactness needs, and four comparisons fit in a
/// vector instead of two.
#[allow(clippy::as_conversions)] // Deliberately lossy: only the order is used, never the value.
fn narrow(value: f64) -> f32 {
    value as f32
}

fn to_u64(value: usize) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

fn to_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

fn to_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// Sample indices of a bracket: `None` for an open end.
struct SampleSpan {
    lo_idx: Option<usize>,
    hi_idx: Option<usize>,
    max_kept: usize,
}

/// The sample indices around ranks `rank` and `rank + 1` of a column of `n`
/// values, for a sample of `m` of its values.
fn sample_span(m: usize, n: usize, rank: usize) -> SampleSpan {
    let (m, n, rank) = (u128::from(to_u64(m)), u128::from(to_u64(n).max(1)), u128::from(to_u64(rank)));
    // The sample position of the rank, and the standard deviation of a sample quantile there.
    let center_lo = rank * m / n;
    let center_hi = ((rank + 1) * m).div_ceil(n);
    let variance = m * rank * n.saturating_sub(rank) / (n * n);
    let spread = variance.isqrt() * u128::from(SPREAD_SDS_TIMES_2) / 2 + 2;
    let lo_idx = center_lo.checked_sub(spread);
    let hi_idx = Some(center_hi + spread).filter(|&idx| idx < m);
    // About (hi_idx − lo_idx)/m of the column falls inside; allow twice that.
    let width = hi_idx.unwrap_or(m) - lo_idx.unwrap_or(0) + 1;
    let max_kept = to_usize(u64::try_from(2 * width * n / m.max(1)).unwrap_or(u64::MAX)).saturating_add(2 * BLOCK);
    SampleSpan {
        lo_idx: lo_idx.and_then(|idx| usize::try_from(idx).ok()),
        hi_idx: hi_idx.and_then(|idx| usize::try_from(idx).ok()),
        max_kept,
    }
}

/// The brackets of ranks `ranks[q]` and `ranks[q] + 1` of a column of `n`
/// values, from `sample`, some of that column's values as
/// `percentile::order_key`s (not empty; it is reordered).
pub fn brackets(sample: &mut [i64], n: usize, ranks: &[usize; 3]) -> [Bracket; 3] {
    let spans = ranks.map(|rank| sample_span(sample.len(), n, rank));
    let mut wanted = Vec::with_capacity(6);
    for span in &spans {
        wanted.extend(span.lo_idx);
        wanted.extend(span.hi_idx);
    }
    let values = order_statistics(sample, &wanted, i64::cmp);
    let mut values = values.into_iter().map(|(key, _)| narrow(from_order_key(key)));
    spans.map(|span| Bracket {
        lo: span.lo_idx.and_then(|_| values.next()).unwrap_or(f32::NEG_INFINITY),
        hi: span.hi_idx.and_then(|_| values.next()).unwrap_or(f32::INFINITY),
        max_kept: span.max_kept,
    })
}

/// The pass over one column for three brackets: the count below each, and
/// the values inside each.
#[derive(Debug, Clone, Default)]
pub struct Collector {
    /// `(lo, hi)` of each bracket, in increasing order and apart.
    brackets: [(f32, f32); 3],
    below: [usize; 3],
    /// Per bracket, as `percentile::order_key`s, which select faster.
    kept: [Vec<i64>; 3],
    max_kept: usize,
    /// The pass cannot give the percentiles: brackets that overlap (many
    /// equal values), or too many values kept.
    missed: bool,
    /// A column expected to be this one value repeated, and how many of its
    /// values are (bit for bit).
    constant: Option<f64>,
    equal: usize,
    scratch: Scratch,
}

impl Collector {
    /// Starts a new column, keeping the memory of the last one.
    pub fn reset(&mut self, brackets: [Bracket; 3]) {
        self.brackets = brackets.map(|bracket| (bracket.lo, bracket.hi));
        self.below = [0; 3];
        for kept in &mut self.kept {
            kept.clear();
        }
        self.max_kept = brackets.iter().map(|bracket| bracket.max_kept).fold(0, usize::saturating_add);
        self.missed = !(brackets[0].hi < brackets[1].lo && brackets[1].hi < brackets[2].lo);
        self.constant = None;
    }

    /// Starts a new column that is expected to be `value` repeated: the
    /// pass only counts the values equal to it.
    pub fn reset_constant(&mut self, value: f64) {
        self.missed = false;
        self.constant = Some(value);
        self.equal = 0;
    }

    /// Counts and keeps the next values of the column.
    pub fn add(&mut self, values: &[f64]) {
        if let Some(constant) = self.constant {
            self.equal += values.iter().filter(|value| value.to_bits() == constant.to_bits()).count();
            return;
        }
        if self.missed {
            return;
        }
        for part in values.chunks(64) {
            let (from, inside) = match <&[f64; 64]>::try_from(part) {
                Ok(full) => classify_64(&self.brackets, full, &mut self.scratch),
                Err(_) => self.classify(part),
            };
            let len = to_u32(part.len());
            for (below, from) in self.below.iter_mut().zip(from) {
                *below += to_usize(u64::from(len - from));
            }
            let n_inside = inside.iter().map(|bits| to_usize(u64::from(bits.count_ones()))).sum::<usize>();
            if self.kept.iter().map(Vec::len).sum::<usize>() + n_inside > self.max_kept {
                self.missed = true;
                return;
            }
            for (kept, mut bits) in self.kept.iter_mut().zip(inside) {
                while bits != 0 {
                    kept.push(order_key(part[to_usize(u64::from(bits.trailing_zeros()))]));
                    bits &= bits - 1;
                }
            }
        }
    }

    /// For up to 64 values: how many are at or above each bracket's low end,
    /// and per bracket one bit per value inside it.
    fn classify(&self, part: &[f64]) -> ([u32; 3], [u64; 3]) {
        let mut from = [0_u32; 3];
        let mut inside = [0_u64; 3];
        for (bit, &value) in part.iter().enumerate() {
            let key = narrow(value);
            for ((count, bits), &(lo, hi)) in from.iter_mut().zip(&mut inside).zip(&self.brackets) {
                *count += u32::from(key >= lo);
                *bits |= u64::from(key >= lo && key <= hi) << bit;
            }
        }
        (from, inside)
    }

    /// The percentiles at `positions` (the type-7 rank and weight of each
    /// bracket's fraction, as `percentile::position` gives them) of the
    /// column of `n` values; `None` when a bracket missed its ranks. The
    /// kept values are reordered.
    pub fn percentiles(&mut self, n: usize, positions: &[(usize, f64); 3]) -> Option<[f64; 3]> {
        if let Some(constant) = self.constant {
            // Every order statistic of a column of one value is that value.
            return (self.equal == n).then(|| positions.map(|(_, t)| interpolate(constant, constant, t)));
        }
        if self.missed {
            return None;
        }
        let mut out = [0.0; 3];
        for (((value, &(rank, t)), kept), &below) in out.iter_mut().zip(positions).zip(&mut self.kept).zip(&self.below) {
            // The kept values are the ranks below .. below + kept of the column.
            let last_wanted = (rank + 1).min(n.saturating_sub(1));
            if rank < below || last_wanted >= below + kept.len() {
                return None;
            }
            let (a, next) = order_statistics(kept, &[rank - below], i64::cmp).first().copied()?;
            // Unless the rank is the column's last, the next rank is kept too.
            let b = if rank + 1 < n { next } else { a };
            *value = interpolate(from_order_key(a), from_order_key(b), t);
        }
        Some(out)
    }
}

/// Room for `classify_64`, kept between calls so that it need not be
/// cleared.
#[derive(Debug, Clone)]
struct Scratch {
    keys: [f32; 64],
    flags: [[u8; 64]; 3],
}

impl Default for Scratch {
    fn default() -> Scratch {
        Scratch {
            keys: [0.0; 64],
            flags: [[0; 64]; 3],
        }
    }
}

/// `Collector::classify` for exactly 64 values, in simple loops that run on
/// vectors.
fn classify_64(brackets: &[(f32, f32); 3], part: &[f64; 64], scratch: &mut Scratch) -> ([u32; 3], [u64; 3]) {
    let [(lo0, hi0), (lo1, hi1), (lo2, hi2)] = *brackets;
    for (key, &value) in scratch.keys.iter_mut().zip(part) {
        *key = narrow(value);
    }
    let (mut from0, mut from1, mut from2) = (0_u32, 0_u32, 0_u32);
    let [flags0, flags1, flags2] = &mut scratch.flags;
    for (((&key, flag0), flag1), flag2) in scratch.keys.iter().zip(flags0.iter_mut()).zip(flags1.iter_mut()).zip(flags2.iter_mut()) {
        let (at0, at1, at2) = (key >= lo0, key >= lo1, key >= lo2);
        from0 += u32::from(at0);
        from1 += u32::from(at1);
        from2 += u32::from(at2);
        // All ones for a value inside, which packs from the comparison's mask directly.
        *flag0 = 0_u8.wrapping_sub(u8::from(at0 & (key <= hi0)));
        *flag1 = 0_u8.wrapping_sub(u8::from(at1 & (key <= hi1)));
        *flag2 = 0_u8.wrapping_sub(u8::from(at2 & (key <= hi2)));
    }
    ([from0, from1, from2], [&*flags0, &*flags1, &*flags2].map(pack_bits))
}

/// 64 flags of 0 or 0xFF to the bits of a word (flag i to bit i).
fn pack_bits(flags: &[u8; 64]) -> u64 {
    let mut bits = 0_u64;
    for (byte_idx, bytes) in flags.chunks_exact(8).enumerate() {
        let word = u64::from_le_bytes(<[u8; 8]>::try_from(bytes).unwrap_or([0; 8])) & 0x0101_0101_0101_0101;
        // The multiplication moves byte i's flag to bit 56 + i, and nothing else there.
        bits |= (word.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * byte_idx);
    }
    bits
}
