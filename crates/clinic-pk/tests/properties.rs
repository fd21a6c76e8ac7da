//! Invariants over ranges of parameters and regimens (proptest):
//! concentrations are never negative, and they are linear in dose.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed step is a failed test.

use clinic_pk::params::Params;
use clinic_pk::regimen::{Phase, Regimen};
use clinic_pk::simulate::simulate;
use proptest::prelude::*;

/// Rate constants 0.001–3 /min and V1 0.01–5 L/kg: around every set in
/// clinical.md §5.1 and far beyond; two- or three-compartment.
fn params() -> impl Strategy<Value = Params> {
    (
        0.01..5.0_f64,
        0.001..3.0_f64,
        0.001..3.0_f64,
        0.001..3.0_f64,
        0.001..3.0_f64,
        0.001..3.0_f64,
        any::<bool>(),
    )
        .prop_map(|(v1, k10, k12, k21, k13, k31, three)| {
            if three {
                Params::new(v1, k10, k12, k21, k13, k31).unwrap()
            } else {
                Params::new(v1, k10, k12, k21, 0.0, 0.0).unwrap()
            }
        })
}

fn phases() -> impl Strategy<Value = Vec<(f64, f64)>> {
    prop::collection::vec((0.0..3.0_f64, 0.5..120.0_f64), 1..4)
}

fn regimen(phases: &[(f64, f64)], scale: f64) -> Regimen {
    Regimen::new(
        phases
            .iter()
            .map(|&(dose, minutes)| Phase {
                dose_mg_per_kg: dose * scale,
                minutes,
            })
            .collect(),
    )
    .unwrap()
}

fn grid(step: f64) -> Vec<f64> {
    (0..=400).map(|i| f64::from(i) * step).collect()
}

proptest! {
    #[test]
    fn never_negative(p in params(), phases in phases(), weight in 20.0..250.0_f64, step in 0.05..5.0_f64) {
        let curve = simulate(&p, &regimen(&phases, 1.0), weight, &grid(step)).unwrap();
        prop_assert!(curve.conc_ng_ml.iter().all(|c| c.is_finite() && *c >= 0.0));
    }

    #[test]
    fn linear_in_dose(p in params(), phases in phases(), weight in 20.0..250.0_f64, scale in 0.01..10.0_f64) {
        let times = grid(1.0);
        let base = simulate(&p, &regimen(&phases, 1.0), weight, &times).unwrap();
        let scaled = simulate(&p, &regimen(&phases, scale), weight, &times).unwrap();
        let floor = 1e-12 * base.cmax_ng_ml.max(f64::MIN_POSITIVE);
        for (a, b) in base.conc_ng_ml.iter().zip(&scaled.conc_ng_ml) {
            prop_assert!((b - scale * a).abs() <= 1e-9 * (scale * a).abs() + scale * floor, "{b} vs {} × {a}", scale);
        }
    }
}
