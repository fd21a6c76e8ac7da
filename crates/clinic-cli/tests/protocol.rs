//! `ketaclinic protocol list|plan` as DESIGN.md specifies it: the JSON
//! fields, every shipped protocol's plan, exit 2 with one line for an unknown
//! id or a bad date, and a protocol a clinic adds in its override directory.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed step is a failed test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_ketaclinic");

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ketaclinic-protocol-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `ketaclinic protocol …` in an empty directory (no ketaclinic.toml),
/// with `data_dir` as the override directory when given.
fn protocol_in(data_dir: Option<&Path>, args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command.arg("protocol").args(args).current_dir(temp_dir()).env_remove("KETACLINIC_DATA_DIR").env_remove("DATABASE_URL");
    if let Some(dir) = data_dir {
        command.env("KETACLINIC_DATA_DIR", dir);
    }
    command.output().unwrap()
}

fn protocol(args: &[&str]) -> Output {
    protocol_in(None, args)
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
    assert_eq!(output.status.code(), Some(2), "stdout {} stderr {err}", String::from_utf8_lossy(&output.stdout));
    assert_eq!(err.trim_end().lines().count(), 1, "one line on stderr, got {err:?}");
    assert!(err.contains(fragment), "{err:?} should mention {fragment:?}");
    assert!(output.stdout.is_empty());
}

/// The events of one kind, as (date, the rest of the event).
fn of_kind<'a>(plan: &'a Value, kind: &str) -> Vec<&'a Value> {
    plan["events"].as_array().unwrap().iter().filter(|e| e["kind"] == kind).collect()
}

fn dates(plan: &Value, kind: &str) -> Vec<String> {
    of_kind(plan, kind).iter().map(|e| e["date"].as_str().unwrap().to_string()).collect()
}

#[test]
fn list_prints_id_title_substances_and_citation() {
    let out = json_of(&protocol(&["list"]));
    let items = out.as_array().unwrap();
    let ids: Vec<&str> = items.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "alcohol-kare-grabski2022",
            "alcohol-met-dakwar2020",
            "clinic-series-6",
            "cocaine-mbrp-dakwar2019",
            "opioid-clinic-moud-example"
        ]
    );
    for item in items {
        let keys: Vec<&str> = item.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["citation", "id", "substances", "title"], "{item}");
        assert!(!item["title"].as_str().unwrap().is_empty());
        assert!(item["substances"].as_array().is_some_and(|s| !s.is_empty()));
    }
    let cocaine = items.iter().find(|p| p["id"] == "cocaine-mbrp-dakwar2019").unwrap();
    assert_eq!(cocaine["substances"], json!(["cocaine"]));
    assert!(cocaine["citation"].as_str().unwrap().contains("Dakwar"), "{cocaine}");
    assert!(cocaine["citation"].as_str().unwrap().contains("Am J Psychiatry 2019"), "{cocaine}");
}

#[test]
fn plan_cocaine_mbrp_dakwar2019() {
    let plan = json_of(&protocol(&["plan", "cocaine-mbrp-dakwar2019", "--start", "2025-03-03"]));
    assert_eq!(plan["protocol"], "cocaine-mbrp-dakwar2019");
    // One inpatient event per day, days 0-4.
    assert_eq!(dates(&plan, "inpatient"), ["2025-03-03", "2025-03-04", "2025-03-05", "2025-03-06", "2025-03-07"]);
    let infusions = of_kind(&plan, "infusion");
    assert_eq!(infusions.len(), 1);
    assert_eq!(infusions[0]["date"], "2025-03-04");
    assert_eq!((&infusions[0]["dose_mg_per_kg"], &infusions[0]["minutes"]), (&json!(0.5), &json!(40)));
    assert_eq!(infusions[0]["phases"], json!([{ "dose_mg_per_kg": 0.5, "minutes": 40 }]));
    // MBRP: 5 inpatient sessions, then twice weekly to the end of week 5.
    assert_eq!(dates(&plan, "therapy").len(), 13);
    assert_eq!(dates(&plan, "therapy").last().unwrap(), "2025-04-03");
    assert_eq!(dates(&plan, "follow_up"), ["2025-09-03"]);
}

