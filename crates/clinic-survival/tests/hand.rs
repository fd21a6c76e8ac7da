//! Small cases worked by hand from survival.md: ties, censoring at an event
//! time, relapses at day 0, medians on 0.5, Efron ties, the log-rank sums,
//! and every degenerate case of the report.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clinic_survival::analysis::{analyse, Analysis, ArmChoice, ArmChoiceError};
use clinic_survival::cohort::Cohort;
use clinic_survival::cox::NoFiniteMaximum;
use clinic_survival::csv::read_cohort;
use clinic_survival::km::KaplanMeier;
use clinic_survival::Z_95;

/// Rows as `arm days relapsed`, one per line.
fn cohort(rows: &str) -> Cohort {
    let mut csv = String::from("patient_id,arm,days,relapsed\n");
    for (idx, row) in rows
        .lines()
        .map(str::trim)
        .filter(|row| !row.is_empty())
        .enumerate()
    {
        let fields: Vec<&str> = row.split_whitespace().collect();
        csv.push_str(&format!(
            "p{idx},{},{},{}\n",
            fields[0], fields[1], fields[2]
        ));
    }
    read_cohort(csv.as_bytes(), &mut |_| {}).unwrap()
}

fn run(rows: &str, treatment: Option<&str>, reference: Option<&str>) -> Analysis {
    analyse(
        &cohort(rows),
        ArmChoice {
            treatment,
            reference,
        },
    )
    .unwrap()
}

fn curve<'a>(analysis: &'a Analysis, arm: &str) -> &'a KaplanMeier {
    &analysis.km.iter().find(|(name, _)| name == arm).unwrap().1
}

/// The log(−log) interval of survival.md §5.
fn interval(log_survival: f64, greenwood: f64) -> (f64, f64) {
    let v = log_survival;
    (
        (-((-v).ln() - Z_95 * greenwood.sqrt() / v).exp()).exp(),
        (-((-v).ln() + Z_95 * greenwood.sqrt() / v).exp()).exp(),
    )
}

#[track_caller]
fn close(a: f64, b: f64) {
    assert!((a - b).abs() <= 1e-14 * b.abs().max(1.0), "{a} != {b}");
}

#[test]
fn ties_censoring_at_an_event_time_and_a_relapse_at_day_0() {
    // n = 6: a relapse at day 0; at day 2 two relapses and one censoring (the
    // censored one is still at risk at 2); a relapse at 5; censored at 7.
    let analysis = run("a 0 1\n a 2 1\n a 2 1\n a 2 0\n a 5 1\n a 7 0", None, None);
    let km = curve(&analysis, "a");
    assert_eq!(
        km.timeline,
        [0.0, 2.0, 5.0, 7.0],
        "day 0 is the 0 row itself"
    );
    assert_eq!(km.at_risk, [6, 5, 2, 1]);
    assert_eq!(km.observed, [1, 2, 1, 0]);
    assert_eq!(km.censored, [0, 1, 0, 1]);
    assert_eq!((km.n, km.events), (6, 4));
    // S in log space: ln(5/6), + ln(3/5), + ln(1/2); Greenwood 1/30, 2/15, 1/2.
    let log_s = [
        5f64.ln() - 6f64.ln(),
        3f64.ln() - 5f64.ln(),
        1f64.ln() - 2f64.ln(),
    ];
    let greenwood = [
        1.0 / 30.0,
        1.0 / 30.0 + 2.0 / 15.0,
        1.0 / 30.0 + 2.0 / 15.0 + 0.5,
    ];
    let mut sum = 0.0;
    for idx in 0..3 {
        sum += log_s[idx];
        close(km.survival[idx], sum.exp());
        let (lower, upper) = interval(sum, greenwood[idx]);
        close(km.ci_lower[idx], lower);
        close(km.ci_upper[idx], upper);
    }
    close(km.survival[3], km.survival[2]);
    close(km.survival[2], 0.25);
    // 5/6 · 3/5 is 1/2 on paper, but ln 5 − ln 6 + ln 3 − ln 5 lands one bit
    // above 0.5 in floating point, so (as in lifelines) the median is 5.
    assert!(km.survival[1] > 0.5);
    assert_eq!(km.median, Some(5.0));
}

#[test]
fn a_median_exactly_on_one_half_is_that_time() {
    // 3/4 · 2/3: ln 3 − ln 4 + ln 2 − ln 3 is exactly ln(1/2) in floating point.
    let analysis = run("a 1 1\n a 2 1\n a 9 0\n a 9 0", None, None);
    let km = curve(&analysis, "a");
    assert_eq!(km.survival[2], 0.5);
    assert_eq!(
        km.median,
        Some(2.0),
        "no interpolation, no averaging over the flat 0.5"
    );
}

