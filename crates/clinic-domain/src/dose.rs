//! The infusion dose calculator: from dosing weight, mg/kg, minutes, stock
//! strength and bag, the dose in mg, the stock volume to draw, the total
//! volume, the pump rate and mg/min. Every quantity is an exact rational
//! (inputs are decimals); nothing is clamped or rounded. A value that has no
//! finite decimal form is printed to 9 places and says so.
//!
//! Facts (clinical.md §6): ketamine HCl injection comes as 10, 50 and
//! 100 mg/mL [S40, S61]; 100 mg/mL must not be given IV undiluted [S40, S62];
//! rate (mL/h) = bag volume (mL) ÷ duration (h); worked example: 80 kg ×
//! 0.5 mg/kg = 40 mg = 0.4 mL of 100 mg/mL into 100 mL NS ≈ 100.4 mL →
//! 150.6 mL/h over 40 min.

use crate::field::{FieldError, FieldErrors};

/// An exact non-negative rational, reduced; inputs have at most
/// `MAX_DECIMALS` decimal places and magnitudes far below overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exact {
    num: i128,
    den: i128,
}

/// Decimal places accepted in an input (more is a typing error, not
/// precision); whole parts have at most 9 digits, far below overflow.
pub const MAX_DECIMALS: u32 = 4;
/// Places printed for a value with no finite decimal form.
pub const PRINTED_PLACES: u32 = 9;

fn gcd(a: i128, b: i128) -> i128 {
    let (mut a, mut b) = (a.abs(), b.abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Exact {
    fn new(num: i128, den: i128) -> Exact {
        let g = gcd(num, den).max(1);
        let sign = if den < 0 { -1 } else { 1 };
        Exact { num: sign * num / g, den: sign * den / g }
    }

    pub fn integer(n: i128) -> Exact {
        Exact { num: n, den: 1 }
    }

    /// Parses a plain decimal such as `80`, `0.5` or `72.25`.
    pub fn parse(text: &str) -> Option<Exact> {
        let text = text.trim();
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty() && frac.is_empty() {
            return None;
        }
        let digits_ok = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        let (negative, whole) = match whole.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, whole),
        };
        if !digits_ok(whole) || !digits_ok(frac) || u32::try_from(frac.len()).map_or(true, |n| n > MAX_DECIMALS) || whole.len() > 9 {
            return None;
        }
        let scale = 10i128.pow(u32::try_from(frac.len()).ok()?);
        let whole_value: i128 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
        let frac_value: i128 = if frac.is_empty() { 0 } else { frac.parse().ok()? };
        let magnitude = whole_value * scale + frac_value;
        Some(Exact::new(if negative { -magnitude } else { magnitude }, scale))
    }

    pub fn times(self, other: Exact) -> Exact {
        Exact::new(self.num * other.num, self.den * other.den)
    }

    pub fn checked_div(self, other: Exact) -> Option<Exact> {
        (other.num != 0).then(|| Exact::new(self.num * other.den, self.den * other.num))
    }

    pub fn plus(self, other: Exact) -> Exact {
        Exact::new(self.num * other.den + other.num * self.den, self.den * other.den)
    }

    pub fn minus(self, other: Exact) -> Exact {
        Exact::new(self.num * other.den - other.num * self.den, self.den * other.den)
    }

    /// Numerator and denominator, reduced.
    pub fn fraction(self) -> (i128, i128) {
        (self.num, self.den)
    }

    pub fn is_positive(self) -> bool {
        self.num > 0
    }

    pub fn cmp_value(self, other: Exact) -> std::cmp::Ordering {
        (self.num * other.den).cmp(&(other.num * self.den))
    }

    /// Whether the value has a finite decimal form (denominator 2^a·5^b).
    pub fn terminates(self) -> bool {
        let mut d = self.den;
        for p in [2, 5] {
            while d % p == 0 {
                d /= p;
            }
        }
        d == 1
    }

    /// The decimal text: exact when it terminates, else rounded half-up to
    /// `PRINTED_PLACES` places (and `terminates()` says which).
    pub fn to_decimal(self) -> String {
        let negative = self.num < 0;
        let num = self.num.abs();
        let whole = num / self.den;
        let mut rest = num % self.den;
        let mut digits = String::new();
        let limit = if self.terminates() { 40 } else { PRINTED_PLACES };
        let mut places = 0;
        while rest != 0 && places < limit {
            rest *= 10;
            digits.push(char::from(b'0' + u8::try_from(rest / self.den).unwrap_or(0)));
            rest %= self.den;
            places += 1;
        }
        let mut text = if digits.is_empty() { whole.to_string() } else { format!("{whole}.{digits}") };
        if !self.terminates() && rest * 2 >= self.den {
            text = round_up_last_digit(&text);
        }
        if negative {
            format!("-{text}")
        } else {
            text
        }
    }
}

