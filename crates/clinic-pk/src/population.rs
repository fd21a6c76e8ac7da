//! Population mode: log-normal between-subject variability on V1 and each
//! rate constant (ω = √ln(1 + CV²)), and the percentiles of concentration
//! and of each subject's Cmax.

use crate::bracket::{brackets, Collector};
use crate::cohort::Cohort;
use crate::params::Params;
use crate::percentile::{from_order_key, order_key, percentiles, position, P5_P50_P95};
use crate::regimen::Regimen;
use crate::rng::Rng;
use crate::schedule::Schedule;
use crate::simulate::{check_weight, SimulateError};

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

/// Up to this many subjects, every column is kept whole and its percentiles
/// selected directly; above it, a sample of the subjects brackets them
/// (`bracket.rs`).
const DIRECT_MAX_SUBJECTS: usize = 16_384;

/// Subjects in the sample that brackets the percentiles of a large population.
const SAMPLE_SUBJECTS: usize = 4_096;

/// Grid points taken together (subjects × points is the memory of a stretch).
const STRETCH_VALUES: usize = 1 << 22;
const MAX_STRETCH_POINTS: usize = 32;

/// Simulates every subject on the grid and summarises them. Each subject's
/// Cmax is its largest concentration on the grid.
pub fn simulate_population(subjects: &[Params], regimen: &Regimen, weight_kg: f64, times_min: &[f64]) -> Result<PopulationSummary, SimulateError> {
    check_weight(weight_kg)?;
    let schedule = Schedule::new(regimen, times_min)?;
    let n = subjects.len();
    let mut cohort = Cohort::new(subjects, &schedule, weight_kg);
    let conc_percentiles_ng_ml = if n == 0 {
        vec![Percentiles::of(&mut []); schedule.n_points]
    } else if n <= DIRECT_MAX_SUBJECTS {
        direct(&mut cohort)
    } else {
        bracketed(subjects, &mut cohort)
    };
    let mut cmax = cohort.position().peak_ng_ml()[..n].to_vec();
    Ok(PopulationSummary {
        n_subjects: n,
        cmax_percentiles_ng_ml: Percentiles::of(&mut cmax),
        conc_percentiles_ng_ml,
    })
}

fn stretch_points(n: usize) -> usize {
    (STRETCH_VALUES / n.max(1)).clamp(1, MAX_STRETCH_POINTS)
}

/// Every column kept whole, a stretch of points at a time.
fn direct(cohort: &mut Cohort) -> Vec<Percentiles> {
    let (n, n_points) = (cohort.n_subjects(), cohort.n_points());
    let stretch = stretch_points(n);
    let mut columns = vec![0.0; stretch * n];
    let mut out = Vec::with_capacity(n_points);
    while cohort.position().point_idx() < n_points {
        let start = cohort.position().point_idx();
        let end = (start + stretch).min(n_points);
        cohort.advance(end, |point_idx, first, conc| {
            let column_start = (point_idx - start) * n + first;
            columns[column_start..column_start + conc.len()].copy_from_slice(conc);
        });
        for column in columns.chunks_mut(n).take(end - start) {
            out.push(Percentiles::of(column));
        }
    }
    out
}

/// Each column's percentiles from one counting pass, bracketed by a sample of
/// the subjects (a column that is one value repeated, as before the first
/// dose, is recognised as such). A column whose bracket missed is simulated
/// again by a second cohort, which only ever moves forward, and selected
/// whole.
fn bracketed(subjects: &[Params], cohort: &mut Cohort) -> Vec<Percentiles> {
    let (n, n_points) = (cohort.n_subjects(), cohort.n_points());
    let stretch = stretch_points(n);
    let n_sample = SAMPLE_SUBJECTS.min(n);
    let sample_step = n / n_sample;
    let sample: Vec<Params> = (0..n_sample).map(|idx| subjects[idx * sample_step]).collect();
    let mut pilot = cohort.with_subjects(&sample);
    let positions = P5_P50_P95.map(|q| position(n, q));
    let ranks = positions.map(|(rank, _)| rank);
    // The sample's concentrations as order keys, which select faster.
    let mut sample_columns = vec![0_i64; stretch * n_sample];
    let mut collectors = vec![Collector::default(); stretch];
    let mut again: Option<Cohort> = None;
    let mut column = Vec::new();
    let mut out = Vec::with_capacity(n_points);
    while cohort.position().point_idx() < n_points {
        let start = cohort.position().point_idx();
        let end = (start + stretch).min(n_points);
        pilot.advance(end, |point_idx, first, conc| {
            let column_start = (point_idx - start) * n_sample + first;
            for (key, &value) in sample_columns[column_start..column_start + conc.len()].iter_mut().zip(conc) {
                *key = order_key(value);
            }
        });
        for (collector, sample_column) in collectors.iter_mut().zip(sample_columns.chunks_mut(n_sample)).take(end - start) {
            let first = sample_column[0];
            if sample_column.iter().all(|&key| key == first) {
                collector.reset_constant(from_order_key(first));
            } else {
                collector.reset(brackets(sample_column, n, &ranks));
            }
        }
        cohort.advance(end, |point_idx, _, conc| {
            collectors[point_idx - start].add(conc);
        });
        for (point, collector) in (start..end).zip(&mut collectors) {
            let [p5, p50, p95] = match collector.percentiles(n, &positions) {
                Some(values) => values,
                None => {
                    let again = again.get_or_insert_with(|| cohort.with_subjects(subjects));
                    column.resize(n, 0.0);
                    again.advance(point + 1, |point_idx, first, conc| {
                        if point_idx == point {
                            column[first..first + conc.len()].copy_from_slice(conc);
                        }
                    });
                    let whole = Percentiles::of(&mut column);
                    [whole.p5, whole.p50, whole.p95]
                }
            };
            out.push(Percentiles { p5, p50, p95 });
        }
    }
    out
}
