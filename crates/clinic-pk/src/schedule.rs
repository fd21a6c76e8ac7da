//! The walk through time that every subject shares: advance by a duration at
//! a constant rate, or emit the concentration at a grid point. Phase
//! boundaries between grid points split a step, so each step has one rate
//! and the solution stays exact.

use crate::regimen::Regimen;

/// Durations equal within this relative tolerance share one entry, so a
/// uniform grid has one or two distinct durations however its times were
/// computed (a time shift of 1e-12 relative, far below any other error).
const SAME_DURATION: f64 = 1e-12;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// Advance by `durations[duration_idx]` at this rate.
    Advance { duration_idx: usize, rate_mg_per_kg_per_min: f64 },
    /// Record the concentration at the next grid point.
    Emit,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub durations_min: Vec<f64>,
    pub steps: Vec<Step>,
    pub n_points: usize,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidGrid {
    #[error("times: at least one time is needed")]
    Empty,
    #[error("times: {value} at position {index} is not allowed; times must be finite, at least 0 and non-decreasing")]
    Time { index: usize, value: f64 },
}

impl Schedule {
    pub fn new(regimen: &Regimen, times_min: &[f64]) -> Result<Schedule, InvalidGrid> {
        if times_min.is_empty() {
            return Err(InvalidGrid::Empty);
        }
        let mut previous = 0.0;
        for (index, &time) in times_min.iter().enumerate() {
            if !(time.is_finite() && time >= previous) {
                return Err(InvalidGrid::Time { index: index + 1, value: time });
            }
            previous = time;
        }
        let intervals = regimen.intervals();
        let mut durations_min: Vec<f64> = Vec::new();
        let mut last_idx = 0;
        let mut steps = Vec::with_capacity(times_min.len() * 2);
        let mut now = 0.0_f64;
        let mut phase_idx = 0;
        for &target in times_min {
            while now < target {
                while phase_idx < intervals.len() && intervals[phase_idx].1 <= now {
                    phase_idx += 1;
                }
                let (end, rate) = match intervals.get(phase_idx) {
                    Some(&(_, phase_end, rate)) => (phase_end.min(target), rate),
                    None => (target, 0.0),
                };
                let duration = end - now;
                let duration_idx = match durations_min.get(last_idx) {
                    Some(&known) if (duration - known).abs() <= SAME_DURATION * known => last_idx,
                    _ => match durations_min.iter().position(|&known| (duration - known).abs() <= SAME_DURATION * known) {
                        Some(idx) => idx,
                        None => {
                            durations_min.push(duration);
                            durations_min.len() - 1
                        }
                    },
                };
                last_idx = duration_idx;
                steps.push(Step::Advance {
                    duration_idx,
                    rate_mg_per_kg_per_min: rate,
                });
                now = end;
            }
            steps.push(Step::Emit);
        }
        Ok(Schedule {
            durations_min,
            steps,
            n_points: times_min.len(),
        })
    }
}

/// `0, step, 2·step, …, n_steps·step`.
pub fn uniform_grid(n_steps: u32, step_min: f64) -> Vec<f64> {
    (0..=n_steps).map(|idx| f64::from(idx) * step_min).collect()
}
