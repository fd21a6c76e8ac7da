use super::*;
use proptest::prelude::*;

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn summary(protocol: &str, start: &str) -> PatientSummary {
    PatientSummary {
        patient_id: Uuid::now_v7(),
        plan_id: Uuid::now_v7(),
        protocol_id: protocol.into(),
        substances: vec!["cocaine".into()],
        site_id: None,
        start_date: day(start),
        infusions_given: 1,
        adverse_events: 0,
        severe_adverse_events: 0,
        retention: RetentionSummary::Retained,
        sessions_expected: 10,
        sessions_attended: 8,
        window: None,
        relapse: RelapseSummary::Settled { days: 30, relapsed: false },
        misuse_confirmed: 0,
        definitions: BTreeMap::new(),
    }
}

fn window(verdicts: &[WindowVerdict], over: bool) -> Option<WindowSummary> {
    Some(WindowSummary {
        name: "end-of-study abstinence".into(),
        first: day("2026-01-01"),
        last: day("2026-01-14"),
        over,
        substances: verdicts
            .iter()
            .enumerate()
            .map(|(i, v)| SubstanceWindow {
                substance: if i == 0 { "cocaine".into() } else { "alcohol".into() },
                verdict: *v,
                biologically_confirmed: false,
                abstinent_days: if *v == WindowVerdict::Abstinent { 14 } else { 10 },
                days_assessed: 14,
                heavy_days: (i > 0).then_some(2),
            })
            .collect(),
    })
}

/// Wilson intervals worked from Wilson's formula by hand (python, independent of this code).
#[test]
fn wilson_intervals_match_hand_worked_values() {
    let (lo, hi) = Proportion::new(13, 27).interval().unwrap();
    assert!((lo - 30.743_226_976_218_46).abs() < 1e-9, "{lo}");
    assert!((hi - 66.014_384_245_047_71).abs() < 1e-9, "{hi}");
    let (lo, hi) = Proportion::new(0, 10).interval().unwrap();
    assert_eq!(lo, 0.0);
    assert!((hi - 27.753_279_986_288_92).abs() < 1e-9);
    let (lo, hi) = Proportion::new(10, 10).interval().unwrap();
    assert!((lo - 72.246_720_013_711_07).abs() < 1e-9);
    assert_eq!(hi, 100.0);
    assert_eq!(Proportion::new(0, 0).interval(), None);
    assert_eq!(Proportion::new(0, 0).words(), "no patient yet");
    assert_eq!(Proportion::new(13, 27).words(), "48.1 % (13 of 27; 95 % CI 30.7–66.0 %)");
}

proptest! {
    #[test]
    fn a_wilson_interval_holds_its_estimate_and_stays_in_range((n, k) in (1u32..5000).prop_flat_map(|n| (Just(n), 0..=n))) {
        let p = Proportion::new(k, n);
        let (lo, hi) = p.interval().unwrap();
        let est = p.percent().unwrap();
        prop_assert!(0.0 <= lo && lo <= est + 1e-9 && est <= hi + 1e-9 && hi <= 100.0, "{k}/{n}: {lo} {est} {hi}");
        prop_assert!(hi - lo > 0.0);
    }

    #[test]
    fn the_mean_interval_brackets_the_mean(values in proptest::collection::vec(0.0f64..=100.0, 1..60)) {
        let m = mean_of(&values);
        let mean = m.mean.unwrap();
        prop_assert!((0.0..=100.0).contains(&mean));
        match m.interval {
            None => prop_assert_eq!(values.len(), 1),
            Some((lo, hi)) => prop_assert!(lo <= mean && mean <= hi),
        }
    }
}

#[test]
fn filters_admit_by_protocol_substance_site_and_period() {
    let mut a = summary("cocaine-mbrp-dakwar2019", "2026-03-01");
    let site = Uuid::now_v7();
    a.site_id = Some(site);
    let f = Filters { protocol: Some("cocaine-mbrp-dakwar2019".into()), substance: Some("cocaine".into()), site: Some(site), from: Some(day("2026-03-01")), to: Some(day("2026-03-01")) };
    assert!(f.admits(&a));
    assert!(!Filters { protocol: Some("clinic-series-6".into()), ..Default::default() }.admits(&a));
    assert!(!Filters { substance: Some("alcohol".into()), ..Default::default() }.admits(&a));
    assert!(!Filters { site: Some(Uuid::now_v7()), ..Default::default() }.admits(&a));
    assert!(!Filters { from: Some(day("2026-03-02")), ..Default::default() }.admits(&a));
    assert!(!Filters { to: Some(day("2026-02-28")), ..Default::default() }.admits(&a));
}

