//! Hand cases: the sanity figures of clinical.md §5.1, linearity, phase
//! superposition, Cmax/Tmax on the grid, type-7 percentiles against numpy,
//! seeded populations, the subjects file and refusals.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::needless_range_loop)] // tests: a failed step is a failed test; indices pair curves.

use clinic_pk::params::{Model, Params};
use clinic_pk::percentile::{percentiles, P5_P50_P95};
use clinic_pk::population::{sample_subjects, simulate_population};
use clinic_pk::regimen::{Phase, Regimen};
use clinic_pk::schedule::uniform_grid;
use clinic_pk::simulate::simulate;
use clinic_pk::subjects_csv::{read_subjects, write_subjects, SubjectsError};

fn regimen(phases: &[(f64, f64)]) -> Regimen {
    Regimen::new(phases.iter().map(|&(dose_mg_per_kg, minutes)| Phase { dose_mg_per_kg, minutes }).collect()).unwrap()
}

#[track_caller]
fn near(got: f64, want: f64, relative: f64) {
    assert!((got - want).abs() <= relative * want.abs(), "got {got}, want {want} within {relative} relative");
}

#[test]
fn reference_sanity_figures() {
    // clinical.md §5.1 "Sanity checks (our simulation, Domino)": the reference
    // rounds to two or three figures ("≈"), so 3 % is allowed.
    let times = uniform_grid(360, 1.0);
    let curve = simulate(&Model::Domino.params(), &regimen(&[(0.5, 40.0)]), 70.0, &times).unwrap();
    near(curve.cmax_ng_ml, 240.0, 0.03);
    assert_eq!(curve.tmax_min, 40.0);
    near(curve.conc_ng_ml[60], 55.0, 0.03);
    near(curve.conc_ng_ml[120], 36.0, 0.03);
    let loading = simulate(&Model::Domino.params(), &regimen(&[(0.11, 2.0), (0.60, 50.0)]), 70.0, &times).unwrap();
    near(loading.conc_ng_ml[2], 560.0, 0.03);
    near(loading.conc_ng_ml[52], 250.0, 0.03);
    let kare = simulate(&Model::Domino.params(), &regimen(&[(0.8, 40.0)]), 70.0, &times).unwrap();
    near(kare.cmax_ng_ml, 385.0, 0.03);
    near(kare.conc_ng_ml[120], 57.0, 0.03);
}

#[test]
fn weight_cancels_and_dose_is_linear() {
    let times = uniform_grid(200, 1.5);
    let base = simulate(&Model::Domino.params(), &regimen(&[(0.5, 40.0)]), 70.0, &times).unwrap();
    let heavy = simulate(&Model::Domino.params(), &regimen(&[(0.5, 40.0)]), 120.0, &times).unwrap();
    let triple = simulate(&Model::Domino.params(), &regimen(&[(1.5, 40.0)]), 70.0, &times).unwrap();
    for i in 0..times.len() {
        near(heavy.conc_ng_ml[i], base.conc_ng_ml[i], 1e-12);
        near(triple.conc_ng_ml[i], 3.0 * base.conc_ng_ml[i], 1e-12);
    }
}

#[test]
fn phases_superpose() {
    let times = uniform_grid(300, 1.0);
    let both = simulate(&Model::Domino.params(), &regimen(&[(0.11, 2.0), (0.60, 50.0)]), 70.0, &times).unwrap();
    let first = simulate(&Model::Domino.params(), &regimen(&[(0.11, 2.0)]), 70.0, &times).unwrap();
    let second = simulate(&Model::Domino.params(), &regimen(&[(0.0, 2.0), (0.60, 50.0)]), 70.0, &times).unwrap();
    let peak = both.cmax_ng_ml;
    for i in 0..times.len() {
        let sum = first.conc_ng_ml[i] + second.conc_ng_ml[i];
        assert!(
            (both.conc_ng_ml[i] - sum).abs() <= 1e-12 * peak,
            "t {}: {} vs {sum}",
            times[i],
            both.conc_ng_ml[i]
        );
    }
}

