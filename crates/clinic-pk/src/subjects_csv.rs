//! The subjects file: CSV with header `v1,k10,k12,k21,k13,k31`, V1 in L/kg
//! and rate constants per minute, one subject per row. Values are written in
//! Rust's shortest round-trip form, so a file read back gives the same bits.

use std::io::{BufRead, Write};

use crate::params::Params;

pub const HEADER: &str = "v1,k10,k12,k21,k13,k31";

#[derive(Debug, thiserror::Error)]
pub enum SubjectsError {
    #[error("line 1: the header must be exactly {HEADER:?}")]
    Header,
    #[error("the file is empty; it needs the header {HEADER:?} and at least one subject")]
    Empty,
    #[error("line {line}: {problem}")]
    Row { line: usize, problem: String },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

pub fn read_subjects(mut reader: impl BufRead) -> Result<Vec<Params>, SubjectsError> {
    let mut text = String::new();
    let mut line_no = 0;
    let mut subjects = Vec::new();
    loop {
        text.clear();
        if reader.read_line(&mut text)? == 0 {
            break;
        }
        line_no += 1;
        let line = text.strip_suffix('\n').unwrap_or(&text);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line_no == 1 {
            if line.strip_prefix('\u{feff}').unwrap_or(line) != HEADER {
                return Err(SubjectsError::Header);
            }
            continue;
        }
        if line.is_empty() {
            continue;
        }
        subjects.push(parse_row(line).map_err(|problem| SubjectsError::Row { line: line_no, problem })?);
    }
    if line_no == 0 {
        return Err(SubjectsError::Empty);
    }
    if subjects.is_empty() {
        return Err(SubjectsError::Row {
            line: line_no + 1,
            problem: "no subjects; the file needs at least one row after the header".into(),
        });
    }
    Ok(subjects)
}

fn parse_row(line: &str) -> Result<Params, String> {
    let mut values = [0.0; 6];
    let mut fields = line.split(',');
    let names = ["v1", "k10", "k12", "k21", "k13", "k31"];
    for (slot, name) in values.iter_mut().zip(names) {
        let field = fields.next().ok_or_else(|| format!("6 fields expected ({HEADER}); {name} is missing"))?;
        *slot = field.trim().parse::<f64>().map_err(|_| format!("{name}: {field:?} is not a number"))?;
    }
    if fields.next().is_some() {
        return Err(format!("6 fields expected ({HEADER}); found more"));
    }
    let [v1, k10, k12, k21, k13, k31] = values;
    Params::new(v1, k10, k12, k21, k13, k31).map_err(|err| err.to_string())
}

pub fn write_subjects(mut writer: impl Write, subjects: &[Params]) -> std::io::Result<()> {
    writeln!(writer, "{HEADER}")?;
    for params in subjects {
        let [v1, k10, k12, k21, k13, k31] = params.to_array();
        writeln!(writer, "{v1},{k10},{k12},{k21},{k13},{k31}")?;
    }
    writer.flush()
}
