//! The population summary against a plain computation written here: every
//! subject simulated alone, each column sorted, type-7 percentiles with
//! numpy's lerp. The two must agree bit for bit, for populations large
//! enough that the summary brackets its percentiles from a sample, and for
//! the cases that defeat a sample: equal values (zero before the first
//! dose, identical subjects) and subjects in sorted order.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed step is a failed test.

use clinic_pk::params::{Model, Params};
use clinic_pk::population::{sample_subjects, simulate_population, Percentiles, PopulationSummary};
use clinic_pk::regimen::{Phase, Regimen};
use clinic_pk::schedule::uniform_grid;
use clinic_pk::simulate::simulate;

fn regimen(phases: &[(f64, f64)]) -> Regimen {
    Regimen::new(phases.iter().map(|&(dose_mg_per_kg, minutes)| Phase { dose_mg_per_kg, minutes }).collect()).unwrap()
}

/// Type-7 percentile of a sorted column, as numpy computes it.
fn type7(sorted: &[f64], q: f64) -> f64 {
    let h = f64::from(u32::try_from(sorted.len() - 1).unwrap()) * q;
    let lo = (0..sorted.len()).rev().find(|&idx| f64::from(u32::try_from(idx).unwrap()) <= h).unwrap();
    let t = h - f64::from(u32::try_from(lo).unwrap());
    let (a, b) = (sorted[lo], sorted[(lo + 1).min(sorted.len() - 1)]);
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

fn summarise(mut column: Vec<f64>) -> Percentiles {
    column.sort_by(f64::total_cmp);
    Percentiles {
        p5: type7(&column, 0.05),
        p50: type7(&column, 0.5),
        p95: type7(&column, 0.95),
    }
}

fn plain(subjects: &[Params], regimen: &Regimen, weight_kg: f64, times: &[f64]) -> PopulationSummary {
    let curves: Vec<Vec<f64>> = subjects.iter().map(|p| simulate(p, regimen, weight_kg, times).unwrap().conc_ng_ml).collect();
    let cmax: Vec<f64> = curves
        .iter()
        .map(|curve| curve.iter().fold(f64::NEG_INFINITY, |best, &c| best.max(c)))
        .collect();
    PopulationSummary {
        n_subjects: subjects.len(),
        cmax_percentiles_ng_ml: summarise(cmax),
        conc_percentiles_ng_ml: (0..times.len()).map(|idx| summarise(curves.iter().map(|curve| curve[idx]).collect())).collect(),
    }
}

#[track_caller]
fn check(subjects: &[Params], phases: &[(f64, f64)], times: &[f64]) {
    let regimen = regimen(phases);
    let got = simulate_population(subjects, &regimen, 70.0, times).unwrap();
    let want = plain(subjects, &regimen, 70.0, times);
    assert_eq!(got.cmax_percentiles_ng_ml, want.cmax_percentiles_ng_ml);
    for (idx, (g, w)) in got.conc_percentiles_ng_ml.iter().zip(&want.conc_percentiles_ng_ml).enumerate() {
        assert_eq!(g, w, "t = {} min", times[idx]);
    }
    assert_eq!(got, want);
}

#[test]
fn large_population_matches_the_plain_computation() {
    let subjects = sample_subjects(&Model::Domino.params(), 20_000, 3, 0.3).unwrap();
    check(&subjects, &[(0.5, 40.0)], &uniform_grid(120, 2.0));
}

#[test]
fn zeros_before_a_delayed_dose_match() {
    // Every subject is at 0 until minute 10: each column is one value repeated.
    let subjects = sample_subjects(&Model::Domino.params(), 17_000, 4, 0.5).unwrap();
    check(&subjects, &[(0.0, 10.0), (0.11, 2.0), (0.6, 50.0)], &uniform_grid(90, 1.0));
}

#[test]
fn identical_subjects_match() {
    // Half the subjects are the typical one, so a percentile sits among thousands of equal values.
    let mut subjects = sample_subjects(&Model::Domino.params(), 9_000, 5, 0.3).unwrap();
    subjects.extend(std::iter::repeat_n(Model::Domino.params(), 9_000));
    check(&subjects, &[(0.5, 40.0)], &uniform_grid(60, 3.0));
}

#[test]
fn one_odd_subject_among_identical_ones_matches() {
    // Whichever subjects a sample takes, the columns look like one value repeated; one is not.
    let mut subjects = vec![Model::Domino.params(); 17_000];
    subjects[1] = Params::new(0.1, 0.3, 0.4, 0.2, 0.5, 0.02).unwrap();
    subjects[16_999] = Params::new(0.05, 0.5, 0.4, 0.2, 0.5, 0.02).unwrap();
    check(&subjects, &[(0.5, 40.0)], &uniform_grid(40, 2.0));
}

#[test]
fn sorted_and_two_compartment_populations_match() {
    let mut subjects = sample_subjects(&Model::Hijazi.params(), 18_000, 6, 0.4).unwrap();
    subjects.sort_by(|a, b| a.v1_l_per_kg().total_cmp(&b.v1_l_per_kg()));
    check(&subjects, &[(0.8, 40.0)], &uniform_grid(50, 6.0));
}

#[test]
fn small_population_matches() {
    let subjects = sample_subjects(&Model::Clements.params(), 301, 7, 0.3).unwrap();
    check(&subjects, &[(0.5, 40.0)], &uniform_grid(100, 1.5));
}
