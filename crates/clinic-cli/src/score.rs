//! `ketaclinic score INSTRUMENT --answers A,B,…`: scores one instrument's
//! answers with the instruments from the data files (embedded, plus the
//! clinic's override directory) and prints the JSON of DESIGN.md.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clinic_domain::field::{FieldError, FieldErrors};
use clinic_domain::instrument::score::{score, ScoreContext};
use clinic_domain::instrument::Sex;
use clinic_domain::patient::Substance;
use clinic_service::data::DataFiles;
use clinic_service::instruments::{score_json, InstrumentRegistry};

use crate::CliError;

#[derive(clap::Args)]
pub struct ScoreArgs {
    /// Instrument id: audit, audit-c, dast-10, phq-9, gad-7, pcl-5, dsm5-sud, ciwa-ar, or another in data/instruments/.
    instrument: String,
    /// Answers in item order, separated by commas: the number printed beside each chosen option, or yes/no.
    #[arg(long, value_name = "A,B,…", allow_hyphen_values = true)]
    answers: String,
    /// Sex, for instruments whose cut-off differs by sex (AUDIT-C): female or male.
    #[arg(long)]
    sex: Option<String>,
    /// The substance rated, for instruments rated per substance (dsm5-sud, craving).
    #[arg(long)]
    substance: Option<String>,
    /// PHQ-9 difficulty item (unscored): 0 not difficult at all, 1 somewhat, 2 very, 3 extremely difficult.
    #[arg(long, allow_hyphen_values = true)]
    difficulty: Option<String>,
}

pub fn run(args: &ScoreArgs, files: &DataFiles) -> Result<ExitCode, CliError> {
    let registry = InstrumentRegistry::load(files)?;
    let Some(loaded) = registry.get(&args.instrument) else {
        return Err(CliError::Usage(format!(
            "instrument: {:?} is not an instrument; must be one of: {}",
            args.instrument,
            registry.ids().join(", ")
        )));
    };
    let context = context(args)?;
    let answers: Vec<&str> = args.answers.split(',').collect();
    let scored =
        score(&loaded.instrument, &answers, &context).map_err(CliError::from_field_errors)?;
    let json = score_json(loaded, &scored);
    let text = serde_json::to_string(&json).map_err(|err| CliError::Failed(err.into()))?;
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// Reads `--sex`, `--substance` and `--difficulty`, reporting every bad one.
fn context(args: &ScoreArgs) -> Result<ScoreContext, CliError> {
    let mut errors = Vec::new();
    let sex = args
        .sex
        .as_deref()
        .and_then(|text| Sex::parse(text).map_err(|err| errors.push(err)).ok());
    let substance = args.substance.as_deref().and_then(|text| {
        Substance::parse(text)
            .map_err(|err| errors.push(FieldError::new("substance", err.message)))
            .ok()
    });
    if !errors.is_empty() {
        return Err(CliError::from_field_errors(FieldErrors(errors)));
    }
    let mut unscored = BTreeMap::new();
    if let Some(difficulty) = &args.difficulty {
        unscored.insert("difficulty".to_string(), difficulty.clone());
    }
    Ok(ScoreContext {
        sex,
        substance,
        unscored,
    })
}

