//! Subjects advanced together through a schedule, exactly: each mode of the
//! central compartment is advanced over a step of constant rate by
//! `y ← exp(−α·d)·y + R·coef/α·(1 − exp(−α·d))`, the closed-form solution of
//! the linear system, not a numerical integration.
//!
//! Subjects are taken in blocks small enough to stay in the L1 cache, and a
//! block runs through a whole stretch of grid points before the next block
//! starts. A subject's state and factors are then read from memory once per
//! stretch, not once per step, and the caller sees each block's
//! concentrations while they are still in the cache.

use crate::modes::Modes;
use crate::params::Params;
use crate::schedule::{Schedule, Step};

/// mg/L to ng/mL.
const NG_PER_ML_PER_MG_PER_L: f64 = 1000.0;

/// Subjects per block: the concentrations of a block over one pass take
/// `PASS_POINTS × BLOCK × 8` bytes (32 KiB).
pub const BLOCK: usize = 128;

/// Grid points per pass.
const PASS_POINTS: usize = 32;

/// Subjects advanced together with their state in registers (eight was the
/// fastest on SSE2; `BLOCK` is a multiple). Every per-subject array is
/// padded to a multiple of it.
const LANES: usize = 8;

/// Per-subject factors of one step duration, mode by mode, one entry per
/// subject.
struct StepFactors {
    decay: [Vec<f64>; 3],
    gain: [Vec<f64>; 3],
}

/// Where a cohort is in its schedule: the modal amounts of every subject
/// (mode by mode), each subject's largest concentration so far, the next
/// step and the next grid point.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    state: [Vec<f64>; 3],
    peak_ng_ml: Vec<f64>,
    step_idx: usize,
    point_idx: usize,
}

impl Position {
    /// The next grid point to be emitted.
    pub fn point_idx(&self) -> usize {
        self.point_idx
    }

    /// Each subject's largest concentration on the grid points emitted so
    /// far (−∞ before the first).
    pub fn peak_ng_ml(&self) -> &[f64] {
        &self.peak_ng_ml
    }
}

pub struct Cohort<'a> {
    schedule: &'a Schedule,
    weight_kg: f64,
    factors: Vec<StepFactors>,
    n_subjects: usize,
    position: Position,
}

impl<'a> Cohort<'a> {
    /// Every subject at time 0 with nothing given. The weight scales dose and
    /// volume alike (dose mg/kg × kg, V1 L/kg × kg).
    pub fn new(subjects: &[Params], schedule: &'a Schedule, weight_kg: f64) -> Cohort<'a> {
        let n = subjects.len();
        let padded = n.next_multiple_of(LANES);
        let mut factors: Vec<StepFactors> = schedule
            .durations_min
            .iter()
            .map(|_| StepFactors {
                decay: [0, 1, 2].map(|_| vec![0.0; padded]),
                gain: [0, 1, 2].map(|_| vec![0.0; padded]),
            })
            .collect();
        for (idx, params) in subjects.iter().enumerate() {
            let modes = Modes::of(params);
            let volume_l = params.v1_l_per_kg() * weight_kg;
            for (step_factors, &duration) in factors.iter_mut().zip(&schedule.durations_min) {
                for mode in 0..3 {
                    step_factors.decay[mode][idx] = modes.decay(mode, duration);
                    step_factors.gain[mode][idx] = modes.infusion_gain(mode, duration) * NG_PER_ML_PER_MG_PER_L / volume_l;
                }
            }
        }
        Cohort {
            schedule,
            weight_kg,
            factors,
            n_subjects: n,
            position: Position {
                state: [vec![0.0; padded], vec![0.0; padded], vec![0.0; padded]],
                peak_ng_ml: vec![f64::NEG_INFINITY; padded],
                step_idx: 0,
                point_idx: 0,
            },
        }
    }

    /// A cohort of other subjects on the same schedule and weight.
    pub fn with_subjects(&self, subjects: &[Params]) -> Cohort<'a> {
        Cohort::new(subjects, self.schedule, self.weight_kg)
    }

    /// The number of grid points of the schedule.
    pub fn n_points(&self) -> usize {
        self.schedule.n_points
    }

    pub fn n_subjects(&self) -> usize {
        self.n_subjects
    }

    pub fn position(&self) -> &Position {
        &self.position
    }

