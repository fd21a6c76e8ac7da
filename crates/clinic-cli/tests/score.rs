//! `ketaclinic score` as DESIGN.md specifies it: the JSON fields, the band
//! names and flag ids, exit 2 with one line for bad input, and instruments
//! added by a clinic in its override directory.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed step is a failed test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_ketaclinic");

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ketaclinic-score-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `ketaclinic score …` in an empty directory (no ketaclinic.toml),
/// with `data_dir` as the override directory when given.
fn score_in(data_dir: Option<&Path>, args: &[&str]) -> Output {
    let cwd = temp_dir();
    let mut command = Command::new(BIN);
    command
        .arg("score")
        .args(args)
        .current_dir(&cwd)
        .env_remove("KETACLINIC_DATA_DIR")
        .env_remove("DATABASE_URL");
    if let Some(dir) = data_dir {
        command.env("KETACLINIC_DATA_DIR", dir);
    }
    command.output().unwrap()
}

fn score(args: &[&str]) -> Output {
    score_in(None, args)
}

#[track_caller]
fn json_of(output: &Output) -> Value {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stderr: {stderr}");
    serde_json::from_slice(&output.stdout).unwrap()
}

#[track_caller]
fn assert_usage_error(output: &Output, fragment: &str) {
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "stdout {} stderr {err}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line on stderr, got {err:?}"
    );
    assert!(
        err.contains(fragment),
        "{err:?} should mention {fragment:?}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn phq_9_prints_the_contract_json() {
    let out = json_of(&score(&["phq-9", "--answers", "1,2,3,0,0,0,0,0,1"]));
    assert_eq!(
        out,
        json!({"instrument": "phq-9", "total": 7, "band": "mild", "flags": ["suicide_risk"], "items": [1, 2, 3, 0, 0, 0, 0, 0, 1], "subscales": {}, "unscored": {}})
    );
    let out = json_of(&score(&[
        "phq-9",
        "--answers",
        "3,3,3,3,3,3,3,3,0",
        "--difficulty",
        "3",
    ]));
    assert_eq!(
        (&out["total"], &out["band"], &out["flags"]),
        (&json!(24), &json!("severe"), &json!([]))
    );
    assert_eq!(out["unscored"], json!({"difficulty": 3}));
}

#[test]
fn every_band_name_of_the_contract() {
    let cases: &[(&str, &str, &[&str], i64, &str)] = &[
        ("phq-9", "0,0,0,0,0,0,0,0,0", &[], 0, "minimal"),
        ("phq-9", "3,2,0,0,0,0,0,0,0", &[], 5, "mild"),
        ("phq-9", "3,3,3,1,0,0,0,0,0", &[], 10, "moderate"),
        ("phq-9", "3,3,3,3,3,0,0,0,0", &[], 15, "moderately severe"),
        ("phq-9", "3,3,3,3,3,3,2,0,0", &[], 20, "severe"),
        ("gad-7", "1,1,1,1,0,0,0", &[], 4, "minimal"),
        ("gad-7", "1,1,1,1,1,0,0", &[], 5, "mild"),
        ("gad-7", "3,3,3,1,0,0,0", &[], 10, "moderate"),
        ("gad-7", "3,3,3,3,3,0,0", &[], 15, "severe"),
        ("audit", "4,3,0,0,0,0,0,0,0,0", &[], 7, "low risk"),
        ("audit", "0,0,0,0,0,0,0,0,4,4", &[], 8, "hazardous"),
        ("audit", "4,4,4,0,0,0,0,0,0,4", &[], 16, "harmful"),
        (
            "audit",
            "4,4,4,4,4,4,4,4,4,4",
            &[],
            40,
            "possible dependence",
        ),
        ("audit-c", "1,1,1", &["--sex", "female"], 3, "positive"),
        ("audit-c", "1,1,1", &["--sex", "male"], 3, "negative"),
        ("dast-10", "no,no,yes,no,no,no,no,no,no,no", &[], 0, "none"),
        ("dast-10", "no,no,no,no,no,no,no,no,no,no", &[], 1, "low"),
        (
            "dast-10",
            "yes,yes,no,no,no,no,no,no,no,no",
            &[],
            3,
            "moderate",
        ),
        (
            "dast-10",
            "yes,yes,yes,yes,yes,yes,yes,no,no,no",
            &[],
            6,
            "substantial",
        ),
        (
            "dast-10",
            "yes,yes,yes,yes,yes,yes,yes,yes,yes,yes",
            &[],
            9,
            "severe",
        ),
        (
            "dsm5-sud",
            "yes,no,no,no,no,no,no,no,no,no,no",
            &[],
            1,
            "none",
        ),
        (
            "dsm5-sud",
            "yes,yes,no,no,no,no,no,no,no,no,no",
            &[],
            2,
            "mild",
        ),
        (
            "dsm5-sud",
            "yes,yes,yes,yes,no,no,no,no,no,no,no",
            &[],
            4,
            "moderate",
        ),
        (
            "dsm5-sud",
            "yes,yes,yes,yes,yes,yes,no,no,no,no,no",
            &[],
            6,
            "severe",
        ),
        ("ciwa-ar", "7,0,0,0,0,0,0,0,0,0", &[], 7, "minimal"),
        ("ciwa-ar", "7,1,0,0,0,0,0,0,0,0", &[], 8, "moderate"),
        ("ciwa-ar", "7,7,1,0,0,0,0,0,0,1", &[], 16, "severe"),
    ];
    for (instrument, answers, extra, total, band) in cases {
        let mut args = vec![*instrument, "--answers", answers];
        args.extend_from_slice(extra);
        let out = json_of(&score(&args));
        assert_eq!(
            (&out["total"], &out["band"]),
            (&json!(total), &json!(band)),
            "{instrument} {answers}"
        );
    }
}