#[test]
fn cmax_and_tmax_are_on_the_grid() {
    // A 2-minute loading dose peaks at 2 min; on a 5-minute grid the largest
    // grid value is at 0 or 5, never the true peak between.
    let coarse = uniform_grid(20, 5.0);
    let curve = simulate(&Model::Domino.params(), &regimen(&[(0.11, 2.0)]), 70.0, &coarse).unwrap();
    let (at, value) = curve
        .conc_ng_ml
        .iter()
        .enumerate()
        .fold((0, f64::MIN), |best, (i, &c)| if c > best.1 { (i, c) } else { best });
    assert_eq!(curve.cmax_ng_ml, value);
    assert_eq!(curve.tmax_min, coarse[at]);
    assert_eq!(curve.tmax_min, 5.0);
    let fine = simulate(&Model::Domino.params(), &regimen(&[(0.11, 2.0)]), 70.0, &uniform_grid(400, 0.25)).unwrap();
    assert_eq!(fine.tmax_min, 2.0);
    assert!(fine.cmax_ng_ml > curve.cmax_ng_ml);
    assert_eq!(fine.conc_ng_ml[0], 0.0);
}

#[test]
fn percentiles_match_numpy_default() {
    // numpy 2.4.6: np.percentile(a, [5, 50, 95]) printed with repr().
    let cases: [(&[f64], [f64; 3]); 5] = [
        (&[1.0, 2.0, 3.0, 4.0], [1.15, 2.5, 3.8499999999999996]),
        (&[3.0, 1.0, 2.0], [1.1, 2.0, 2.9]),
        (&[0.0, 10.0, 0.0, 5.0, 7.0], [0.0, 5.0, 9.399999999999999]),
        (&[0.1, 0.7, 0.2, 0.9, 0.3, 0.05, 0.6], [0.065, 0.3, 0.8399999999999999]),
        (&[10.0], [10.0, 10.0, 10.0]),
    ];
    for (values, want) in cases {
        let got = percentiles(&mut values.to_vec(), &P5_P50_P95);
        assert_eq!(got, want, "{values:?}");
    }
}

#[test]
fn population_is_reproducible_for_a_seed() {
    let typical = Model::Domino.params();
    let a = sample_subjects(&typical, 500, 42, 0.3).unwrap();
    let b = sample_subjects(&typical, 500, 42, 0.3).unwrap();
    let c = sample_subjects(&typical, 500, 43, 0.3).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    let times = uniform_grid(360, 1.0);
    let run = |subjects: &[Params]| simulate_population(subjects, &regimen(&[(0.5, 40.0)]), 70.0, &times).unwrap();
    assert_eq!(run(&a), run(&b));
    let summary = run(&a);
    assert_eq!(summary.n_subjects, 500);
    assert_eq!(summary.conc_percentiles_ng_ml.len(), times.len());
    let typical_curve = simulate(&typical, &regimen(&[(0.5, 40.0)]), 70.0, &times).unwrap();
    let cmax = summary.cmax_percentiles_ng_ml;
    assert!(cmax.p5 < cmax.p50 && cmax.p50 < cmax.p95);
    assert!(cmax.p5 < typical_curve.cmax_ng_ml && typical_curve.cmax_ng_ml < cmax.p95);
}

#[test]
fn sampled_spread_follows_the_cv() {
    // ln(V1) has standard deviation ω = √ln(1 + CV²); with 20,000 subjects the
    // sample value is within 3 % of it.
    let subjects = sample_subjects(&Model::Domino.params(), 20_000, 7, 0.3).unwrap();
    let logs: Vec<f64> = subjects.iter().map(|p| (p.v1_l_per_kg() / 0.063).ln()).collect();
    let mean = logs.iter().sum::<f64>() / 20_000.0;
    let sd = (logs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 19_999.0).sqrt();
    near(sd, (1.0_f64 + 0.09).ln().sqrt(), 0.03);
    assert!(mean.abs() < 0.01);
    let two = sample_subjects(&Model::Hijazi.params(), 10, 7, 0.3).unwrap();
    assert!(two.iter().all(Params::is_two_compartment));
}

