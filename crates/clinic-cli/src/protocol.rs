//! `ketaclinic protocol list|plan`: the protocols from the data files
//! (embedded, plus the clinic's override directory) and the dated plan one
//! expands into, as DESIGN.md prints them.

use std::process::ExitCode;

use chrono::NaiveDate;
use clinic_domain::protocol::plan;
use clinic_service::data::DataFiles;
use clinic_service::protocols::{list_json, plan_json, ProtocolRegistry};

use crate::CliError;

#[derive(clap::Subcommand)]
pub enum ProtocolCommand {
    /// List the protocols as JSON: id, title, substances, citation.
    List,
    /// Expand a protocol into dated events; the start date is day 0.
    Plan {
        /// Protocol id, e.g. cocaine-mbrp-dakwar2019 (see `ketaclinic protocol list`).
        id: String,
        /// The start date (day 0), YYYY-MM-DD.
        #[arg(long, value_name = "YYYY-MM-DD", allow_hyphen_values = true)]
        start: Option<String>,
    },
}

pub fn run(command: ProtocolCommand, files: &DataFiles) -> Result<ExitCode, CliError> {
    let registry = ProtocolRegistry::load(files)?;
    let json = match command {
        ProtocolCommand::List => list_json(&registry),
        ProtocolCommand::Plan { id, start } => {
            let Some(protocol) = registry.get(&id) else {
                return Err(CliError::Usage(format!("protocol: {id:?} is not a protocol; must be one of: {}", registry.ids().join(", "))));
            };
            // Checked here rather than by clap, so the one line names the flag.
            let Some(start) = start else {
                return Err(CliError::Usage("--start: required; give the start date (day 0) as YYYY-MM-DD, e.g. 2025-03-03".into()));
            };
            let start = parse_start(&start)?;
            let events = plan(protocol, start).map_err(|err| CliError::Usage(format!("--start: {start} is too late: the plan would run past the last date the calendar holds ({err})")))?;
            plan_json(protocol, &events)
        }
    };
    let text = serde_json::to_string(&json).map_err(|err| CliError::Failed(err.into()))?;
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// A calendar date written exactly as YYYY-MM-DD (no other form is guessed at).
fn parse_start(text: &str) -> Result<NaiveDate, CliError> {
    let refuse = || CliError::Usage(format!("--start: {text:?} is not a date; must be YYYY-MM-DD, e.g. 2025-03-03"));
    let shape_ok = text.len() == 10 && text.bytes().enumerate().all(|(idx, b)| if idx == 4 || idx == 7 { b == b'-' } else { b.is_ascii_digit() });
    if !shape_ok {
        return Err(refuse());
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| refuse())?;
    if date.format("%Y-%m-%d").to_string() != text {
        return Err(refuse());
    }
    Ok(date)
}
