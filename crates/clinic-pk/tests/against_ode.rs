//! The exact solution against an adaptive Dormand–Prince 5(4) integration of
//! the compartment equations (clinical.md §5.1), written here on its own and
//! sharing no code with the crate: within 1e-6 relative on every grid point.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed step is a failed test.

use clinic_pk::params::{Model, Params};
use clinic_pk::regimen::{Phase, Regimen};
use clinic_pk::simulate::simulate;

/// dA/dt for amounts in mg: A1 central, A2 and A3 peripheral.
fn derivative(p: &[f64; 6], rate_mg_per_min: f64, a: &[f64; 3]) -> [f64; 3] {
    let [_, k10, k12, k21, k13, k31] = *p;
    [
        rate_mg_per_min - (k10 + k12 + k13) * a[0] + k21 * a[1] + k31 * a[2],
        k12 * a[0] - k21 * a[1],
        k13 * a[0] - k31 * a[2],
    ]
}

fn axpy(y: &[f64; 3], h: f64, terms: &[(f64, &[f64; 3])]) -> [f64; 3] {
    let mut out = *y;
    for (coef, k) in terms {
        for i in 0..3 {
            out[i] += h * coef * k[i];
        }
    }
    out
}

/// Integrates from `t0` to `t1` at a constant rate with Dormand–Prince 5(4),
/// adaptive steps, relative tolerance 1e-12.
fn dopri(p: &[f64; 6], rate: f64, mut y: [f64; 3], t0: f64, t1: f64) -> [f64; 3] {
    let (rtol, atol) = (1e-12, 1e-18);
    let mut t = t0;
    let mut h = ((t1 - t0) / 100.0).min(0.01);
    while t < t1 {
        if t + h > t1 {
            h = t1 - t;
        }
        let f = |y: &[f64; 3]| derivative(p, rate, y);
        let k1 = f(&y);
        let k2 = f(&axpy(&y, h, &[(1.0 / 5.0, &k1)]));
        let k3 = f(&axpy(&y, h, &[(3.0 / 40.0, &k1), (9.0 / 40.0, &k2)]));
        let k4 = f(&axpy(&y, h, &[(44.0 / 45.0, &k1), (-56.0 / 15.0, &k2), (32.0 / 9.0, &k3)]));
        let k5 = f(&axpy(
            &y,
            h,
            &[
                (19372.0 / 6561.0, &k1),
                (-25360.0 / 2187.0, &k2),
                (64448.0 / 6561.0, &k3),
                (-212.0 / 729.0, &k4),
            ],
        ));
        let k6 = f(&axpy(
            &y,
            h,
            &[
                (9017.0 / 3168.0, &k1),
                (-355.0 / 33.0, &k2),
                (46732.0 / 5247.0, &k3),
                (49.0 / 176.0, &k4),
                (-5103.0 / 18656.0, &k5),
            ],
        ));
        let y5 = axpy(
            &y,
            h,
            &[
                (35.0 / 384.0, &k1),
                (500.0 / 1113.0, &k3),
                (125.0 / 192.0, &k4),
                (-2187.0 / 6784.0, &k5),
                (11.0 / 84.0, &k6),
            ],
        );
        let k7 = f(&y5);
        let y4 = axpy(
            &y,
            h,
            &[
                (5179.0 / 57600.0, &k1),
                (7571.0 / 16695.0, &k3),
                (393.0 / 640.0, &k4),
                (-92097.0 / 339200.0, &k5),
                (187.0 / 2100.0, &k6),
                (1.0 / 40.0, &k7),
            ],
        );
        let err = (0..3)
            .map(|i| (y5[i] - y4[i]).abs() / (atol + rtol * y[i].abs().max(y5[i].abs())))
            .fold(0.0, f64::max);
        if err <= 1.0 {
            t += h;
            y = y5;
        }
        let factor = if err == 0.0 { 5.0 } else { (0.9 * err.powf(-0.2)).clamp(0.2, 5.0) };
        h *= factor;
    }
    y
}

