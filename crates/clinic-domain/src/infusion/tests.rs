//! Alert rules at their edges and over their whole range, the vitals
//! schedule, the pump record's delivered volume, and the discharge hard stop.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::*;

fn set(sys: u32, dia: u32, hr: u32, rr: u32, spo2: u32, rass: i32) -> VitalSet {
    VitalSet {
        systolic_mmhg: sys,
        diastolic_mmhg: dia,
        heart_rate_bpm: hr,
        respiratory_rate_per_min: rr,
        spo2_percent: spo2,
        rass,
    }
}

fn rules(s: &VitalSet, t: &AlertThresholds) -> Vec<AlertRule> {
    evaluate(s, t).into_iter().map(|a| a.rule).collect()
}

#[test]
fn thresholds_at_their_edges() {
    let t = AlertThresholds::shipped();
    assert!(
        rules(&set(180, 100, 110, 14, 92, 0), &t).is_empty(),
        "at the limits: no alert (the rules are strict: above / below)"
    );
    assert_eq!(
        rules(&set(181, 80, 70, 14, 98, 0), &t),
        [AlertRule::BloodPressureHigh]
    );
    assert_eq!(
        rules(&set(150, 101, 70, 14, 98, 0), &t),
        [AlertRule::BloodPressureHigh]
    );
    assert_eq!(
        rules(&set(120, 80, 111, 14, 98, 0), &t),
        [AlertRule::HeartRateHigh]
    );
    assert_eq!(
        rules(&set(120, 80, 70, 14, 91, 0), &t),
        [AlertRule::Spo2Low]
    );
    assert_eq!(
        rules(&set(190, 110, 120, 14, 88, 0), &t),
        [
            AlertRule::BloodPressureHigh,
            AlertRule::HeartRateHigh,
            AlertRule::Spo2Low
        ]
    );
    // Respiratory rate and RASS need the clinic's setting: off by default.
    assert!(rules(&set(120, 80, 70, 4, 98, -5), &t).is_empty());
    assert_eq!(t.unset(), ["respiratory rate", "RASS"]);
    let set_by_clinic = AlertThresholds {
        respiratory_rate_below: Some(8),
        rass_at_or_below: Some(-3),
        rass_at_or_above: Some(3),
        ..t
    };
    assert_eq!(
        rules(&set(120, 80, 70, 7, 98, -3), &set_by_clinic),
        [AlertRule::RespiratoryRateLow, AlertRule::Oversedation]
    );
    assert_eq!(
        rules(&set(120, 80, 70, 8, 98, 3), &set_by_clinic),
        [AlertRule::Agitation]
    );
    assert_eq!(
        rules(&set(120, 80, 70, 8, 98, 2), &set_by_clinic),
        Vec::<AlertRule>::new()
    );
    let alert = &evaluate(&set(120, 80, 70, 14, 91, 0), &t)[0];
    assert_eq!(alert.message, "SpO2 91 % is below 92 %");
    assert!(alert.advice.contains("oxygen"));
}

#[test]
fn impossible_readings_are_refused_naming_the_field() {
    let input = |sys: &str, dia: &str, spo2: &str, rass: &str| VitalInput {
        systolic_mmhg: Some(sys.into()),
        diastolic_mmhg: Some(dia.into()),
        heart_rate_bpm: Some("70".into()),
        respiratory_rate_per_min: Some("14".into()),
        spo2_percent: Some(spo2.into()),
        rass: Some(rass.into()),
    };
    assert_eq!(
        VitalSet::parse(&input("120", "80", "98", "+1")).unwrap(),
        set(120, 80, 70, 14, 98, 1)
    );
    assert_eq!(
        VitalSet::parse(&input("120", "80", "98", "−2"))
            .unwrap()
            .rass,
        -2
    );
    let fields = |e: FieldErrors| e.0.into_iter().map(|f| f.field).collect::<Vec<_>>();
    assert_eq!(
        fields(VitalSet::parse(&input("1200", "80", "101", "5")).unwrap_err()),
        ["systolic_mmhg", "spo2_percent", "rass"]
    );
    assert_eq!(
        fields(VitalSet::parse(&input("80", "90", "98", "0")).unwrap_err()),
        ["diastolic_mmhg"]
    );
    assert_eq!(
        fields(VitalSet::parse(&VitalInput::default()).unwrap_err()).len(),
        6
    );
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 14, 0, 0).unwrap()
}