    /// Advances every subject up to grid point `end_point` (exclusive), and
    /// calls `on_block(point_idx, first_subject, conc_ng_ml)` at each grid
    /// point for each block of subjects, in order of points within a block.
    pub fn advance(&mut self, end_point: usize, mut on_block: impl FnMut(usize, usize, &[f64])) {
        let mut conc = vec![0.0; PASS_POINTS * BLOCK];
        while self.position.point_idx < end_point && self.position.step_idx < self.schedule.steps.len() {
            let pass_end = end_point.min(self.position.point_idx + PASS_POINTS);
            self.advance_pass(pass_end, &mut conc, &mut on_block);
        }
    }

    /// One pass of at most `PASS_POINTS` grid points: each block goes through
    /// them all, `LANES` subjects at a time with their state in registers, and
    /// then hands its concentrations over point by point.
    fn advance_pass(&mut self, end_point: usize, conc: &mut [f64], on_block: &mut impl FnMut(usize, usize, &[f64])) {
        let steps = &self.schedule.steps;
        let (start_step, start_point) = (self.position.step_idx, self.position.point_idx);
        let mut end_step = start_step;
        let mut point = start_point;
        while point < end_point && end_step < steps.len() {
            if steps[end_step] == Step::Emit {
                point += 1;
            }
            end_step += 1;
        }
        let weight_kg = self.weight_kg;
        // The pass's steps, each an advance (duration index, rate in mg/min) and/or an emit.
        let mut pass: Vec<(Option<(usize, f64)>, bool)> = Vec::with_capacity(end_step - start_step);
        for step in &steps[start_step..end_step] {
            match (*step, pass.last_mut()) {
                (Step::Emit, Some((Some(_), emit @ false))) => *emit = true,
                (Step::Emit, _) => pass.push((None, true)),
                (
                    Step::Advance {
                        duration_idx,
                        rate_mg_per_kg_per_min,
                    },
                    _,
                ) => pass.push((Some((duration_idx, rate_mg_per_kg_per_min * weight_kg)), false)),
            }
        }
        let n = self.n_subjects();
        // Decay and gain factors of the lanes being advanced, per duration and mode.
        let mut lane_factors = vec![([[0.0; LANES]; 3], [[0.0; LANES]; 3]); self.factors.len()];
        let mut first = 0;
        while first < n {
            let len = BLOCK.min(n - first);
            for lane_start in (first..first + len).step_by(LANES) {
                let lanes = lane_start..lane_start + LANES;
                for ((decay, gain), step_factors) in lane_factors.iter_mut().zip(&self.factors) {
                    for mode in 0..3 {
                        decay[mode].copy_from_slice(&step_factors.decay[mode][lanes.clone()]);
                        gain[mode].copy_from_slice(&step_factors.gain[mode][lanes.clone()]);
                    }
                }
                let mut y = [[0.0; LANES]; 3];
                for (y_mode, stored) in y.iter_mut().zip(&self.position.state) {
                    y_mode.copy_from_slice(&stored[lanes.clone()]);
                }
                let mut peak = [0.0; LANES];
                peak.copy_from_slice(&self.position.peak_ng_ml[lanes.clone()]);
                let mut conc_idx = lane_start - first;
                for &(advance, emit) in &pass {
                    if let Some((duration_idx, rate_mg_per_min)) = advance {
                        let (decay, gain) = &lane_factors[duration_idx];
                        for ((y_mode, decay), gain) in y.iter_mut().zip(decay).zip(gain) {
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
                    if emit {
                        let [y0, y1, y2] = &y;
                        for ((((c, best), &a), &b), &d) in conc[conc_idx..conc_idx + LANES].iter_mut().zip(&mut peak).zip(y0).zip(y1).zip(y2) {
                            // A mode's rounding can leave a tiny negative total near 0; a concentration is
                            // never negative. Written as comparisons (one instruction each), this is
                            // `max`: the total is never −0 (a mode with a positive coefficient is never
                            // below +0), a NaN total gives 0 either way, and neither value is NaN after.
                            let total = a + b + d;
                            *c = if total > 0.0 { total } else { 0.0 };
                            *best = if *c > *best { *c } else { *best };
                        }
                        conc_idx += BLOCK;
                    }
                }
                for (stored, y_mode) in self.position.state.iter_mut().zip(&y) {
                    stored[lanes.clone()].copy_from_slice(y_mode);
                }
                self.position.peak_ng_ml[lanes.clone()].copy_from_slice(&peak);
            }
            for (point_idx, conc_point) in (start_point..point).zip(conc.chunks(BLOCK)) {
                on_block(point_idx, first, &conc_point[..len]);
            }
            first += len;
        }
        self.position.step_idx = end_step;
        self.position.point_idx = point;
    }
}
