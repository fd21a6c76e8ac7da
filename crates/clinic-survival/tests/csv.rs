//! The streaming reader: what it accepts, what it refuses (with the line
//! number), and that buffer boundaries change nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufReader;

use clinic_survival::csv::{read_cohort, CsvError};

fn read(text: &str) -> Result<clinic_survival::cohort::Cohort, CsvError> {
    read_cohort(text.as_bytes(), &mut |_| {})
}

#[track_caller]
fn check_refused(text: &str, expect: &str) {
    let err = read(text).unwrap_err().to_string();
    assert_eq!(err, expect);
    assert_eq!(err.lines().count(), 1);
}

#[test]
fn refuses_bad_input_with_the_line_number() {
    check_refused("", "line 1: the file is empty; it needs the header patient_id,arm,days,relapsed and at least one row");
    check_refused(
        "id,arm,days,relapsed\nx,a,1,1\n",
        r#"line 1: the header is "id,arm,days,relapsed"; it must be exactly patient_id,arm,days,relapsed"#,
    );
    check_refused(
        "patient_id,arm,days,relapsed\n",
        "line 2: no rows after the header; each row is patient_id,arm,days,relapsed",
    );
    check_refused(
        "patient_id,arm,days,relapsed\nx,a,1,1\nx,a,-2,1\n",
        r#"line 3: days "-2" is negative; allowed: a finite number of days ≥ 0, such as 30 or 12.5"#,
    );
    check_refused(
        "patient_id,arm,days,relapsed\nx,a,NaN,1\n",
        r#"line 2: days "NaN" is not a finite number; allowed: a finite number of days ≥ 0, such as 30 or 12.5"#,
    );
    check_refused(
        "patient_id,arm,days,relapsed\nx,a,inf,1\n",
        r#"line 2: days "inf" is not a finite number; allowed: a finite number of days ≥ 0, such as 30 or 12.5"#,
    );
    check_refused(
        "patient_id,arm,days,relapsed\nx,a,3 days,1\n",
        r#"line 2: days "3 days" is not a number; allowed: a finite number of days ≥ 0, such as 30 or 12.5"#,
    );
    check_refused(
        "patient_id,arm,days,relapsed\nx,a,,1\n",
        r#"line 2: days "" is not a number; allowed: a finite number of days ≥ 0, such as 30 or 12.5"#,
    );
    check_refused(
        "patient_id,arm,days,relapsed\nx,a,1,1\nx,a,1,2\n",
        r#"line 3: relapsed "2" is not allowed; allowed: 1 (relapse observed) or 0 (censored)"#,
    );
    check_refused(
        "patient_id,arm,days,relapsed\nx,a,1,yes\n",
        r#"line 2: relapsed "yes" is not allowed; allowed: 1 (relapse observed) or 0 (censored)"#,
    );
    check_refused(
        "patient_id,arm,days,relapsed\nx,a,1\n",
        "line 2: 3 fields; a row has exactly 4: patient_id,arm,days,relapsed",
    );
    check_refused(
        "patient_id,arm,days,relapsed\nx,a,1,1,9\n",
        "line 2: 5 fields; a row has exactly 4: patient_id,arm,days,relapsed",
    );
    check_refused(
        "patient_id,arm,days,relapsed\nx,,1,1\n",
        "line 2: arm is empty; give the arm's name, such as the protocol id",
    );
    check_refused(
        "patient_id,arm,days,relapsed\nx,a,1,1\n\nx,a,2,0\n",
        "line 3: blank line; every line after the header is a row patient_id,arm,days,relapsed",
    );
    check_refused(
        "patient_id,arm,days,relapsed\nx,\"a,1,1\n",
        "line 2: a quoted field has no closing quote on its line",
    );
    let err = read(&format!(
        "patient_id,arm,days,relapsed\nx,a,-{},1\n",
        "9".repeat(80)
    ))
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("line 2: days \"-9999"), "{err}");
    assert!(err.contains('…'), "long values are shortened: {err}");
}

#[test]
fn accepts_crlf_a_byte_order_mark_quotes_trailing_blank_lines_and_no_final_newline() {
    let plain = read("patient_id,arm,days,relapsed\np1,a,1,1\np2,b,2.5,0\np3,a,0,0\n").unwrap();
    for variant in [
        "\u{feff}patient_id,arm,days,relapsed\r\np1,a,1,1\r\np2,b,2.5,0\r\np3,a,0,0\r\n",
        "patient_id,arm,days,relapsed\np1,\"a\",1,1\n\"p,2\",b,2.50,0\np3,a,0.0,0",
        "patient_id,arm,days,relapsed\np1,a,1.0,1\np2,b,25e-1,0\np3,a,-0,0\n\n\n",
    ] {
        assert_eq!(read(variant).unwrap(), plain, "{variant:?}");
    }
}

#[test]
fn buffer_boundaries_change_nothing() {
    let mut text = String::from("patient_id,arm,days,relapsed\n");
    for idx in 0..500u32 {
        let arm = ["ketamine", "placebo", "midazolam"][usize::try_from(idx % 3).unwrap()];
        text.push_str(&format!(
            "patient-{idx},{arm},{}.{},{}\n",
            idx % 37,
            idx % 7,
            idx % 2
        ));
    }
    let whole = read(&text).unwrap();
    assert_eq!(whole.n_rows(), 500);
    for capacity in [1, 2, 3, 7, 16, 29, 64, 1000] {
        let mut calls = 0;
        let mut last = 0;
        let chunked = read_cohort(
            BufReader::with_capacity(capacity, text.as_bytes()),
            &mut |bytes| {
                calls += 1;
                last = bytes;
            },
        )
        .unwrap();
        assert_eq!(chunked, whole, "capacity {capacity}");
        assert_eq!(
            last,
            u64::try_from(text.len()).unwrap(),
            "progress ends at the file's size"
        );
        assert!(calls >= text.len() / capacity);
    }
}