#[test]
fn vitals_are_due_every_ten_minutes_then_every_fifteen() {
    let s = MonitoringSchedule::shipped();
    assert_eq!(
        next_vitals_due(&s, None, None, None),
        None,
        "nothing due before the start"
    );
    assert_eq!(
        next_vitals_due(&s, Some(t0()), None, None),
        Some(t0() + Duration::minutes(10))
    );
    assert_eq!(
        next_vitals_due(&s, Some(t0()), None, Some(t0() + Duration::minutes(12))),
        Some(t0() + Duration::minutes(22))
    );
    // A set from before the start does not count.
    assert_eq!(
        next_vitals_due(&s, Some(t0()), None, Some(t0() - Duration::minutes(5))),
        Some(t0() + Duration::minutes(10))
    );
    let stop = t0() + Duration::minutes(40);
    assert_eq!(
        next_vitals_due(
            &s,
            Some(t0()),
            Some(stop),
            Some(t0() + Duration::minutes(38))
        ),
        Some(t0() + Duration::minutes(48)),
        "running cadence until a set after the stop"
    );
    assert_eq!(
        next_vitals_due(
            &s,
            Some(t0()),
            Some(stop),
            Some(stop + Duration::minutes(1))
        ),
        Some(stop + Duration::minutes(16))
    );
}

fn e(text: &str) -> Exact {
    Exact::parse(text).unwrap()
}

fn ev(action: PumpAction, minutes: i64, rate: Option<&str>) -> PumpEvent {
    PumpEvent {
        action,
        at: t0() + Duration::minutes(minutes),
        rate_ml_per_h: rate.map(e),
    }
}

#[test]
fn the_pump_record_gives_the_volume_delivered() {
    // Dakwar 2020 loading then maintenance, with a 5-minute pause.
    let record = [
        ev(PumpAction::Start, 0, Some("491.1")),
        ev(PumpAction::RateChange, 2, Some("107.2")),
        ev(PumpAction::Pause, 20, None),
        ev(PumpAction::Resume, 25, Some("107.2")),
        ev(PumpAction::Stop, 57, None),
    ];
    // 491.1 × 2/60 + 107.2 × 18/60 + 107.2 × 32/60 = 16.37 + 32.16 + 57.173… = 105.703…
    let expected = e("491.1")
        .times(Exact::integer(2))
        .plus(e("107.2").times(Exact::integer(50)))
        .checked_div(Exact::integer(60))
        .unwrap();
    assert_eq!(delivered_ml(&record, t0() + Duration::hours(2)), expected);
    assert_eq!(
        delivered_ml(&record[..1], t0() + Duration::minutes(1)),
        e("491.1").checked_div(Exact::integer(60)).unwrap(),
        "a running pump up to now"
    );
    assert_eq!(pump_state(&record), PumpState::Stopped);
    for (i, next) in record.iter().enumerate() {
        assert!(check_pump_event(&record[..i], next).is_ok(), "event {i}");
    }
    assert!(
        check_pump_event(&record, &ev(PumpAction::Resume, 60, Some("100"))).is_err(),
        "nothing after stop"
    );
    assert!(check_pump_event(&[], &ev(PumpAction::Pause, 0, None)).is_err());
    assert!(
        check_pump_event(&[], &ev(PumpAction::Start, 0, None)).is_err(),
        "a start needs a rate"
    );
    assert!(
        check_pump_event(&record[..1], &ev(PumpAction::Pause, -1, None)).is_err(),
        "time runs forward"
    );
}

