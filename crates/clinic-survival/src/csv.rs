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
    find_byte(bytes, b'\n')
}

// Eight bytes at a time ("SWAR"): `byte_mask` sets the high bit of exactly
// the bytes of `word` equal to `byte`, with no carries between bytes.
const LOW_SEVEN: u64 = 0x7F7F_7F7F_7F7F_7F7F;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
const ONES: u64 = 0x0101_0101_0101_0101;

fn byte_mask(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    !(((x & LOW_SEVEN) + LOW_SEVEN) | x) & HIGH_BITS
}

/// The byte index of the lowest flagged byte of a mask.
fn first_flagged(mask: u64) -> usize {
    usize::try_from(mask.trailing_zeros() / 8).unwrap_or(0)
}

fn word_at(chunk: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(chunk);
    u64::from_le_bytes(bytes)
}

fn find_byte(haystack: &[u8], byte: u8) -> Option<usize> {
    let mut chunks = haystack.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mask = byte_mask(word_at(chunk), byte);
        if mask != 0 {
            return Some(offset + first_flagged(mask));
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == byte)
        .map(|idx| offset + idx)
}

/// How a line splits on commas.
enum Split<'a> {
    Fields([&'a [u8]; 4]),
    WrongCount(usize),
    Quoted,
}

fn split_line(line: &[u8]) -> Split<'_> {
    let mut commas = [0usize; 3];
    let mut n_commas = 0;
    let mut record = |idx: usize| {
        if let Some(slot) = commas.get_mut(n_commas) {
            *slot = idx;
        }
        n_commas += 1;
    };
    let mut chunks = line.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let word = word_at(chunk);
        if byte_mask(word, b'"') != 0 {
            return Split::Quoted;
        }
        let mut mask = byte_mask(word, b',');
        while mask != 0 {
            record(offset + first_flagged(mask));
            mask &= mask - 1;
        }
        offset += 8;
    }
    for (idx, &byte) in chunks.remainder().iter().enumerate() {
        match byte {
            b'"' => return Split::Quoted,
            b',' => record(offset + idx),
            _ => {}
        }
    }
    if n_commas != 3 {
        return Split::WrongCount(n_commas + 1);
    }
    let [a, b, c] = commas;
    Split::Fields([&line[..a], &line[a + 1..b], &line[b + 1..c], &line[c + 1..]])
}

#[derive(Default)]
struct RowSink {
    builder: CohortBuilder,
    line_no: u64,
    n_rows: u64,
    first_blank_line: Option<u64>,
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
        match split_line(line) {
            Split::Fields([_, arm, days, relapsed]) => self.add(arm, days, relapsed),
            Split::WrongCount(found) => Err(RowProblem::FieldCount { found }),
            Split::Quoted => self.quoted_row(line),
        }
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
        if let Some(days_value) = short_decimal(days).and_then(|value| Days::new(value).ok()) {
            self.builder.add(arm_id, days_value, relapsed);
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
        if let Some(id) = self.builder.known_arm(arm) {
            return Ok(id);
        }
        if arm.is_empty() {
            return Err(RowProblem::EmptyArm);
        }
        let name = std::str::from_utf8(arm).map_err(|_| RowProblem::ArmNotUtf8)?;
        Ok(self.builder.arm_id(name))
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

/// 10^0 ..= 10^22, every one exact in an f64.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Digits with one decimal point and at most 15 digits in all, such as
/// 42.705887: the digits as an integer below 2^53 and a power of ten are both
/// exact, so one division gives the correctly rounded value, the same as
/// `str::parse` (Clinger's fast path). Anything else is left to `parse`.
fn short_decimal(bytes: &[u8]) -> Option<f64> {
    let mut mantissa: u64 = 0;
    let mut n_digits = 0usize;
    let mut n_decimals = 0usize;
    let mut seen_point = false;
    for &byte in bytes {
        let digit = byte.wrapping_sub(b'0');
        if digit <= 9 {
            mantissa = mantissa * 10 + u64::from(digit);
            n_digits += 1;
            n_decimals += usize::from(seen_point);
            if n_digits > 15 {
                return None;
            }
        } else if byte == b'.' && !seen_point {
            seen_point = true;
        } else {
            return None;
        }
    }
    if n_digits == 0 {
        return None;
    }
    // mantissa < 10^15 < 2^53: exact through two u32 halves.
    let high = u32::try_from(mantissa >> 32).ok()?;
    let low = u32::try_from(mantissa & 0xFFFF_FFFF).ok()?;
    let value = f64::from(high) * 4_294_967_296.0 + f64::from(low);
    Some(value / POWERS_OF_TEN.get(n_decimals)?)
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn short_decimal_is_exactly_str_parse(text in "[0-9]{0,10}(\\.[0-9]{0,10})?") {
            let fast = short_decimal(text.as_bytes());
            let slow: Option<f64> = text.parse().ok();
            match fast {
                Some(value) => prop_assert_eq!(Some(value.to_bits()), slow.map(f64::to_bits)),
                // Left to parse: no digits, or more than 15 of them.
                None => prop_assert!(slow.is_none() || text.bytes().filter(u8::is_ascii_digit).count() > 15),
            }
        }

        #[test]
        fn split_line_finds_the_commas(fields in prop::collection::vec("[a-z0-9.]{0,12}", 1..7)) {
            let line = fields.join(",");
            match split_line(line.as_bytes()) {
                Split::Fields(found) => {
                    prop_assert_eq!(fields.len(), 4);
                    for (a, b) in found.iter().zip(&fields) {
                        prop_assert_eq!(*a, b.as_bytes());
                    }
                }
                Split::WrongCount(n) => prop_assert_eq!(n, fields.len()),
                Split::Quoted => prop_assert!(false, "no quotes here"),
            }
        }

        #[test]
        fn find_byte_is_position(text in "[a-c\\n]{0,40}") {
            prop_assert_eq!(find_byte(text.as_bytes(), b'\n'), text.bytes().position(|b| b == b'\n'));
        }
    }
}
