//! `ketaclinic dose`: the infusion dose calculator of DESIGN.md, with the
//! shipped plausibility limits used as they are. Quantities print as exact
//! decimals; one without a finite decimal form prints to 9 places and is
//! named in `not_exact` with its exact fraction.

use std::process::ExitCode;

use clinic_domain::dose::{calculate, DoseInput, Exact, PlausibilityLimits};
use clinic_domain::field::{FieldError, FieldErrors};

use crate::CliError;

#[derive(clap::Args)]
pub struct DoseArgs {
    /// Dosing weight in kg (plausible 30–250 unless --override-reason).
    #[arg(long, value_name = "W", allow_hyphen_values = true)]
    weight_kg: String,
    /// Dose in mg/kg (plausible 0.05–2.5 unless --override-reason).
    #[arg(long, value_name = "D", allow_hyphen_values = true)]
    dose_mg_per_kg: String,
    /// Infusion minutes (plausible 2–240 unless --override-reason).
    #[arg(long, value_name = "M", allow_hyphen_values = true)]
    minutes: String,
    /// Stock strength: 10, 50 or 100 mg/mL (100 only into a bag).
    #[arg(long, value_name = "C", allow_hyphen_values = true)]
    stock_mg_per_ml: String,
    /// Bag of 0.9 % NaCl in mL; without it the dose runs from a syringe.
    #[arg(long, value_name = "B", allow_hyphen_values = true)]
    bag_ml: Option<String>,
    /// Withdraw the stock's volume from the bag before adding it (total = bag).
    #[arg(long)]
    withdraw_from_bag: bool,
    /// Accept values outside the plausibility limits; reported in warnings.
    #[arg(long, value_name = "TEXT")]
    override_reason: Option<String>,
}

/// The flag a field came from, so the one-line error names what was typed.
fn flag(field: &str) -> String {
    format!("--{}", field.replace('_', "-"))
}

fn json_number(value: Exact, name: &str, not_exact: &mut Vec<(String, String)>) -> String {
    if !value.terminates() {
        let (num, den) = value.fraction();
        not_exact.push((name.to_string(), format!("{num}/{den}")));
    }
    value.to_decimal()
}

pub fn run(args: &DoseArgs) -> Result<ExitCode, CliError> {
    let input = DoseInput {
        weight_kg: Some(args.weight_kg.clone()),
        dose_mg_per_kg: Some(args.dose_mg_per_kg.clone()),
        minutes: Some(args.minutes.clone()),
        stock_mg_per_ml: Some(args.stock_mg_per_ml.clone()),
        bag_ml: args.bag_ml.clone(),
        withdraw_from_bag: args.withdraw_from_bag,
        override_reason: args.override_reason.clone(),
    };
    let result = calculate(&input, &PlausibilityLimits::shipped()).map_err(|errors| {
        let renamed = errors.0.into_iter().map(|e| FieldError::new(flag(&e.field), e.message)).collect();
        CliError::from_field_errors(FieldErrors(renamed))
    })?;
    let mut not_exact = Vec::new();
    let mut fields = vec![
        ("dose_mg", json_number(result.dose_mg, "dose_mg", &mut not_exact)),
        ("stock_volume_ml", json_number(result.stock_volume_ml, "stock_volume_ml", &mut not_exact)),
        ("total_volume_ml", json_number(result.total_volume_ml, "total_volume_ml", &mut not_exact)),
        ("rate_ml_per_h", json_number(result.rate_ml_per_h, "rate_ml_per_h", &mut not_exact)),
        ("mg_per_min", json_number(result.mg_per_min, "mg_per_min", &mut not_exact)),
        ("final_mg_per_ml", json_number(result.final_mg_per_ml, "final_mg_per_ml", &mut not_exact)),
    ];
    fields.push(("delivery", serde_json::to_string(if result.bag_ml.is_some() { "bag" } else { "syringe" }).map_err(|e| CliError::Failed(e.into()))?));
    fields.push(("warnings", serde_json::to_string(&result.warnings).map_err(|e| CliError::Failed(e.into()))?));
    let not_exact_json: serde_json::Map<String, serde_json::Value> = not_exact.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
    fields.push(("not_exact", serde_json::to_string(&not_exact_json).map_err(|e| CliError::Failed(e.into()))?));
    // Built by hand so the decimals print exactly as computed (no float round trip).
    let body = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect::<Vec<_>>().join(",");
    println!("{{{body}}}");
    Ok(ExitCode::SUCCESS)
}