/// Adds one unit in the last place of a decimal string.
fn round_up_last_digit(text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let mut i = chars.len();
    loop {
        if i == 0 {
            chars.insert(0, '1');
            break;
        }
        i -= 1;
        match chars[i] {
            '.' => continue,
            '9' => chars[i] = '0',
            c => {
                chars[i] = char::from(u8::try_from(u32::from(c) + 1).unwrap_or(b'0'));
                break;
            }
        }
    }
    chars.into_iter().collect()
}

/// Guards against typing errors (pounds for kilograms, a misplaced decimal
/// point). They are not clinical maxima. Shipped defaults (DESIGN.md), site
/// settings in the server: weight 30–250 kg; dose 0.05–2.5 mg/kg (2.5 mg/kg is
/// the highest research dose in clinical.md §2.1, Krupitsky's IM dose);
/// minutes 2–240.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlausibilityLimits {
    pub weight_kg: (Exact, Exact),
    pub dose_mg_per_kg: (Exact, Exact),
    pub minutes: (Exact, Exact),
}

impl PlausibilityLimits {
    pub fn shipped() -> PlausibilityLimits {
        let d = |text: &str| Exact::parse(text).unwrap_or(Exact::integer(0));
        PlausibilityLimits { weight_kg: (d("30"), d("250")), dose_mg_per_kg: (d("0.05"), d("2.5")), minutes: (d("2"), d("240")) }
    }
}

/// The stock strengths of clinical.md §6 (ketamine HCl injection).
pub const STOCK_MG_PER_ML: [i128; 3] = [10, 50, 100];

/// Inputs as typed (command-line flags or a form).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DoseInput {
    pub weight_kg: Option<String>,
    pub dose_mg_per_kg: Option<String>,
    pub minutes: Option<String>,
    pub stock_mg_per_ml: Option<String>,
    pub bag_ml: Option<String>,
    pub withdraw_from_bag: bool,
    pub override_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoseResult {
    pub weight_kg: Exact,
    pub dose_mg_per_kg: Exact,
    pub minutes: Exact,
    pub stock_mg_per_ml: Exact,
    /// `None`: the dose runs from a syringe.
    pub bag_ml: Option<Exact>,
    pub withdraw_from_bag: bool,
    pub dose_mg: Exact,
    pub stock_volume_ml: Exact,
    pub total_volume_ml: Exact,
    pub rate_ml_per_h: Exact,
    pub mg_per_min: Exact,
    /// mg/mL in what is infused.
    pub final_mg_per_ml: Exact,
    /// Inputs outside the plausibility limits accepted with the physician's reason.
    pub warnings: Vec<String>,
}

fn number(errors: &mut Vec<FieldError>, field: &str, unit: &str, text: Option<&str>) -> Option<Exact> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        errors.push(FieldError::new(field, format!("is required, a number of {unit}")));
        return None;
    };
    match Exact::parse(text) {
        Some(value) if value.is_positive() => Some(value),
        Some(_) => {
            errors.push(FieldError::new(field, format!("must be greater than 0 {unit}, got {text}")));
            None
        }
        None => {
            errors.push(FieldError::new(field, format!("must be a number of {unit} with at most {MAX_DECIMALS} decimals, got {text:?}")));
            None
        }
    }
}