#[test]
fn plan_alcohol_met_dakwar2020_has_the_two_phase_infusion_in_week_2() {
    let out = protocol(&["plan", "alcohol-met-dakwar2020", "--start", "2025-03-03"]);
    // Exact decimals, printed without float noise.
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains(r#""dose_mg_per_kg":0.71,"#), "{text}");
    assert!(text.contains(r#""phases":[{"dose_mg_per_kg":0.11,"minutes":2},{"dose_mg_per_kg":0.6,"minutes":50}]"#), "{text}");
    let plan = json_of(&out);
    let infusions = of_kind(&plan, "infusion");
    assert_eq!(infusions.len(), 1);
    // Day 9 by default, within week 2 (days 7-13).
    assert_eq!(infusions[0]["date"], "2025-03-12");
    assert_eq!(infusions[0]["window"], json!({ "earliest": "2025-03-10", "latest": "2025-03-16" }));
    assert_eq!(dates(&plan, "therapy").len(), 11);
    assert!(dates(&plan, "inpatient").is_empty());
    let unset: Vec<&str> = plan["needs_clinic_setting"].as_array().unwrap().iter().map(|u| u["field"].as_str().unwrap()).collect();
    assert!(unset.contains(&"outcomes.relapse_definition"), "{unset:?}");
}

#[test]
fn plan_kare_clinic_series_and_opioid_example() {
    let kare = json_of(&protocol(&["plan", "alcohol-kare-grabski2022", "--start", "2025-03-03"]));
    assert_eq!(dates(&kare, "infusion"), ["2025-03-06", "2025-03-13", "2025-03-20"]);
    assert!(of_kind(&kare, "infusion").iter().all(|e| e["dose_mg_per_kg"] == json!(0.8) && e["minutes"] == json!(40)));
    assert_eq!(dates(&kare, "therapy").len(), 7);
    let relapse = kare["needs_clinic_setting"].as_array().unwrap().iter().find(|u| u["field"] == "outcomes.relapse_definition").unwrap();
    assert!(relapse["reason"].as_str().unwrap().starts_with("needs clinic setting"), "{relapse}");

    let series = json_of(&protocol(&["plan", "clinic-series-6", "--start", "2025-03-03"]));
    assert_eq!(dates(&series, "infusion"), ["2025-03-03", "2025-03-05", "2025-03-07", "2025-03-10", "2025-03-12", "2025-03-14"]);
    assert_eq!(dates(&series, "integration"), ["2025-03-04", "2025-03-06", "2025-03-08", "2025-03-11", "2025-03-13", "2025-03-15"]);
    assert!(of_kind(&series, "infusion").iter().all(|e| e["phases"] == json!([{ "dose_mg_per_kg": 0.5, "minutes": 40 }])));

    let opioid = json_of(&protocol(&["plan", "opioid-clinic-moud-example", "--start", "2025-03-03"]));
    assert_eq!(dates(&opioid, "infusion").len(), 6);
}

#[test]
fn every_plan_is_sorted_and_its_phases_add_up() {
    for id in [
        "alcohol-kare-grabski2022",
        "alcohol-met-dakwar2020",
        "clinic-series-6",
        "cocaine-mbrp-dakwar2019",
        "opioid-clinic-moud-example",
    ] {
        let plan = json_of(&protocol(&["plan", id, "--start", "2024-02-28"]));
        let events = plan["events"].as_array().unwrap();
        let order = ["inpatient", "infusion", "therapy", "integration", "assessment", "follow_up"];
        let keys: Vec<(String, usize)> = events
            .iter()
            .map(|e| (e["date"].as_str().unwrap().to_string(), order.iter().position(|k| *k == e["kind"]).unwrap()))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "{id}");
        assert!(keys.iter().all(|(date, _)| date.as_str() >= "2024-02-28"), "{id}");
        for infusion in of_kind(&plan, "infusion") {
            // Sum in millionths so the check itself is exact.
            let micros = |v: &Value| (v.as_f64().unwrap() * 1e6).round();
            let dose: f64 = infusion["phases"].as_array().unwrap().iter().map(|p| micros(&p["dose_mg_per_kg"])).sum();
            let minutes: i64 = infusion["phases"].as_array().unwrap().iter().map(|p| p["minutes"].as_i64().unwrap()).sum();
            assert_eq!((dose, minutes), (micros(&infusion["dose_mg_per_kg"]), infusion["minutes"].as_i64().unwrap()), "{id}");
        }
    }
}

#[test]
fn an_unknown_id_or_a_bad_date_is_refused_with_one_line() {
    assert_usage_error(
        &protocol(&["plan", "no-such", "--start", "2025-03-03"]),
        "protocol: \"no-such\" is not a protocol; must be one of: alcohol-kare-grabski2022, alcohol-met-dakwar2020, clinic-series-6, cocaine-mbrp-dakwar2019, opioid-clinic-moud-example",
    );
    for bad in ["2025-02-30", "2025-3-3", "03/03/2025", "tomorrow", "", "-2025-03-03"] {
        assert_usage_error(&protocol(&["plan", "clinic-series-6", "--start", bad]), "--start");
    }
    assert_usage_error(&protocol(&["plan", "clinic-series-6", "--start", "2025-02-30"]), "must be YYYY-MM-DD");
    assert_usage_error(&protocol(&["plan", "clinic-series-6", "--start", "+262142-12-31"]), "--start");
    assert_usage_error(&protocol(&["plan", "clinic-series-6"]), "--start");
}

#[test]
fn a_protocol_added_in_the_override_directory_is_listed_and_planned() {
    let dir = temp_dir();
    std::fs::create_dir_all(dir.join("protocols")).unwrap();
    let text = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/protocols/clinic-series-6.toml")).unwrap();
    let ours = text.replacen("id = \"clinic-series-6\"", "id = \"clinic-series-6-alcohol\"", 1).replacen(
        "substances = [\"alcohol\", \"cocaine\", \"opioids\", \"stimulants\", \"cannabis\", \"sedatives\", \"other\"]",
        "substances = [\"alcohol\"]",
        1,
    );
    std::fs::write(dir.join("protocols/clinic-series-6-alcohol.toml"), ours).unwrap();
    let list = json_of(&protocol_in(Some(&dir), &["list"]));
    let added = list.as_array().unwrap().iter().find(|p| p["id"] == "clinic-series-6-alcohol").unwrap();
    assert_eq!(added["substances"], json!(["alcohol"]));
    let plan = json_of(&protocol_in(Some(&dir), &["plan", "clinic-series-6-alcohol", "--start", "2025-03-03"]));
    assert_eq!(dates(&plan, "infusion").len(), 6);

    // A malformed override stops the command, naming the file and the problem.
    std::fs::write(
        dir.join("protocols/broken.toml"),
        text.replacen("id = \"clinic-series-6\"", "id = \"broken\"", 1)
            .replacen("phases = [{ dose_mg_per_kg = 0.5, minutes = 40 }]", "phases = [{ dose_mg_per_kg = 0.25, minutes = 40 }]", 1),
    )
    .unwrap();
    let out = protocol_in(Some(&dir), &["list"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("protocols/broken.toml: infusions.phases: phase doses add up to 0.25 mg/kg, not the total dose_mg_per_kg 0.5"),
        "{err}"
    );
}
