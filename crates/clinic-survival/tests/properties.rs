//! Invariants over random cohorts (proptest): curves non-increasing in
//! [0, 1] with the estimate inside its interval, row order irrelevant, and
//! the Cox fit a maximum that flips sign with the coding.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clinic_survival::analysis::{analyse, ArmChoice};
use clinic_survival::csv::read_cohort;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Row {
    arm: &'static str,
    days: String,
    relapsed: bool,
}

fn row() -> impl Strategy<Value = Row> {
    let days = prop_oneof![
        (0u32..40).prop_map(|d| d.to_string()),
        (0u32..400, 0u32..10).prop_map(|(d, tenth)| format!("{}.{tenth}", d / 10)),
    ];
    (
        prop_oneof![Just("ketamine"), Just("placebo")],
        days,
        any::<bool>(),
    )
        .prop_map(|(arm, days, relapsed)| Row {
            arm,
            days,
            relapsed,
        })
}

fn csv(rows: &[Row]) -> String {
    let mut text = String::from("patient_id,arm,days,relapsed\n");
    for (idx, row) in rows.iter().enumerate() {
        text.push_str(&format!(
            "p{idx},{},{},{}\n",
            row.arm,
            row.days,
            u8::from(row.relapsed)
        ));
    }
    text
}

fn analysis(text: &str, treatment: Option<&str>) -> clinic_survival::analysis::Analysis {
    let cohort = read_cohort(text.as_bytes(), &mut |_| {}).unwrap();
    analyse(
        &cohort,
        ArmChoice {
            treatment,
            reference: None,
        },
    )
    .unwrap()
}

proptest! {
    #[test]
    fn curves_are_non_increasing_in_0_1_and_inside_their_intervals(rows in prop::collection::vec(row(), 1..80)) {
        let result = analysis(&csv(&rows), None);
        for (_, km) in &result.km {
            prop_assert_eq!(km.at_risk[0], km.n);
            prop_assert_eq!(km.timeline[0], 0.0);
            for idx in 0..km.timeline.len() {
                let (s, lower, upper) = (km.survival[idx], km.ci_lower[idx], km.ci_upper[idx]);
                prop_assert!((0.0..=1.0).contains(&s));
                prop_assert!(0.0 <= lower && lower <= s + 1e-15 && s <= upper + 1e-15 && upper <= 1.0, "{} {} {}", lower, s, upper);
                if idx > 0 {
                    prop_assert!(km.timeline[idx] > km.timeline[idx - 1]);
                    prop_assert!(s <= km.survival[idx - 1]);
                    prop_assert_eq!(km.at_risk[idx], km.at_risk[idx - 1] - km.observed[idx - 1] - km.censored[idx - 1]);
                }
            }
            if let (Some(lower), Some(median)) = (km.median_ci_lower, km.median) {
                prop_assert!(lower <= median);
            }
            if let (Some(median), Some(upper)) = (km.median, km.median_ci_upper) {
                prop_assert!(median <= upper);
            }
        }
    }

    #[test]
    fn row_order_does_not_matter(rows in prop::collection::vec(row(), 1..60).prop_shuffle(), seed in any::<u64>()) {
        let mut shuffled = rows.clone();
        // A deterministic permutation from the seed.
        let mut state = seed | 1;
        for idx in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let other = usize::try_from(state % u64::try_from(idx + 1).unwrap()).unwrap();
            shuffled.swap(idx, other);
        }
        // Debug output compares NaN with NaN, and every bit of every float.
        prop_assert_eq!(format!("{:?}", analysis(&csv(&rows), None)), format!("{:?}", analysis(&csv(&shuffled), None)));
    }

    #[test]
    fn cox_is_a_maximum_and_flips_sign_with_the_coding(rows in prop::collection::vec(row(), 2..80)) {
        if !rows.iter().any(|r| r.arm == "ketamine") || !rows.iter().any(|r| r.arm == "placebo") {
            return Ok(());
        }
        let text = csv(&rows);
        let forward = analysis(&text, Some("ketamine"));
        let Some(report) = forward.cox else { return Ok(()) };
        let Ok(fit) = report.model.fit else { return Ok(()) };
        prop_assert!(fit.log_likelihood >= fit.log_likelihood_null - 1e-9);
        prop_assert!(fit.se > 0.0 && fit.se.is_finite());
        prop_assert!(fit.coef_ci_lower < fit.coef && fit.coef < fit.coef_ci_upper);
        prop_assert!((0.0..=1.0).contains(&fit.p));
        let backward = analysis(&text, Some("placebo")).cox.unwrap().model.fit.unwrap();
        prop_assert!((backward.coef + fit.coef).abs() <= 1e-9 * fit.coef.abs().max(1.0), "{} vs {}", backward.coef, fit.coef);
        prop_assert!((backward.se - fit.se).abs() <= 1e-9 * fit.se);
        prop_assert!((backward.log_likelihood - fit.log_likelihood).abs() <= 1e-9 * fit.log_likelihood.abs().max(1.0));
    }

    #[test]
    fn logrank_does_not_depend_on_which_arm_sorts_first(rows in prop::collection::vec(row(), 2..60)) {
        let text = csv(&rows);
        let renamed = text.replace(",ketamine,", ",zeta,");
        let a = analysis(&text, None).logrank;
        let b = analysis(&renamed, None).logrank;
        match (a, b) {
            (Some(a), Some(b)) if a.statistic.is_nan() => prop_assert!(b.statistic.is_nan()),
            (Some(a), Some(b)) => prop_assert!((a.statistic - b.statistic).abs() <= 1e-9 * a.statistic.max(1.0)),
            (a, b) => prop_assert_eq!(a.is_none(), b.is_none()),
        }
    }
}
