//! Compute-only timing for benches/survival/bench.py (not part of the test
//! suite): loads a cohort CSV into memory untimed, then times aggregating the
//! rows and the whole analysis, and separately the streaming read of the file.
//!
//! cargo run --release -p clinic-survival --example bench_compute -- FILE [REPEATS]

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark tool: a failure is a crash.

use std::io::BufRead;
use std::time::Instant;

use clinic_survival::analysis::{analyse, ArmChoice};
use clinic_survival::cohort::{CohortBuilder, Days};
use clinic_survival::csv::read_cohort;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: bench_compute FILE [REPEATS]");
    let repeats: usize = args
        .next()
        .map_or(5, |text| text.parse().expect("REPEATS is a number"));

    // Untimed: the rows as plain vectors, as a DataFrame holds them.
    let file = std::io::BufReader::new(std::fs::File::open(&path).expect("open"));
    let mut arm_names: Vec<String> = Vec::new();
    let mut rows: Vec<(usize, f64, bool)> = Vec::new();
    for line in file.lines().skip(1) {
        let line = line.expect("read");
        let fields: Vec<&str> = line.split(',').collect();
        let arm = match arm_names.iter().position(|name| name == fields[1]) {
            Some(idx) => idx,
            None => {
                arm_names.push(fields[1].to_string());
                arm_names.len() - 1
            }
        };
        rows.push((arm, fields[2].parse().expect("days"), fields[3] == "1"));
    }

    let mut compute = Vec::new();
    let mut checksum = 0.0;
    for _ in 0..repeats {
        let start = Instant::now();
        let mut builder = CohortBuilder::new();
        let ids: Vec<_> = arm_names.iter().map(|name| builder.arm_id(name)).collect();
        for &(arm, days, relapsed) in &rows {
            builder.add(ids[arm], Days::new(days).expect("days"), relapsed);
        }
        let cohort = builder.finish();
        let analysis = analyse(
            &cohort,
            ArmChoice {
                treatment: None,
                reference: None,
            },
        )
        .expect("analyse");
        compute.push(start.elapsed().as_secs_f64());
        checksum += analysis
            .cox
            .and_then(|cox| cox.model.fit.ok())
            .map_or(0.0, |fit| fit.coef);
    }

    let mut read = Vec::new();
    for _ in 0..repeats {
        let start = Instant::now();
        let file = std::fs::File::open(&path).expect("open");
        let cohort = read_cohort(
            std::io::BufReader::with_capacity(1 << 20, file),
            &mut |_| {},
        )
        .expect("read");
        read.push(start.elapsed().as_secs_f64());
        checksum += f64::from(u32::try_from(cohort.n_rows()).unwrap_or(0));
    }
    compute.sort_by(f64::total_cmp);
    read.sort_by(f64::total_cmp);
    println!(
        "{{\"rows\":{},\"compute_s\":{},\"read_s\":{},\"checksum\":{checksum}}}",
        rows.len(),
        compute[compute.len() / 2],
        read[read.len() / 2]
    );
}
