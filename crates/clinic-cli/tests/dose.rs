//! `ketaclinic dose` as DESIGN.md specifies it, through the built binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn dose(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ketaclinic")).arg("dose").args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn the_reference_worked_example_prints_exact_decimals() {
    // clinical.md §6: 80 kg × 0.5 mg/kg = 40 mg = 0.4 mL of 100 mg/mL into 100 mL → 100.4 mL at 150.6 mL/h over 40 min.
    let (code, out, err) = dose(&["--weight-kg", "80", "--dose-mg-per-kg", "0.5", "--minutes", "40", "--stock-mg-per-ml", "100", "--bag-ml", "100"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with(r#"{"dose_mg":40,"stock_volume_ml":0.4,"total_volume_ml":100.4,"rate_ml_per_h":150.6,"mg_per_min":1,"#), "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["warnings"], serde_json::json!([]));
    assert_eq!(json["not_exact"]["final_mg_per_ml"], "100/251", "a value without a finite decimal says so, with its exact fraction");
    let withdrawn = dose(&["--weight-kg", "80", "--dose-mg-per-kg", "0.5", "--minutes", "40", "--stock-mg-per-ml", "100", "--bag-ml", "100", "--withdraw-from-bag"]);
    let json: serde_json::Value = serde_json::from_str(&withdrawn.1).unwrap();
    assert_eq!((json["total_volume_ml"].as_f64(), json["rate_ml_per_h"].as_f64()), (Some(100.0), Some(150.0)));
    // A syringe: total = stock volume.
    let syringe = dose(&["--weight-kg", "70", "--dose-mg-per-kg", "0.71", "--minutes", "52", "--stock-mg-per-ml", "10"]);
    let json: serde_json::Value = serde_json::from_str(&syringe.1).unwrap();
    assert_eq!(json["total_volume_ml"].as_f64(), Some(4.97));
    assert_eq!(json["delivery"], "syringe");
    assert_eq!(json["not_exact"]["rate_ml_per_h"], "1491/260");
}

#[test]
fn refusals_exit_2_with_one_line_naming_the_flag() {
    for (args, needle) in [
        (vec!["--weight-kg", "0", "--dose-mg-per-kg", "0.5", "--minutes", "40", "--stock-mg-per-ml", "10"], "--weight-kg"),
        (vec!["--weight-kg", "-80", "--dose-mg-per-kg", "0.5", "--minutes", "40", "--stock-mg-per-ml", "10"], "--weight-kg"),
        (vec!["--weight-kg", "eighty", "--dose-mg-per-kg", "0.5", "--minutes", "40", "--stock-mg-per-ml", "10"], "--weight-kg"),
        (vec!["--weight-kg", "80", "--dose-mg-per-kg", "0.5", "--minutes", "40", "--stock-mg-per-ml", "100"], "never given undiluted"),
        (vec!["--weight-kg", "80", "--dose-mg-per-kg", "0.5", "--minutes", "40", "--stock-mg-per-ml", "25", "--bag-ml", "100"], "10, 50, 100"),
        (vec!["--weight-kg", "176", "--dose-mg-per-kg", "5", "--minutes", "40", "--stock-mg-per-ml", "50", "--bag-ml", "100"], "--dose-mg-per-kg"),
        (vec!["--weight-kg", "80", "--dose-mg-per-kg", "0.5", "--minutes", "400", "--stock-mg-per-ml", "50", "--bag-ml", "100"], "--minutes"),
        (vec!["--weight-kg", "80", "--dose-mg-per-kg", "0.5", "--minutes", "40"], "--stock-mg-per-ml"),
    ] {
        let (code, out, err) = dose(&args);
        assert_eq!(code, 2, "{args:?}: {out}");
        assert!(out.is_empty());
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn an_override_reason_accepts_and_reports_without_clamping() {
    let (code, out, err) = dose(&["--weight-kg", "300", "--dose-mg-per-kg", "0.5", "--minutes", "40", "--stock-mg-per-ml", "50", "--bag-ml", "100", "--override-reason", "weight confirmed"]);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["dose_mg"].as_f64(), Some(150.0), "300 × 0.5, not clamped to 250 kg");
    let warnings = json["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].as_str().unwrap().contains("weight confirmed"));
}
