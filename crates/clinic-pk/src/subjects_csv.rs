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

/// Reads the subjects file. Lines are taken straight from the reader's
/// buffer (only a line split between two fills is copied), so a large file
/// costs little more than parsing its numbers.
pub fn read_subjects(mut reader: impl BufRead) -> Result<Vec<Params>, SubjectsError> {
    let mut lines = Lines {
        line_no: 0,
        subjects: Vec::new(),
    };
    // The start of a line that the last fill did not finish.
    let mut partial: Vec<u8> = Vec::new();
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let filled = buf.len();
        match buf.iter().rposition(|&byte| byte == b'\n') {
            None => partial.extend_from_slice(buf),
            Some(last_newline) => {
                let (complete, rest) = buf.split_at(last_newline + 1);
                let complete = if partial.is_empty() {
                    complete
                } else {
                    let first_newline = complete.iter().position(|&byte| byte == b'\n').unwrap_or(last_newline);
                    partial.extend_from_slice(&complete[..=first_newline]);
                    lines.read(&partial)?;
                    partial.clear();
                    &complete[first_newline + 1..]
                };
                lines.read(complete)?;
                partial.extend_from_slice(rest);
            }
        }
        reader.consume(filled);
    }
    if !partial.is_empty() {
        lines.read(&partial)?;
    }
    if lines.line_no == 0 {
        return Err(SubjectsError::Empty);
    }
    if lines.subjects.is_empty() {
        return Err(SubjectsError::Row {
            line: lines.line_no + 1,
            problem: "no subjects; the file needs at least one row after the header".into(),
        });
    }
    Ok(lines.subjects)
}

struct Lines {
    line_no: usize,
    subjects: Vec<Params>,
}

impl Lines {
    /// Whole lines, each ending in `\n` except perhaps the file's last.
    fn read(&mut self, bytes: &[u8]) -> Result<(), SubjectsError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(err) => {
                // The lines before the first bad byte are read first, so that their errors come first.
                let good = &bytes[..err.valid_up_to()];
                let line_start = good.iter().rposition(|&byte| byte == b'\n').map_or(0, |idx| idx + 1);
                self.read(&bytes[..line_start])?;
                return Err(SubjectsError::Io(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "stream did not contain valid UTF-8",
                )));
            }
        };
        for line in text.strip_suffix('\n').unwrap_or(text).split('\n') {
            self.line(line)?;
        }
        Ok(())
    }

    fn line(&mut self, line: &str) -> Result<(), SubjectsError> {
        self.line_no += 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if self.line_no == 1 {
            if line.strip_prefix('\u{feff}').unwrap_or(line) != HEADER {
                return Err(SubjectsError::Header);
            }
            return Ok(());
        }
        if line.is_empty() {
            return Ok(());
        }
        let params = parse_row(line).map_err(|problem| SubjectsError::Row { line: self.line_no, problem })?;
        self.subjects.push(params);
        Ok(())
    }
}

fn parse_row(line: &str) -> Result<Params, String> {
    let mut values = [0.0; 6];
    let mut fields = Fields { rest: Some(line) };
    let names = ["v1", "k10", "k12", "k21", "k13", "k31"];
    for (slot, name) in values.iter_mut().zip(names) {
        let field = fields.next().ok_or_else(|| format!("6 fields expected ({HEADER}); {name} is missing"))?;
        *slot = parse_number(field).ok_or_else(|| format!("{name}: {field:?} is not a number"))?;
    }
    if fields.next().is_some() {
        return Err(format!("6 fields expected ({HEADER}); found more"));
    }
    let [v1, k10, k12, k21, k13, k31] = values;
    Params::new(v1, k10, k12, k21, k13, k31).map_err(|err| err.to_string())
}

/// The fields of a line, as `line.split(',')` gives them; a plain byte
/// search is quicker than `split` for fields this short.
struct Fields<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match rest.bytes().position(|byte| byte == b',') {
            Some(comma) => {
                self.rest = Some(&rest[comma + 1..]);
                Some(&rest[..comma])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// `field.trim().parse::<f64>()`, skipping the trim when the field cannot
/// start or end with white space.
fn parse_number(field: &str) -> Option<f64> {
    let bytes = field.as_bytes();
    let plain = |byte: Option<&u8>| byte.is_some_and(|&byte| byte.is_ascii_graphic());
    let field = if plain(bytes.first()) && plain(bytes.last()) { field } else { field.trim() };
    field.parse::<f64>().ok()
}

pub fn write_subjects(mut writer: impl Write, subjects: &[Params]) -> std::io::Result<()> {
    writeln!(writer, "{HEADER}")?;
    for params in subjects {
        let [v1, k10, k12, k21, k13, k31] = params.to_array();
        writeln!(writer, "{v1},{k10},{k12},{k21},{k13},{k31}")?;
    }
    writer.flush()
}
