//! The modal form of the central compartment: after a unit amount in the
//! central compartment at time 0, the central amount is
//! `Σ coef[i] · exp(−alpha[i] · t)`. The `alpha` are the eigenvalues of the
//! linear system (negated), found in closed form and polished by Newton's
//! method on the characteristic polynomial.

use crate::params::Params;

/// Up to three exponential modes. A two-compartment model has a third mode
/// with `coef = 0` and `alpha = 0`, which contributes nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Modes {
    pub alpha: [f64; 3],
    pub coef: [f64; 3],
}

impl Modes {
    pub fn of(params: &Params) -> Modes {
        let (k10, k12, k21, k13, k31) = (params.k10(), params.k12(), params.k21(), params.k13(), params.k31());
        if params.is_two_compartment() {
            // α² − (k10 + k12 + k21)·α + k10·k21 = 0; the smaller root from the product avoids cancellation.
            let sum = k10 + k12 + k21;
            let product = k10 * k21;
            let alpha1 = 0.5 * (sum + (sum * sum - 4.0 * product).max(0.0).sqrt());
            let alpha2 = product / alpha1;
            let coef1 = (k21 - alpha1) / (alpha2 - alpha1);
            let coef2 = (k21 - alpha2) / (alpha1 - alpha2);
            return Modes {
                alpha: [alpha1, alpha2, 0.0],
                coef: [coef1, coef2, 0.0],
            };
        }
        // α³ − a2·α² + a1·α − a0 = 0 (the characteristic polynomial of −K).
        let a2 = k10 + k12 + k13 + k21 + k31;
        let a1 = k21 * (k10 + k13) + k31 * (k10 + k12) + k21 * k31;
        let a0 = k10 * k21 * k31;
        let alpha = cubic_roots(a2, a1, a0);
        let coef = [0, 1, 2].map(|i| {
            let (j, k) = ((i + 1) % 3, (i + 2) % 3);
            (k21 - alpha[i]) * (k31 - alpha[i]) / ((alpha[j] - alpha[i]) * (alpha[k] - alpha[i]))
        });
        Modes { alpha, coef }
    }

    /// Central amount per unit infusion rate after an infusion of length `d`
    /// from an empty system, mode by mode: `coef/alpha · (1 − exp(−alpha·d))`.
    pub fn infusion_gain(&self, mode: usize, duration_min: f64) -> f64 {
        if self.coef[mode] == 0.0 {
            return 0.0;
        }
        self.coef[mode] / self.alpha[mode] * -(-self.alpha[mode] * duration_min).exp_m1()
    }

    pub fn decay(&self, mode: usize, duration_min: f64) -> f64 {
        (-self.alpha[mode] * duration_min).exp()
    }
}

/// The three positive real roots, largest first, of α³ − a2·α² + a1·α − a0
/// (trigonometric form, then two Newton steps on each root).
fn cubic_roots(a2: f64, a1: f64, a0: f64) -> [f64; 3] {
    let shift = a2 / 3.0;
    let p = a1 - a2 * a2 / 3.0;
    let q = -2.0 * a2 * a2 * a2 / 27.0 + a2 * a1 / 3.0 - a0;
    let radius = 2.0 * (-p / 3.0).max(0.0).sqrt();
    let cos_arg = if p < 0.0 {
        (3.0 * q / (2.0 * p) * (-3.0 / p).sqrt()).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let phi = cos_arg.acos() / 3.0;
    let two_pi_third = 2.0 * std::f64::consts::PI / 3.0;
    let mut roots = [0.0, 1.0, 2.0].map(|k: f64| shift + radius * (phi - two_pi_third * k).cos());
    for root in &mut roots {
        for _ in 0..2 {
            let value = ((*root - a2) * *root + a1) * *root - a0;
            let slope = (3.0 * *root - 2.0 * a2) * *root + a1;
            if slope != 0.0 {
                *root -= value / slope;
            }
        }
    }
    roots.sort_by(|a, b| b.total_cmp(a));
    roots
}
