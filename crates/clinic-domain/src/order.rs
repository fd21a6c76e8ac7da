//! A weight-based infusion order and its independent double check.
//!
//! The physician orders a planned infusion: the dosing weight and the date
//! it was measured, the dose in mg/kg per phase with its minutes, the stock
//! strength (10, 50 or 100 mg/mL) and a bag of 0.9 % NaCl or a syringe. The
//! arithmetic is `dose::calculate` on the whole dose (mg, stock volume, total
//! volume, final concentration), then per phase: the phase's mg, its share of
//! the volume at the bag's single concentration, its pump rate in mL/h and
//! its mg/min. Everything is exact. Rounding to what a pump or syringe can
//! deliver is a separate, visible line (pump setting, the mg it delivers and
//! the difference), made only when the clinic has set the pump and syringe
//! steps; the exact figures are never replaced.
//!
//! Impossible input is refused naming the field. Input outside the
//! plausibility limits is refused unless the physician writes a reason. A
//! dose or length other than the protocol's, or other than the plan's, is a
//! warning the physician acknowledges before signing. Then a second
//! clinician, not the one who ordered, enters the weight and each phase's
//! mg/kg without seeing the order; the entries must equal the order exactly,
//! or the check fails, naming every difference, and the infusion may not start.

use chrono::NaiveDate;

use crate::dose::{DoseInput, DoseResult, Exact, PlausibilityLimits, calculate};
use crate::field::{FieldError, FieldErrors};
use crate::protocol::decimal::Decimal;
use crate::protocol::definition::Phase;

wire_enum!(
    /// Which weight the dose is based on: a clinic policy (clinical.md §2.1:
    /// the trials dosed on body weight; no consensus on adjusted weight in
    /// obesity, so the clinic chooses).
    WeightBasis, "weight_basis" {
        Actual => "actual",
        Adjusted => "adjusted",
    }
);

wire_enum!(
    /// An order's state: signed and awaiting its check, checked and
    /// matching (ready), a failed check (blocked until a matching one), or
    /// cancelled.
    OrderStatus, "status" {
        AwaitingCheck => "awaiting_check",
        Verified => "verified",
        CheckFailed => "check_failed",
        Cancelled => "cancelled",
    }
);

/// The clinic's order settings. Pump and syringe steps are unset unless the
/// clinic sets them (the reference gives none): then no rounding is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderSettings {
    pub limits: PlausibilityLimits,
    pub weight_basis: WeightBasis,
    /// The smallest pump rate step, mL/h (e.g. 0.1).
    pub pump_step_ml_per_h: Option<Exact>,
    /// The smallest syringe graduation used to draw the stock, mL (e.g. 0.1).
    pub syringe_step_ml: Option<Exact>,
}

impl OrderSettings {
    /// Body weight, as the trials dosed (clinical.md §2.1); the shipped plausibility limits; no rounding steps.
    pub fn shipped() -> OrderSettings {
        OrderSettings {
            limits: PlausibilityLimits::shipped(),
            weight_basis: WeightBasis::Actual,
            pump_step_ml_per_h: None,
            syringe_step_ml: None,
        }
    }
}

/// An order as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderInput {
    pub weight_kg: Option<String>,
    /// YYYY-MM-DD.
    pub weight_measured_on: Option<String>,
    /// (mg/kg, minutes) per phase, in order.
    pub phases: Vec<(Option<String>, Option<String>)>,
    pub stock_mg_per_ml: Option<String>,
    /// None: a syringe (10 or 50 mg/mL only).
    pub bag_ml: Option<String>,
    pub withdraw_from_bag: bool,
    /// Why input outside the plausibility limits is right.
    pub override_reason: Option<String>,
    /// The physician has read the warnings (dose other than the protocol's or the plan's).
    pub acknowledge_warnings: bool,
}

/// One phase worked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseCalc {
    pub dose_mg_per_kg: Exact,
    pub minutes: Exact,
    pub dose_mg: Exact,
    pub volume_ml: Exact,
    pub rate_ml_per_h: Exact,
    pub mg_per_min: Exact,
    /// The pump setting rounded to the clinic's step, the mg it delivers over the phase, and that minus the ordered mg.
    pub pump: Option<Rounded>,
}