#[test]
fn everyone_relapsing_at_day_0_gives_zero_survival_and_zero_bounds() {
    let analysis = run("a 0 1\n a 0 1", None, None);
    let km = curve(&analysis, "a");
    assert_eq!(km.timeline, [0.0]);
    assert_eq!(
        (km.survival[0], km.ci_lower[0], km.ci_upper[0]),
        (0.0, 0.0, 0.0)
    );
    assert_eq!(
        (km.median, km.median_ci_lower, km.median_ci_upper),
        (Some(0.0), Some(0.0), Some(0.0))
    );
    assert_eq!(km.at_risk, [2]);
}

#[test]
fn survival_of_one_has_bounds_of_one_and_no_median() {
    let analysis = run("a 3 0\n a 4 0", None, None);
    let km = curve(&analysis, "a");
    assert_eq!(km.survival, [1.0, 1.0, 1.0]);
    assert_eq!(km.ci_lower, [1.0, 1.0, 1.0]);
    assert_eq!(km.ci_upper, [1.0, 1.0, 1.0]);
    assert_eq!(
        (km.median, km.median_ci_lower, km.median_ci_upper),
        (None, None, None)
    );
    assert!(
        analysis.logrank.is_none() && analysis.cox.is_none(),
        "one arm: km only"
    );
}

/// Treatment (ketamine): two relapses tied at 1, one censored at 5.
/// Reference (placebo): a relapse at 2, one censored at 5.
const EFRON: &str = "ketamine 1 1\n ketamine 1 1\n ketamine 5 0\n placebo 2 1\n placebo 5 0";

#[test]
fn logrank_sums_by_hand() {
    // Day 1: n = 5, d = 2, placebo has 2 at risk and no relapse:
    //   U += 0 − 2·2/5, V += 2·3·2·3 / (5²·4) = 0.36.
    // Day 2: n = 3, d = 1, placebo 2 at risk, 1 relapse:
    //   U += 1 − 2/3, V += 2·1·1·2 / (3²·2) = 2/9.
    // U = −7/15, V = 131/225, U²/V = 49/131.
    let logrank = run(EFRON, None, None).logrank.unwrap();
    assert_eq!(logrank.df, 1);
    close(logrank.statistic, 49.0 / 131.0);
    // χ²₁ tail = erfc(√(x/2)); at x = 49/131 it is (scipy.stats.chi2.sf) 0.5408071766927306.
    assert!(
        (logrank.p - 0.5408071766927306).abs() < 1e-13,
        "{}",
        logrank.p
    );
}

#[test]
fn cox_with_efron_ties_by_hand() {
    // u = e^β. Day 1 (3 treated, 2 reference at risk, both relapses treated):
    // Efron terms l = 0: 3u/(3u+2); l = 1, w = ½: (3u−u)/(3u+2−u) = u/(u+1).
    // Day 2 (1 treated, 2 reference, the relapse in reference): u/(u+2).
    // log L(β) = 2β − ln(3u+2) − ln(2u+2) − ln(u+2); score
    // 2 − 3u/(3u+2) − u/(u+1) − u/(u+2). Breslow would count 3u/(3u+2) twice.
    let log_likelihood = |beta: f64| {
        let u = beta.exp();
        2.0 * beta - (3.0 * u + 2.0).ln() - (2.0 * u + 2.0).ln() - (u + 2.0).ln()
    };
    let score = |beta: f64| {
        let u = beta.exp();
        2.0 - 3.0 * u / (3.0 * u + 2.0) - u / (u + 1.0) - u / (u + 2.0)
    };
    let information = |beta: f64| {
        let u = beta.exp();
        6.0 * u / (3.0 * u + 2.0).powi(2) + u / (u + 1.0).powi(2) + 2.0 * u / (u + 2.0).powi(2)
    };
    let report = run(EFRON, None, None).cox.unwrap();
    assert_eq!(
        (report.treatment.as_str(), report.reference.as_str()),
        ("ketamine", "placebo")
    );
    assert_eq!((report.model.n, report.model.events), (5, 3));
    let fit = report.model.fit.unwrap();
    assert!(
        score(fit.coef).abs() < 1e-14,
        "score at β̂ = {}",
        score(fit.coef)
    );
    close(fit.log_likelihood, log_likelihood(fit.coef));
    close(fit.log_likelihood_null, -(60f64.ln()));
    close(fit.se, (1.0 / information(fit.coef)).sqrt());
    close(fit.z, fit.coef / fit.se);
    close(fit.hr, fit.coef.exp());
    close(fit.coef_ci_lower, fit.coef - Z_95 * fit.se);
    close(fit.hr_ci_upper, (fit.coef + Z_95 * fit.se).exp());
    close(
        fit.lr_test_statistic,
        2.0 * (log_likelihood(fit.coef) + 60f64.ln()),
    );
}

#[test]
fn cox_closed_form_without_ties() {
    // Day 1: 2 treated and 2 reference at risk, a treated relapse; day 2: 1
    // treated, 2 reference, a reference relapse. Score 1 − u/(u+1) − u/(u+2) = 0
    // gives u² = 2, β̂ = ln 2 / 2.
    let fit = run(
        "ketamine 1 1\n ketamine 5 0\n placebo 2 1\n placebo 5 0",
        None,
        None,
    )
    .cox
    .unwrap()
    .model
    .fit
    .unwrap();
    close(fit.coef, 2f64.ln() / 2.0);
    let u = 2f64.sqrt();
    close(
        fit.se,
        (1.0 / (u / (u + 1.0).powi(2) + 2.0 * u / (u + 2.0).powi(2))).sqrt(),
    );
}

