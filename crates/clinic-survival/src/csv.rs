//! Streams the `patient_id,arm,days,relapsed` CSV from any `BufRead` into a
//! [`Cohort`], aggregating as it reads and refusing a bad row with its line
//! number. Bytes are parsed by hand: reading is the slow part of the command.

use std::io::BufRead;

use crate::cohort::{ArmId, Cohort, CohortBuilder, Days, InvalidDays};

pub const HEADER: &[u8] = b"patient_id,arm,days,relapsed";

#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("reading the file: {0}")]
    Io(#[from] std::io::Error),
    #[error("line {line}: {problem}")]
    Row { line: u64, problem: RowProblem },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowProblem {
    #[error(
        "the file is empty; it needs the header patient_id,arm,days,relapsed and at least one row"
    )]
    Empty,
    #[error("the header is {found}; it must be exactly patient_id,arm,days,relapsed")]
    Header { found: String },
    #[error("no rows after the header; each row is patient_id,arm,days,relapsed")]
    NoRows,
    #[error("blank line; every line after the header is a row patient_id,arm,days,relapsed")]
    BlankLine,
    #[error("{found} fields; a row has exactly 4: patient_id,arm,days,relapsed")]
    FieldCount { found: usize },
    #[error("a quoted field has no closing quote on its line")]
    UnclosedQuote,
    #[error("arm is empty; give the arm's name, such as the protocol id")]
    EmptyArm,
    #[error("arm is not UTF-8 text")]
    ArmNotUtf8,
    #[error("days {found} {reason}; allowed: a finite number of days ≥ 0, such as 30 or 12.5")]
    Days { found: String, reason: &'static str },
    #[error("relapsed {found} is not allowed; allowed: 1 (relapse observed) or 0 (censored)")]
    Relapsed { found: String },
}

/// Reads the whole CSV; `progress` is called with the bytes read so far
/// after each buffer-full.
pub fn read_cohort<R: BufRead>(
    mut reader: R,
    progress: &mut dyn FnMut(u64),
) -> Result<Cohort, CsvError> {
    let mut rows = RowSink::default();
    // The start of a line that continues in the next buffer-full.
    let mut carry: Vec<u8> = Vec::new();
    let mut bytes_read: u64 = 0;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(CsvError::Io(err)),
        };
        if chunk.is_empty() {
            break;
        }
        let len = chunk.len();
        let mut rest = chunk;
        if !carry.is_empty() {
            match find_newline(rest) {
                Some(pos) => {
                    carry.extend_from_slice(&rest[..pos]);
                    rows.line(&carry)?;
                    carry.clear();
                    rest = &rest[pos + 1..];
                }
                None => {
                    carry.extend_from_slice(rest);
                    rest = &[];
                }
            }
        }
        while let Some(pos) = find_newline(rest) {
            rows.line(&rest[..pos])?;
            rest = &rest[pos + 1..];
        }
        carry.extend_from_slice(rest);
        reader.consume(len);
        bytes_read += u64::try_from(len).unwrap_or(u64::MAX);
        progress(bytes_read);
    }
    if !carry.is_empty() {
        rows.line(&carry)?;
    }
    rows.finish()
}

fn find_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

#[derive(Default)]
struct RowSink {
    builder: CohortBuilder,
    line_no: u64,
    n_rows: u64,
    first_blank_line: Option<u64>,
    last_arm: Option<(Vec<u8>, ArmId)>,
}

impl RowSink {
    fn line(&mut self, raw: &[u8]) -> Result<(), CsvError> {
        self.line_no += 1;
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if self.line_no == 1 {
            let header = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
            if header != HEADER {
                return Err(self.refuse(RowProblem::Header {
                    found: shown(header),
                }));
            }
            return Ok(());
        }
        if line.is_empty() {
            // Blank lines are allowed only at the end of the file.
            self.first_blank_line.get_or_insert(self.line_no);
            return Ok(());
        }
        if let Some(line_no) = self.first_blank_line {
            return Err(CsvError::Row {
                line: line_no,
                problem: RowProblem::BlankLine,
            });
        }
        self.row(line).map_err(|problem| self.refuse(problem))?;
        self.n_rows += 1;
        Ok(())
    }

