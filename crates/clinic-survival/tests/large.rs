//! A cohort of 300,000 rows with nearly all times distinct: the Cox fit must
//! still land on the root of the score. (Uncompensated sums of a million
//! logarithms are off by more than the step-halving slack, which once
//! stopped the fit 1.6e-7 short of the maximum.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clinic_survival::analysis::{analyse, ArmChoice};
use clinic_survival::csv::read_cohort;

struct XorShift(u64);

impl XorShift {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        // 53 random bits in (0, 1).
        (f64::from(u32::try_from(self.0 >> 43).unwrap()) + 0.5) / 2f64.powi(21)
    }
}

/// The Efron score at β straight from the rows (survival.md §9), sorted
/// by time, summed plainly: independent of the crate's aggregation.
fn score(rows: &[(f64, bool, bool)], beta: f64) -> f64 {
    let phi = beta.exp();
    let (mut n0, mut n1) = (0.0f64, 0.0f64);
    for &(_, _, treated) in rows {
        if treated {
            n1 += 1.0;
        } else {
            n0 += 1.0;
        }
    }
    let mut total = 0.0;
    let mut idx = 0;
    while idx < rows.len() {
        let time = rows[idx].0;
        let (mut d0, mut d1, mut gone0, mut gone1) = (0.0, 0.0, 0.0, 0.0);
        while idx < rows.len() && rows[idx].0 == time {
            let (_, relapsed, treated) = rows[idx];
            match (relapsed, treated) {
                (true, true) => d1 += 1.0,
                (true, false) => d0 += 1.0,
                _ => {}
            }
            if treated {
                gone1 += 1.0;
            } else {
                gone0 += 1.0;
            }
            idx += 1;
        }
        let d: f64 = d0 + d1;
        let mut l = 0.0;
        while l < d {
            let w = l / d;
            total -= (n1 * phi - w * d1 * phi) / (n0 + n1 * phi - w * (d0 + d1 * phi));
            l += 1.0;
        }
        total += d1;
        n0 -= gone0;
        n1 -= gone1;
    }
    total
}

#[test]
fn cox_reaches_the_root_of_the_score_on_300k_rows() {
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let mut text = String::from("patient_id,arm,days,relapsed\n");
    let mut rows = Vec::new();
    for idx in 0..300_000 {
        let treated = rng.uniform() < 0.5;
        let rate = if treated { 0.006 } else { 0.010 };
        let event = -rng.uniform().ln() / rate;
        let censor = 20.0 + 230.0 * rng.uniform();
        let days = format!("{:.6}", event.min(censor).max(1e-6));
        let relapsed = event <= censor;
        let arm = if treated { "ketamine" } else { "placebo" };
        text.push_str(&format!("P{idx},{arm},{days},{}\n", u8::from(relapsed)));
        rows.push((days.parse::<f64>().unwrap(), relapsed, treated));
    }
    let cohort = read_cohort(text.as_bytes(), &mut |_| {}).unwrap();
    let fit = analyse(
        &cohort,
        ArmChoice {
            treatment: None,
            reference: None,
        },
    )
    .unwrap()
    .cox
    .unwrap()
    .model
    .fit
    .unwrap();

    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Bisection on the score's sign (it decreases in β) to 1e-13.
    let (mut low, mut high) = (-2.0, 2.0);
    assert!(score(&rows, low) > 0.0 && score(&rows, high) < 0.0);
    while high - low > 1e-13 {
        let mid = 0.5 * (low + high);
        if score(&rows, mid) > 0.0 {
            low = mid;
        } else {
            high = mid;
        }
    }
    let root = 0.5 * (low + high);
    assert!(
        (fit.coef - root).abs() < 1e-10,
        "coef {} root {root} difference {:e}",
        fit.coef,
        fit.coef - root
    );
}