#[test]
fn window_abstinence_counts_undetermined_as_not_abstinent_and_skips_windows_not_over() {
    let mut s = Vec::new();
    for (verdicts, over) in [
        (vec![WindowVerdict::Abstinent], true),
        (vec![WindowVerdict::NotAbstinent], true),
        (vec![WindowVerdict::Undetermined], true),
        (vec![WindowVerdict::Abstinent, WindowVerdict::Undetermined], true),
        (vec![WindowVerdict::Abstinent], false),
    ] {
        let mut x = summary("cocaine-mbrp-dakwar2019", "2026-01-01");
        x.window = window(&verdicts, over);
        s.push(x);
    }
    let o = outcomes(&s, &Filters::default(), Some("cocaine-mbrp-dakwar2019"));
    assert_eq!(o.patients, 5);
    assert_eq!((o.window_abstinence.k, o.window_abstinence.n), (1, 4));
    assert_eq!(o.window_undetermined, 2);
    assert_eq!(o.window_name.as_deref(), Some("end-of-study abstinence"));
    // PDA per patient: 100, 71.43, 71.43, (14+10)/28 = 85.71.
    let mean = o.pda.mean.unwrap();
    assert!((mean - (100.0 + 2.0 * 1000.0 / 14.0 + 2400.0 / 28.0) / 4.0).abs() < 1e-9, "{mean}");
    // Heavy days pooled over the alcohol entries only: 2 of 14.
    assert_eq!((o.heavy_days.k, o.heavy_days.n), (2, 14));
}

#[test]
fn retention_misuse_and_safety_rates() {
    let mut s = Vec::new();
    for (retention, infusions, aes, misuse) in [
        (RetentionSummary::Retained, 3, 1, 0),
        (RetentionSummary::NotRetained, 1, 0, 2),
        (RetentionSummary::NotOver, 2, 1, 0),
        (RetentionSummary::Retained, 4, 0, 0),
    ] {
        let mut x = summary("clinic-series-6", "2026-01-01");
        x.retention = retention;
        x.infusions_given = infusions;
        x.adverse_events = aes;
        x.misuse_confirmed = misuse;
        s.push(x);
    }
    let o = outcomes(&s, &Filters::default(), None);
    assert_eq!((o.retention.k, o.retention.n), (2, 3));
    assert_eq!((o.attendance.k, o.attendance.n), (32, 40));
    assert_eq!(o.infusions, 10);
    assert_eq!(o.adverse_per_100_infusions(), Some(20.0));
    assert_eq!(o.misuse_patients, 1);
    assert_eq!(o.misuse_per_100_patients(), Some(25.0));
}

