//! The published values in reference/survival.md ("Known reference values",
//! lifelines and R agree on them), at the precision they are printed with.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clinic_survival::analysis::{analyse, ArmChoice};
use clinic_survival::csv::read_cohort;

fn analyse_file(
    name: &str,
    treatment: &str,
    reference: &str,
) -> clinic_survival::analysis::Analysis {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
        .join(name);
    let cohort = read_cohort(
        std::io::BufReader::new(std::fs::File::open(path).unwrap()),
        &mut |_| {},
    )
    .unwrap();
    analyse(
        &cohort,
        ArmChoice {
            treatment: Some(treatment),
            reference: Some(reference),
        },
    )
    .unwrap()
}

#[track_caller]
fn assert_rounds_to(value: f64, printed: f64, decimals: i32) {
    let half_unit = 0.5 * 10f64.powi(-decimals);
    assert!(
        (value - printed).abs() <= half_unit,
        "{value} does not round to {printed}"
    );
}

#[test]
fn ncctg_lung_by_sex() {
    // R survival::lung: 228 patients, 165 deaths; arm = sex.
    let analysis = analyse_file("lung.csv", "female", "male");
    let male = &analysis.km.iter().find(|(arm, _)| arm == "male").unwrap().1;
    let female = &analysis
        .km
        .iter()
        .find(|(arm, _)| arm == "female")
        .unwrap()
        .1;
    assert_eq!(male.n + female.n, 228);
    assert_eq!(male.events + female.events, 165);
    assert_eq!(male.median, Some(270.0));
    assert_eq!(female.median, Some(426.0));
    assert_rounds_to(analysis.logrank.unwrap().statistic, 10.33, 2);
    let cox = analysis.cox.unwrap().model.fit.unwrap();
    assert_rounds_to(cox.coef, -0.531, 3);
    assert_rounds_to(cox.hr, 0.588, 3);
    assert_rounds_to(cox.se, 0.167, 3);
    assert_rounds_to(cox.p, 0.0015, 4);
}

#[test]
fn freireich_leukaemia_remission() {
    // Freireich 1963: 42 patients, 6-MP against placebo.
    let analysis = analyse_file("freireich.csv", "placebo", "6-mp");
    assert_eq!(analysis.km.iter().map(|(_, km)| km.n).sum::<u64>(), 42);
    assert_rounds_to(analysis.logrank.unwrap().statistic, 16.79, 2);
    assert_rounds_to(analysis.cox.unwrap().model.fit.unwrap().hr, 4.82, 2);
}