#[test]
fn flags_special_items_and_instruments_without_bands() {
    let audit_c = json_of(&score(&["audit-c", "--answers", "2,1,1", "--sex", "male"]));
    assert_eq!(audit_c["flags"], json!(["positive_screen"]));
    let dast = json_of(&score(&[
        "dast-10",
        "--answers",
        "no,no,no,no,no,no,no,no,no,no",
    ]));
    assert_eq!(dast["items"], json!([0, 0, 1, 0, 0, 0, 0, 0, 0, 0]));
    let audit = json_of(&score(&["audit", "--answers", "0,0,0,0,0,0,0,0,2,4"]));
    assert_eq!(
        (&audit["total"], &audit["items"][8], &audit["items"][9]),
        (&json!(6), &json!(2), &json!(4))
    );
    let all_four = vec!["4"; 20].join(",");
    let pcl = json_of(&score(&["pcl-5", "--answers", &all_four]));
    assert_eq!(
        pcl,
        json!({"instrument": "pcl-5", "total": 80, "band": null, "flags": ["positive_screen"], "items": vec![4; 20],
               "subscales": {"cluster_b": 20, "cluster_c": 8, "cluster_d": 28, "cluster_e": 24}, "rules": {"provisional_diagnosis": true}})
    );
    let pcl = json_of(&score(&[
        "pcl-5",
        "--answers",
        "4,4,4,4,4,4,4,4,0,0,0,0,0,0,0,0,0,0,0,0",
    ]));
    assert_eq!((&pcl["total"], &pcl["flags"]), (&json!(32), &json!([])));
    let rass = json_of(&score(&["rass", "--answers", "-5"]));
    assert_eq!((&rass["total"], &rass["items"]), (&json!(-5), &json!([-5])));
    let ruler = json_of(&score(&["readiness-ruler", "--answers", "7,5,10"]));
    assert_eq!(
        (&ruler["total"], &ruler["band"], &ruler["items"]),
        (&Value::Null, &Value::Null, &json!([7, 5, 10]))
    );
    let sud = json_of(&score(&[
        "dsm5-sud",
        "--answers",
        "yes,yes,yes,no,no,no,no,no,no,no,no",
        "--substance",
        "cocaine",
    ]));
    assert_eq!(
        (&sud["band"], &sud["substance"]),
        (&json!("mild"), &json!("cocaine"))
    );
}