/// Computes the dose, refusing impossible input and, without a written
/// reason, input outside the plausibility limits. Reports every problem.
pub fn calculate(input: &DoseInput, limits: &PlausibilityLimits) -> Result<DoseResult, FieldErrors> {
    let mut errors = Vec::new();
    let weight = number(&mut errors, "weight_kg", "kg", input.weight_kg.as_deref());
    let dose = number(&mut errors, "dose_mg_per_kg", "mg/kg", input.dose_mg_per_kg.as_deref());
    let minutes = number(&mut errors, "minutes", "minutes", input.minutes.as_deref());
    let stock = number(&mut errors, "stock_mg_per_ml", "mg/mL", input.stock_mg_per_ml.as_deref());
    if let Some(stock) = stock {
        if !STOCK_MG_PER_ML.iter().any(|s| Exact::integer(*s) == stock) {
            errors.push(FieldError::new("stock_mg_per_ml", "must be one of: 10, 50, 100 (mg/mL, the ketamine HCl injection strengths)"));
        }
    }
    let bag = match input.bag_ml.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(text) => number(&mut errors, "bag_ml", "mL", Some(text)),
    };
    if input.bag_ml.is_none() && input.withdraw_from_bag {
        errors.push(FieldError::new("withdraw_from_bag", "needs a bag volume: there is no bag to withdraw from"));
    }
    if bag.is_none() && input.bag_ml.is_none() && stock == Some(Exact::integer(100)) {
        errors.push(FieldError::new("stock_mg_per_ml", "100 mg/mL is never given undiluted: give a bag volume, or use 10 or 50 mg/mL from a syringe"));
    }
    let reason = input.override_reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
    let mut warnings = Vec::new();
    let mut check = |field: &str, unit: &str, value: Option<Exact>, (low, high): (Exact, Exact)| {
        let Some(value) = value else { return };
        if value.cmp_value(low).is_lt() || value.cmp_value(high).is_gt() {
            let what = format!("{} {unit} is outside the plausibility limits {}–{} {unit}", value.to_decimal(), low.to_decimal(), high.to_decimal());
            match reason {
                Some(reason) => warnings.push(format!("{field}: {what}; accepted with the reason: {reason}")),
                None => errors.push(FieldError::new(field, format!("{what}; check the entry, or give an override reason"))),
            }
        }
    };
    check("weight_kg", "kg", weight, limits.weight_kg);
    check("dose_mg_per_kg", "mg/kg", dose, limits.dose_mg_per_kg);
    check("minutes", "min", minutes, limits.minutes);
    let (Some(weight), Some(dose), Some(minutes), Some(stock)) = (weight, dose, minutes, stock) else {
        return Err(FieldErrors(errors));
    };
    let dose_mg = weight.times(dose);
    let stock_volume_ml = dose_mg.checked_div(stock).ok_or_else(|| FieldErrors::one("stock_mg_per_ml", "must be greater than 0"))?;
    let total_volume_ml = match bag {
        None => stock_volume_ml,
        Some(bag) if input.withdraw_from_bag => {
            if stock_volume_ml.cmp_value(bag).is_gt() {
                errors.push(FieldError::new(
                    "bag_ml",
                    format!("the stock volume {} mL is more than the bag's {} mL: nothing would be left to withdraw", stock_volume_ml.to_decimal(), bag.to_decimal()),
                ));
            }
            // The same volume withdrawn first, then the stock added: the bag's volume.
            bag
        }
        Some(bag) => bag.plus(stock_volume_ml),
    };
    if !errors.is_empty() {
        return Err(FieldErrors(errors));
    }
    let hours = minutes.checked_div(Exact::integer(60)).ok_or_else(|| FieldErrors::one("minutes", "must be greater than 0"))?;
    let rate_ml_per_h = total_volume_ml.checked_div(hours).ok_or_else(|| FieldErrors::one("minutes", "must be greater than 0"))?;
    let mg_per_min = dose_mg.checked_div(minutes).ok_or_else(|| FieldErrors::one("minutes", "must be greater than 0"))?;
    let final_mg_per_ml = dose_mg.checked_div(total_volume_ml).ok_or_else(|| FieldErrors::one("bag_ml", "must be greater than 0"))?;
    Ok(DoseResult {
        weight_kg: weight,
        dose_mg_per_kg: dose,
        minutes,
        stock_mg_per_ml: stock,
        bag_ml: bag,
        withdraw_from_bag: input.withdraw_from_bag,
        dose_mg,
        stock_volume_ml,
        total_volume_ml,
        rate_ml_per_h,
        mg_per_min,
        final_mg_per_ml,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn input(weight: &str, dose: &str, minutes: &str, stock: &str, bag: Option<&str>) -> DoseInput {
        DoseInput {
            weight_kg: Some(weight.into()),
            dose_mg_per_kg: Some(dose.into()),
            minutes: Some(minutes.into()),
            stock_mg_per_ml: Some(stock.into()),
            bag_ml: bag.map(str::to_string),
            ..DoseInput::default()
        }
    }

    fn fields(err: &FieldErrors) -> Vec<&str> {
        err.0.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn the_reference_worked_example() {
        // clinical.md §6: 80 kg × 0.5 mg/kg = 40 mg = 0.4 mL of 100 mg/mL into 100 mL NS (100.4 mL) → 150.6 mL/h over 40 min.
        let r = calculate(&input("80", "0.5", "40", "100", Some("100")), &PlausibilityLimits::shipped()).unwrap();
        assert_eq!(r.dose_mg.to_decimal(), "40");
        assert_eq!(r.stock_volume_ml.to_decimal(), "0.4");
        assert_eq!(r.total_volume_ml.to_decimal(), "100.4");
        assert_eq!(r.rate_ml_per_h.to_decimal(), "150.6");
        assert_eq!(r.mg_per_min.to_decimal(), "1");
        assert!(r.warnings.is_empty());
        // Withdrawing the same volume first leaves the bag's volume.
        let w = calculate(&DoseInput { withdraw_from_bag: true, ..input("80", "0.5", "40", "100", Some("100")) }, &PlausibilityLimits::shipped()).unwrap();
        assert_eq!((w.total_volume_ml.to_decimal(), w.rate_ml_per_h.to_decimal()), ("100".into(), "150".into()));
    }

    #[test]
    fn a_syringe_and_a_value_without_a_finite_decimal() {
        // 70 kg × 0.71 mg/kg = 49.7 mg of 10 mg/mL = 4.97 mL over 52 min; rate 4.97 × 60/52 = 5.734615384…
        let r = calculate(&input("70", "0.71", "52", "10", None), &PlausibilityLimits::shipped()).unwrap();
        assert_eq!(r.total_volume_ml.to_decimal(), "4.97");
        assert!(!r.rate_ml_per_h.terminates());
        assert_eq!(r.rate_ml_per_h.to_decimal(), "5.734615385");
        assert_eq!(r.mg_per_min.to_decimal(), "0.955769231");
    }

    #[test]
    fn refusals_name_every_field() {
        let limits = PlausibilityLimits::shipped();
        let err = calculate(&input("0", "-1", "ten", "25", None), &limits).unwrap_err();
        assert_eq!(fields(&err), ["weight_kg", "dose_mg_per_kg", "minutes", "stock_mg_per_ml"]);
        let undiluted = calculate(&input("80", "0.5", "40", "100", None), &limits).unwrap_err();
        assert_eq!(fields(&undiluted), ["stock_mg_per_ml"]);
        assert!(undiluted.0[0].message.contains("never given undiluted"));
        // Pounds for kilograms: refused without a reason, accepted and reported with one.
        let pounds = input("176", "0.5", "40", "50", Some("100"));
        assert!(calculate(&pounds, &limits).is_ok(), "176 kg is within 30–250");
        let too_heavy = input("300", "0.5", "40", "50", Some("100"));
        assert_eq!(fields(&calculate(&too_heavy, &limits).unwrap_err()), ["weight_kg"]);
        let reasoned = calculate(&DoseInput { override_reason: Some("bariatric patient, weight confirmed on the scale".into()), ..too_heavy }, &limits).unwrap();
        assert_eq!(reasoned.warnings.len(), 1);
        assert!(reasoned.warnings[0].starts_with("weight_kg: 300 kg is outside"));
        assert_eq!(reasoned.dose_mg.to_decimal(), "150", "never clamped: 300 × 0.5");
        let too_much = DoseInput { withdraw_from_bag: true, ..input("100", "2", "40", "10", Some("10")) };
        assert_eq!(fields(&calculate(&too_much, &limits).unwrap_err()), ["bag_ml"]);
        let no_bag = DoseInput { withdraw_from_bag: true, ..input("80", "0.5", "40", "10", None) };
        assert_eq!(fields(&calculate(&no_bag, &limits).unwrap_err()), ["withdraw_from_bag"]);
        assert_eq!(fields(&calculate(&input("80", "0.12345", "40", "10", None), &limits).unwrap_err()), ["dose_mg_per_kg"]);
    }

    #[test]
    fn decimals_print_exactly_and_round_half_up() {
        assert_eq!(Exact::parse("0.71").unwrap().to_decimal(), "0.71");
        assert_eq!(Exact::parse("007.50").unwrap().to_decimal(), "7.5");
        assert_eq!(Exact::integer(2).checked_div(Exact::integer(3)).unwrap().to_decimal(), "0.666666667");
        assert_eq!(Exact::integer(1).checked_div(Exact::integer(3)).unwrap().to_decimal(), "0.333333333");
        assert_eq!(Exact::integer(19_999_999_999).checked_div(Exact::integer(3_000_000_000)).unwrap().to_decimal(), "6.666666666", "6.666666666333… rounds down");
        assert_eq!(round_up_last_digit("9.999"), "10.000");
        for bad in ["", ".", "1.2.3", "1e3", "abc", "1.23456", "12345678901"] {
            assert!(Exact::parse(bad).is_none(), "{bad}");
        }
    }

    fn decimal(max_whole: u32) -> impl Strategy<Value = String> {
        (1u32..max_whole, 0u32..10_000).prop_map(|(w, f)| format!("{w}.{f:04}"))
    }

    proptest! {
        /// Over the stated ranges: dose = weight × mg/kg, stock = dose / strength,
        /// rate × hours = total volume, mg/min × minutes = dose — exactly, never clamped.
        #[test]
        fn the_arithmetic_is_exact(weight in decimal(300), dose in decimal(3), minutes in decimal(300), stock_idx in 0usize..3, bag in proptest::option::of(decimal(1000)), withdraw in any::<bool>()) {
            let stock = STOCK_MG_PER_ML[stock_idx].to_string();
            let input = DoseInput {
                weight_kg: Some(weight.clone()),
                dose_mg_per_kg: Some(dose.clone()),
                minutes: Some(minutes.clone()),
                stock_mg_per_ml: Some(stock.clone()),
                bag_ml: bag.clone(),
                withdraw_from_bag: withdraw && bag.is_some(),
                override_reason: Some("property test".into()),
            };
            match calculate(&input, &PlausibilityLimits::shipped()) {
                Ok(r) => {
                    let e = |t: &str| Exact::parse(t).unwrap();
                    prop_assert_eq!(r.dose_mg, e(&weight).times(e(&dose)));
                    prop_assert_eq!(r.stock_volume_ml.times(e(&stock)), r.dose_mg);
                    prop_assert_eq!(r.rate_ml_per_h.times(e(&minutes)).checked_div(Exact::integer(60)).unwrap(), r.total_volume_ml);
                    prop_assert_eq!(r.mg_per_min.times(e(&minutes)), r.dose_mg);
                    match (&bag, input.withdraw_from_bag) {
                        (None, _) => prop_assert_eq!(r.total_volume_ml, r.stock_volume_ml),
                        (Some(b), true) => prop_assert_eq!(r.total_volume_ml, e(b)),
                        (Some(b), false) => prop_assert_eq!(r.total_volume_ml, e(b).plus(r.stock_volume_ml)),
                    }
                }
                Err(err) => {
                    // Only the refusals that hold whatever the reason: undiluted 100 mg/mL, or a withdrawal larger than the bag.
                    for e in &err.0 {
                        prop_assert!(e.field == "stock_mg_per_ml" || e.field == "bag_ml", "{}: {}", e.field, e.message);
                    }
                }
            }
        }

        /// Without a reason, every value outside a limit is refused, and none inside is.
        #[test]
        fn limits_refuse_exactly_outside(weight in 1u32..400, dose_hundredths in 1u32..400, minutes in 1u32..400) {
            let input = input(&weight.to_string(), &format!("{}.{:02}", dose_hundredths / 100, dose_hundredths % 100), &minutes.to_string(), "10", Some("100"));
            let outside = !(30..=250).contains(&weight) || !(5..=250).contains(&dose_hundredths) || !(2..=240).contains(&minutes);
            prop_assert_eq!(calculate(&input, &PlausibilityLimits::shipped()).is_err(), outside);
        }
    }
}
