//! The unweighted log-rank test for two or more arms (survival.md §8).

use crate::chi2::PValue;
use crate::cohort::ArmTable;
use crate::count_f64;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogRank {
    /// NaN when the arms carry no information (no events, or no time with
    /// two arms at risk and an event).
    pub statistic: f64,
    pub df: u32,
    pub p: f64,
    pub log10_p: f64,
}

/// The k-arm test with k − 1 degrees of freedom; `None` for fewer than two arms.
pub fn logrank(arms: &[&ArmTable]) -> Option<LogRank> {
    let k = arms.len();
    if k < 2 {
        return None;
    }
    let df = u32::try_from(k - 1).ok()?;
    // U_i = Σ (d_i − n_i d / n); V_ij = Σ d (n − d)/(n − 1) · n_i/n · (δ_ij − n_j/n).
    let mut observed_minus_expected = vec![0.0f64; k];
    let mut covariance = vec![0.0f64; k * k];
    let mut at_risk: Vec<u64> = arms.iter().map(|arm| arm.n()).collect();
    let mut cursor = vec![0usize; k];
    let mut events = vec![0u64; k];
    let mut removed = vec![0u64; k];
    let mut share = vec![0.0f64; k];
    loop {
        // The next pooled distinct time: the smallest unread time of any arm.
        let mut time = f64::INFINITY;
        for (arm, &idx) in arms.iter().zip(&cursor) {
            if let Some(&t) = arm.times.get(idx) {
                time = time.min(t);
            }
        }
        if time == f64::INFINITY {
            break;
        }
        for i in 0..k {
            let arm = arms[i];
            let idx = cursor[i];
            if arm.times.get(idx) == Some(&time) {
                events[i] = arm.observed[idx];
                removed[i] = arm.removed[idx];
                cursor[i] += 1;
            } else {
                events[i] = 0;
                removed[i] = 0;
            }
        }
        let n_total: u64 = at_risk.iter().sum();
        let d_total: u64 = events.iter().sum();
        if d_total > 0 {
            let n = count_f64(n_total);
            let d = count_f64(d_total);
            let spread = if n_total > 1 {
                d * (n - d) / (n - 1.0)
            } else {
                d
            };
            for i in 0..k {
                share[i] = count_f64(at_risk[i]) / n;
                observed_minus_expected[i] += count_f64(events[i]) - share[i] * d;
            }
            for i in 0..k {
                for j in 0..k {
                    let kronecker = if i == j { 1.0 } else { 0.0 };
                    covariance[i * k + j] += spread * share[i] * (kronecker - share[j]);
                }
            }
        }
        for i in 0..k {
            at_risk[i] -= removed[i];
        }
    }
    let statistic = quadratic_form(&observed_minus_expected, &covariance, k);
    let p_value = PValue::chi2(statistic, df);
    Some(LogRank {
        statistic,
        df,
        p: p_value.p,
        log10_p: p_value.log10_p,
    })
}

/// Uᵀ V⁻ U over the arms that carry information: an arm never at risk at an
/// event time has a zero row in V (and U_i = 0) and is left out, as a
/// generalised inverse would; then the last remaining arm is dropped, since
/// the rows of V sum to zero. NaN when fewer than two arms remain.
fn quadratic_form(u: &[f64], covariance: &[f64], k: usize) -> f64 {
    let informative: Vec<usize> = (0..k).filter(|&i| covariance[i * k + i] > 0.0).collect();
    if informative.len() < 2 {
        return f64::NAN;
    }
    let kept = &informative[..informative.len() - 1];
    let m = kept.len();
    // Solve V x = U by Gaussian elimination with partial pivoting.
    let mut matrix: Vec<f64> = Vec::with_capacity(m * m);
    for &i in kept {
        for &j in kept {
            matrix.push(covariance[i * k + j]);
        }
    }
    let rhs: Vec<f64> = kept.iter().map(|&i| u[i]).collect();
    let mut x = rhs.clone();
    let scale = (0..m).map(|i| matrix[i * m + i]).fold(0.0f64, f64::max);
    for col in 0..m {
        let pivot_row = (col..m)
            .max_by(|&a, &b| {
                matrix[a * m + col]
                    .abs()
                    .total_cmp(&matrix[b * m + col].abs())
            })
            .unwrap_or(col);
        if matrix[pivot_row * m + col].abs() <= 1e-12 * scale {
            return f64::NAN;
        }
        if pivot_row != col {
            for j in 0..m {
                matrix.swap(col * m + j, pivot_row * m + j);
            }
            x.swap(col, pivot_row);
        }
        let pivot = matrix[col * m + col];
        for row in col + 1..m {
            let factor = matrix[row * m + col] / pivot;
            for j in col..m {
                matrix[row * m + j] -= factor * matrix[col * m + j];
            }
            x[row] -= factor * x[col];
        }
    }
    for col in (0..m).rev() {
        let mut value = x[col];
        for j in col + 1..m {
            value -= matrix[col * m + j] * x[j];
        }
        x[col] = value / matrix[col * m + col];
    }
    rhs.iter().zip(&x).map(|(a, b)| a * b).sum()
}
