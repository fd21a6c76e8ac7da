//! Golden outputs from lifelines 0.30.3 (written once by
//! benches/survival/golden.py and committed in tests/data/), checked offline:
//! Kaplan–Meier curves and intervals to 1e-10, log-rank to 1e-9, Cox against
//! lifelines refitted with its tight settings (precision 1e-12).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use clinic_survival::analysis::{analyse, Analysis, ArmChoice};
use clinic_survival::cox::CoxModel;
use clinic_survival::csv::read_cohort;
use serde_json::Value;

const CASES: &[&str] = &[
    "lung",
    "freireich",
    "ties_small",
    "integer_days",
    "continuous_days",
    "three_arms",
    "tiny",
    "median_half",
];

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
        .join(name)
}

fn load(name: &str) -> (clinic_survival::cohort::Cohort, Value) {
    let file = std::fs::File::open(data(&format!("{name}.csv"))).unwrap();
    let cohort = read_cohort(std::io::BufReader::new(file), &mut |_| {}).unwrap();
    let golden: Value = serde_json::from_str(
        &std::fs::read_to_string(data(&format!("{name}.lifelines.json"))).unwrap(),
    )
    .unwrap();
    (cohort, golden)
}

fn floats(value: &Value) -> Vec<Option<f64>> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(Value::as_f64)
        .collect()
}

fn counts(value: &Value) -> Vec<u64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

#[track_caller]
fn assert_close(what: &str, ours: f64, theirs: Option<f64>, tolerance: f64) {
    match theirs {
        None => assert!(
            !ours.is_finite(),
            "{what}: lifelines has no value, we have {ours}"
        ),
        Some(theirs) => assert!(
            (ours - theirs).abs() <= tolerance,
            "{what}: ours {ours}, lifelines {theirs}, difference {}",
            ours - theirs
        ),
    }
}

#[test]
fn kaplan_meier_matches_lifelines_to_1e_10() {
    let mut largest = 0.0f64;
    for case in CASES {
        let (cohort, golden) = load(case);
        let analysis = analyse(
            &cohort,
            ArmChoice {
                treatment: None,
                reference: None,
            },
        )
        .unwrap();
        let expected = golden["km"].as_object().unwrap();
        assert_eq!(analysis.km.len(), expected.len(), "{case}: arms");
        for (arm, km) in &analysis.km {
            let want = &expected[arm];
            let what = format!("{case}/{arm}");
            assert_eq!(km.n, want["n"].as_u64().unwrap(), "{what}: n");
            assert_eq!(
                km.events,
                want["events"].as_u64().unwrap(),
                "{what}: events"
            );
            let timeline: Vec<f64> = floats(&want["timeline"])
                .into_iter()
                .map(Option::unwrap)
                .collect();
            assert_eq!(km.timeline, timeline, "{what}: timeline");
            assert_eq!(km.at_risk, counts(&want["at_risk"]), "{what}: at_risk");
            assert_eq!(km.observed, counts(&want["observed"]), "{what}: observed");
            assert_eq!(km.censored, counts(&want["censored"]), "{what}: censored");
            for (name, ours, theirs) in [
                ("survival", &km.survival, floats(&want["survival"])),
                ("ci_lower", &km.ci_lower, floats(&want["ci_lower"])),
                ("ci_upper", &km.ci_upper, floats(&want["ci_upper"])),
            ] {
                assert_eq!(ours.len(), theirs.len(), "{what}: {name} length");
                for (idx, (&o, &t)) in ours.iter().zip(&theirs).enumerate() {
                    assert_close(&format!("{what}: {name}[{idx}]"), o, t, 1e-10);
                    if let Some(t) = t {
                        largest = largest.max((o - t).abs());
                    }
                }
            }
            // Medians are chosen by comparisons, so they must agree exactly.
            assert_eq!(km.median, want["median"].as_f64(), "{what}: median");
            assert_eq!(
                km.median_ci_lower,
                want["median_ci_lower"].as_f64(),
                "{what}: median_ci_lower"
            );
            assert_eq!(
                km.median_ci_upper,
                want["median_ci_upper"].as_f64(),
                "{what}: median_ci_upper"
            );
        }
    }
    eprintln!("largest Kaplan-Meier difference from lifelines: {largest:e}");
}

