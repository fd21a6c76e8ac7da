//! Cox proportional hazards with one binary covariate (treatment = 1) and
//! Efron's method for ties, fitted to the true maximum of the partial
//! likelihood (survival.md §9–11).

use crate::chi2::PValue;
use crate::cohort::ArmTable;
use crate::{count_f64, Z_95};

#[derive(Debug, Clone, PartialEq)]
pub struct CoxModel {
    /// Rows of the two arms.
    pub n: u64,
    pub events: u64,
    pub fit: Result<CoxFit, NoFiniteMaximum>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CoxFit {
    pub coef: f64,
    pub se: f64,
    pub coef_ci_lower: f64,
    pub coef_ci_upper: f64,
    pub hr: f64,
    pub hr_ci_lower: f64,
    pub hr_ci_upper: f64,
    pub z: f64,
    pub p: f64,
    pub log10_p: f64,
    pub log_likelihood: f64,
    pub log_likelihood_null: f64,
    pub lr_test_statistic: f64,
    pub lr_test_p: f64,
    pub lr_test_log10_p: f64,
    /// Newton–Raphson steps taken.
    pub iterations: u32,
}

/// Why the partial likelihood has no finite maximum (so no estimate).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoFiniteMaximum {
    #[error("no relapses were observed, so the partial likelihood is flat and the hazard ratio cannot be estimated")]
    NoEvents,
    #[error("every relapse is in arm {arm}, so the partial likelihood has no finite maximum and the hazard ratio cannot be estimated")]
    AllEventsInOneArm { arm: String },
    #[error("the relapses of one arm all happened when no one of the other arm was at risk, so the partial likelihood has no finite maximum and the hazard ratio cannot be estimated")]
    Separated,
    #[error("Newton-Raphson did not converge")]
    NotConverged,
}

/// At-risk counts just before a distinct event time, and that time's events.
#[derive(Debug, Clone, Copy)]
struct RiskRow {
    at_risk_reference: f64,
    at_risk_treatment: f64,
    events_reference: f64,
    events_treatment: f64,
    /// Events in both arms, for the Efron loop.
    events: u64,
}

pub fn cox(reference: &ArmTable, treatment: &ArmTable) -> CoxModel {
    let n = reference.n() + treatment.n();
    let events_reference = reference.events();
    let events_treatment = treatment.events();
    let events = events_reference + events_treatment;
    let fit = if events == 0 {
        Err(NoFiniteMaximum::NoEvents)
    } else if events_treatment == 0 {
        Err(NoFiniteMaximum::AllEventsInOneArm {
            arm: reference.name.clone(),
        })
    } else if events_reference == 0 {
        Err(NoFiniteMaximum::AllEventsInOneArm {
            arm: treatment.name.clone(),
        })
    } else {
        let rows = risk_rows(reference, treatment);
        if has_finite_maximum(&rows) {
            fit(&rows)
        } else {
            Err(NoFiniteMaximum::Separated)
        }
    };
    CoxModel { n, events, fit }
}

/// Merges the two arms' tables into one row per distinct time with an event.
fn risk_rows(reference: &ArmTable, treatment: &ArmTable) -> Vec<RiskRow> {
    let mut rows = Vec::new();
    let mut left_reference = reference.n();
    let mut left_treatment = treatment.n();
    let (mut i, mut j) = (0, 0);
    loop {
        let time_reference = reference.times.get(i).copied().unwrap_or(f64::INFINITY);
        let time_treatment = treatment.times.get(j).copied().unwrap_or(f64::INFINITY);
        let time = time_reference.min(time_treatment);
        if time == f64::INFINITY {
            break;
        }
        let (mut removed_reference, mut observed_reference) = (0, 0);
        let (mut removed_treatment, mut observed_treatment) = (0, 0);
        if time_reference == time {
            removed_reference = reference.removed[i];
            observed_reference = reference.observed[i];
            i += 1;
        }
        if time_treatment == time {
            removed_treatment = treatment.removed[j];
            observed_treatment = treatment.observed[j];
            j += 1;
        }
        if observed_reference + observed_treatment > 0 {
            rows.push(RiskRow {
                at_risk_reference: count_f64(left_reference),
                at_risk_treatment: count_f64(left_treatment),
                events_reference: count_f64(observed_reference),
                events_treatment: count_f64(observed_treatment),
                events: observed_reference + observed_treatment,
            });
        }
        left_reference -= removed_reference;
        left_treatment -= removed_treatment;
    }
    rows
}

/// The score tends to −Σ reference events with treatment at risk as β → +∞,
/// and to +Σ treatment events with reference at risk as β → −∞; the concave
/// log-likelihood peaks at a finite β exactly when both sums are positive.
fn has_finite_maximum(rows: &[RiskRow]) -> bool {
    let upward = rows
        .iter()
        .any(|row| row.events_reference > 0.0 && row.at_risk_treatment > 0.0);
    let downward = rows
        .iter()
        .any(|row| row.events_treatment > 0.0 && row.at_risk_reference > 0.0);
    upward && downward
}

/// Partial log-likelihood, score and information at β.
#[derive(Debug, Clone, Copy)]
struct Evaluation {
    log_likelihood: f64,
    gradient: f64,
    hessian: f64,
}

