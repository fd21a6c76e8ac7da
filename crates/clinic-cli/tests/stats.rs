//! `ketaclinic stats survival` run as a process: the survival.md JSON, the
//! lifelines goldens end to end, and exit 2 with one line for bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed step is a failed test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ketaclinic");

fn temp_csv(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ketaclinic-stats-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn golden_data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../clinic-survival/tests/data")
        .join(name)
}

fn survival(csv: &Path, extra: &[&str]) -> Output {
    let dir = csv.parent().unwrap();
    Command::new(BIN)
        .arg("stats")
        .arg("survival")
        .arg("--csv")
        .arg(csv)
        .args(extra)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn json(output: &Output) -> Value {
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.stderr.is_empty(),
        "nothing on stderr when piped: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[track_caller]
fn assert_refused(output: &Output, fragments: &[&str]) {
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line on stderr, got {err:?}"
    );
    for fragment in fragments {
        assert!(
            err.contains(fragment),
            "{err:?} should mention {fragment:?}"
        );
    }
    assert!(output.stdout.is_empty());
}

const SMALL: &str = "patient_id,arm,days,relapsed\n\
p1,placebo,2,1\np2,placebo,3,1\np3,placebo,3,0\np4,placebo,7,1\n\
p5,ketamine,0,1\np6,ketamine,4,0\np7,ketamine,6,1\np8,ketamine,9,0\n";

#[test]
fn prints_the_survival_md_report() {
    let report = json(&survival(&temp_csv("small.csv", SMALL), &[]));
    let mut top: Vec<&str> = report
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    top.sort_unstable();
    assert_eq!(top, ["cox", "km", "logrank"]);
    let ketamine = &report["km"]["ketamine"];
    for key in [
        "n",
        "events",
        "median",
        "median_ci_lower",
        "median_ci_upper",
        "timeline",
        "survival",
        "ci_lower",
        "ci_upper",
        "at_risk",
        "observed",
        "censored",
    ] {
        assert!(ketamine.get(key).is_some(), "km.ketamine.{key}");
    }
    assert_eq!(
        ketamine["timeline"],
        serde_json::json!([0.0, 4.0, 6.0, 9.0]),
        "a relapse at day 0 is the 0 row"
    );
    assert_eq!(ketamine["at_risk"], serde_json::json!([4, 3, 2, 1]));
    assert_eq!(ketamine["observed"], serde_json::json!([1, 0, 1, 0]));
    assert_eq!(ketamine["censored"], serde_json::json!([0, 1, 0, 1]));
    // 3/4, computed in log space (survival.md §3).
    assert!((ketamine["survival"][0].as_f64().unwrap() - 0.75).abs() < 1e-15);
    assert_eq!(
        report["km"]["placebo"]["timeline"],
        serde_json::json!([0.0, 2.0, 3.0, 7.0])
    );
    assert_eq!(report["logrank"]["df"], 1);
    let cox = &report["cox"];
    assert_eq!(
        (cox["treatment"].as_str(), cox["reference"].as_str()),
        (Some("ketamine"), Some("placebo"))
    );
    assert_eq!(
        (cox["n"].as_u64(), cox["events"].as_u64()),
        (Some(8), Some(5))
    );
    for key in [
        "coef",
        "hr",
        "se",
        "coef_ci_lower",
        "coef_ci_upper",
        "hr_ci_lower",
        "hr_ci_upper",
        "z",
        "p",
        "log10_p",
        "log_likelihood",
        "log_likelihood_null",
        "lr_test_statistic",
        "lr_test_p",
    ] {
        assert!(cox[key].is_f64(), "cox.{key} = {}", cox[key]);
    }
    assert!(cox.get("note").is_none());
    let hr = cox["hr"].as_f64().unwrap();
    assert!((hr - cox["coef"].as_f64().unwrap().exp()).abs() < 1e-15);
}

#[test]
fn matches_the_lifelines_golden_for_the_lung_data_end_to_end() {
    let report = json(&survival(
        &golden_data("lung.csv"),
        &["--treatment", "female"],
    ));
    let golden: Value =
        serde_json::from_str(&std::fs::read_to_string(golden_data("lung.lifelines.json")).unwrap())
            .unwrap();
    for arm in ["female", "male"] {
        let (ours, theirs) = (&report["km"][arm], &golden["km"][arm]);
        assert_eq!(ours["timeline"], theirs["timeline"]);
        assert_eq!(ours["median"], theirs["median"]);
        for key in ["survival", "ci_lower", "ci_upper"] {
            let (a, b) = (
                ours[key].as_array().unwrap(),
                theirs[key].as_array().unwrap(),
            );
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(b) {
                assert!(
                    (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() <= 1e-10,
                    "{arm} {key}: {x} vs {y}"
                );
            }
        }
    }
    let statistic = report["logrank"]["statistic"].as_f64().unwrap();
    assert!((statistic - golden["logrank"]["statistic"].as_f64().unwrap()).abs() <= 1e-9);
    let coef = report["cox"]["coef"].as_f64().unwrap();
    assert!((coef - golden["cox_optimum"][0]["coef"].as_f64().unwrap()).abs() <= 1e-9);
    assert_eq!(report["cox"]["reference"], "male");
}

#[test]
fn refuses_bad_rows_with_the_line_number() {
    let bad_days = temp_csv(
        "bad.csv",
        "patient_id,arm,days,relapsed\np1,a,3,1\np2,a,-1,0\n",
    );
    assert_refused(
        &survival(&bad_days, &[]),
        &["line 3", "days", "\"-1\"", "≥ 0"],
    );
    let bad_flag = temp_csv(
        "bad.csv",
        "patient_id,arm,days,relapsed\np1,a,3,1\np2,a,4,0\np3,b,5,yes\n",
    );
    assert_refused(
        &survival(&bad_flag, &[]),
        &["line 4", "relapsed", "1 (relapse observed) or 0 (censored)"],
    );
    let header = temp_csv("bad.csv", "id,group,time,event\np1,a,3,1\n");
    assert_refused(
        &survival(&header, &[]),
        &["line 1", "patient_id,arm,days,relapsed"],
    );
    let empty = temp_csv("empty.csv", "patient_id,arm,days,relapsed\n");
    assert_refused(&survival(&empty, &[]), &["line 2", "no rows"]);
    let missing = std::env::temp_dir().join("ketaclinic-stats-no-such-file.csv");
    assert_refused(&survival(&missing, &[]), &["--csv", "cannot open"]);
    let small = temp_csv("small.csv", SMALL);
    assert_refused(
        &survival(&small, &["--treatment", "ketamin"]),
        &["--treatment", "\"ketamin\"", "ketamine, placebo"],
    );
    assert_refused(
        &survival(
            &small,
            &["--treatment", "placebo", "--reference", "placebo"],
        ),
        &["--reference", "two different arms"],
    );
}

#[test]
fn degenerate_cohorts() {
    // One arm: km only.
    let one = json(&survival(
        &temp_csv(
            "one.csv",
            "patient_id,arm,days,relapsed\np1,ketamine,3,1\np2,ketamine,5,0\n",
        ),
        &[],
    ));
    assert!(one["logrank"].is_null() && one["cox"].is_null());
    assert_eq!(one["km"]["ketamine"]["median"], 3.0);

    // No events: estimates null, n and events kept, a note says why.
    let none = json(&survival(
        &temp_csv(
            "none.csv",
            "patient_id,arm,days,relapsed\np1,ketamine,3,0\np2,placebo,5,0\n",
        ),
        &[],
    ));
    assert!(none["logrank"]["statistic"].is_null());
    let cox = &none["cox"];
    assert!(
        cox["coef"].is_null() && cox["hr"].is_null() && cox["se"].is_null() && cox["p"].is_null()
    );
    assert_eq!(
        (cox["n"].as_u64(), cox["events"].as_u64()),
        (Some(2), Some(0))
    );
    assert!(cox["note"].as_str().unwrap().contains("no relapses"));
    assert!(none["km"]["ketamine"]["median"].is_null());

    // All relapses in one arm.
    let lopsided = json(&survival(&temp_csv("lopsided.csv", "patient_id,arm,days,relapsed\np1,ketamine,3,0\np2,ketamine,9,0\np3,placebo,2,1\np4,placebo,5,1\n"), &[]));
    assert!(lopsided["cox"]["coef"].is_null());
    assert!(lopsided["cox"]["note"]
        .as_str()
        .unwrap()
        .contains("every relapse is in arm placebo"));
    assert!(lopsided["logrank"]["statistic"].as_f64().unwrap() > 0.0);
}

#[test]
fn three_arms_need_both_flags_for_cox() {
    let text = "patient_id,arm,days,relapsed\n\
a1,a,1,1\na2,a,4,0\na3,a,6,1\nb1,b,2,1\nb2,b,3,1\nb3,b,6,0\nc1,c,2,1\nc2,c,5,0\nc3,c,8,1\n";
    let csv = temp_csv("three.csv", text);
    let plain = json(&survival(&csv, &[]));
    assert_eq!(plain["logrank"]["df"], 2);
    assert!(plain["cox"].is_null());
    assert_eq!(plain["km"].as_object().unwrap().len(), 3);
    let picked = json(&survival(&csv, &["--treatment", "b", "--reference", "c"]));
    assert_eq!(
        (
            picked["cox"]["n"].as_u64(),
            picked["cox"]["events"].as_u64()
        ),
        (Some(6), Some(4))
    );
    assert_eq!(
        picked["logrank"], plain["logrank"],
        "the log-rank test still uses every arm"
    );
}
