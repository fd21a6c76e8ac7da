//! The subjects file read through buffers of every small size, so that lines
//! split between two fills of the reader are read as whole lines.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed step is a failed test.

use std::io::BufReader;

use clinic_pk::params::Model;
use clinic_pk::population::sample_subjects;
use clinic_pk::subjects_csv::{read_subjects, write_subjects, SubjectsError};

#[test]
fn lines_split_between_fills_are_read_whole() {
    let subjects = sample_subjects(&Model::Domino.params(), 40, 2, 0.3).unwrap();
    let mut bytes = Vec::new();
    write_subjects(&mut bytes, &subjects).unwrap();
    let without_last_newline = &bytes[..bytes.len() - 1];
    let crlf_with_bom_and_blank_lines = {
        let text = String::from_utf8(bytes.clone()).unwrap().replace('\n', "\r\n").replacen("\r\n", "\r\n\r\n", 3);
        format!("\u{feff}{text}").into_bytes()
    };
    for capacity in 1..=130 {
        for file in [&bytes[..], without_last_newline, &crlf_with_bom_and_blank_lines[..]] {
            let got = read_subjects(BufReader::with_capacity(capacity, file)).unwrap();
            assert_eq!(got, subjects, "capacity {capacity}");
        }
    }
}

#[test]
fn errors_name_the_same_line_whatever_the_buffer() {
    let text = "v1,k10,k12,k21,k13,k31\n0.1,1,1,1,1,1\n\n0.1,1, 2 ,1,1,1\n0.1,1,1,1,1,x\n";
    for capacity in 1..=40 {
        let err = read_subjects(BufReader::with_capacity(capacity, text.as_bytes())).unwrap_err();
        assert_eq!(err.to_string(), "line 5: k31: \"x\" is not a number", "capacity {capacity}");
    }
    let mut bad_utf8 = b"v1,k10,k12,k21,k13,k31\n0.1,1,1,1,1,1\n0.1,1,1,1,1,\xff\n".to_vec();
    for capacity in 1..=40 {
        let err = read_subjects(BufReader::with_capacity(capacity, &bad_utf8[..])).unwrap_err();
        assert!(
            matches!(&err, SubjectsError::Io(io) if io.kind() == std::io::ErrorKind::InvalidData),
            "capacity {capacity}: {err}"
        );
    }
    // A bad row before the bad bytes is reported first.
    bad_utf8.splice(23..23, b"0.1,1,1\n".iter().copied());
    let err = read_subjects(&bad_utf8[..]).unwrap_err();
    assert_eq!(err.to_string(), "line 2: 6 fields expected (v1,k10,k12,k21,k13,k31); k21 is missing");
}
