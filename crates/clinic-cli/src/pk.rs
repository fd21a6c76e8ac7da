//! `ketaclinic pk simulate`: the predicted plasma concentration of a
//! ketamine infusion (clinic-pk), for one typical subject and, with
//! `--population`, the percentiles of a simulated population. An approximate
//! model prediction, never a target.

use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clinic_pk::params::{Model, Params};
use clinic_pk::population::{sample_subjects, simulate_population, Percentiles, PopulationSummary};
use clinic_pk::regimen::{Phase, Regimen};
use clinic_pk::schedule::uniform_grid;
use clinic_pk::simulate::simulate;
use clinic_pk::subjects_csv::{read_subjects, write_subjects, SubjectsError};
use clinic_service::data::DataFiles;
use clinic_service::protocols::ProtocolRegistry;
use serde::Serialize;

use crate::CliError;

/// Most grid points and subjects accepted, so a typing slip cannot ask for
/// more memory than a laptop has (not clinical limits).
const MAX_STEPS: u32 = 1_000_000;
const MAX_SUBJECTS: usize = 10_000_000;

const NOTE: &str =
    "approximate model prediction, never a target; the Domino model over-predicts the observed 0.5 mg/kg peak by about 30% (reference/clinical.md 5.1)";

#[derive(clap::Subcommand)]
pub enum PkCommand {
    /// Predict plasma concentration in ng/mL (an approximate model prediction, never a target).
    Simulate(Box<SimulateArgs>),
}

#[derive(clap::Args)]
pub struct SimulateArgs {
    /// Dose in mg/kg, given over --minutes (or use --protocol).
    #[arg(long, value_name = "D", allow_hyphen_values = true)]
    dose_mg_per_kg: Option<String>,
    /// Infusion minutes.
    #[arg(long, value_name = "M", allow_hyphen_values = true)]
    minutes: Option<String>,
    /// Take the dose and phases from a protocol's first infusion.
    #[arg(long, value_name = "ID")]
    protocol: Option<String>,
    /// Dosing weight in kg.
    #[arg(long, value_name = "W", allow_hyphen_values = true)]
    weight_kg: Option<String>,
    /// Parameter set: domino (default, three compartments), clements or hijazi (two compartments).
    #[arg(long, value_name = "NAME")]
    model: Option<String>,
    /// Last time of the grid, in minutes.
    #[arg(long, value_name = "MIN", allow_hyphen_values = true, default_value = "360")]
    until: String,
    /// Grid step in minutes; must divide --until.
    #[arg(long, value_name = "MIN", allow_hyphen_values = true, default_value = "1")]
    step: String,
    /// Explicit central volume, L/kg (with all of --k10 --k12 --k21 --k13 --k31, instead of --model).
    #[arg(long, value_name = "L_PER_KG", allow_hyphen_values = true)]
    v1_l_per_kg: Option<String>,
    #[arg(long, value_name = "PER_MIN", allow_hyphen_values = true)]
    k10: Option<String>,
    #[arg(long, value_name = "PER_MIN", allow_hyphen_values = true)]
    k12: Option<String>,
    #[arg(long, value_name = "PER_MIN", allow_hyphen_values = true)]
    k21: Option<String>,
    /// 0 together with --k31 0 for a two-compartment model.
    #[arg(long, value_name = "PER_MIN", allow_hyphen_values = true)]
    k13: Option<String>,
    #[arg(long, value_name = "PER_MIN", allow_hyphen_values = true)]
    k31: Option<String>,
    /// Simulate N subjects with log-normal variability (needs --seed).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    population: Option<String>,
    /// Seed of the population's generator (0 to 18446744073709551615).
    #[arg(long, value_name = "S", allow_hyphen_values = true)]
    seed: Option<String>,
    /// Coefficient of variation of V1 and each rate constant (default 0.3).
    #[arg(long, value_name = "CV", allow_hyphen_values = true)]
    cv: Option<String>,
    /// Read the subjects from a CSV file (v1,k10,k12,k21,k13,k31); N is its number of rows.
    #[arg(long, value_name = "FILE")]
    subjects_in: Option<PathBuf>,
    /// Write the sampled subjects to a CSV file.
    #[arg(long, value_name = "FILE")]
    subjects_out: Option<PathBuf>,
}