    fn row(&mut self, line: &[u8]) -> Result<(), RowProblem> {
        let mut fields: [&[u8]; 4] = [&[]; 4];
        let mut n_fields = 0;
        let mut start = 0;
        for (idx, &byte) in line.iter().enumerate() {
            if byte == b',' {
                if let Some(field) = fields.get_mut(n_fields) {
                    *field = &line[start..idx];
                }
                n_fields += 1;
                start = idx + 1;
            } else if byte == b'"' {
                return self.quoted_row(line);
            }
        }
        if let Some(field) = fields.get_mut(n_fields) {
            *field = &line[start..];
        }
        n_fields += 1;
        if n_fields != 4 {
            return Err(RowProblem::FieldCount { found: n_fields });
        }
        self.add(fields[1], fields[2], fields[3])
    }

    /// The rare path: RFC 4180 quoting within one line.
    fn quoted_row(&mut self, line: &[u8]) -> Result<(), RowProblem> {
        let mut fields: Vec<Vec<u8>> = vec![Vec::new()];
        let mut in_quotes = false;
        let mut idx = 0;
        while let Some(&byte) = line.get(idx) {
            let field = fields.last_mut().ok_or(RowProblem::UnclosedQuote)?;
            match (in_quotes, byte) {
                (false, b'"') if field.is_empty() => in_quotes = true,
                (true, b'"') if line.get(idx + 1) == Some(&b'"') => {
                    field.push(b'"');
                    idx += 1;
                }
                (true, b'"') => in_quotes = false,
                (false, b',') => fields.push(Vec::new()),
                (_, other) => field.push(other),
            }
            idx += 1;
        }
        if in_quotes {
            return Err(RowProblem::UnclosedQuote);
        }
        match fields.as_slice() {
            [_, arm, days, relapsed] => self.add(arm, days, relapsed),
            _ => Err(RowProblem::FieldCount {
                found: fields.len(),
            }),
        }
    }

    fn add(&mut self, arm: &[u8], days: &[u8], relapsed: &[u8]) -> Result<(), RowProblem> {
        let relapsed = match relapsed {
            b"1" => true,
            b"0" => false,
            other => {
                return Err(RowProblem::Relapsed {
                    found: shown(other),
                })
            }
        };
        let arm_id = self.arm_id(arm)?;
        if let Some(whole) = whole_days(days) {
            self.builder.add_whole_days(arm_id, whole, relapsed);
            return Ok(());
        }
        let text = std::str::from_utf8(days).map_err(|_| RowProblem::Days {
            found: shown(days),
            reason: "is not a number",
        })?;
        let value: f64 = text.parse().map_err(|_| RowProblem::Days {
            found: shown(days),
            reason: "is not a number",
        })?;
        let days_value = Days::new(value).map_err(|err| RowProblem::Days {
            found: shown(days),
            reason: match err {
                InvalidDays::Negative => "is negative",
                InvalidDays::NotFinite => "is not a finite number",
            },
        })?;
        self.builder.add(arm_id, days_value, relapsed);
        Ok(())
    }

    fn arm_id(&mut self, arm: &[u8]) -> Result<ArmId, RowProblem> {
        if let Some((name, id)) = &self.last_arm {
            if name.as_slice() == arm {
                return Ok(*id);
            }
        }
        if arm.is_empty() {
            return Err(RowProblem::EmptyArm);
        }
        let id = match self.builder.known_arm(arm) {
            Some(id) => id,
            None => self
                .builder
                .arm_id(std::str::from_utf8(arm).map_err(|_| RowProblem::ArmNotUtf8)?),
        };
        self.last_arm = Some((arm.to_vec(), id));
        Ok(id)
    }

    fn refuse(&self, problem: RowProblem) -> CsvError {
        CsvError::Row {
            line: self.line_no,
            problem,
        }
    }

    fn finish(self) -> Result<Cohort, CsvError> {
        if self.line_no == 0 {
            return Err(CsvError::Row {
                line: 1,
                problem: RowProblem::Empty,
            });
        }
        if self.n_rows == 0 {
            return Err(CsvError::Row {
                line: 2,
                problem: RowProblem::NoRows,
            });
        }
        Ok(self.builder.finish())
    }
}

/// Up to nine decimal digits and nothing else: whole days, parsed exactly.
fn whole_days(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || bytes.len() > 9 {
        return None;
    }
    let mut value: u32 = 0;
    for &byte in bytes {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value * 10 + u32::from(digit);
    }
    Some(value)
}

/// A field as it appears in an error: quoted, escaped, at most 40 characters.
fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut short: String = text.chars().take(40).collect();
    if text.chars().count() > 40 {
        short.push('…');
    }
    format!("{short:?}")
}
