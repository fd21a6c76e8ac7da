//! `ketaclinic pk simulate` run as a process: the DESIGN.md JSON for a dose,
//! a protocol and a population, the subjects file in and out, and exit 2 with
//! one line naming the flag for bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed step is a failed test.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ketaclinic");

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ketaclinic-pk-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn pk(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["pk", "simulate"])
        .args(args)
        .current_dir(temp_dir())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn json(output: &Output) -> Value {
    assert_eq!(output.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    assert!(output.stderr.is_empty(), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn floats(value: &Value) -> Vec<f64> {
    value.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
}

#[track_caller]
fn assert_refused(output: &Output, fragments: &[&str]) {
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(output.stdout.is_empty());
    for fragment in fragments {
        assert!(err.contains(fragment), "{fragment:?} not in {err}");
    }
}

#[test]
fn a_dose_gives_the_design_fields() {
    let report = json(&pk(&["--dose-mg-per-kg", "0.5", "--minutes", "40", "--weight-kg", "70"]));
    assert_eq!(report["model"], "domino");
    assert_eq!(report["params"]["k31"], 0.0146);
    let times = floats(&report["times_min"]);
    let conc = floats(&report["conc_ng_ml"]);
    assert_eq!(times.len(), 361);
    assert_eq!((times[0], times[360]), (0.0, 360.0));
    assert_eq!(conc.len(), 361);
    assert_eq!(report["tmax_min"], 40.0);
    // clinical.md §5.1: peak ≈ 240 ng/mL at 40 min (rounded there; 3 % allowed).
    let cmax = report["cmax_ng_ml"].as_f64().unwrap();
    assert!((cmax - 240.0).abs() < 7.2, "{cmax}");
    assert_eq!(cmax, conc[40]);
    assert!(report["note"].as_str().unwrap().contains("approximate"));
    assert!(report.get("n_subjects").is_none());
}

#[test]
fn models_grid_and_explicit_parameters() {
    let report = json(&pk(&[
        "--dose-mg-per-kg",
        "0.8",
        "--minutes",
        "40",
        "--weight-kg",
        "80",
        "--model",
        "hijazi",
        "--until",
        "120",
        "--step",
        "0.5",
    ]));
    assert_eq!(report["model"], "hijazi");
    assert_eq!(floats(&report["times_min"]).len(), 241);
    let explicit = json(&pk(&[
        "--dose-mg-per-kg",
        "0.8",
        "--minutes",
        "40",
        "--weight-kg",
        "80",
        "--until",
        "120",
        "--step",
        "0.5",
        "--v1-l-per-kg",
        "1.08",
        "--k10",
        "0.0333",
        "--k12",
        "0.0088",
        "--k21",
        "0.0030",
        "--k13",
        "0",
        "--k31",
        "0",
    ]));
    assert_eq!(explicit["model"], "explicit");
    assert_eq!(explicit["conc_ng_ml"], report["conc_ng_ml"]);
}

#[test]
fn a_protocol_gives_its_phases() {
    let report = json(&pk(&["--protocol", "alcohol-met-dakwar2020", "--weight-kg", "70"]));
    assert_eq!(report["phases"].as_array().unwrap().len(), 2);
    // clinical.md §5.1: ≈560 ng/mL at 2 min after the loading phase.
    assert_eq!(report["tmax_min"], 2.0);
}

#[test]
fn a_population_is_reproducible_and_round_trips_through_its_file() {
    let dir = temp_dir();
    let file = dir.join("subjects.csv");
    let base = ["--dose-mg-per-kg", "0.5", "--minutes", "40", "--weight-kg", "70", "--until", "120"];
    let mut with_out = base.to_vec();
    with_out.extend(["--population", "300", "--seed", "11", "--subjects-out", file.to_str().unwrap()]);
    let first = json(&pk(&with_out));
    assert_eq!(first["n_subjects"], 300);
    let again = json(&pk(&[&base[..], &["--population", "300", "--seed", "11"]].concat()));
    assert_eq!(first["conc_percentiles_ng_ml"], again["conc_percentiles_ng_ml"]);
    let other = json(&pk(&[&base[..], &["--population", "300", "--seed", "12"]].concat()));
    assert_ne!(first["cmax_percentiles_ng_ml"], other["cmax_percentiles_ng_ml"]);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("v1,k10,k12,k21,k13,k31\n"));
    assert_eq!(text.lines().count(), 301);
    let from_file = json(&pk(&[&base[..], &["--subjects-in", file.to_str().unwrap()]].concat()));
    assert_eq!(from_file["n_subjects"], 300);
    assert_eq!(from_file["conc_percentiles_ng_ml"], first["conc_percentiles_ng_ml"]);
    assert_eq!(from_file["cmax_percentiles_ng_ml"], first["cmax_percentiles_ng_ml"]);
    let bands = &first["conc_percentiles_ng_ml"];
    let (p5, p50, p95) = (floats(&bands["p5"]), floats(&bands["p50"]), floats(&bands["p95"]));
    assert_eq!(p50.len(), 121);
    assert!(p5.iter().zip(&p50).zip(&p95).all(|((a, b), c)| a <= b && b <= c));
    let cmax = &first["cmax_percentiles_ng_ml"];
    assert!(cmax["p5"].as_f64().unwrap() < cmax["p95"].as_f64().unwrap());
}

#[test]
fn bad_input_is_refused_in_one_line_naming_the_flag() {
    let dose = ["--dose-mg-per-kg", "0.5", "--minutes", "40"];
    let with = |extra: &[&str]| pk(&[&dose[..], extra].concat());
    assert_refused(
        &pk(&["--dose-mg-per-kg", "0", "--minutes", "40", "--weight-kg", "70"]),
        &["--dose-mg-per-kg", "greater than 0"],
    );
    assert_refused(
        &pk(&["--dose-mg-per-kg", "0.5", "--minutes", "-4", "--weight-kg", "70"]),
        &["--minutes", "greater than 0"],
    );
    assert_refused(&with(&["--weight-kg", "seventy"]), &["--weight-kg", "not a number"]);
    assert_refused(&with(&["--weight-kg", "NaN"]), &["--weight-kg", "not a number"]);
    assert_refused(&with(&[]), &["--weight-kg", "required"]);
    assert_refused(&pk(&["--minutes", "40", "--weight-kg", "70"]), &["--dose-mg-per-kg", "required"]);
    assert_refused(&with(&["--weight-kg", "70", "--model", "marsh"]), &["--model", "domino, clements, hijazi"]);
    assert_refused(&with(&["--weight-kg", "70", "--model", "domino", "--k10", "0.4"]), &["--model", "not both"]);
    assert_refused(
        &with(&["--weight-kg", "70", "--v1-l-per-kg", "0.1", "--k10", "0.4"]),
        &["--k12", "missing", "all of"],
    );
    assert_refused(
        &with(&[
            "--weight-kg",
            "70",
            "--v1-l-per-kg",
            "0.1",
            "--k10",
            "0.4",
            "--k12",
            "0.5",
            "--k21",
            "0.2",
            "--k13",
            "0.3",
            "--k31",
            "0",
        ]),
        &["--k13 and --k31", "both"],
    );
    assert_refused(&with(&["--weight-kg", "70", "--step", "0"]), &["--step", "greater than 0"]);
    assert_refused(&with(&["--weight-kg", "70", "--step", "-1"]), &["--step"]);
    assert_refused(&with(&["--weight-kg", "70", "--step", "0.7"]), &["--step", "divide"]);
    assert_refused(&with(&["--weight-kg", "70", "--until", "0"]), &["--until"]);
    assert_refused(&with(&["--weight-kg", "70", "--population", "10"]), &["--seed", "required"]);
    assert_refused(&with(&["--weight-kg", "70", "--population", "0", "--seed", "1"]), &["--population"]);
    assert_refused(&with(&["--weight-kg", "70", "--population", "10", "--seed", "x"]), &["--seed"]);
    assert_refused(
        &with(&["--weight-kg", "70", "--population", "10", "--seed", "1", "--cv", "0"]),
        &["--cv", "greater than 0"],
    );
    assert_refused(&with(&["--weight-kg", "70", "--seed", "1"]), &["--seed", "only with --population"]);
    assert_refused(
        &with(&[
            "--weight-kg",
            "70",
            "--population",
            "10",
            "--seed",
            "1",
            "--subjects-in",
            "a.csv",
            "--subjects-out",
            "b.csv",
        ]),
        &["--subjects-in", "not both"],
    );
    assert_refused(&pk(&["--protocol", "nope", "--weight-kg", "70"]), &["--protocol", "alcohol-met-dakwar2020"]);
    assert_refused(
        &pk(&["--protocol", "clinic-series-6", "--weight-kg", "70", "--dose-mg-per-kg", "0.5"]),
        &["--protocol", "not both"],
    );
}

#[test]
fn a_malformed_subjects_file_is_refused_naming_the_line() {
    let dir = temp_dir();
    let dose = ["--dose-mg-per-kg", "0.5", "--minutes", "40", "--weight-kg", "70"];
    for (text, fragment) in [
        (
            "v1,k10,k12,k21,k13,k31\n0.063,0.4381,0.5921,0.2470,0.5900,0.0146\n0.063,abc,0.5921,0.2470,0.5900,0.0146\n",
            "line 3: k10",
        ),
        ("v1,k10\n", "line 1"),
        ("v1,k10,k12,k21,k13,k31\n0.063,0.4381,0.5921,0.2470,0.5900\n", "line 2"),
    ] {
        let file = dir.join("bad.csv");
        std::fs::write(&file, text).unwrap();
        assert_refused(
            &pk(&[&dose[..], &["--subjects-in", file.to_str().unwrap()]].concat()),
            &["--subjects-in", fragment],
        );
    }
    assert_refused(
        &pk(&[&dose[..], &["--subjects-in", dir.join("missing.csv").to_str().unwrap()]].concat()),
        &["--subjects-in", "cannot open"],
    );
}