/// A figure rounded to what a device can deliver, with its consequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rounded {
    pub setting: Exact,
    pub delivers_mg: Exact,
    pub difference_mg: Exact,
}

/// A worked-out order: the whole dose and each phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderCalc {
    pub weight_kg: Exact,
    pub weight_measured_on: NaiveDate,
    pub weight_basis: WeightBasis,
    pub total: DoseResult,
    pub phases: Vec<PhaseCalc>,
    /// The stock volume rounded to the syringe step, the mg it holds, and the difference.
    pub stock_draw: Option<Rounded>,
    /// Plausibility overrides (with the reason) and the acknowledged warnings.
    pub warnings: Vec<String>,
    /// Why no rounding is shown, when the clinic has not set the steps.
    pub rounding_note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error(transparent)]
    Invalid(#[from] FieldErrors),
    /// Warnings the physician must acknowledge before signing.
    #[error("acknowledge_warnings: {}", .0.join("; "))]
    NeedsAcknowledgement(Vec<String>),
}

fn exact_of(d: Decimal) -> Option<Exact> {
    Exact::integer(i128::from(d.micros())).checked_div(Exact::integer(1_000_000))
}

/// The nearest multiple of `step` (halves away from zero; values are positive).
pub fn round_to_step(value: Exact, step: Exact) -> Option<Exact> {
    let (n, d) = value.checked_div(step)?.fraction();
    let k = (2 * n + d).div_euclid(2 * d);
    Some(Exact::integer(k).times(step))
}

fn phases_text(phases: &[(Exact, Exact)]) -> String {
    phases
        .iter()
        .map(|(d, m)| format!("{} mg/kg over {} min", d.to_decimal(), m.to_decimal()))
        .collect::<Vec<_>>()
        .join(", then ")
}

