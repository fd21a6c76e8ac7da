//! The upper tail of the χ² distribution, in log space so that large
//! statistics keep a usable p-value (survival.md §12).

/// A p-value with its base-10 logarithm, which stays finite where `p`
/// underflows to 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PValue {
    pub p: f64,
    pub log10_p: f64,
}

impl PValue {
    /// The upper tail of χ² with `df` degrees of freedom at `statistic`;
    /// both NaN when the statistic is NaN.
    pub fn chi2(statistic: f64, df: u32) -> PValue {
        let ln_p = chi2_ln_sf(statistic, df);
        PValue {
            p: ln_p.exp(),
            log10_p: ln_p / std::f64::consts::LN_10,
        }
    }
}

/// ln P(X > statistic) for X ~ χ²(df): ln Q(df/2, statistic/2), with Q the
/// regularised upper incomplete gamma function. NaN for a NaN statistic or
/// `df` = 0.
pub fn chi2_ln_sf(statistic: f64, df: u32) -> f64 {
    if statistic.is_nan() || df == 0 {
        return f64::NAN;
    }
    if statistic <= 0.0 {
        return 0.0;
    }
    if statistic == f64::INFINITY {
        return f64::NEG_INFINITY;
    }
    let a = f64::from(df) / 2.0;
    let x = statistic / 2.0;
    // ln(x^a e^(−x) / Γ(a)), the factor in front of both expansions.
    let ln_front = a * x.ln() - x - ln_gamma_half(df);
    if x < a + 1.0 {
        // Q = 1 − P with P = x^a e^(−x) / Γ(a) · Σ_n x^n / (a (a+1) … (a+n)).
        let mut term = 1.0 / a;
        let mut sum = term;
        let mut denominator = a;
        for _ in 0..10_000 {
            denominator += 1.0;
            term *= x / denominator;
            sum += term;
            if term < sum * 1e-17 {
                break;
            }
        }
        let lower = (ln_front + sum.ln()).exp();
        (-lower).ln_1p()
    } else {
        // Q = x^a e^(−x) / Γ(a) · 1/(x+1−a− 1(1−a)/(x+3−a− 2(2−a)/(x+5−a− …))),
        // evaluated by the modified Lentz method.
        const TINY: f64 = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut fraction = d;
        let mut i = 0.0;
        for _ in 0..10_000 {
            i += 1.0;
            let an = -i * (i - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let delta = d * c;
            fraction *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        ln_front + fraction.ln()
    }
}

/// ln Γ(df/2), exactly from its product form: Γ(m) = (m−1)! and
/// Γ(m + ½) = √π · ½ · (3/2) ⋯ (m − ½).
fn ln_gamma_half(df: u32) -> f64 {
    let half_pi_ln = 0.5 * std::f64::consts::PI.ln();
    let (mut sum, mut factor) = if df & 1 == 0 {
        (0.0, 1.0)
    } else {
        (half_pi_ln, 0.5)
    };
    // Multiply factors up to (df/2 − 1).
    let top = f64::from(df) / 2.0 - 1.0;
    while factor <= top + 1e-9 {
        sum += factor.ln();
        factor += 1.0;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_relative(statistic: f64, df: u32, expected_p: f64, tolerance: f64) {
        let p = PValue::chi2(statistic, df).p;
        assert!(
            (p - expected_p).abs() <= tolerance * expected_p,
            "chi2 sf({statistic}, {df}) = {p}, expected {expected_p}"
        );
    }

    #[test]
    fn matches_scipy_in_the_body() {
        // Reference values: scipy.stats.chi2.sf (scipy 1.17.1).
        check_relative(3.841458820694124, 1, 0.04999999999999989, 1e-13);
        check_relative(10.0, 3, 0.01856613546304325, 1e-13);
        check_relative(0.5, 4, 0.9735009788392561, 1e-14);
        check_relative(2.0, 7, 0.9598403687301016, 1e-14);
        check_relative(1e-3, 1, 0.9747728793699604, 1e-14);
        check_relative(30.0, 2, 3.0590232050182594e-07, 1e-13);
    }

    #[test]
    fn two_degrees_of_freedom_is_exactly_exponential_far_into_the_tail() {
        // Q(1, x/2) = exp(−x/2): an independent closed form.
        for statistic in [0.1, 1.0, 7.0, 40.0, 900.0, 5000.0, 1e6] {
            let ln_p = chi2_ln_sf(statistic, 2);
            assert!(
                (ln_p + statistic / 2.0).abs() <= 1e-12 * (statistic / 2.0),
                "{statistic}: {ln_p}"
            );
        }
    }

    #[test]
    fn one_degree_of_freedom_far_tail_matches_the_normal_tail() {
        // z = 40: log10(2 Φ(−40)) from scipy.special.log_ndtr, −349.1359764636819;
        // the p-value itself underflows.
        let value = PValue::chi2(1600.0, 1);
        assert_eq!(value.p, 0.0);
        assert!(
            (value.log10_p - (-349.1359764636819)).abs() < 1e-10,
            "{}",
            value.log10_p
        );
    }

    #[test]
    fn edges() {
        assert_eq!(
            PValue::chi2(0.0, 1),
            PValue {
                p: 1.0,
                log10_p: 0.0
            }
        );
        assert!(PValue::chi2(f64::NAN, 1).p.is_nan());
        assert_eq!(PValue::chi2(f64::INFINITY, 3).p, 0.0);
    }
}