fn evaluate(rows: &[RiskRow], beta: f64) -> Evaluation {
    // Scale so that the larger of φ = 1 (reference) and φ = e^β (treatment)
    // is 1: ln den = ln(scaled den) + shift, and ratios are unchanged.
    let (phi_reference, phi_treatment, shift) = if beta >= 0.0 {
        ((-beta).exp(), 1.0, beta)
    } else {
        (1.0, beta.exp(), 0.0)
    };
    let mut log_likelihood = Sum::default();
    let mut gradient = Sum::default();
    let mut hessian = Sum::default();
    let mut log_dens = LogSum::default();
    for row in rows {
        let risk_sum =
            row.at_risk_reference * phi_reference + row.at_risk_treatment * phi_treatment;
        let risk_sum_x = row.at_risk_treatment * phi_treatment;
        let tied_sum = row.events_reference * phi_reference + row.events_treatment * phi_treatment;
        let tied_sum_x = row.events_treatment * phi_treatment;
        let d = count_f64(row.events);
        log_likelihood.add(row.events_treatment * beta - d * shift);
        gradient.add(row.events_treatment);
        // Efron: for l = 0..d−1, w = l/d, den = R0 − w D0, num = R1 − w D1
        // (x is 0 or 1, so the x² sums equal the x sums).
        let mut l = 0.0;
        for _ in 0..row.events {
            let w = l / d;
            l += 1.0;
            let den = risk_sum - w * tied_sum;
            let ratio = (risk_sum_x - w * tied_sum_x) / den;
            gradient.add(-ratio);
            hessian.add(ratio * ratio - ratio);
            log_dens.add(den);
        }
    }
    log_likelihood.add(-log_dens.total());
    Evaluation {
        log_likelihood: log_likelihood.total(),
        gradient: gradient.total(),
        hessian: hessian.total(),
    }
}

/// Neumaier's compensated sum: a million terms add up to within a few
/// units in the last place, so step halving is not misled by rounding.
#[derive(Debug, Default)]
struct Sum {
    sum: f64,
    compensation: f64,
}

impl Sum {
    fn add(&mut self, term: f64) {
        let total = self.sum + term;
        if self.sum.abs() >= term.abs() {
            self.compensation += (self.sum - total) + term;
        } else {
            self.compensation += (term - total) + self.sum;
        }
        self.sum = total;
    }

    fn total(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// Σ ln xᵢ with one logarithm per eight factors while their product stays
/// a normal float (the logarithm dominates the Efron loop otherwise).
#[derive(Debug)]
struct LogSum {
    sum: Sum,
    product: f64,
    factors: u32,
}

impl Default for LogSum {
    fn default() -> LogSum {
        LogSum {
            sum: Sum::default(),
            product: 1.0,
            factors: 0,
        }
    }
}

impl LogSum {
    fn add(&mut self, factor: f64) {
        let next = self.product * factor;
        if self.factors < 8 && next.is_normal() {
            self.product = next;
            self.factors += 1;
        } else {
            self.sum.add(self.product.ln());
            self.product = factor;
            self.factors = 1;
        }
    }

    fn total(&self) -> f64 {
        self.sum.total() + self.product.ln()
    }
}

const MAX_ITERATIONS: u32 = 500;
const MAX_HALVINGS: u32 = 80;
const STEP_TOLERANCE: f64 = 1e-10;

/// Newton–Raphson from β = 0, halving a step that lowers the log-likelihood,
/// until the step is below 1e-10.
fn fit(rows: &[RiskRow]) -> Result<CoxFit, NoFiniteMaximum> {
    let null = evaluate(rows, 0.0);
    let mut beta = 0.0;
    let mut current = null;
    for iteration in 1..=MAX_ITERATIONS {
        let mut step = -current.gradient / current.hessian;
        if !step.is_finite() {
            return Err(NoFiniteMaximum::NotConverged);
        }
        // Converged when the Newton step from here is below the tolerance;
        // taking it moves β by less than that, and ll, se by far less.
        if step.abs() < STEP_TOLERANCE {
            return Ok(summarise(beta + step, current, null, iteration));
        }
        let mut candidate = evaluate(rows, beta + step);
        let mut halvings = 0;
        // The sums are compensated, so their rounding is far below this.
        let slack = 1e-13 * current.log_likelihood.abs().max(1.0);
        let worse = |candidate: &Evaluation| {
            candidate.log_likelihood.is_nan()
                || candidate.log_likelihood < current.log_likelihood - slack
        };
        while worse(&candidate) {
            if halvings == MAX_HALVINGS {
                return Err(NoFiniteMaximum::NotConverged);
            }
            step /= 2.0;
            candidate = evaluate(rows, beta + step);
            halvings += 1;
        }
        beta += step;
        current = candidate;
    }
    Err(NoFiniteMaximum::NotConverged)
}

fn summarise(beta: f64, at_max: Evaluation, null: Evaluation, iterations: u32) -> CoxFit {
    let se = (-1.0 / at_max.hessian).sqrt();
    let z = beta / se;
    let wald = PValue::chi2(z * z, 1);
    let lr_test_statistic = 2.0 * (at_max.log_likelihood - null.log_likelihood);
    let lr = PValue::chi2(lr_test_statistic, 1);
    let coef_ci_lower = beta - Z_95 * se;
    let coef_ci_upper = beta + Z_95 * se;
    CoxFit {
        coef: beta,
        se,
        coef_ci_lower,
        coef_ci_upper,
        hr: beta.exp(),
        hr_ci_lower: coef_ci_lower.exp(),
        hr_ci_upper: coef_ci_upper.exp(),
        z,
        p: wald.p,
        log10_p: wald.log10_p,
        log_likelihood: at_max.log_likelihood,
        log_likelihood_null: null.log_likelihood,
        lr_test_statistic,
        lr_test_p: lr.p,
        lr_test_log10_p: lr.log10_p,
        iterations,
    }
}