#[test]
fn cox_without_a_finite_maximum_keeps_n_and_events_and_says_why() {
    let no_events = run("ketamine 3 0\n placebo 4 0", None, None).cox.unwrap();
    assert_eq!((no_events.model.n, no_events.model.events), (2, 0));
    assert_eq!(no_events.model.fit, Err(NoFiniteMaximum::NoEvents));

    let one_arm_events = run(
        "ketamine 3 0\n ketamine 5 0\n placebo 4 1\n placebo 6 1",
        None,
        None,
    )
    .cox
    .unwrap();
    assert_eq!(
        (one_arm_events.model.n, one_arm_events.model.events),
        (4, 2)
    );
    assert_eq!(
        one_arm_events.model.fit,
        Err(NoFiniteMaximum::AllEventsInOneArm {
            arm: "placebo".into()
        })
    );

    // Both arms relapse, but every placebo relapse comes after the last
    // ketamine patient has left: the likelihood keeps rising as β → +∞.
    let separated = run(
        "ketamine 1 1\n ketamine 2 0\n placebo 1 0\n placebo 3 1\n placebo 4 0",
        None,
        None,
    )
    .cox
    .unwrap();
    assert_eq!(separated.model.fit, Err(NoFiniteMaximum::Separated));
}

#[test]
fn no_events_at_all_gives_a_logrank_without_a_statistic() {
    let logrank = run("a 3 0\n b 4 0", None, None).logrank.unwrap();
    assert!(logrank.statistic.is_nan() && logrank.p.is_nan());
}

#[test]
fn arm_choice() {
    // Two arms: "ketamine" is the default treatment even when it sorts first.
    let two = "ketamine 1 1\n ketamine 5 0\n placebo 2 1\n placebo 5 0";
    let report = run(two, None, None).cox.unwrap();
    assert_eq!(
        (report.treatment.as_str(), report.reference.as_str()),
        ("ketamine", "placebo")
    );
    // Without an arm called ketamine: the second in sorted order.
    let report = run("alpha 1 1\n alpha 5 0\n beta 2 1\n beta 5 0", None, None)
        .cox
        .unwrap();
    assert_eq!(
        (report.treatment.as_str(), report.reference.as_str()),
        ("beta", "alpha")
    );
    // Either flag alone picks the other arm for the other role, and the
    // coefficient changes sign.
    let forward = run(two, Some("ketamine"), None)
        .cox
        .unwrap()
        .model
        .fit
        .unwrap();
    let swapped = run(two, None, Some("ketamine")).cox.unwrap();
    assert_eq!(swapped.treatment, "placebo");
    close(swapped.model.fit.unwrap().coef, -forward.coef);

    // Three arms: k-arm log-rank; Cox only when both flags pick two arms,
    // fitted on those two arms' rows.
    let three = "a 1 1\n a 4 0\n b 2 1\n b 3 1\n b 6 0\n c 2 1\n c 5 0";
    let analysis = run(three, None, None);
    assert_eq!(analysis.logrank.unwrap().df, 2);
    assert!(analysis.cox.is_none());
    assert!(run(three, Some("a"), None).cox.is_none());
    let picked = run(three, Some("b"), Some("a")).cox.unwrap();
    assert_eq!((picked.model.n, picked.model.events), (5, 3));
    let two_only = run(
        "a 1 1\n a 4 0\n b 2 1\n b 3 1\n b 6 0",
        Some("b"),
        Some("a"),
    )
    .cox
    .unwrap();
    assert_eq!(picked.model, two_only.model);

    let cohort = cohort(three);
    let unknown = analyse(
        &cohort,
        ArmChoice {
            treatment: Some("d"),
            reference: None,
        },
    )
    .unwrap_err();
    assert_eq!(
        unknown,
        ArmChoiceError::UnknownArm {
            flag: "--treatment",
            name: "d".into(),
            known: "a, b, c".into()
        }
    );
    let same = analyse(
        &cohort,
        ArmChoice {
            treatment: Some("a"),
            reference: Some("a"),
        },
    )
    .unwrap_err();
    assert_eq!(same, ArmChoiceError::SameArm { name: "a".into() });
}

#[test]
fn three_arm_logrank_equals_the_two_arm_test_when_an_arm_carries_no_information() {
    // Arm c is never at risk at an event time (censored before the first
    // relapse), so its row of V is zero and it adds nothing.
    let with_c = run("a 2 1\n a 4 0\n b 3 1\n b 5 1\n b 6 0\n c 1 0", None, None)
        .logrank
        .unwrap();
    let without = run("a 2 1\n a 4 0\n b 3 1\n b 5 1\n b 6 0", None, None)
        .logrank
        .unwrap();
    close(with_c.statistic, without.statistic);
    assert_eq!(with_c.df, 2);
}