/// Concentrations (ng/mL) at `times` by integrating through every phase
/// boundary and grid point.
fn ode_curve(p: &[f64; 6], phases: &[(f64, f64)], weight_kg: f64, times: &[f64]) -> Vec<f64> {
    let mut boundaries = vec![0.0];
    let mut rates = Vec::new();
    for &(dose, minutes) in phases {
        boundaries.push(boundaries.last().unwrap() + minutes);
        rates.push(dose * weight_kg / minutes);
    }
    let rate_at = |t: f64| {
        (0..rates.len())
            .find(|&i| boundaries[i] <= t && t < boundaries[i + 1])
            .map_or(0.0, |i| rates[i])
    };
    let mut y = [0.0; 3];
    let mut t = 0.0;
    let mut out = Vec::new();
    for &target in times {
        while t < target {
            let next_boundary = boundaries.iter().copied().find(|&b| b > t).unwrap_or(f64::INFINITY);
            let end = target.min(next_boundary);
            y = dopri(p, rate_at(t), y, t, end);
            t = end;
        }
        out.push(y[0] / (p[0] * weight_kg) * 1000.0);
    }
    out
}

#[track_caller]
fn check(params: Params, phases: &[(f64, f64)], weight_kg: f64, times: &[f64]) {
    let regimen = Regimen::new(phases.iter().map(|&(dose_mg_per_kg, minutes)| Phase { dose_mg_per_kg, minutes }).collect()).unwrap();
    let exact = simulate(&params, &regimen, weight_kg, times).unwrap();
    let ode = ode_curve(&params.to_array(), phases, weight_kg, times);
    let peak = ode.iter().copied().fold(0.0, f64::max);
    assert!(peak > 0.0);
    for ((&t, &a), &b) in times.iter().zip(&exact.conc_ng_ml).zip(&ode) {
        let tolerance = 1e-6 * b.abs().max(1e-6 * peak);
        assert!(
            (a - b).abs() <= tolerance,
            "t = {t}: exact {a}, ode {b}, |diff| {} > {tolerance}",
            (a - b).abs()
        );
    }
}

fn grid(until: u32, step: f64) -> Vec<f64> {
    (0..=until).map(|i| f64::from(i) * step).collect()
}

#[test]
fn domino_single_infusion() {
    check(Model::Domino.params(), &[(0.5, 40.0)], 70.0, &grid(360, 1.0));
}

#[test]
fn domino_loading_and_maintenance() {
    check(Model::Domino.params(), &[(0.11, 2.0), (0.60, 50.0)], 82.5, &grid(360, 1.0));
}

#[test]
fn two_compartment_sets() {
    check(Model::Clements.params(), &[(0.8, 40.0)], 60.0, &grid(360, 1.0));
    check(Model::Hijazi.params(), &[(0.5, 40.0)], 95.0, &grid(360, 1.0));
}

#[test]
fn phase_boundaries_between_grid_points() {
    // Boundaries at 2.5 and 33.2 min fall between points of a 0.7-min grid.
    check(Model::Domino.params(), &[(0.2, 2.5), (0.3, 30.7), (0.1, 12.0)], 70.0, &grid(400, 0.7));
}

#[test]
fn uneven_grid_and_explicit_parameters() {
    let times = [0.0, 0.01, 0.5, 1.0, 3.3, 3.3, 10.0, 40.0, 40.001, 100.0, 720.0];
    check(
        Params::new(0.2, 0.05, 0.3, 0.1, 0.02, 0.004).unwrap(),
        &[(1.0, 10.0), (0.4, 30.0)],
        50.0,
        &times,
    );
    check(Params::new(0.5, 0.1, 0.1, 0.1001, 0.1, 0.1).unwrap(), &[(0.7, 20.0)], 70.0, &times);
    check(Params::new(1.0, 0.01, 2.0, 1.0, 0.0, 0.0).unwrap(), &[(0.3, 5.0)], 70.0, &times);
}
