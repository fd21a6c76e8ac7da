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
    lo: f64,
    hi: f64,
    max_kept: usize,
}

fn to_u64(value: usize) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
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
/// values, from `sample`, some of that column's values (not empty; it is
/// reordered).
pub fn brackets(sample: &mut [f64], n: usize, ranks: &[usize; 3]) -> [Bracket; 3] {
    let spans = ranks.map(|rank| sample_span(sample.len(), n, rank));
    let mut wanted = Vec::with_capacity(6);
    for span in &spans {
        wanted.extend(span.lo_idx);
        wanted.extend(span.hi_idx);
    }
    let values = order_statistics(sample, &wanted, f64::total_cmp);
    let mut values = values.into_iter().map(|(value, _)| value);
    spans.map(|span| Bracket {
        lo: span.lo_idx.and_then(|_| values.next()).unwrap_or(f64::NEG_INFINITY),
        hi: span.hi_idx.and_then(|_| values.next()).unwrap_or(f64::INFINITY),
        max_kept: span.max_kept,
    })
}

/// The pass over one column for three brackets: the count below each, and
/// the values inside them. Overlapping brackets form one group, whose values
/// are contiguous in the column; the kept values are sorted into groups as
/// they come.
#[derive(Debug, Clone, Default)]
pub struct Collector {
    brackets: Vec<Bracket>,
    /// The group of each bracket; groups are numbered in increasing order of values.
    group_of: [usize; 3],
    /// The highest value of the first two groups (+∞ for a group that does not exist).
    group_hi: [f64; 2],
    below: [usize; 3],
    /// Per group, as `percentile::order_key`s, which select faster.
    kept: [Vec<i64>; 3],
    max_kept: usize,
    /// The pass cannot give the percentiles: too many values kept, or brackets out of order.
    missed: bool,
}

impl Collector {
    /// Starts a new column, keeping the memory of the last one.
    pub fn reset(&mut self, brackets: [Bracket; 3]) {
        self.brackets.clear();
        self.brackets.extend_from_slice(&brackets);
        self.below = [0; 3];
        for kept in &mut self.kept {
            kept.clear();
        }
        self.max_kept = brackets.iter().map(|bracket| bracket.max_kept).fold(0, usize::saturating_add);
        self.missed = !(brackets[0].lo <= brackets[1].lo && brackets[1].lo <= brackets[2].lo);
        self.group_of = [0; 3];
        let mut group_hi = [f64::INFINITY; 3];
        group_hi[0] = brackets[0].hi;
        for (q, bracket) in brackets.iter().enumerate().skip(1) {
            let previous = self.group_of[q - 1];
            if bracket.lo <= group_hi[previous] {
                self.group_of[q] = previous;
                group_hi[previous] = group_hi[previous].max(bracket.hi);
            } else {
                self.group_of[q] = previous + 1;
                group_hi[previous + 1] = bracket.hi;
            }
        }
        let last = self.group_of[2];
        group_hi[last] = f64::INFINITY;
        self.group_hi = [group_hi[0], group_hi[1]];
    }

    /// Counts and keeps the next values of the column.
    pub fn add(&mut self, values: &[f64]) {
        let [b0, b1, b2] = match self.brackets[..] {
            [b0, b1, b2] => [b0, b1, b2],
            _ => return,
        };
        let [hi0, hi1] = self.group_hi;
        for part in values.chunks(64) {
            // First the comparisons, branch-free so that they run on vectors: the counts below,
            // and one bit per value inside a bracket...
            let (mut below0, mut below1, mut below2) = (0, 0, 0);
            let mut inside = 0_u64;
            for (bit, &value) in part.iter().enumerate() {
                debug_assert!(!value.is_nan());
                let (is_below0, is_below1, is_below2) = (value < b0.lo, value < b1.lo, value < b2.lo);
                below0 += usize::from(is_below0);
                below1 += usize::from(is_below1);
                below2 += usize::from(is_below2);
                let is_inside = (!is_below0 & (value <= b0.hi)) | (!is_below1 & (value <= b1.hi)) | (!is_below2 & (value <= b2.hi));
                inside |= u64::from(is_inside) << bit;
            }
            self.below[0] += below0;
            self.below[1] += below1;
            self.below[2] += below2;
            // ...then only the values inside, found from the bits, each into its group.
            let n_inside = to_usize(u64::from(inside.count_ones()));
            if self.kept.iter().map(Vec::len).sum::<usize>() + n_inside > self.max_kept {
                self.missed = true;
            }
            if self.missed {
                continue;
            }
            while inside != 0 {
                let value = part[to_usize(u64::from(inside.trailing_zeros()))];
                let group = usize::from(value > hi0) + usize::from(value > hi1);
                self.kept[group].push(order_key(value));
                inside &= inside - 1;
            }
        }
    }

    /// The percentiles at `positions` (the type-7 rank and weight of each
    /// bracket's fraction, as `percentile::position` gives them) of the
    /// column of `n` values; `None` when a bracket missed its ranks. The
    /// kept values are reordered.
    pub fn percentiles(&mut self, n: usize, positions: &[(usize, f64); 3]) -> Option<[f64; 3]> {
        if self.missed {
            return None;
        }
        let mut out = [0.0; 3];
        for group in 0..3 {
            let members: Vec<usize> = (0..3).filter(|&q| self.group_of[q] == group).collect();
            let Some(&first) = members.first() else {
                continue;
            };
            // The group's kept values are the ranks below .. below + kept of the column.
            let below = self.below[first];
            let kept = &mut self.kept[group];
            let mut local_ranks = Vec::with_capacity(members.len());
            for &q in &members {
                let (rank, _) = positions[q];
                let last_wanted = (rank + 1).min(n.saturating_sub(1));
                if rank < below || last_wanted >= below + kept.len() {
                    return None;
                }
                local_ranks.push(rank - below);
            }
            for (&q, (a, next)) in members.iter().zip(order_statistics(kept, &local_ranks, i64::cmp)) {
                let (rank, t) = positions[q];
                // Unless the rank is the column's last, the next rank is in the same group.
                let b = if rank + 1 < n { next } else { a };
                out[q] = interpolate(from_order_key(a), from_order_key(b), t);
            }
        }
        Some(out)
    }
}
