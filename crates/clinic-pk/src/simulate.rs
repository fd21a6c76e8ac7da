//! One subject's concentrations on a grid, exactly (the closed-form advance
//! of each mode in `cohort.rs`, not a numerical integration), and the checks
//! every simulation shares.

use crate::cohort::Cohort;
use crate::params::Params;
use crate::regimen::Regimen;
use crate::schedule::{InvalidGrid, Schedule};

/// One subject's predicted plasma concentration (an approximate model
/// prediction, never a target).
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub times_min: Vec<f64>,
    pub conc_ng_ml: Vec<f64>,
    /// The largest concentration on the grid, and the first time it occurs.
    pub cmax_ng_ml: f64,
    pub tmax_min: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimulateError {
    #[error("weight: {0} kg is not allowed; must be a finite number greater than 0")]
    Weight(f64),
    #[error(transparent)]
    Grid(#[from] InvalidGrid),
}

pub fn check_weight(weight_kg: f64) -> Result<(), SimulateError> {
    if weight_kg.is_finite() && weight_kg > 0.0 {
        Ok(())
    } else {
        Err(SimulateError::Weight(weight_kg))
    }
}

/// One subject on any grid of times (minutes from the start, non-decreasing).
pub fn simulate(params: &Params, regimen: &Regimen, weight_kg: f64, times_min: &[f64]) -> Result<Curve, SimulateError> {
    check_weight(weight_kg)?;
    let schedule = Schedule::new(regimen, times_min)?;
    let mut conc_ng_ml = Vec::with_capacity(times_min.len());
    let mut cohort = Cohort::new(std::slice::from_ref(params), &schedule, weight_kg);
    cohort.advance(schedule.n_points, |_, _, conc| conc_ng_ml.extend_from_slice(conc));
    let (cmax_ng_ml, tmax_min) = peak(times_min, &conc_ng_ml);
    Ok(Curve {
        times_min: times_min.to_vec(),
        conc_ng_ml,
        cmax_ng_ml,
        tmax_min,
    })
}

/// The largest value and the first time it occurs.
pub fn peak(times_min: &[f64], conc_ng_ml: &[f64]) -> (f64, f64) {
    let mut best = (f64::NEG_INFINITY, f64::NAN);
    for (&time, &conc) in times_min.iter().zip(conc_ng_ml) {
        if conc > best.0 {
            best = (conc, time);
        }
    }
    best
}