#[test]
fn logrank_matches_lifelines_to_1e_9() {
    for case in CASES {
        let (cohort, golden) = load(case);
        let analysis = analyse(
            &cohort,
            ArmChoice {
                treatment: None,
                reference: None,
            },
        )
        .unwrap();
        let ours = analysis.logrank.unwrap();
        let want = &golden["logrank"];
        assert_eq!(
            u64::from(ours.df),
            want["df"].as_u64().unwrap(),
            "{case}: df"
        );
        let statistic = want["statistic"].as_f64().unwrap();
        assert_close(
            &format!("{case}: statistic"),
            ours.statistic,
            Some(statistic),
            1e-9 * statistic.max(1.0),
        );
        let p = want["p"].as_f64().unwrap();
        assert_close(&format!("{case}: p"), ours.p, Some(p), 1e-9 * p.max(1e-300));
        eprintln!(
            "{case}: log-rank statistic difference {:e}, p relative difference {:e}",
            ours.statistic - statistic,
            (ours.p - p) / p
        );
    }
}

fn cox_for(cohort: &clinic_survival::cohort::Cohort, treatment: &str, reference: &str) -> CoxModel {
    let analysis: Analysis = analyse(
        cohort,
        ArmChoice {
            treatment: Some(treatment),
            reference: Some(reference),
        },
    )
    .unwrap();
    let report = analysis.cox.unwrap();
    assert_eq!(
        (report.treatment.as_str(), report.reference.as_str()),
        (treatment, reference)
    );
    report.model
}

#[test]
fn cox_reaches_the_true_maximum_and_matches_lifelines_tight_refit() {
    for case in CASES {
        let (cohort, golden) = load(case);
        let optimum = golden["cox_optimum"].as_array().unwrap();
        let tight = golden["cox_tight"].as_array().unwrap();
        let default = golden["cox_default"].as_array().unwrap();
        for ((best, want), lifelines_default) in optimum.iter().zip(tight).zip(default) {
            let treatment = want["treatment"].as_str().unwrap();
            let reference = want["reference"].as_str().unwrap();
            assert_eq!(
                (best["treatment"].as_str(), best["reference"].as_str()),
                (Some(treatment), Some(reference))
            );
            let what = format!("{case}: {treatment} vs {reference}");
            let model = cox_for(&cohort, treatment, reference);
            assert_eq!(model.n, want["n"].as_u64().unwrap(), "{what}: n");
            assert_eq!(
                model.events,
                want["events"].as_u64().unwrap(),
                "{what}: events"
            );
            let fit = model.fit.unwrap();
            // The fully converged optimum: the score's root found by bracketing
            // in golden.py, independently of lifelines and of this crate.
            let coef = best["coef"].as_f64().unwrap();
            assert_close(
                &format!("{what}: coef vs optimum"),
                fit.coef,
                Some(coef),
                1e-9,
            );
            let se = best["se"].as_f64().unwrap();
            assert_close(
                &format!("{what}: se vs optimum"),
                fit.se,
                Some(se),
                1e-9 * se,
            );
            assert_close(
                &format!("{what}: log_likelihood"),
                fit.log_likelihood,
                best["log_likelihood"].as_f64(),
                1e-9,
            );
            assert_close(
                &format!("{what}: log_likelihood_null"),
                fit.log_likelihood_null,
                best["log_likelihood_null"].as_f64(),
                1e-9,
            );
            // Lifelines with precision 1e-12 stops within about 1e-6 of the
            // maximum (survival.md §10); its default stops further away.
            assert_close(
                &format!("{what}: coef vs lifelines"),
                fit.coef,
                want["coef"].as_f64(),
                1e-6,
            );
            assert_close(
                &format!("{what}: se vs lifelines"),
                fit.se,
                want["se"].as_f64(),
                1e-6 * se,
            );
            let p = want["p"].as_f64().unwrap();
            assert_close(&format!("{what}: p"), fit.p, Some(p), 1e-5 * p);
            assert_close(
                &format!("{what}: log_likelihood vs lifelines"),
                fit.log_likelihood,
                want["log_likelihood"].as_f64(),
                1e-9,
            );
            assert_close(
                &format!("{what}: log_likelihood_null vs lifelines"),
                fit.log_likelihood_null,
                want["log_likelihood_null"].as_f64(),
                1e-9,
            );
            assert_close(
                &format!("{what}: lr_test_statistic"),
                fit.lr_test_statistic,
                want["lr_test_statistic"].as_f64(),
                1e-8,
            );
            let default_coef = lifelines_default["coef"].as_f64().unwrap();
            assert!(
                (fit.coef - coef).abs() <= (default_coef - coef).abs().max(1e-9),
                "{what}: ours {} lifelines default {default_coef} optimum {coef}",
                fit.coef
            );
            eprintln!(
                "{what}: coef - optimum {:e}, lifelines tight - optimum {:e}, lifelines default - optimum {:e}, se relative to optimum {:e}",
                fit.coef - coef,
                want["coef"].as_f64().unwrap() - coef,
                default_coef - coef,
                (fit.se - se) / se
            );
        }
    }
}
