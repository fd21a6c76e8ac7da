//! Population mode: log-normal between-subject variability on V1 and each
//! rate constant (ω = √ln(1 + CV²)), and the percentiles of concentration
//! and of each subject's Cmax.

use crate::params::Params;
use crate::percentile::{percentiles, P5_P50_P95};
use crate::regimen::Regimen;
use crate::rng::Rng;
use crate::schedule::Schedule;
use crate::simulate::{check_weight, run, SimulateError};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidVariability {
    #[error("cv: {0} is not allowed; must be a finite number greater than 0")]
    Cv(f64),
}

/// `n_subjects` parameter sets around `typical`: each of V1, k10, k12, k21,
/// k13, k31 is multiplied by `exp(ω·z)` with its own standard normal `z`,
/// drawn in that order, subject after subject. Zero stays zero (a
/// two-compartment set stays two-compartment).
pub fn sample_subjects(typical: &Params, n_subjects: usize, seed: u64, cv: f64) -> Result<Vec<Params>, InvalidVariability> {
    if !(cv.is_finite() && cv > 0.0) {
        return Err(InvalidVariability::Cv(cv));
    }
    let omega = (1.0 + cv * cv).ln().sqrt();
    let mut rng = Rng::seeded(seed);
    let base = typical.to_array();
    let mut subjects = Vec::with_capacity(n_subjects);
    while subjects.len() < n_subjects {
        let [v1, k10, k12, k21, k13, k31] = base.map(|value| value * (omega * rng.next_normal()).exp());
        // Products of positive finite numbers by positive finite factors stay valid.
        if let Ok(params) = Params::new(v1, k10, k12, k21, k13, k31) {
            subjects.push(params);
        }
    }
    Ok(subjects)
}

/// p5, p50, p95.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    pub p5: f64,
    pub p50: f64,
    pub p95: f64,
}

impl Percentiles {
    fn of(values: &mut [f64]) -> Percentiles {
        let [p5, p50, p95] = match percentiles(values, &P5_P50_P95)[..] {
            [a, b, c] => [a, b, c],
            _ => [f64::NAN; 3],
        };
        Percentiles { p5, p50, p95 }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PopulationSummary {
    pub n_subjects: usize,
    pub cmax_percentiles_ng_ml: Percentiles,
    /// One entry per grid time.
    pub conc_percentiles_ng_ml: Vec<Percentiles>,
}

/// Simulates every subject on the grid and summarises them. Each subject's
/// Cmax is its largest concentration on the grid.
pub fn simulate_population(subjects: &[Params], regimen: &Regimen, weight_kg: f64, times_min: &[f64]) -> Result<PopulationSummary, SimulateError> {
    check_weight(weight_kg)?;
    let schedule = Schedule::new(regimen, times_min)?;
    let mut cmax = vec![f64::NEG_INFINITY; subjects.len()];
    let mut scratch = vec![0.0; subjects.len()];
    let mut conc_percentiles_ng_ml = Vec::with_capacity(times_min.len());
    run(subjects, &schedule, weight_kg, |_, column| {
        for (best, &conc) in cmax.iter_mut().zip(column) {
            *best = best.max(conc);
        }
        scratch.copy_from_slice(column);
        conc_percentiles_ng_ml.push(Percentiles::of(&mut scratch));
    });
    Ok(PopulationSummary {
        n_subjects: subjects.len(),
        cmax_percentiles_ng_ml: Percentiles::of(&mut cmax),
        conc_percentiles_ng_ml,
    })
}