#[test]
fn discharge_is_refused_until_every_criterion_is_met() {
    let good = DischargeAssessment {
        aldrete: Aldrete {
            activity: 2,
            respiration: 2,
            circulation: 2,
            consciousness: 2,
            spo2: 1,
        },
        dissociation_resolved: true,
        steady_gait: true,
        escort_name: Some("Luis Díaz".into()),
        escort_present: true,
        written_instructions_given: true,
    };
    assert!(
        unmet_discharge_criteria(&good, DEFAULT_ALDRETE_MINIMUM).is_empty(),
        "9 of 10 is enough"
    );
    let low = DischargeAssessment {
        aldrete: Aldrete {
            spo2: 0,
            ..good.aldrete
        },
        ..good.clone()
    };
    assert_eq!(
        unmet_discharge_criteria(&low, DEFAULT_ALDRETE_MINIMUM),
        ["modified Aldrete score 8 is below 9"]
    );
    let nobody = DischargeAssessment {
        escort_name: Some("  ".into()),
        dissociation_resolved: false,
        ..good.clone()
    };
    assert_eq!(
        unmet_discharge_criteria(&nobody, DEFAULT_ALDRETE_MINIMUM),
        [
            "dissociation has not resolved",
            "no escort present and named"
        ]
    );
    assert!(Aldrete::parse([Some("2"), Some("3"), None, Some("1"), Some("x")]).is_err());
    assert_eq!(
        Aldrete::parse([Some("2"), Some("2"), Some("1"), Some("2"), Some("2")])
            .unwrap()
            .total(),
        9
    );
}

proptest! {
    /// Over every possible reading: an alert is raised exactly when a value passes its limit;
    /// a worse value never removes an alert.
    #[test]
    fn alerts_match_their_definition(sys in 40u32..=300, dia in 20u32..=200, hr in 20u32..=250, rr in 0u32..=80, spo2 in 50u32..=100, rass in -5i32..=4) {
        let t = AlertThresholds { respiratory_rate_below: Some(8), rass_at_or_below: Some(-3), rass_at_or_above: Some(3), ..AlertThresholds::shipped() };
        let got = rules(&set(sys, dia, hr, rr, spo2, rass), &t);
        prop_assert_eq!(got.contains(&AlertRule::BloodPressureHigh), sys > 180 || dia > 100);
        prop_assert_eq!(got.contains(&AlertRule::HeartRateHigh), hr > 110);
        prop_assert_eq!(got.contains(&AlertRule::Spo2Low), spo2 < 92);
        prop_assert_eq!(got.contains(&AlertRule::RespiratoryRateLow), rr < 8);
        prop_assert_eq!(got.contains(&AlertRule::Oversedation), rass <= -3);
        prop_assert_eq!(got.contains(&AlertRule::Agitation), rass >= 3);
        let worse = rules(&set(sys.saturating_add(10).min(300), dia, hr.saturating_add(10).min(250), rr.saturating_sub(1), spo2.saturating_sub(1).max(50), rass), &t);
        for rule in &got {
            prop_assert!(worse.contains(rule), "{:?} disappeared when the readings got worse", rule);
        }
    }

    /// The delivered volume is never negative, grows with time, and equals the hand sum of rate × running time.
    #[test]
    fn delivered_volume_is_the_sum_of_rate_times_time(steps in prop::collection::vec((0u8..3, 1i64..30, 1u32..5000), 1..12), later in 0i64..120) {
        let mut record = vec![ev(PumpAction::Start, 0, Some("100"))];
        let mut minute = 0;
        let mut expected = Exact::integer(0);
        let mut rate = Some(e("100"));
        for (kind, gap, r) in steps {
            minute += gap;
            if let Some(current) = rate {
                expected = expected.plus(current.times(Exact::integer(i128::from(gap) * 60)).checked_div(Exact::integer(3600)).unwrap());
            }
            let next_rate = Exact::integer(i128::from(r)).checked_div(Exact::integer(10)).unwrap();
            let event = match (kind, rate) {
                (0, Some(_)) => PumpEvent { action: PumpAction::Pause, at: t0() + Duration::minutes(minute), rate_ml_per_h: None },
                (_, None) => PumpEvent { action: PumpAction::Resume, at: t0() + Duration::minutes(minute), rate_ml_per_h: Some(next_rate) },
                (_, Some(_)) => PumpEvent { action: PumpAction::RateChange, at: t0() + Duration::minutes(minute), rate_ml_per_h: Some(next_rate) },
            };
            prop_assert!(check_pump_event(&record, &event).is_ok());
            rate = event.rate_ml_per_h;
            record.push(event);
        }
        let end = t0() + Duration::minutes(minute);
        prop_assert_eq!(delivered_ml(&record, end), expected);
        let after = delivered_ml(&record, end + Duration::minutes(later));
        prop_assert!(after.cmp_value(expected).is_ge());
        prop_assert!(!Exact::integer(0).cmp_value(after).is_gt());
    }
}