/// Works out an order for a planned infusion whose plan gives `planned`
/// phases and whose protocol gives `protocol` phases (and an optional
/// maximum mg/kg). `today` bounds the weight date.
pub fn compute(
    input: &OrderInput,
    planned: &[Phase],
    protocol: &[Phase],
    protocol_max_mg_per_kg: Option<Decimal>,
    settings: &OrderSettings,
    today: NaiveDate,
) -> Result<OrderCalc, OrderError> {
    let mut errors = Vec::new();
    let measured = match input
        .weight_measured_on
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        None => {
            errors.push(FieldError::new(
                "weight_measured_on",
                "required: the date the weight was measured, YYYY-MM-DD",
            ));
            None
        }
        Some(text) => match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(date) if date > today => {
                errors.push(FieldError::new(
                    "weight_measured_on",
                    format!("{date} is in the future"),
                ));
                None
            }
            Ok(date) => Some(date),
            Err(_) => {
                errors.push(FieldError::new(
                    "weight_measured_on",
                    format!("{text:?} is not a date as YYYY-MM-DD"),
                ));
                None
            }
        },
    };
    if input.phases.is_empty() {
        errors.push(FieldError::new(
            "phases",
            "at least one phase: mg/kg and minutes",
        ));
    }
    let mut phases: Vec<(Exact, Exact)> = Vec::new();
    for (i, (dose, minutes)) in input.phases.iter().enumerate() {
        let parse = |field: String,
                     text: Option<&str>,
                     unit: &str,
                     errors: &mut Vec<FieldError>| match text
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            None => {
                errors.push(FieldError::new(
                    field,
                    format!("required, a number of {unit}"),
                ));
                None
            }
            Some(text) => match Exact::parse(text) {
                Some(v) if v.is_positive() => Some(v),
                Some(_) => {
                    errors.push(FieldError::new(
                        field,
                        format!("must be greater than 0 {unit}"),
                    ));
                    None
                }
                None => {
                    errors.push(FieldError::new(
                        field,
                        format!("{text:?} is not a number of {unit} with at most 4 decimals"),
                    ));
                    None
                }
            },
        };
        let d = parse(
            format!("phases[{i}].dose_mg_per_kg"),
            dose.as_deref(),
            "mg/kg",
            &mut errors,
        );
        let m = parse(
            format!("phases[{i}].minutes"),
            minutes.as_deref(),
            "minutes",
            &mut errors,
        );
        if let (Some(d), Some(m)) = (d, m) {
            phases.push((d, m));
        }
    }
    let total_dose = phases
        .iter()
        .fold(Exact::integer(0), |sum, (d, _)| sum.plus(*d));
    let total_minutes = phases
        .iter()
        .fold(Exact::integer(0), |sum, (_, m)| sum.plus(*m));
    let whole = DoseInput {
        weight_kg: input.weight_kg.clone(),
        dose_mg_per_kg: (!phases.is_empty()).then(|| total_dose.to_decimal()),
        minutes: (!phases.is_empty()).then(|| total_minutes.to_decimal()),
        stock_mg_per_ml: input.stock_mg_per_ml.clone(),
        bag_ml: input.bag_ml.clone(),
        withdraw_from_bag: input.withdraw_from_bag,
        override_reason: input.override_reason.clone(),
    };
    let total = match calculate(&whole, &settings.limits) {
        Ok(total) => Some(total),
        Err(e) => {
            // The phases' own errors are named already; the totals' are about the sums.
            for err in e.0 {
                let named = !phases.is_empty()
                    || !matches!(err.field.as_str(), "dose_mg_per_kg" | "minutes");
                if named && !errors.iter().any(|x| x.field == err.field) {
                    errors.push(err);
                }
            }
            None
        }
    };
    let (Some(total), Some(measured), true) = (total, measured, errors.is_empty()) else {
        return Err(OrderError::Invalid(FieldErrors(errors)));
    };
    // Warnings the physician acknowledges: other than the plan, other than the protocol.
    let as_exact = |list: &[Phase]| -> Vec<(Exact, Exact)> {
        list.iter()
            .filter_map(|p| {
                Some((
                    exact_of(p.dose_mg_per_kg)?,
                    Exact::integer(i128::from(p.minutes)),
                ))
            })
            .collect()
    };
    let mut acknowledge = Vec::new();
    let plan = as_exact(planned);
    if plan != phases {
        acknowledge.push(format!(
            "the order ({}) differs from the signed plan ({})",
            phases_text(&phases),
            phases_text(&plan)
        ));
    }
    let proto = as_exact(protocol);
    match protocol_max_mg_per_kg.and_then(exact_of) {
        Some(max) if total_dose.cmp_value(max).is_gt() => acknowledge.push(format!(
            "{} mg/kg is above the protocol's maximum {} mg/kg",
            total_dose.to_decimal(),
            max.to_decimal()
        )),
        Some(_) => {}
        None if proto != phases => acknowledge.push(format!(
            "the order ({}) differs from the protocol ({})",
            phases_text(&phases),
            phases_text(&proto)
        )),
        None => {}
    }
    if !acknowledge.is_empty() && !input.acknowledge_warnings {
        return Err(OrderError::NeedsAcknowledgement(acknowledge));
    }
    let mut warnings = total.warnings.clone();
    warnings.extend(acknowledge.iter().map(|w| format!("{w} (acknowledged)")));
    let mut phase_calcs = Vec::with_capacity(phases.len());
    for (dose, minutes) in &phases {
        let dose_mg = total.weight_kg.times(*dose);
        let volume_ml = dose_mg
            .checked_div(total.final_mg_per_ml)
            .ok_or_else(|| FieldErrors::one("bag_ml", "gives no concentration"))?;
        let hours = minutes
            .checked_div(Exact::integer(60))
            .ok_or_else(|| FieldErrors::one("phases", "a phase has no minutes"))?;
        let rate_ml_per_h = volume_ml
            .checked_div(hours)
            .ok_or_else(|| FieldErrors::one("phases", "a phase has no minutes"))?;
        let mg_per_min = dose_mg
            .checked_div(*minutes)
            .ok_or_else(|| FieldErrors::one("phases", "a phase has no minutes"))?;
        let pump = settings.pump_step_ml_per_h.and_then(|step| {
            let setting = round_to_step(rate_ml_per_h, step)?;
            let delivers_mg = setting.times(hours).times(total.final_mg_per_ml);
            Some(Rounded {
                setting,
                delivers_mg,
                difference_mg: delivers_mg.minus(dose_mg),
            })
        });
        phase_calcs.push(PhaseCalc {
            dose_mg_per_kg: *dose,
            minutes: *minutes,
            dose_mg,
            volume_ml,
            rate_ml_per_h,
            mg_per_min,
            pump,
        });
    }
    let stock_draw = settings.syringe_step_ml.and_then(|step| {
        let setting = round_to_step(total.stock_volume_ml, step)?;
        let delivers_mg = setting.times(total.stock_mg_per_ml);
        Some(Rounded {
            setting,
            delivers_mg,
            difference_mg: delivers_mg.minus(total.dose_mg),
        })
    });
    let rounding_note = (settings.pump_step_ml_per_h.is_none() || settings.syringe_step_ml.is_none())
        .then(|| "pump and syringe steps: needs clinic setting; exact figures shown, round them by hand and record what was set".to_string());
    Ok(OrderCalc {
        weight_kg: total.weight_kg,
        weight_measured_on: measured,
        weight_basis: settings.weight_basis,
        total,
        phases: phase_calcs,
        stock_draw,
        warnings,
        rounding_note,
    })
}