#[test]
fn only_settled_times_enter_the_curve_and_the_rest_are_counted_with_reasons() {
    let mut s = Vec::new();
    for r in [
        RelapseSummary::Settled { days: 10, relapsed: true },
        RelapseSummary::Settled { days: 10, relapsed: false },
        RelapseSummary::Settled { days: 20, relapsed: true },
        RelapseSummary::Pending { proposals: 2 },
        RelapseSummary::Unavailable { reason: "needs clinic setting: outcomes.index_date".into() },
        RelapseSummary::Unavailable { reason: "needs clinic setting: outcomes.index_date".into() },
    ] {
        let mut x = summary("clinic-series-6", "2026-01-01");
        x.relapse = r;
        s.push(x);
    }
    let o = outcomes(&s, &Filters::default(), Some("clinic-series-6"));
    assert_eq!(o.times.len(), 3);
    assert_eq!(o.relapse_pending, 1);
    assert_eq!(o.relapse_unavailable.get("needs clinic setting: outcomes.index_date"), Some(&2));
    let km = o.kaplan_meier().unwrap();
    // Day 10: 3 at risk, 1 event (the censoring at 10 is still at risk): S = 2/3; day 20: 1 at risk, 1 event: S = 0.
    assert_eq!(km.timeline, vec![0.0, 10.0, 20.0]);
    assert_eq!(km.at_risk, vec![3, 3, 1]);
    assert!((km.survival[1] - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(km.survival[2], 0.0);
    assert_eq!(km.median, Some(20.0));
    assert!(outcomes(&[], &Filters::default(), None).kaplan_meier().is_none());
}

fn published(percent: Option<f64>) -> Published {
    Published {
        protocol: "cocaine-mbrp-dakwar2019".into(),
        measure: PublishedMeasure::WindowAbstinence,
        label: "abstinence over the last 2 weeks".into(),
        percent,
        n: Some(27),
        source: "Dakwar 2019".into(),
        caveat: percent.is_none().then(|| "effect sizes not retrieved".into()),
    }
}

#[test]
fn the_reading_places_the_trial_against_the_clinic_interval_and_never_claims_an_effect() {
    let inside = reading(&ComparedFigure::Proportion(Proportion::new(13, 27)), &published(Some(48.2)));
    assert!(inside.contains("consistent with the trial's ketamine arm (48.2 %, n = 27)"), "{inside}");
    assert!(inside.contains("cannot show that ketamine caused"), "{inside}");
    let above = reading(&ComparedFigure::Proportion(Proportion::new(25, 27)), &published(Some(48.2)));
    assert!(above.contains("higher than the trial's"), "{above}");
    let below = reading(&ComparedFigure::Proportion(Proportion::new(1, 27)), &published(Some(48.2)));
    assert!(below.contains("lower than the trial's"), "{below}");
    let empty = reading(&ComparedFigure::Proportion(Proportion::new(0, 0)), &published(Some(48.2)));
    assert!(empty.contains("nothing to compare"), "{empty}");
    let one_mean = reading(&ComparedFigure::Mean(mean_of(&[80.0])), &published(Some(48.2)));
    assert!(one_mean.contains("nothing to compare"), "{one_mean}");
    let none = reading(&ComparedFigure::Proportion(Proportion::new(13, 27)), &published(None));
    assert!(none.starts_with("No comparison is drawn: effect sizes not retrieved"), "{none}");
    for text in [inside, above, below] {
        assert!(!text.to_lowercase().contains("hazard ratio"));
        assert!(!text.contains("better") && !text.contains("worse") && !text.contains("effective"));
    }
}

#[test]
fn the_published_file_is_checked() {
    let ok = "[[result]]\nprotocol = \"p\"\nmeasure = \"window_abstinence\"\nlabel = \"x\"\npercent = 48.2\nn = 27\nsource = \"s\"\n";
    assert_eq!(parse_published(ok).unwrap().len(), 1);
    assert!(parse_published(&ok.replace("48.2", "148.2")).unwrap_err().contains("between 0 and 100"));
    assert!(parse_published(&ok.replace("percent = 48.2\n", "")).unwrap_err().contains("give a percent or a caveat"));
    assert!(parse_published(&ok.replace("window_abstinence", "hazard_ratio")).is_err());
}

#[test]
fn the_funnel_counts_each_stage_and_its_median_time() {
    let f = |i: &str, s: Option<&str>, t: Option<&str>| FunnelFacts { inquiry_on: day(i), screened_on: s.map(day), treated_on: t.map(day) };
    let facts = vec![
        f("2026-01-01", Some("2026-01-03"), Some("2026-01-13")),
        f("2026-01-02", Some("2026-01-06"), None),
        f("2026-01-05", None, None),
        f("2026-01-10", Some("2026-01-11"), Some("2026-01-15")),
        f("2026-03-01", Some("2026-03-02"), None),
    ];
    let all = funnel(&facts, None, None);
    assert_eq!((all.inquiries, all.screened, all.treated), (5, 4, 2));
    // Days to screening: 2, 4, 1, 1 -> median 1.5; to treatment: 10, 4 -> 7.
    assert_eq!(all.median_days_to_screening, Some(1.5));
    assert_eq!(all.median_days_to_treatment, Some(7.0));
    let jan = funnel(&facts, Some(day("2026-01-01")), Some(day("2026-01-31")));
    assert_eq!((jan.inquiries, jan.screened, jan.treated), (4, 3, 2));
    let none = funnel(&[], None, None);
    assert_eq!((none.inquiries, none.median_days_to_screening), (0, None));
}