#[test]
fn bad_input_exits_2_with_one_line_naming_the_field() {
    assert_usage_error(
        &score(&["phq-9", "--answers", "0,0,0,0,0,0,0,0"]),
        "answers: phq-9 takes 9 answers (items 1–9), got 8",
    );
    assert_usage_error(
        &score(&["phq-9", "--answers", "0,0,4,0,0,0,0,0,0"]),
        "answers: item 3: \"4\" is not an option; allowed: 0, 1, 2, 3",
    );
    assert_usage_error(
        &score(&["audit", "--answers", "0,0,0,0,0,0,0,0,3,0"]),
        "item 9: \"3\" is not an option; allowed: 0, 2, 4",
    );
    assert_usage_error(
        &score(&["dast-10", "--answers", "yes,no,no,no,no,no,no,no,no,1"]),
        "item 10: \"1\" is not an option; allowed: yes, no",
    );
    assert_usage_error(
        &score(&["audit-c", "--answers", "1,1,1"]),
        "sex: required for audit-c",
    );
    assert_usage_error(
        &score(&["audit-c", "--answers", "1,1,1", "--sex", "f"]),
        "sex: must be one of: female, male",
    );
    assert_usage_error(
        &score(&["dsm5-sud", "--answers", "yes", "--substance", "wine"]),
        "substance: must be one of: alcohol, cocaine",
    );
    assert_usage_error(
        &score(&[
            "gad-7",
            "--answers",
            "0,0,0,0,0,0,0",
            "--substance",
            "alcohol",
        ]),
        "substance: gad-7 is not rated per substance",
    );
    assert_usage_error(
        &score(&[
            "phq-9",
            "--answers",
            "0,0,0,0,0,0,0,0,0",
            "--difficulty",
            "4",
        ]),
        "difficulty: \"4\" is not an option; allowed: 0, 1, 2, 3",
    );
    assert_usage_error(
        &score(&["phq9", "--answers", "0"]),
        "instrument: \"phq9\" is not an instrument; must be one of: audit, audit-c,",
    );
    assert_usage_error(
        &score(&["ccq-brief", "--answers", "1,1,1,1,1,1,1,1,1,1"]),
        "instrument: ccq-brief cannot be scored yet; needs clinic setting: reverse-keyed items",
    );
    assert_usage_error(&score(&["phq-9"]), "required");
}

#[test]
fn a_clinic_instrument_dropped_in_the_override_directory_is_scored() {
    let data = temp_dir();
    std::fs::create_dir_all(data.join("instruments")).unwrap();
    let definition = r#"
id = "clinic-mood"
version = 1
title = "Clinic mood check"
purpose = "Mood today"
citation = "Clinic-defined; reviewed by the medical director"
licence = "Ours"
item_wording = "shipped"
recall = "today"
rater = "self"
reference = "clinic protocol"
items = [{ number = 1, options = "scale" }, { number = 2, options = "scale" }]
[option_sets]
scale = [{ answer = 1, points = 1 }, { answer = 2, points = 2 }, { answer = 3, points = 3 }]
[scoring]
total = "sum"
range = [2, 6]
source = "clinic protocol"
[[bands]]
name = "steady"
min = 2
max = 4
source = "clinic protocol"
[[bands]]
name = "low"
min = 5
max = 6
source = "clinic protocol"
"#;
    std::fs::write(data.join("instruments/clinic-mood.toml"), definition).unwrap();
    let out = json_of(&score_in(Some(&data), &["clinic-mood", "--answers", "3,2"]));
    assert_eq!(
        (&out["total"], &out["band"], &out["items"]),
        (&json!(5), &json!("low"), &json!([3, 2]))
    );
    // The shipped instruments are still there.
    assert_eq!(
        json_of(&score_in(
            Some(&data),
            &["gad-7", "--answers", "0,0,0,0,0,0,0"]
        ))["band"],
        json!("minimal")
    );

    // A malformed file stops the command with exit 1, naming the file and the problem.
    std::fs::write(
        data.join("instruments/clinic-mood.toml"),
        definition.replace("min = 5", "min = 6"),
    )
    .unwrap();
    let output = score_in(Some(&data), &["gad-7", "--answers", "0,0,0,0,0,0,0"]);
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("instruments/clinic-mood.toml: bands: gap between steady (2–4) and low (6–6)"),
        "{err}"
    );
}