fn usage(message: String) -> CliError {
    CliError::Usage(message)
}

fn number(flag: &str, text: &str) -> Result<f64, CliError> {
    match text.trim().parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err(usage(format!("{flag}: {text:?} is not a number; must be a number greater than 0"))),
    }
}

fn positive(flag: &str, text: &str) -> Result<f64, CliError> {
    let value = number(flag, text)?;
    if value > 0.0 {
        Ok(value)
    } else {
        Err(usage(format!("{flag}: {text} is not allowed; must be a number greater than 0")))
    }
}

fn required<'a>(flag: &str, value: &'a Option<String>, what: &str) -> Result<&'a str, CliError> {
    value.as_deref().ok_or_else(|| usage(format!("{flag}: required; {what}")))
}

/// The typical parameter set: a named model or an explicit, complete set.
fn typical_params(args: &SimulateArgs) -> Result<(String, Option<Model>, Params), CliError> {
    let explicit = [
        ("--v1-l-per-kg", &args.v1_l_per_kg),
        ("--k10", &args.k10),
        ("--k12", &args.k12),
        ("--k21", &args.k21),
        ("--k13", &args.k13),
        ("--k31", &args.k31),
    ];
    let given: Vec<&str> = explicit.iter().filter(|(_, value)| value.is_some()).map(|(flag, _)| *flag).collect();
    if given.is_empty() {
        let name = args.model.as_deref().unwrap_or("domino");
        let allowed = Model::ALL.map(Model::name).join(", ");
        let model = Model::parse(name).ok_or_else(|| usage(format!("--model: {name:?} is not a model; must be one of: {allowed}")))?;
        return Ok((model.name().to_string(), Some(model), model.params()));
    }
    if args.model.is_some() {
        return Err(usage(format!("--model: give a model or explicit parameters ({}), not both", given.join(" "))));
    }
    let mut values = [0.0; 6];
    for (slot, (flag, value)) in values.iter_mut().zip(explicit) {
        let text = value.as_deref().ok_or_else(|| {
            usage(format!(
                "{flag}: missing; explicit parameters need all of --v1-l-per-kg --k10 --k12 --k21 --k13 --k31 (--k13 0 --k31 0 for two compartments)"
            ))
        })?;
        *slot = if matches!(flag, "--k13" | "--k31") {
            number(flag, text)?
        } else {
            positive(flag, text)?
        };
    }
    let [v1, k10, k12, k21, k13, k31] = values;
    let params = Params::new(v1, k10, k12, k21, k13, k31).map_err(|err| {
        usage(format!(
            "--k13 and --k31: {k13} and {k31} are not allowed; both must be greater than 0 (three compartments) or both 0 (two compartments) ({err})"
        ))
    })?;
    Ok(("explicit".to_string(), None, params))
}

fn decimal_to_f64(text: String) -> Result<f64, CliError> {
    text.parse::<f64>()
        .map_err(|err| CliError::Failed(anyhow::anyhow!("protocol dose {text:?}: {err}")))
}

/// The regimen: `--dose-mg-per-kg` over `--minutes`, or a protocol's first infusion (its phases).
fn regimen(args: &SimulateArgs, files: &DataFiles) -> Result<(Regimen, Option<String>), CliError> {
    let phases = match (&args.protocol, &args.dose_mg_per_kg, &args.minutes) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(usage("--protocol: give --protocol ID or --dose-mg-per-kg with --minutes, not both".into()));
        }
        (Some(id), None, None) => {
            let registry = ProtocolRegistry::load(files)?;
            let protocol = registry
                .get(id)
                .ok_or_else(|| usage(format!("--protocol: {id:?} is not a protocol; must be one of: {}", registry.ids().join(", "))))?;
            let mut phases = Vec::new();
            for phase in &protocol.definition().infusions.phases {
                let minutes = i32::try_from(phase.minutes)
                    .map_err(|_| CliError::Failed(anyhow::anyhow!("protocol {id}: phase minutes {} out of range", phase.minutes)))?;
                phases.push(Phase {
                    dose_mg_per_kg: decimal_to_f64(phase.dose_mg_per_kg.to_string())?,
                    minutes: f64::from(minutes),
                });
            }
            phases
        }
        (None, dose, minutes) => {
            let what = "give --dose-mg-per-kg D --minutes M, or --protocol ID";
            let dose = positive("--dose-mg-per-kg", required("--dose-mg-per-kg", dose, what)?)?;
            let minutes = positive("--minutes", required("--minutes", minutes, what)?)?;
            vec![Phase { dose_mg_per_kg: dose, minutes }]
        }
    };
    let regimen = Regimen::new(phases).map_err(|err| usage(format!("--protocol: {err}")))?;
    Ok((regimen, args.protocol.clone()))
}

