//! A dosing regimen: consecutive constant-rate infusion phases from time 0.

/// One constant-rate phase: `dose_mg_per_kg` over `minutes`. A zero dose is
/// a pause (used to shift a phase in time).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phase {
    pub dose_mg_per_kg: f64,
    pub minutes: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Regimen {
    phases: Vec<Phase>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidRegimen {
    #[error("phases: at least one phase is needed")]
    Empty,
    #[error("phase {index}: dose {value} mg/kg is not allowed; must be finite and at least 0")]
    Dose { index: usize, value: f64 },
    #[error("phase {index}: {value} minutes is not allowed; must be finite and greater than 0")]
    Minutes { index: usize, value: f64 },
}

impl Regimen {
    pub fn new(phases: Vec<Phase>) -> Result<Regimen, InvalidRegimen> {
        if phases.is_empty() {
            return Err(InvalidRegimen::Empty);
        }
        for (index, phase) in phases.iter().enumerate() {
            if !(phase.dose_mg_per_kg.is_finite() && phase.dose_mg_per_kg >= 0.0) {
                return Err(InvalidRegimen::Dose {
                    index: index + 1,
                    value: phase.dose_mg_per_kg,
                });
            }
            if !(phase.minutes.is_finite() && phase.minutes > 0.0) {
                return Err(InvalidRegimen::Minutes {
                    index: index + 1,
                    value: phase.minutes,
                });
            }
        }
        Ok(Regimen { phases })
    }

    pub fn phases(&self) -> &[Phase] {
        &self.phases
    }

    /// `(start_min, end_min, rate_mg_per_kg_per_min)` per phase.
    pub fn intervals(&self) -> Vec<(f64, f64, f64)> {
        let mut start = 0.0;
        self.phases
            .iter()
            .map(|phase| {
                let end = start + phase.minutes;
                let interval = (start, end, phase.dose_mg_per_kg / phase.minutes);
                start = end;
                interval
            })
            .collect()
    }
}