/// The second clinician's entries against the order: every difference, in
/// words (empty means they agree). The words quote what was entered, never
/// the order, so the checker cannot copy the answer from a failed check.
/// Entries are compared as exact numbers, so "72.50" equals "72.5";
/// anything unreadable is a difference.
pub fn compare(
    order_weight: Exact,
    order_phases: &[Exact],
    weight: &str,
    phases: &[String],
) -> Vec<String> {
    let mut differences = Vec::new();
    match Exact::parse(weight) {
        Some(w) if w == order_weight => {}
        Some(w) => differences.push(format!("weight: entered {} kg, which does not match the order", w.to_decimal())),
        None => differences.push(format!("weight: {weight:?} is not a number of kg")),
    }
    if phases.len() != order_phases.len() {
        differences.push(format!(
            "phases: entered {}, the order has {}",
            phases.len(),
            order_phases.len()
        ));
    }
    for (i, (entered, ordered)) in phases.iter().zip(order_phases).enumerate() {
        match Exact::parse(entered) {
            Some(d) if d == *ordered => {}
            Some(d) => differences.push(format!("phase {}: entered {} mg/kg, which does not match the order", i + 1, d.to_decimal())),
            None => differences.push(format!(
                "phase {}: {entered:?} is not a number of mg/kg",
                i + 1
            )),
        }
    }
    differences
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn phase(d: &str, m: i64) -> Phase {
        Phase {
            dose_mg_per_kg: Decimal::parse(d).unwrap(),
            minutes: m,
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
    }

    fn input(weight: &str, phases: &[(&str, &str)], stock: &str, bag: Option<&str>) -> OrderInput {
        OrderInput {
            weight_kg: Some(weight.into()),
            weight_measured_on: Some("2026-11-30".into()),
            phases: phases
                .iter()
                .map(|(d, m)| (Some((*d).into()), Some((*m).into())))
                .collect(),
            stock_mg_per_ml: Some(stock.into()),
            bag_ml: bag.map(Into::into),
            ..OrderInput::default()
        }
    }

    fn e(text: &str) -> Exact {
        Exact::parse(text).unwrap()
    }

    /// Dakwar 2020: 0.11 mg/kg over 2 min then 0.60 mg/kg over 50 min, 80 kg, 10 mg/mL into a 100 mL bag.
    /// By hand: 8.8 + 48 = 56.8 mg; 5.68 mL of stock; 105.68 mL in all at 56.8/105.68 mg/mL;
    /// phase 1: 8.8 mg is 8.8/56.8 of 105.68 = 16.373… mL over 2 min = 491.19… mL/h, 4.4 mg/min;
    /// phase 2: 48 mg → 89.307… mL over 50 min = 107.168… mL/h, 0.96 mg/min.
    #[test]
    fn a_two_phase_order_worked_by_hand() {
        let planned = [phase("0.11", 2), phase("0.6", 50)];
        let calc = compute(
            &input("80", &[("0.11", "2"), ("0.6", "50")], "10", Some("100")),
            &planned,
            &planned,
            None,
            &OrderSettings::shipped(),
            today(),
        )
        .unwrap();
        assert_eq!(calc.total.dose_mg, e("56.8"));
        assert_eq!(calc.total.stock_volume_ml, e("5.68"));
        assert_eq!(calc.total.total_volume_ml, e("105.68"));
        assert_eq!(calc.phases[0].dose_mg, e("8.8"));
        assert_eq!(calc.phases[0].mg_per_min, e("4.4"));
        assert_eq!(calc.phases[1].mg_per_min, e("0.96"));
        // Exact fractions: 8.8/56.8 × 105.68 = 16.3729… and × 30 per hour.
        assert_eq!(
            calc.phases[0].volume_ml,
            e("105.68").times(e("8.8")).checked_div(e("56.8")).unwrap()
        );
        assert_eq!(
            calc.phases[0].rate_ml_per_h,
            calc.phases[0].volume_ml.times(Exact::integer(30))
        );
        assert_eq!(
            calc.phases[0].volume_ml.plus(calc.phases[1].volume_ml),
            calc.total.total_volume_ml,
            "the phases share the whole bag"
        );
        assert_eq!(
            calc.phases[1].rate_ml_per_h.to_decimal(),
            "107.168450704",
            "48/56.8 × 105.68 mL over 50 min"
        );
        assert!(calc.warnings.is_empty());
        assert!(
            calc.rounding_note.is_some(),
            "no steps set: exact figures only"
        );
        assert!(calc.phases.iter().all(|p| p.pump.is_none()));
    }

    /// The reference's worked example (clinical.md §6): 80 kg × 0.5 mg/kg = 40 mg = 0.4 mL of 100 mg/mL
    /// into 100 mL NS (100.4 mL, ≈0.40 mg/mL) → 150.6 mL/h for 40 min. Then by hand from 10 mg/mL:
    /// 4 mL into 100 mL → 104 mL at 156 mL/h.
    #[test]
    fn the_reference_worked_example_with_rounding_shown() {
        let planned = [phase("0.5", 40)];
        let settings = OrderSettings {
            pump_step_ml_per_h: Some(e("0.1")),
            syringe_step_ml: Some(e("0.1")),
            ..OrderSettings::shipped()
        };
        let calc = compute(
            &input("80", &[("0.5", "40")], "100", Some("100")),
            &planned,
            &planned,
            None,
            &settings,
            today(),
        )
        .unwrap();
        assert_eq!(
            (
                calc.total.dose_mg,
                calc.total.stock_volume_ml,
                calc.total.total_volume_ml
            ),
            (e("40"), e("0.4"), e("100.4"))
        );
        assert_eq!(calc.phases[0].rate_ml_per_h, e("150.6"));
        assert_eq!(
            calc.total.final_mg_per_ml.to_decimal(),
            "0.398406375",
            "≈0.40 mg/mL"
        );
        assert_eq!(calc.phases[0].pump.unwrap().setting, e("150.6"));
        let calc = compute(
            &input("80", &[("0.5", "40")], "10", Some("100")),
            &planned,
            &planned,
            None,
            &settings,
            today(),
        )
        .unwrap();
        assert_eq!(
            (
                calc.total.dose_mg,
                calc.total.total_volume_ml,
                calc.total.rate_ml_per_h
            ),
            (e("40"), e("104"), e("156"))
        );
        let pump = calc.phases[0].pump.unwrap();
        assert_eq!(
            (pump.setting, pump.difference_mg),
            (e("156"), Exact::integer(0))
        );
        // 73.3 kg: 36.65 mg, 3.665 mL of stock → drawn as 3.7 mL (37 mg, +0.35 mg); 103.665 mL over 40 min = 155.4975 mL/h → 155.5.
        let calc = compute(
            &input("73.3", &[("0.5", "40")], "10", Some("100")),
            &planned,
            &planned,
            None,
            &settings,
            today(),
        )
        .unwrap();
        let draw = calc.stock_draw.unwrap();
        assert_eq!(
            (draw.setting, draw.delivers_mg, draw.difference_mg),
            (e("3.7"), e("37"), e("0.35"))
        );
        assert_eq!(calc.phases[0].rate_ml_per_h, e("155.4975"));
        let pump = calc.phases[0].pump.unwrap();
        assert_eq!(pump.setting, e("155.5"));
        assert!(pump.difference_mg.is_positive());
        assert!(calc.rounding_note.is_none());
    }

    #[test]
    fn refusals_name_the_field() {
        let planned = [phase("0.5", 40)];
        let s = OrderSettings::shipped();
        let err = |i: OrderInput| match compute(&i, &planned, &planned, None, &s, today()) {
            Err(OrderError::Invalid(e)) => e.0.iter().map(|x| x.field.clone()).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            err(input("80", &[("0.5", "40")], "100", None)),
            ["stock_mg_per_ml"],
            "100 mg/mL never undiluted"
        );
        assert_eq!(
            err(input("80", &[("0.5", "40")], "25", Some("100"))),
            ["stock_mg_per_ml"]
        );
        assert_eq!(
            err(input("0", &[("0.5", "40")], "10", Some("100"))),
            ["weight_kg"]
        );
        assert_eq!(
            err(input(
                "80",
                &[("abc", "40"), ("0.1", "0")],
                "10",
                Some("100")
            )),
            ["phases[0].dose_mg_per_kg", "phases[1].minutes"]
        );
        assert!(
            compute(
                &input("176", &[("0.5", "40")], "10", Some("100")),
                &planned,
                &planned,
                None,
                &s,
                today()
            )
            .is_ok(),
            "plausible"
        );
    }

    #[test]
    fn plausibility_limits_need_a_reason_and_are_reported() {
        let planned = [phase("0.5", 40)];
        let mut i = input("300", &[("0.5", "40")], "10", Some("250"));
        let s = OrderSettings::shipped();
        assert!(
            matches!(compute(&i, &planned, &planned, None, &s, today()), Err(OrderError::Invalid(e)) if e.0[0].field == "weight_kg")
        );
        i.override_reason = Some("bariatric patient, weighed today".into());
        let calc = compute(&i, &planned, &planned, None, &s, today()).unwrap();
        assert!(calc.warnings[0].contains("accepted with the reason: bariatric patient"));
    }

    #[test]
    fn other_than_the_plan_or_protocol_needs_acknowledgement() {
        let protocol = [phase("0.5", 40)];
        let planned = [phase("0.6", 40)];
        let mut i = input("80", &[("0.7", "40")], "10", Some("100"));
        let s = OrderSettings::shipped();
        let Err(OrderError::NeedsAcknowledgement(w)) =
            compute(&i, &planned, &protocol, None, &s, today())
        else {
            panic!()
        };
        assert_eq!(
            w,
            [
                "the order (0.7 mg/kg over 40 min) differs from the signed plan (0.6 mg/kg over 40 min)",
                "the order (0.7 mg/kg over 40 min) differs from the protocol (0.5 mg/kg over 40 min)"
            ]
        );
        i.acknowledge_warnings = true;
        let calc = compute(&i, &planned, &protocol, None, &s, today()).unwrap();
        assert_eq!(calc.warnings.len(), 2);
        // Within a protocol maximum only the plan difference is left.
        let Err(OrderError::NeedsAcknowledgement(w)) = compute(
            &OrderInput {
                acknowledge_warnings: false,
                ..i.clone()
            },
            &planned,
            &protocol,
            Decimal::parse("1").ok(),
            &s,
            today(),
        ) else {
            panic!()
        };
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn the_weight_date_is_required_and_not_in_the_future() {
        let planned = [phase("0.5", 40)];
        let mut i = input("80", &[("0.5", "40")], "10", Some("100"));
        i.weight_measured_on = Some("2026-12-02".into());
        assert!(
            matches!(compute(&i, &planned, &planned, None, &OrderSettings::shipped(), today()), Err(OrderError::Invalid(e)) if e.0[0].field == "weight_measured_on")
        );
    }

    #[test]
    fn the_double_check_compares_exact_values() {
        let order = (e("72.5"), vec![e("0.11"), e("0.6")]);
        assert!(compare(order.0, &order.1, "72.50", &["0.110".into(), ".6".into()]).is_empty());
        assert_eq!(
            compare(order.0, &order.1, "725", &["0.11".into(), "0.6".into()]),
            ["weight: entered 725 kg, which does not match the order"]
        );
        assert_eq!(
            compare(order.0, &order.1, "72.5", &["0.11".into()]).len(),
            1
        );
        assert_eq!(
            compare(order.0, &order.1, "x", &["0.11".into(), "6".into()]).len(),
            2
        );
    }

    proptest! {
        /// Over the plausible ranges: dose_mg = weight × mg/kg, rate × time = volume per phase, the phases fill the bag, nothing clamped.
        #[test]
        fn arithmetic_holds_over_the_ranges(w in 300u32..2500, d1 in 5u32..150, m1 in 2u32..60, d2 in 0u32..100, m2 in 2u32..120, stock in 0usize..2, bag in prop::sample::select(vec![None, Some(50u32), Some(100), Some(250)])) {
            let weight = format!("{}.{}", w / 10, w % 10);
            let dose1 = format!("0.{d1:02}");
            let mut phases = vec![(dose1.clone(), m1.to_string())];
            if d2 > 0 { phases.push((format!("0.{d2:02}"), m2.to_string())); }
            let stock = ["10", "50"][stock];
            let i = OrderInput {
                weight_kg: Some(weight.clone()),
                weight_measured_on: Some("2026-11-30".into()),
                phases: phases.iter().map(|(d, m)| (Some(d.clone()), Some(m.clone()))).collect(),
                stock_mg_per_ml: Some(stock.into()),
                bag_ml: bag.map(|b| b.to_string()),
                acknowledge_warnings: true,
                ..OrderInput::default()
            };
            let planned: Vec<Phase> = phases.iter().map(|(d, m)| Phase { dose_mg_per_kg: Decimal::parse(d).unwrap(), minutes: m.parse().unwrap() }).collect();
            match compute(&i, &planned, &planned, None, &OrderSettings::shipped(), today()) {
                Ok(calc) => {
                    let mut volume = Exact::integer(0);
                    for (p, (d, m)) in calc.phases.iter().zip(&phases) {
                        prop_assert_eq!(p.dose_mg, e(&weight).times(e(d)));
                        prop_assert_eq!(p.dose_mg_per_kg, e(d));
                        prop_assert_eq!(p.rate_ml_per_h.times(e(m)).checked_div(Exact::integer(60)).unwrap(), p.volume_ml);
                        volume = volume.plus(p.volume_ml);
                    }
                    prop_assert_eq!(volume, calc.total.total_volume_ml);
                    prop_assert!(calc.warnings.is_empty());
                }
                Err(OrderError::Invalid(e)) => {
                    // Only the totals can leave the plausible range (two phases over 2.5 mg/kg or 240 min).
                    prop_assert!(e.0.iter().all(|x| x.field == "dose_mg_per_kg" || x.field == "minutes"), "{:?}", e);
                }
                Err(other) => prop_assert!(false, "{:?}", other),
            }
        }

        #[test]
        fn rounding_is_to_the_nearest_step(num in 1i128..1_000_000, step in prop::sample::select(vec!["0.1", "0.01", "1", "0.5"])) {
            let value = Exact::integer(num).checked_div(Exact::integer(1000)).unwrap();
            let step = e(step);
            let r = round_to_step(value, step).unwrap();
            // A multiple of the step, within half a step.
            let (_, den) = r.checked_div(step).unwrap().fraction();
            prop_assert_eq!(den, 1);
            let diff = if r.cmp_value(value).is_ge() { r.minus(value) } else { value.minus(r) };
            prop_assert!(diff.times(Exact::integer(2)).cmp_value(step).is_le());
        }
    }
}
