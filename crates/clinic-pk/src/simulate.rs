//! Concentrations on a grid, exactly: each mode of the central compartment
//! is advanced over a step of constant rate by
//! `y ← exp(−α·d)·y + R·coef/α·(1 − exp(−α·d))`, which is the closed-form
//! solution of the linear system, not a numerical integration. Subjects are
//! advanced together, one time point at a time, so a population needs memory
//! for one column of concentrations, not the whole matrix.

use crate::modes::Modes;
use crate::params::Params;
use crate::regimen::Regimen;
use crate::schedule::{InvalidGrid, Schedule, Step};

/// mg/L to ng/mL.
const NG_PER_ML_PER_MG_PER_L: f64 = 1000.0;

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
    run(std::slice::from_ref(params), &schedule, weight_kg, |_, column| conc_ng_ml.push(column[0]));
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

/// Per-subject factors of one step duration, mode by mode.
struct StepFactors {
    decay: [Vec<f64>; 3],
    gain: [Vec<f64>; 3],
}

/// Advances every subject through the schedule and calls `on_point(idx,
/// column)` at each grid point with the subjects' concentrations in ng/mL.
/// The weight scales dose and volume alike (dose mg/kg × kg, V1 L/kg × kg).
pub fn run(subjects: &[Params], schedule: &Schedule, weight_kg: f64, mut on_point: impl FnMut(usize, &[f64])) {
    let n = subjects.len();
    let modes: Vec<Modes> = subjects.iter().map(Modes::of).collect();
    let factors: Vec<StepFactors> = schedule
        .durations_min
        .iter()
        .map(|&duration| {
            let per_mode = |f: &dyn Fn(usize, &Modes, &Params) -> f64| -> [Vec<f64>; 3] {
                [0, 1, 2].map(|mode| modes.iter().zip(subjects).map(|(m, p)| f(mode, m, p)).collect())
            };
            StepFactors {
                decay: per_mode(&|mode, m, _| m.decay(mode, duration)),
                gain: per_mode(&|mode, m, p| m.infusion_gain(mode, duration) * NG_PER_ML_PER_MG_PER_L / (p.v1_l_per_kg() * weight_kg)),
            }
        })
        .collect();
    let mut state: [Vec<f64>; 3] = [vec![0.0; n], vec![0.0; n], vec![0.0; n]];
    let mut column = vec![0.0; n];
    let mut point_idx = 0;
    for step in &schedule.steps {
        match *step {
            Step::Advance {
                duration_idx,
                rate_mg_per_kg_per_min,
            } => {
                let rate_mg_per_min = rate_mg_per_kg_per_min * weight_kg;
                let step_factors = &factors[duration_idx];
                for ((y_mode, decay), gain) in state.iter_mut().zip(&step_factors.decay).zip(&step_factors.gain) {
                    if rate_mg_per_min == 0.0 {
                        for (y, &e) in y_mode.iter_mut().zip(decay) {
                            *y *= e;
                        }
                    } else {
                        for ((y, &e), &g) in y_mode.iter_mut().zip(decay).zip(gain) {
                            *y = e * *y + g * rate_mg_per_min;
                        }
                    }
                }
            }
            Step::Emit => {
                let [y0, y1, y2] = &state;
                for (((c, &a), &b), &d) in column.iter_mut().zip(y0).zip(y1).zip(y2) {
                    // A mode's rounding can leave a tiny negative total near 0; a concentration is never negative.
                    *c = (a + b + d).max(0.0);
                }
                on_point(point_idx, &column);
                point_idx += 1;
            }
        }
    }
}