#[test]
fn population_of_one_is_the_curve() {
    let subject = Params::new(0.1, 0.3, 0.4, 0.2, 0.5, 0.02).unwrap();
    let times = uniform_grid(120, 1.0);
    let curve = simulate(&subject, &regimen(&[(0.5, 40.0)]), 70.0, &times).unwrap();
    let summary = simulate_population(&[subject], &regimen(&[(0.5, 40.0)]), 70.0, &times).unwrap();
    assert_eq!(summary.cmax_percentiles_ng_ml.p50, curve.cmax_ng_ml);
    for (p, c) in summary.conc_percentiles_ng_ml.iter().zip(&curve.conc_ng_ml) {
        assert_eq!((p.p5, p.p50, p.p95), (*c, *c, *c));
    }
}

#[test]
fn subjects_file_round_trips_bit_for_bit() {
    let subjects = sample_subjects(&Model::Domino.params(), 100, 1, 0.5).unwrap();
    let mut bytes = Vec::new();
    write_subjects(&mut bytes, &subjects).unwrap();
    assert!(bytes.starts_with(b"v1,k10,k12,k21,k13,k31\n"));
    assert_eq!(read_subjects(&bytes[..]).unwrap(), subjects);
}

#[test]
fn malformed_subjects_files_name_the_line() {
    let cases = [
        ("", "empty"),
        ("v1,k10\n", "line 1"),
        ("v1,k10,k12,k21,k13,k31\n", "no subjects"),
        (
            "v1,k10,k12,k21,k13,k31\n0.063,0.4381,0.5921,0.2470,0.5900,0.0146\n0.1,x,1,1,1,1\n",
            "line 3: k10",
        ),
        ("v1,k10,k12,k21,k13,k31\n0.1,1,1,1,1\n", "line 2: 6 fields expected"),
        ("v1,k10,k12,k21,k13,k31\r\n0.1,1,1,1,1,1,1\r\n", "line 2: 6 fields expected"),
        ("v1,k10,k12,k21,k13,k31\n-0.1,1,1,1,1,1\n", "line 2: v1"),
        ("v1,k10,k12,k21,k13,k31\n0.1,1,1,1,0,1\n", "line 2: k13 and k31"),
        ("v1,k10,k12,k21,k13,k31\n0.1,1,1,1,1,NaN\n", "line 2: k13 and k31"),
    ];
    for (text, fragment) in cases {
        let err = read_subjects(text.as_bytes()).unwrap_err();
        assert!(matches!(err, SubjectsError::Header | SubjectsError::Empty | SubjectsError::Row { .. }));
        assert!(err.to_string().contains(fragment), "{text:?}: {err}");
    }
    let crlf = "v1,k10,k12,k21,k13,k31\r\n0.063,0.4381,0.5921,0.2470,0.5900,0.0146\r\n\r\n";
    assert_eq!(read_subjects(crlf.as_bytes()).unwrap(), vec![Model::Domino.params()]);
}

#[test]
fn refusals() {
    assert!(Params::new(0.0, 1.0, 1.0, 1.0, 0.0, 0.0).is_err());
    assert!(Params::new(0.1, f64::NAN, 1.0, 1.0, 0.0, 0.0).is_err());
    assert!(Params::new(0.1, 1.0, 1.0, 1.0, 0.5, 0.0).is_err());
    assert!(Regimen::new(vec![]).is_err());
    assert!(Regimen::new(vec![Phase {
        dose_mg_per_kg: 0.5,
        minutes: 0.0
    }])
    .is_err());
    assert!(Regimen::new(vec![Phase {
        dose_mg_per_kg: -0.5,
        minutes: 10.0
    }])
    .is_err());
    let ok = regimen(&[(0.5, 40.0)]);
    assert!(simulate(&Model::Domino.params(), &ok, 0.0, &[0.0, 1.0]).is_err());
    assert!(simulate(&Model::Domino.params(), &ok, 70.0, &[2.0, 1.0]).is_err());
    assert!(simulate(&Model::Domino.params(), &ok, 70.0, &[-1.0]).is_err());
    assert!(sample_subjects(&Model::Domino.params(), 3, 1, 0.0).is_err());
    for model in Model::ALL {
        assert_eq!(Model::parse(model.name()), Some(model));
        assert!(Params::new(
            model.params().v1_l_per_kg(),
            model.params().k10(),
            model.params().k12(),
            model.params().k21(),
            model.params().k13(),
            model.params().k31()
        )
        .is_ok());
    }
}
