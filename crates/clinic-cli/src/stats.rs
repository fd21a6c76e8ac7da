//! `ketaclinic stats survival`: the reference/survival.md report of a
//! `patient_id,arm,days,relapsed` CSV, streamed from disk.

use std::io::{BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clinic_survival::analysis::{analyse, Analysis, ArmChoice};
use clinic_survival::cox::CoxFit;
use clinic_survival::csv::{read_cohort, CsvError};
use serde::Serialize;

use crate::CliError;

#[derive(clap::Subcommand)]
pub enum StatsCommand {
    /// Kaplan–Meier, log-rank and Cox for a patient_id,arm,days,relapsed CSV.
    Survival {
        /// The cohort, as `ketaclinic export cohort` writes it.
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
        /// The arm coded 1 in the Cox model (default: `ketamine`, else the second arm in sorted order).
        #[arg(long, value_name = "ARM")]
        treatment: Option<String>,
        /// The arm coded 0 in the Cox model.
        #[arg(long, value_name = "ARM")]
        reference: Option<String>,
    },
}

/// Files larger than this get a progress bar on a terminal.
const PROGRESS_BYTES: u64 = 8 << 20;

pub fn run(command: StatsCommand) -> Result<ExitCode, CliError> {
    let StatsCommand::Survival {
        csv,
        treatment,
        reference,
    } = command;
    let analysis = survival(
        &csv,
        ArmChoice {
            treatment: treatment.as_deref(),
            reference: reference.as_deref(),
        },
    )?;
    let mut out = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let written = serde_json::to_writer(&mut out, &Report::from(&analysis))
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::Failed(
            anyhow::Error::new(err).context("writing the report"),
        )),
        _ => Ok(ExitCode::SUCCESS),
    }
}

fn survival(path: &Path, choice: ArmChoice<'_>) -> Result<Analysis, CliError> {
    let file = std::fs::File::open(path)
        .map_err(|err| CliError::Usage(format!("--csv: cannot open {}: {err}", path.display())))?;
    let size = file.metadata().map(|meta| meta.len()).unwrap_or(0);
    let bar = (size > PROGRESS_BYTES && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(size);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("reading {msg} {bar:30} {bytes}/{total_bytes}")
        {
            bar.set_style(style);
        }
        bar.set_message(path.display().to_string());
        bar
    });
    let mut on_progress = |bytes: u64| {
        if let Some(bar) = &bar {
            bar.set_position(bytes);
        }
    };
    let cohort = read_cohort(BufReader::with_capacity(1 << 20, file), &mut on_progress);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let cohort = cohort.map_err(|err| match err {
        CsvError::Row { .. } => CliError::Usage(format!("--csv {}: {err}", path.display())),
        CsvError::Io(io) => {
            CliError::Failed(anyhow::Error::new(io).context(format!("reading {}", path.display())))
        }
    })?;
    analyse(&cohort, choice).map_err(|err| CliError::Usage(err.to_string()))
}

/// The wire form of survival.md's "Output" section; non-finite floats are
/// written as `null` by serde_json.
#[derive(Serialize)]
struct Report<'a> {
    km: std::collections::BTreeMap<&'a str, Curve<'a>>,
    logrank: Option<LogRankOut>,
    cox: Option<CoxOut<'a>>,
}

#[derive(Serialize)]
struct Curve<'a> {
    n: u64,
    events: u64,
    median: Option<f64>,
    median_ci_lower: Option<f64>,
    median_ci_upper: Option<f64>,
    timeline: &'a [f64],
    survival: &'a [f64],
    ci_lower: &'a [f64],
    ci_upper: &'a [f64],
    at_risk: &'a [u64],
    observed: &'a [u64],
    censored: &'a [u64],
}

#[derive(Serialize)]
struct LogRankOut {
    statistic: f64,
    p: f64,
    df: u32,
    log10_p: f64,
}

#[derive(Serialize)]
struct CoxOut<'a> {
    treatment: &'a str,
    reference: &'a str,
    coef: Option<f64>,
    hr: Option<f64>,
    se: Option<f64>,
    coef_ci_lower: Option<f64>,
    coef_ci_upper: Option<f64>,
    hr_ci_lower: Option<f64>,
    hr_ci_upper: Option<f64>,
    z: Option<f64>,
    p: Option<f64>,
    log10_p: Option<f64>,
    log_likelihood: Option<f64>,
    log_likelihood_null: Option<f64>,
    lr_test_statistic: Option<f64>,
    lr_test_p: Option<f64>,
    lr_test_log10_p: Option<f64>,
    n: u64,
    events: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

impl<'a> From<&'a Analysis> for Report<'a> {
    fn from(analysis: &'a Analysis) -> Report<'a> {
        let km = analysis
            .km
            .iter()
            .map(|(arm, km)| {
                let curve = Curve {
                    n: km.n,
                    events: km.events,
                    median: km.median,
                    median_ci_lower: km.median_ci_lower,
                    median_ci_upper: km.median_ci_upper,
                    timeline: &km.timeline,
                    survival: &km.survival,
                    ci_lower: &km.ci_lower,
                    ci_upper: &km.ci_upper,
                    at_risk: &km.at_risk,
                    observed: &km.observed,
                    censored: &km.censored,
                };
                (arm.as_str(), curve)
            })
            .collect();
        let logrank = analysis.logrank.map(|test| LogRankOut {
            statistic: test.statistic,
            p: test.p,
            df: test.df,
            log10_p: test.log10_p,
        });
        let cox = analysis.cox.as_ref().map(|report| {
            let fit = report.model.fit.as_ref().ok();
            let field = |get: fn(&CoxFit) -> f64| fit.map(get);
            CoxOut {
                treatment: &report.treatment,
                reference: &report.reference,
                coef: field(|f| f.coef),
                hr: field(|f| f.hr),
                se: field(|f| f.se),
                coef_ci_lower: field(|f| f.coef_ci_lower),
                coef_ci_upper: field(|f| f.coef_ci_upper),
                hr_ci_lower: field(|f| f.hr_ci_lower),
                hr_ci_upper: field(|f| f.hr_ci_upper),
                z: field(|f| f.z),
                p: field(|f| f.p),
                log10_p: field(|f| f.log10_p),
                log_likelihood: field(|f| f.log_likelihood),
                log_likelihood_null: field(|f| f.log_likelihood_null),
                lr_test_statistic: field(|f| f.lr_test_statistic),
                lr_test_p: field(|f| f.lr_test_p),
                lr_test_log10_p: field(|f| f.lr_test_log10_p),
                n: report.model.n,
                events: report.model.events,
                note: report.model.fit.as_ref().err().map(ToString::to_string),
            }
        });
        Report { km, logrank, cox }
    }
}