/// `0, step, …, until`, refusing a step that does not divide `until`.
fn grid(args: &SimulateArgs) -> Result<Vec<f64>, CliError> {
    let until = positive("--until", &args.until)?;
    let step = positive("--step", &args.step)?;
    let ratio = until / step;
    if ratio > f64::from(MAX_STEPS) + 0.5 {
        return Err(usage(format!(
            "--step: {step} gives more than {MAX_STEPS} steps up to --until {until}; choose a larger step"
        )));
    }
    let rounded = ratio.round();
    // rounded is a whole number in 0..=MAX_STEPS; find it without a float cast.
    let n_steps = u32::try_from(rounded.to_string().parse::<u64>().unwrap_or(0)).unwrap_or(0);
    if n_steps == 0 || (f64::from(n_steps) * step - until).abs() > 1e-9 * until {
        return Err(usage(format!(
            "--step: {step} does not divide --until {until} into whole steps; choose a step that does (e.g. 1, 0.5, 0.25)"
        )));
    }
    Ok(uniform_grid(n_steps, step))
}

fn subjects(args: &SimulateArgs, typical: &Params) -> Result<Option<Vec<Params>>, CliError> {
    if args.subjects_in.is_some() && args.subjects_out.is_some() {
        return Err(usage("--subjects-in: give --subjects-in FILE or --subjects-out FILE, not both".into()));
    }
    if let Some(path) = &args.subjects_in {
        for (flag, value) in [("--seed", &args.seed), ("--cv", &args.cv)] {
            if value.is_some() {
                return Err(usage(format!("{flag}: not used with --subjects-in (the file gives every subject); drop it")));
            }
        }
        let file = std::fs::File::open(path).map_err(|err| usage(format!("--subjects-in: cannot open {}: {err}", path.display())))?;
        let subjects = read_subjects(BufReader::with_capacity(1 << 20, file)).map_err(|err| match err {
            SubjectsError::Io(io) => CliError::Failed(anyhow::Error::new(io).context(format!("reading {}", path.display()))),
            other => usage(format!("--subjects-in {}: {other}", path.display())),
        })?;
        if subjects.len() > MAX_SUBJECTS {
            return Err(usage(format!("--subjects-in: {} subjects; at most {MAX_SUBJECTS}", subjects.len())));
        }
        if let Some(text) = &args.population {
            if text.trim().parse::<usize>().ok() != Some(subjects.len()) {
                return Err(usage(format!(
                    "--population: {text} but --subjects-in has {} subjects; omit --population or make them agree",
                    subjects.len()
                )));
            }
        }
        return Ok(Some(subjects));
    }
    let Some(text) = &args.population else {
        for (flag, given) in [
            ("--seed", args.seed.is_some()),
            ("--cv", args.cv.is_some()),
            ("--subjects-out", args.subjects_out.is_some()),
        ] {
            if given {
                return Err(usage(format!("{flag}: only with --population N")));
            }
        }
        return Ok(None);
    };
    let n = text.trim().parse::<usize>().ok().filter(|n| (1..=MAX_SUBJECTS).contains(n)).ok_or_else(|| {
        usage(format!(
            "--population: {text:?} is not allowed; must be a whole number from 1 to {MAX_SUBJECTS}"
        ))
    })?;
    let seed_text = required("--seed", &args.seed, "--population needs --seed S so the population can be reproduced")?;
    let seed = seed_text
        .trim()
        .parse::<u64>()
        .map_err(|_| usage(format!("--seed: {seed_text:?} is not allowed; must be a whole number from 0 to {}", u64::MAX)))?;
    let cv = match &args.cv {
        Some(text) => positive("--cv", text)?,
        None => 0.3,
    };
    let subjects = sample_subjects(typical, n, seed, cv).map_err(|err| usage(format!("--{err}")))?;
    if let Some(path) = &args.subjects_out {
        let file = std::fs::File::create(path).map_err(|err| usage(format!("--subjects-out: cannot create {}: {err}", path.display())))?;
        write_subjects(BufWriter::with_capacity(1 << 20, file), &subjects)
            .map_err(|err| CliError::Failed(anyhow::Error::new(err).context(format!("writing {}", path.display()))))?;
    }
    Ok(Some(subjects))
}

