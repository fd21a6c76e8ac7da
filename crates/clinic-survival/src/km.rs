//! Kaplan–Meier curves with Greenwood variance and log(−log) intervals
//! (survival.md §1–7).

use crate::cohort::ArmTable;
use crate::{count_f64, Z_95};

/// One arm's curve. Every vector has one entry per timeline point.
#[derive(Debug, Clone, PartialEq)]
pub struct KaplanMeier {
    pub n: u64,
    pub events: u64,
    /// 0, then every distinct time of the arm, ascending (a time of 0 is the 0 row).
    pub timeline: Vec<f64>,
    pub survival: Vec<f64>,
    pub ci_lower: Vec<f64>,
    pub ci_upper: Vec<f64>,
    pub at_risk: Vec<u64>,
    pub observed: Vec<u64>,
    pub censored: Vec<u64>,
    pub median: Option<f64>,
    pub median_ci_lower: Option<f64>,
    pub median_ci_upper: Option<f64>,
}

pub fn kaplan_meier(arm: &ArmTable) -> KaplanMeier {
    let starts_at_zero = arm.times.first().is_some_and(|&t| t == 0.0);
    let n_points = arm.times.len() + usize::from(!starts_at_zero);
    let mut timeline = Vec::with_capacity(n_points);
    let mut removed = Vec::with_capacity(n_points);
    let mut observed = Vec::with_capacity(n_points);
    if !starts_at_zero {
        timeline.push(0.0);
        removed.push(0);
        observed.push(0);
    }
    timeline.extend_from_slice(&arm.times);
    removed.extend_from_slice(&arm.removed);
    observed.extend_from_slice(&arm.observed);

    let n = arm.n();
    let mut at_risk = Vec::with_capacity(n_points);
    let mut censored = Vec::with_capacity(n_points);
    let mut survival = Vec::with_capacity(n_points);
    let mut ci_lower = Vec::with_capacity(n_points);
    let mut ci_upper = Vec::with_capacity(n_points);
    let mut remaining = n;
    let mut log_survival = 0.0f64;
    let mut greenwood = 0.0f64;
    let (mut estimate, mut lower, mut upper) = (1.0, 1.0, 1.0);
    // ln of the last survivors' count, which is often the next row's n.
    let mut cached_ln = (f64::NAN, f64::NAN);
    let mut ln = |x: f64| {
        if cached_ln.0 != x {
            cached_ln = (x, x.ln());
        }
        cached_ln.1
    };
    for (&gone, &deaths) in removed.iter().zip(&observed) {
        at_risk.push(remaining);
        censored.push(gone - deaths);
        // A row without relapses adds ln n − ln n = 0 exactly to ln S and 0
        // to the Greenwood sum: the curve and its interval stay as they are.
        if deaths > 0 {
            let population = count_f64(remaining);
            let dead = count_f64(deaths);
            // ln(n − d) − ln n, in this order (as lifelines sums it); −∞ when
            // everyone at risk relapses.
            let ln_population = ln(population);
            log_survival += ln(population - dead) - ln_population;
            if deaths < remaining {
                greenwood += dead / (population * (population - dead));
            }
            estimate = log_survival.exp();
            (lower, upper) = log_log_interval(log_survival, greenwood);
        }
        survival.push(estimate);
        ci_lower.push(lower);
        ci_upper.push(upper);
        remaining -= gone;
    }
    let median = first_at_or_below_half(&timeline, &survival);
    let median_ci_lower = first_at_or_below_half(&timeline, &ci_lower);
    let median_ci_upper = first_at_or_below_half(&timeline, &ci_upper);
    KaplanMeier {
        n,
        events: arm.events(),
        timeline,
        survival,
        ci_lower,
        ci_upper,
        at_risk,
        observed,
        censored,
        median,
        median_ci_lower,
        median_ci_upper,
    }
}

/// The "exponential Greenwood" interval from v = ln S and the Greenwood sum.
fn log_log_interval(log_survival: f64, greenwood: f64) -> (f64, f64) {
    if log_survival == 0.0 {
        return (1.0, 1.0);
    }
    if log_survival == f64::NEG_INFINITY {
        return (0.0, 0.0);
    }
    let centre = (-log_survival).ln();
    let half_width = Z_95 * greenwood.sqrt() / log_survival;
    (
        (-(centre - half_width).exp()).exp(),
        (-(centre + half_width).exp()).exp(),
    )
}

/// The first timeline point where the curve is at or below 0.5.
fn first_at_or_below_half(timeline: &[f64], curve: &[f64]) -> Option<f64> {
    timeline
        .iter()
        .zip(curve)
        .find(|(_, &value)| value <= 0.5)
        .map(|(&time, _)| time)
}
