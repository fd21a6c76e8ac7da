//! The ketamine-misuse watch: signals that treatment may be leading to
//! ketamine misuse, each raised as a flag with its evidence for a physician
//! to confirm or reject. Only confirmed flags are counted, so the program can
//! show whether treatment led to ketamine misuse.
//!
//! Signals: a ketamine or norketamine positive that no clinic infusion
//! explains (clinical.md §4.1, §11.5), and one that only an unset detection
//! window could explain (flagged too, so it is not lost while the clinic has
//! not set the window); a report of ketamine craving (the craving instrument
//! is rated per substance of concern and ketamine is none, so the report is
//! a yes/no); a request for an extra infusion, an earlier one or a higher dose.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use uuid::Uuid;

use crate::outcome::toxicology::{ClassifiedTest, Expectation};
use crate::outcome::{NeedsClinicSetting, Verdict};

wire_enum!(
    /// What raised a misuse flag.
    MisuseSignal, "signal" {
        UnexplainedKetaminePositive => "unexplained_ketamine_positive",
        UndeterminedKetaminePositive => "undetermined_ketamine_positive",
        KetamineCraving => "ketamine_craving",
        ExtraInfusionRequest => "extra_infusion_request",
        EarlierInfusionRequest => "earlier_infusion_request",
        HigherDoseRequest => "higher_dose_request",
    }
);

wire_enum!(
    /// What the patient asked for.
    RequestKind, "request" {
        ExtraInfusion => "extra_infusion",
        EarlierInfusion => "earlier_infusion",
        HigherDose => "higher_dose",
    }
);

/// Whether the patient reported craving for ketamine (a yes/no question; a
/// `false` answer raises nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KetamineCravingReport {
    pub id: Uuid,
    pub reported_on: NaiveDate,
    pub craving: bool,
}

/// A request for more ketamine, recorded by staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InfusionRequest {
    pub id: Uuid,
    pub requested_on: NaiveDate,
    pub kind: RequestKind,
}

/// Identifies a flag: the signal and the record that raised it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlagKey {
    pub signal: MisuseSignal,
    pub record: Uuid,
}

/// What a flag rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MisuseEvidence {
    Test(ClassifiedTest),
    /// A ketamine positive whose window is unset, with the settings needed.
    UndeterminedTest {
        test: ClassifiedTest,
        needs: Vec<NeedsClinicSetting>,
    },
    Craving(KetamineCravingReport),
    Request(InfusionRequest),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MisuseFlag {
    pub key: FlagKey,
    pub date: NaiveDate,
    pub evidence: MisuseEvidence,
}

/// Every misuse flag for one patient, in date order.
pub fn misuse_flags(
    tests: &[ClassifiedTest],
    cravings: &[KetamineCravingReport],
    requests: &[InfusionRequest],
) -> Vec<MisuseFlag> {
    let mut flags = Vec::new();
    for classified in tests.iter().filter(|t| t.test.analyte.is_ketamine()) {
        let (signal, evidence) = match &classified.expectation {
            Expectation::Unexplained => (
                MisuseSignal::UnexplainedKetaminePositive,
                MisuseEvidence::Test(classified.clone()),
            ),
            Expectation::Undetermined(needs) => (
                MisuseSignal::UndeterminedKetaminePositive,
                MisuseEvidence::UndeterminedTest {
                    test: classified.clone(),
                    needs: needs.clone(),
                },
            ),
            Expectation::NotPositive | Expectation::Expected(_) => continue,
        };
        flags.push(MisuseFlag {
            key: FlagKey {
                signal,
                record: classified.test.id,
            },
            date: classified.test.collected_on(),
            evidence,
        });
    }
    for report in cravings.iter().filter(|c| c.craving) {
        flags.push(MisuseFlag {
            key: FlagKey {
                signal: MisuseSignal::KetamineCraving,
                record: report.id,
            },
            date: report.reported_on,
            evidence: MisuseEvidence::Craving(*report),
        });
    }
    for request in requests {
        let signal = match request.kind {
            RequestKind::ExtraInfusion => MisuseSignal::ExtraInfusionRequest,
            RequestKind::EarlierInfusion => MisuseSignal::EarlierInfusionRequest,
            RequestKind::HigherDose => MisuseSignal::HigherDoseRequest,
        };
        flags.push(MisuseFlag {
            key: FlagKey {
                signal,
                record: request.id,
            },
            date: request.requested_on,
            evidence: MisuseEvidence::Request(*request),
        });
    }
    flags.sort_by_key(|f| (f.date, f.key));
    flags
}

/// A physician's review of one flag, with the note they wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MisuseDecision {
    pub flag: FlagKey,
    pub verdict: Verdict,
    pub note: String,
}

/// The flags a physician confirmed (the last decision on a flag counts).
pub fn confirmed_misuse<'f>(
    flags: &'f [MisuseFlag],
    decisions: &[MisuseDecision],
) -> Vec<&'f MisuseFlag> {
    let mut verdicts: BTreeMap<FlagKey, Verdict> = BTreeMap::new();
    for decision in decisions {
        verdicts.insert(decision.flag, decision.verdict);
    }
    flags
        .iter()
        .filter(|f| verdicts.get(&f.key) == Some(&Verdict::Confirmed))
        .collect()
}

/// How many of the patient's flags a physician confirmed.
pub fn confirmed_misuse_count(flags: &[MisuseFlag], decisions: &[MisuseDecision]) -> usize {
    confirmed_misuse(flags, decisions).len()
}