#[derive(Serialize)]
struct ParamsOut {
    v1_l_per_kg: f64,
    k10: f64,
    k12: f64,
    k21: f64,
    k13: f64,
    k31: f64,
}

#[derive(Serialize)]
struct PhaseOut {
    dose_mg_per_kg: f64,
    minutes: f64,
}

#[derive(Serialize)]
struct PercentilesOut {
    p5: f64,
    p50: f64,
    p95: f64,
}

#[derive(Serialize)]
struct BandsOut {
    p5: Vec<f64>,
    p50: Vec<f64>,
    p95: Vec<f64>,
}

#[derive(Serialize)]
struct Report<'a> {
    model: &'a str,
    source: Option<&'static str>,
    params: ParamsOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol: Option<String>,
    phases: Vec<PhaseOut>,
    weight_kg: f64,
    times_min: &'a [f64],
    conc_ng_ml: &'a [f64],
    cmax_ng_ml: f64,
    tmax_min: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    n_subjects: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cmax_percentiles_ng_ml: Option<PercentilesOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conc_percentiles_ng_ml: Option<BandsOut>,
    note: &'static str,
}

fn percentiles_out(p: Percentiles) -> PercentilesOut {
    PercentilesOut {
        p5: p.p5,
        p50: p.p50,
        p95: p.p95,
    }
}

pub fn run(command: PkCommand, files: &DataFiles) -> Result<ExitCode, CliError> {
    let PkCommand::Simulate(args) = command;
    let (model_name, model, typical) = typical_params(&args)?;
    let weight_kg = positive("--weight-kg", required("--weight-kg", &args.weight_kg, "give the dosing weight in kg")?)?;
    let (regimen, protocol) = regimen(&args, files)?;
    let times = grid(&args)?;
    let population = subjects(&args, &typical)?;
    let curve = simulate(&typical, &regimen, weight_kg, &times).map_err(|err| usage(err.to_string()))?;
    let summary: Option<PopulationSummary> = match &population {
        Some(subjects) => Some(simulate_population(subjects, &regimen, weight_kg, &times).map_err(|err| usage(err.to_string()))?),
        None => None,
    };
    let [v1_l_per_kg, k10, k12, k21, k13, k31] = typical.to_array();
    let report = Report {
        model: &model_name,
        source: model.map(Model::source),
        params: ParamsOut {
            v1_l_per_kg,
            k10,
            k12,
            k21,
            k13,
            k31,
        },
        protocol,
        phases: regimen
            .phases()
            .iter()
            .map(|p| PhaseOut {
                dose_mg_per_kg: p.dose_mg_per_kg,
                minutes: p.minutes,
            })
            .collect(),
        weight_kg,
        times_min: &curve.times_min,
        conc_ng_ml: &curve.conc_ng_ml,
        cmax_ng_ml: curve.cmax_ng_ml,
        tmax_min: curve.tmax_min,
        n_subjects: summary.as_ref().map(|s| s.n_subjects),
        cmax_percentiles_ng_ml: summary.as_ref().map(|s| percentiles_out(s.cmax_percentiles_ng_ml)),
        conc_percentiles_ng_ml: summary.as_ref().map(|s| BandsOut {
            p5: s.conc_percentiles_ng_ml.iter().map(|p| p.p5).collect(),
            p50: s.conc_percentiles_ng_ml.iter().map(|p| p.p50).collect(),
            p95: s.conc_percentiles_ng_ml.iter().map(|p| p.p95).collect(),
        }),
        note: NOTE,
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    let written = serde_json::to_writer(&mut out, &report)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::Failed(anyhow::Error::new(err).context("writing the report"))),
        _ => Ok(ExitCode::SUCCESS),
    }
}
