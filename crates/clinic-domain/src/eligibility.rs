//! Medical eligibility (issue 4 item 7): `propose` derives eligible / needs
//! physician review / not eligible from the screening, the latest PHQ-9,
//! consents in force and the clinic's settings, with EVERY reason (never
//! only the first); the outcome is the worst reason. A physician then signs
//! a `Decision`; overriding needs a written reason.
//!
//! `EligibilityInputs`, `Proposal` and `Decision` derive serde so the store
//! can keep each proposal and decision with the inputs behind it as JSON
//! (the chart shows why a patient was or was not treated on any date).
//! `propose` reads only the snapshot, so a stored record can be re-derived.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::consent::{missing_consents, ConsentKind, SignedConsent};
use crate::field::{FieldError, FieldErrors};
use crate::instrument::score::Score;
use crate::patient::{PatientDetails, Substance};
use crate::screening::{
    contraindication, interaction_notes, Answer, CiwaArBand, ContraindicationKind, InteractionKind,
    PregnancyStatus, Screening, CONTRAINDICATIONS,
};

wire_enum!(
    /// The proposal, ordered from best to worst.
    Outcome, "outcome" {
    Eligible => "eligible",
    NeedsPhysicianReview => "needs_physician_review",
    NotEligible => "not_eligible",
});

wire_enum!(
    /// How much one reason weighs, ordered from least to most. `info` is kept
    /// for the record and leaves the outcome eligible.
    Severity, "severity" {
    Info => "info",
    NeedsPhysicianReview => "needs_physician_review",
    NotEligible => "not_eligible",
});

wire_enum!(
    /// The physician's decision.
    DecidedOutcome, "decision" { Eligible => "eligible", NotEligible => "not_eligible" }
);

crate::screening::wire_serde!(Outcome, Severity, DecidedOutcome);

impl Severity {
    pub fn outcome(self) -> Outcome {
        match self {
            Severity::Info => Outcome::Eligible,
            Severity::NeedsPhysicianReview => Outcome::NeedsPhysicianReview,
            Severity::NotEligible => Outcome::NotEligible,
        }
    }
}

/// One reason: the rule, what it means, the answer or value behind it, how
/// much it weighs and where the rule comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// Stable id, e.g. `contraindication.breastfeeding`, `baseline_bp`.
    pub rule: String,
    pub severity: Severity,
    /// Plain language: what it means and what to do.
    pub message: String,
    /// The answer or value behind it, e.g. `yes`, `BP 168/96 mmHg`.
    pub basis: String,
    pub source: String,
    /// False when no physician decision can set the reason aside (a missing
    /// consent is resolved by signing it, not by an override).
    pub overridable: bool,
}

/// The proposal: the worst reason's outcome, and every reason, worst first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub outcome: Outcome,
    pub reasons: Vec<Reason>,
}

impl Proposal {
    /// The outcome is the worst reason's (eligible with none). The order of
    /// reasons is kept within a severity.
    pub fn from_reasons(mut reasons: Vec<Reason>) -> Proposal {
        reasons.sort_by_key(|r| std::cmp::Reverse(r.severity));
        let outcome = reasons
            .iter()
            .map(|r| r.severity.outcome())
            .max()
            .unwrap_or(Outcome::Eligible);
        Proposal { outcome, reasons }
    }
}

/// A baseline blood-pressure limit above which a physician reviews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BpLimit {
    pub systolic_max_mmhg: u32,
    pub diastolic_max_mmhg: u32,
}

/// The clinic's BMI policy. `NoLimit` is a decision the clinic made, unlike
/// an unset setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BmiLimit {
    NoLimit,
    /// Review above this many tenths of kg/m² (e.g. 400 = 40.0).
    ReviewAboveTenths(u32),
}

/// Eligibility settings. Each is an `Option`: `None` ships where clinical.md
/// gives no single number ("needs clinic setting"), and a rule that needs an
/// unset value asks for physician review instead of guessing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClinicSettings {
    /// Needs clinic setting. clinical.md §2.3 gives only a range: the Spravato
    /// label says weigh risks if elevated, "e.g. >140/90" (UNVERIFIED, from
    /// memory); research exclusions often SBP >140–160 or DBP >90–100 (trial
    /// example NCT06943859 [S18], VERIFIED). No single number, so unset.
    pub baseline_bp_limit: Option<BpLimit>,
    /// Needs clinic setting. clinical.md gives no BMI limit; dosing weight in
    /// obesity is a clinic policy (§2.1).
    pub bmi_limit: Option<BmiLimit>,
    /// Needs clinic setting. Age is a caution, higher BP surges with age (Yale
    /// BP study, Gen Hosp Psychiatry 2024 [S29], clinical.md §2.6), but no age is given.
    pub age_review_from_years: Option<u32>,
    /// Baseline SpO2 below this asks for review. Shipped as 92 % by
    /// `ClinicSettings::shipped`: clinical.md §11.6, matching the modified
    /// Aldrete score's "> 92 % on room air" for 2 points (Aldrete 1995, §2.5).
    pub spo2_review_below_percent: Option<u32>,
}

/// clinical.md §11.6 SpO2 alert default (Aldrete JA 1995, modified Aldrete score, §2.5).
pub const SPO2_REVIEW_BELOW_PERCENT_DEFAULT: u32 = 92;

impl ClinicSettings {
    /// What a new clinic starts with: the §11.6 SpO2 default, everything
    /// else unset ("needs clinic setting").
    pub fn shipped() -> ClinicSettings {
        ClinicSettings {
            baseline_bp_limit: None,
            bmi_limit: None,
            age_review_from_years: None,
            spo2_review_below_percent: Some(SPO2_REVIEW_BELOW_PERCENT_DEFAULT),
        }
    }

    /// The wire names of the settings still unset.
    pub fn unset_settings(&self) -> Vec<&'static str> {
        let mut unset = Vec::new();
        if self.baseline_bp_limit.is_none() {
            unset.push("baseline_bp_limit");
        }
        if self.bmi_limit.is_none() {
            unset.push("bmi_limit");
        }
        if self.age_review_from_years.is_none() {
            unset.push("age_review_from_years");
        }
        if self.spo2_review_below_percent.is_none() {
            unset.push("spo2_review_below_percent");
        }
        unset
    }
}

/// A scored instrument as eligibility needs it (from `instrument::score::Score`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstrumentResult {
    pub instrument: String,
    pub total: Option<i64>,
    pub band: Option<String>,
    /// Raised flag ids, e.g. `suicide_risk`.
    pub flags: Vec<String>,
    pub scored_at: DateTime<Utc>,
}

impl InstrumentResult {
    pub fn from_score(score: &Score, scored_at: DateTime<Utc>) -> InstrumentResult {
        InstrumentResult {
            instrument: score.instrument.clone(),
            total: score.total,
            band: score.band.clone(),
            flags: score.flags.iter().map(|f| f.id.clone()).collect(),
            scored_at,
        }
    }
}

/// The patient record facts eligibility reads, as wire names and text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientFacts {
    pub date_of_birth: NaiveDate,
    pub substances: Vec<String>,
    pub diagnoses: Vec<String>,
    pub medications: Vec<String>,
    pub allergies: Vec<String>,
}

impl PatientFacts {
    pub fn from_details(details: &PatientDetails) -> PatientFacts {
        PatientFacts {
            date_of_birth: details.date_of_birth,
            substances: details
                .substances
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
            diagnoses: details.diagnoses.clone(),
            medications: details.medications.iter().map(|m| m.name.clone()).collect(),
            allergies: details
                .allergies
                .iter()
                .map(|a| a.substance.clone())
                .collect(),
        }
    }

    fn uses(&self, substance: Substance, icd10_prefix: &str) -> bool {
        self.substances.iter().any(|s| s == substance.as_str())
            || self.diagnoses.iter().any(|d| d.starts_with(icd10_prefix))
    }
}

/// A consent in force when the proposal was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentInForce {
    pub kind: ConsentKind,
    pub template_version: u32,
    pub text_sha256: String,
    pub signed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentFacts {
    pub in_force: Vec<ConsentInForce>,
    /// `consent::missing_consents` at the proposal time.
    pub missing: Vec<ConsentKind>,
}

impl ConsentFacts {
    pub fn from_signed(signed: &[SignedConsent], now: DateTime<Utc>) -> ConsentFacts {
        ConsentFacts {
            in_force: signed
                .iter()
                .filter(|c| c.is_in_force(now))
                .map(|c| ConsentInForce {
                    kind: c.kind,
                    template_version: c.template_version,
                    text_sha256: c.text_sha256.clone(),
                    signed_at: c.signed_at,
                })
                .collect(),
            missing: missing_consents(signed, now),
        }
    }
}

/// Everything a proposal rests on, kept with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EligibilityInputs {
    pub now: DateTime<Utc>,
    /// The site's date at `now` (age is counted in it).
    pub today: NaiveDate,
    pub patient: PatientFacts,
    pub screening: Screening,
    pub latest_phq9: Option<InstrumentResult>,
    /// A `suicide_risk` alert still open (no clinician response recorded).
    pub open_suicide_risk_alert: bool,
    pub consents: ConsentFacts,
    pub settings: ClinicSettings,
}

const SOURCE_CIWA: &str =
    "Sullivan JT et al., Br J Addict 1989;84:1353-1357 (CIWA-Ar); clinical.md §11.1";
const SOURCE_MOUD: &str =
    "clinical.md §11.4 (MOUD is the standard of care, continued, never stopped)";
const SOURCE_MEDS: &str =
    "clinical.md §2.6: heavy benzodiazepine or lamotrigine use may blunt the effect (caution)";
const SOURCE_PHQ9: &str =
    "Kroenke K et al. 2001 (PHQ-9) item 9 rule, clinical.md §3.2 and §11.3; screen suicidality \
                           before infusion, §2.3";
const SOURCE_PROGRAM: &str = "Program rule, issue 4 item 5";

fn reason(
    rule: impl Into<String>,
    severity: Severity,
    message: impl Into<String>,
    basis: impl Into<String>,
    source: &str,
) -> Reason {
    Reason {
        rule: rule.into(),
        severity,
        message: message.into(),
        basis: basis.into(),
        source: source.into(),
        overridable: true,
    }
}

fn not_set(rule: &str, setting: &str, basis: String) -> Reason {
    reason(
        rule,
        Severity::NeedsPhysicianReview,
        format!("needs physician review: {setting} not set by the clinic (needs clinic setting)"),
        basis,
        "clinical.md gives no single number (DESIGN.md: unset until a clinician sets it)",
    )
}

/// Every reason the inputs give, and the worst of them as the outcome.
pub fn propose(inputs: &EligibilityInputs) -> Proposal {
    let mut reasons = Vec::new();
    contraindication_reasons(inputs, &mut reasons);
    pregnancy_reasons(inputs, &mut reasons);
    withdrawal_reasons(inputs, &mut reasons);
    suicide_reasons(inputs, &mut reasons);
    vitals_reasons(inputs, &mut reasons);
    medication_reasons(inputs, &mut reasons);
    record_reasons(inputs, &mut reasons);
    consent_reasons(inputs, &mut reasons);
    Proposal::from_reasons(reasons)
}

fn contraindication_reasons(inputs: &EligibilityInputs, reasons: &mut Vec<Reason>) {
    for item in CONTRAINDICATIONS {
        let rule = format!("contraindication.{}", item.id.as_str());
        match inputs.screening.answer(item.id) {
            Answer::No => {}
            Answer::Yes => {
                let (severity, message) = match item.kind {
                    ContraindicationKind::Absolute => (
                        Severity::NotEligible,
                        format!("{}: an absolute contraindication.", item.label),
                    ),
                    ContraindicationKind::ProgramExclusion => (
                        Severity::NotEligible,
                        format!(
                            "{}: excluding unless a physician overrides with a written reason.",
                            item.label
                        ),
                    ),
                    ContraindicationKind::Relative => (
                        Severity::NeedsPhysicianReview,
                        format!(
                            "{}: a relative contraindication; a physician weighs it.",
                            item.label
                        ),
                    ),
                };
                reasons.push(reason(rule, severity, message, "yes", item.source));
            }
            Answer::Unknown => reasons.push(reason(
                rule,
                Severity::NeedsPhysicianReview,
                format!("{}: not known. Find out before deciding.", item.label),
                "unknown",
                item.source,
            )),
        }
    }
}

fn pregnancy_reasons(inputs: &EligibilityInputs, reasons: &mut Vec<Reason>) {
    const SOURCE: &str = "Trial exclusion, NCT06943859 [S18]; Spravato label warns of fetal risk [S27]; clinical.md §2.3, §2.6";
    match inputs.screening.pregnancy.status {
        PregnancyStatus::Pregnant => reasons.push(reason(
            "pregnancy",
            Severity::NotEligible,
            "Pregnant: an absolute contraindication (excluded in the trials).",
            "pregnant",
            SOURCE,
        )),
        PregnancyStatus::Unknown => reasons.push(reason(
            "pregnancy",
            Severity::NeedsPhysicianReview,
            "Pregnancy status unknown: test people of child-bearing potential before deciding.",
            "unknown",
            SOURCE,
        )),
        PregnancyStatus::NotApplicable | PregnancyStatus::NotPregnant => {}
    }
}

fn withdrawal_reasons(inputs: &EligibilityInputs, reasons: &mut Vec<Reason>) {
    const REFER: &str = "Not eligible until withdrawal is managed: refer for medically managed withdrawal (detox) first; \
                         this is not a routine delay.";
    let withdrawal = &inputs.screening.alcohol_withdrawal;
    match withdrawal.ciwa_ar {
        Some(ciwa) if matches!(ciwa.band, CiwaArBand::Moderate | CiwaArBand::Severe) => reasons.push(reason(
            "alcohol_withdrawal.ciwa_ar",
            Severity::NotEligible,
            format!("Alcohol withdrawal, CIWA-Ar {}. {REFER}", ciwa.band.as_str()),
            format!("CIWA-Ar {} ({}) on {}", ciwa.total, ciwa.band.as_str(), ciwa.assessed_on),
            SOURCE_CIWA,
        )),
        Some(_) => {}
        None if inputs.patient.uses(Substance::Alcohol, "F10") => reasons.push(reason(
            "alcohol_withdrawal.ciwa_ar",
            Severity::NeedsPhysicianReview,
            "Alcohol use recorded but no CIWA-Ar: a dependent drinker can be in withdrawal 24 h after the last drink. \
             Rate withdrawal before deciding.",
            "no CIWA-Ar",
            SOURCE_CIWA,
        )),
        None => {}
    }
    let history = [
        ("withdrawal seizures", withdrawal.seizure_history),
        ("delirium tremens", withdrawal.delirium_tremens_history),
    ];
    let yes: Vec<&str> = history
        .iter()
        .filter(|(_, a)| *a == Answer::Yes)
        .map(|(what, _)| *what)
        .collect();
    if !yes.is_empty() {
        let basis = format!("history of {}", yes.join(" and "));
        match withdrawal.managed_withdrawal_completed_on {
            None => reasons.push(reason(
                "alcohol_withdrawal.complicated_history",
                Severity::NotEligible,
                format!("History of {}. {REFER}", yes.join(" and ")),
                basis,
                SOURCE_CIWA,
            )),
            Some(date) => reasons.push(reason(
                "alcohol_withdrawal.complicated_history",
                Severity::NeedsPhysicianReview,
                format!("History of {}; medically managed withdrawal completed on {date}. Confirm it is managed.", yes.join(" and ")),
                format!("{basis}; managed withdrawal completed {date}"),
                SOURCE_CIWA,
            )),
        }
    }
    for (what, answer) in history {
        if answer == Answer::Unknown {
            reasons.push(reason(
                "alcohol_withdrawal.history_unknown",
                Severity::NeedsPhysicianReview,
                format!(
                    "Whether the patient has had {what} is not known: find out before deciding."
                ),
                format!("{what}: unknown"),
                SOURCE_CIWA,
            ));
        }
    }
}

fn suicide_reasons(inputs: &EligibilityInputs, reasons: &mut Vec<Reason>) {
    match inputs.latest_phq9.as_ref().filter(|r| r.instrument == "phq-9") {
        None => reasons.push(reason(
            "suicide_risk.phq9_missing",
            Severity::NeedsPhysicianReview,
            "No PHQ-9 recorded: screen suicidality before deciding.",
            "no PHQ-9",
            SOURCE_PHQ9,
        )),
        Some(phq9) if phq9.flags.iter().any(|f| f == "suicide_risk") => reasons.push(reason(
            "suicide_risk",
            Severity::NeedsPhysicianReview,
            "The latest PHQ-9 has item 9 above 0: assess suicide risk (for example the C-SSRS) before deciding.",
            format!("PHQ-9 on {} flags suicide_risk", phq9.scored_at.date_naive()),
            SOURCE_PHQ9,
        )),
        Some(_) => {}
    }
    if inputs.open_suicide_risk_alert {
        reasons.push(reason(
            "suicide_risk.open_alert",
            Severity::NeedsPhysicianReview,
            "A suicide-risk alert is open: record the response taken before deciding.",
            "open suicide_risk alert",
            SOURCE_PHQ9,
        ));
    }
}

fn vitals_reasons(inputs: &EligibilityInputs, reasons: &mut Vec<Reason>) {
    let vitals = inputs.screening.vitals;
    let settings = &inputs.settings;
    let bp = format!(
        "BP {}/{} mmHg",
        vitals.systolic_bp_mmhg, vitals.diastolic_bp_mmhg
    );
    match settings.baseline_bp_limit {
        None => reasons.push(not_set("baseline_bp", "baseline_bp_limit", bp)),
        Some(limit) if vitals.systolic_bp_mmhg > limit.systolic_max_mmhg || vitals.diastolic_bp_mmhg > limit.diastolic_max_mmhg => {
            reasons.push(reason(
                "baseline_bp",
                Severity::NeedsPhysicianReview,
                format!(
                    "Baseline blood pressure above the clinic's limit of {}/{} mmHg: weigh the risk of a rise during infusion.",
                    limit.systolic_max_mmhg, limit.diastolic_max_mmhg
                ),
                bp,
                "Spravato label, assess BP before dosing and weigh risks if elevated [S27]; clinical.md §2.3; limit set by the clinic",
            ))
        }
        Some(_) => {}
    }
    let spo2 = format!("SpO2 {} %", vitals.spo2_percent);
    match settings.spo2_review_below_percent {
        None => reasons.push(not_set("baseline_spo2", "spo2_review_below_percent", spo2)),
        Some(below) if vitals.spo2_percent < below => reasons.push(reason(
            "baseline_spo2",
            Severity::NeedsPhysicianReview,
            format!(
                "Baseline SpO2 below {below} %: find the cause before sedation-like treatment."
            ),
            spo2,
            "clinical.md §11.6 SpO2 alert, modified Aldrete score (Aldrete 1995, §2.5)",
        )),
        Some(_) => {}
    }
    let bmi = vitals.bmi();
    let bmi_basis = format!(
        "BMI {} kg/m² (exact {}/{})",
        bmi.rounded_half_up(1),
        bmi.fraction().0,
        bmi.fraction().1
    );
    match settings.bmi_limit {
        None => reasons.push(not_set("bmi", "bmi_limit", bmi_basis)),
        Some(BmiLimit::ReviewAboveTenths(limit)) if bmi.exceeds_tenths(limit) => {
            reasons.push(reason(
                "bmi",
                Severity::NeedsPhysicianReview,
                format!(
                    "BMI above the clinic's limit of {}.{}: review airway and dosing weight.",
                    limit / 10,
                    limit % 10
                ),
                bmi_basis,
                "Clinic policy; clinical.md §2.1 (dosing weight in obesity is a clinic policy)",
            ))
        }
        Some(_) => {}
    }
    let age = age_years(inputs.patient.date_of_birth, inputs.today);
    match settings.age_review_from_years {
        None => reasons.push(not_set("age", "age_review_from_years", format!("age {age}"))),
        Some(from) if age >= from => reasons.push(reason(
            "age",
            Severity::NeedsPhysicianReview,
            format!("Age {age} (clinic reviews from {from}): blood-pressure surges are more likely with age."),
            format!("age {age}"),
            "Yale BP study, Gen Hosp Psychiatry 2024 [S29]; clinical.md §2.6",
        )),
        Some(_) => {}
    }
}

/// Whole years from `date_of_birth` to `today` (0 if `today` is earlier).
pub fn age_years(date_of_birth: NaiveDate, today: NaiveDate) -> u32 {
    let mut years = today.year() - date_of_birth.year();
    if (today.month(), today.day()) < (date_of_birth.month(), date_of_birth.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

fn medication_reasons(inputs: &EligibilityInputs, reasons: &mut Vec<Reason>) {
    let names: Vec<&str> = inputs
        .patient
        .medications
        .iter()
        .map(String::as_str)
        .collect();
    for note in interaction_notes(&inputs.screening.medications, &names) {
        let (rule, severity, source) = match note.kind {
            InteractionKind::Benzodiazepine => (
                "medication.benzodiazepine",
                Severity::NeedsPhysicianReview,
                SOURCE_MEDS,
            ),
            InteractionKind::Lamotrigine => (
                "medication.lamotrigine",
                Severity::NeedsPhysicianReview,
                SOURCE_MEDS,
            ),
            InteractionKind::MoudContinue => {
                ("medication.moud_continue", Severity::Info, SOURCE_MOUD)
            }
            InteractionKind::MedicationListDisagrees => (
                "medication.reconcile",
                Severity::NeedsPhysicianReview,
                SOURCE_MEDS,
            ),
            InteractionKind::AnswerUnknown => (
                "medication.unknown",
                Severity::NeedsPhysicianReview,
                SOURCE_MEDS,
            ),
        };
        reasons.push(reason(rule, severity, note.message, note.basis, source));
    }
    let on_moud = names.iter().any(|n| crate::chart::is_moud(n));
    if inputs.patient.uses(Substance::Opioids, "F11") && !on_moud {
        reasons.push(reason(
            "medication.opioid_use_without_moud",
            Severity::Info,
            "Opioid use without MOUD on record: ketamine is given alongside MOUD, never instead. Discuss MOUD and \
             offer a naloxone kit.",
            "opioid use; no MOUD on the medication list",
            SOURCE_MOUD,
        ));
    }
}

fn record_reasons(inputs: &EligibilityInputs, reasons: &mut Vec<Reason>) {
    let hypersensitivity =
        contraindication(crate::screening::ContraindicationId::KetamineHypersensitivity)
            .map_or("", |c| c.source);
    let ketamine_allergies: Vec<&str> = inputs
        .patient
        .allergies
        .iter()
        .map(String::as_str)
        .filter(|a| {
            let lower = a.to_lowercase();
            lower.contains("ketamine") || lower.contains("ketalar")
        })
        .collect();
    if !ketamine_allergies.is_empty() {
        reasons.push(reason(
            "allergy.ketamine",
            Severity::NotEligible,
            "The allergy list names ketamine: hypersensitivity to ketamine is an absolute contraindication.",
            format!("allergies: {}", ketamine_allergies.join(", ")),
            hypersensitivity,
        ));
    }
    if !inputs.screening.allergies_reviewed {
        reasons.push(reason(
            "allergies_not_reviewed",
            Severity::NeedsPhysicianReview,
            "The allergy list was not gone through with the patient: review it (or confirm none) before deciding.",
            "allergies_reviewed: no",
            "History and physical incl. medication/allergy list, ASKP3 [S25]; clinical.md §2.3",
        ));
    }
    match &inputs.screening.pdmp {
        None => reasons.push(reason(
            "pdmp.not_checked",
            Severity::NeedsPhysicianReview,
            "The state prescription-monitoring program has not been checked: record the check before deciding.",
            "no PDMP check",
            SOURCE_PROGRAM,
        )),
        Some(check) if check.concerning => reasons.push(reason(
            "pdmp.concerning",
            Severity::NeedsPhysicianReview,
            "The prescription-monitoring check was marked concerning: review it before deciding.",
            format!("PDMP {} by {}: {}", check.checked_on, check.checked_by, check.result),
            SOURCE_PROGRAM,
        )),
        Some(_) => {}
    }
}

fn consent_reasons(inputs: &EligibilityInputs, reasons: &mut Vec<Reason>) {
    for kind in &inputs.consents.missing {
        let what = match kind {
            ConsentKind::Treatment => "consent to treatment",
            ConsentKind::Infusion => "informed consent to off-label ketamine infusion",
            ConsentKind::Part2Disclosure => "Part 2 consent",
        };
        reasons.push(Reason {
            overridable: false,
            ..reason(
                format!("consent.{}", kind.as_str()),
                Severity::NotEligible,
                format!("No {what} in force: the patient must sign it; a physician cannot override this."),
                "not signed or revoked",
                "Informed consent for off-label use, ASKP3 [S25]; clinical.md §2.3",
            )
        });
    }
}

/// A proposal kept with the inputs it was derived from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EligibilityRecord {
    pub inputs: EligibilityInputs,
    pub proposal: Proposal,
}

impl EligibilityRecord {
    pub fn new(inputs: EligibilityInputs) -> EligibilityRecord {
        let proposal = propose(&inputs);
        EligibilityRecord { inputs, proposal }
    }
}

/// A physician's decision as a client sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecisionInput {
    /// Who signs (name or user id, as the service records it).
    pub physician: Option<String>,
    /// `eligible` or `not_eligible`.
    pub decision: Option<String>,
    pub reason: Option<String>,
    /// The rule ids of excluding reasons the physician overrides.
    pub overridden_rules: Vec<String>,
}

/// The physician's signed decision with the proposal and its inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub physician: String,
    pub signed_at: DateTime<Utc>,
    pub decision: DecidedOutcome,
    /// True when the decision is the proposal's outcome.
    pub agrees_with_proposal: bool,
    pub reason: Option<String>,
    pub overridden_rules: Vec<String>,
    pub record: EligibilityRecord,
}

pub const MAX_DECISION_REASON_CHARS: usize = 4000;

/// Signs a decision on `record`. Refused, naming every failing field, when:
/// the physician or decision is missing; the decision differs from the
/// proposal (a needs-review proposal always does) without a written reason;
/// `eligible` leaves an excluding reason un-named in `overridden_rules`, or
/// meets one no physician may override (a missing consent).
pub fn sign_decision(
    record: EligibilityRecord,
    input: &DecisionInput,
    signed_at: DateTime<Utc>,
) -> Result<Decision, FieldErrors> {
    let mut errors = Vec::new();
    let physician = input
        .physician
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    if physician.is_none() {
        errors.push(FieldError::new("physician", "is required: who signs"));
    }
    let decision = match input
        .decision
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        None => {
            errors.push(FieldError::new(
                "decision",
                format!("is required: one of {}", DecidedOutcome::allowed_list()),
            ));
            None
        }
        Some(text) => DecidedOutcome::parse(text)
            .map_err(|err| errors.push(err))
            .ok(),
    };
    let reason_text = input
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if reason_text.is_some_and(|r| r.chars().count() > MAX_DECISION_REASON_CHARS) {
        errors.push(FieldError::new(
            "reason",
            format!("must be at most {MAX_DECISION_REASON_CHARS} characters"),
        ));
    }
    if signed_at < record.inputs.now {
        errors.push(FieldError::new(
            "signed_at",
            "must not be before the proposal was made",
        ));
    }
    let proposal = &record.proposal;
    let agrees = matches!(
        (decision, proposal.outcome),
        (Some(DecidedOutcome::Eligible), Outcome::Eligible)
            | (Some(DecidedOutcome::NotEligible), Outcome::NotEligible)
    );
    if decision.is_some() && !agrees && reason_text.is_none() {
        errors.push(FieldError::new(
            "reason",
            format!(
                "a written reason is required: the decision differs from the proposal ({})",
                proposal.outcome.as_str()
            ),
        ));
    }
    let excluding: Vec<&Reason> = proposal
        .reasons
        .iter()
        .filter(|r| r.severity == Severity::NotEligible)
        .collect();
    let mut overridden: Vec<String> = input
        .overridden_rules
        .iter()
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .collect();
    overridden.sort();
    overridden.dedup();
    match decision {
        Some(DecidedOutcome::Eligible) => {
            for fixed in excluding.iter().filter(|r| !r.overridable) {
                errors.push(FieldError::new(
                    "decision",
                    format!("cannot be eligible while {}: {}", fixed.rule, fixed.message),
                ));
            }
            let not_named: Vec<&str> = excluding
                .iter()
                .filter(|r| r.overridable && !overridden.contains(&r.rule))
                .map(|r| r.rule.as_str())
                .collect();
            if !not_named.is_empty() {
                errors.push(FieldError::new(
                    "overridden_rules",
                    format!(
                        "name each excluding rule you override: {}",
                        not_named.join(", ")
                    ),
                ));
            }
            for rule in &overridden {
                if !excluding.iter().any(|r| r.overridable && &r.rule == rule) {
                    errors.push(FieldError::new(
                        "overridden_rules",
                        format!("{rule} is not an excluding reason of this proposal that a physician may override"),
                    ));
                }
            }
        }
        Some(DecidedOutcome::NotEligible) if !overridden.is_empty() => {
            errors.push(FieldError::new(
                "overridden_rules",
                "must be empty when the decision is not_eligible",
            ));
        }
        _ => {}
    }
    match (physician, decision) {
        (Some(physician), Some(decision)) if errors.is_empty() => Ok(Decision {
            physician: physician.to_string(),
            signed_at,
            decision,
            agrees_with_proposal: agrees,
            reason: reason_text.map(str::to_string),
            overridden_rules: overridden,
            record,
        }),
        _ => Err(FieldErrors(errors)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::tests::{at, signed};
    use crate::patient::{Allergy, Medication, PatientInput};
    use crate::screening::{ContraindicationId, ScreeningInput};
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
    }

    fn screening_input() -> ScreeningInput {
        ScreeningInput {
            screened_on: Some("2026-11-26".into()),
            screened_by: Some("Dr Rivera".into()),
            contraindications: CONTRAINDICATIONS
                .iter()
                .map(|c| (c.id.as_str().to_string(), "no".to_string()))
                .collect(),
            allergies_reviewed: Some("yes".into()),
            benzodiazepine_use: Some("no".into()),
            lamotrigine_use: Some("no".into()),
            moud: Some("not_on_moud".into()),
            systolic_bp_mmhg: Some("122".into()),
            diastolic_bp_mmhg: Some("78".into()),
            heart_rate_bpm: Some("72".into()),
            respiratory_rate_per_min: Some("14".into()),
            spo2_percent: Some("98".into()),
            weight_kg: Some("70".into()),
            height_cm: Some("175".into()),
            pregnancy_status: Some("not_applicable".into()),
            withdrawal_seizure_history: Some("no".into()),
            delirium_tremens_history: Some("no".into()),
            pdmp_checked_on: Some("2026-11-26".into()),
            pdmp_checked_by: Some("Nurse Okafor".into()),
            pdmp_result: Some("No controlled prescriptions".into()),
            pdmp_concerning: Some("no".into()),
            ..ScreeningInput::default()
        }
    }

    fn patient() -> PatientDetails {
        let input = PatientInput {
            given_name: Some("Ana".into()),
            family_name: Some("Diaz".into()),
            date_of_birth: Some("1980-02-29".into()),
            substances: vec!["cocaine".into()],
            ..PatientInput::default()
        };
        PatientDetails::parse(&input, today()).unwrap()
    }

    /// Test values only, so that every rule can be exercised; they are not
    /// recommendations (the shipped settings are `ClinicSettings::shipped`).
    fn all_set() -> ClinicSettings {
        ClinicSettings {
            baseline_bp_limit: Some(BpLimit {
                systolic_max_mmhg: 150,
                diastolic_max_mmhg: 95,
            }),
            bmi_limit: Some(BmiLimit::ReviewAboveTenths(350)),
            age_review_from_years: Some(65),
            spo2_review_below_percent: Some(SPO2_REVIEW_BELOW_PERCENT_DEFAULT),
        }
    }

    fn phq9(flags: &[&str]) -> InstrumentResult {
        InstrumentResult {
            instrument: "phq-9".into(),
            total: Some(6),
            band: Some("mild".into()),
            flags: flags.iter().map(|f| f.to_string()).collect(),
            scored_at: at(25, 10),
        }
    }

    /// Inputs that give an eligible proposal with no reasons.
    fn base() -> EligibilityInputs {
        let now = at(26, 12);
        let consents = [
            signed(ConsentKind::Treatment, at(25, 9)),
            signed(ConsentKind::Infusion, at(25, 9)),
        ];
        EligibilityInputs {
            now,
            today: today(),
            patient: PatientFacts::from_details(&patient()),
            screening: Screening::parse(&screening_input(), today()).unwrap(),
            latest_phq9: Some(phq9(&[])),
            open_suicide_risk_alert: false,
            consents: ConsentFacts::from_signed(&consents, now),
            settings: all_set(),
        }
    }

    fn with_screening(change: impl FnOnce(&mut ScreeningInput)) -> EligibilityInputs {
        let mut input = screening_input();
        change(&mut input);
        EligibilityInputs {
            screening: Screening::parse(&input, today()).unwrap(),
            ..base()
        }
    }

    fn rules(proposal: &Proposal) -> Vec<&str> {
        proposal.reasons.iter().map(|r| r.rule.as_str()).collect()
    }

    #[track_caller]
    fn check(inputs: &EligibilityInputs, outcome: Outcome, expect_rules: &[&str]) {
        let proposal = propose(inputs);
        assert_eq!(rules(&proposal), expect_rules, "{proposal:#?}");
        assert_eq!(proposal.outcome, outcome, "{proposal:#?}");
    }

    #[test]
    fn a_clear_screening_is_eligible_with_no_reasons() {
        check(&base(), Outcome::Eligible, &[]);
    }

    #[test]
    fn each_checklist_item_alone() {
        for item in CONTRAINDICATIONS {
            let rule = format!("contraindication.{}", item.id.as_str());
            let yes = with_screening(|s| {
                s.contraindications
                    .insert(item.id.as_str().into(), "yes".into());
            });
            let expect = match item.kind {
                ContraindicationKind::Absolute | ContraindicationKind::ProgramExclusion => {
                    Outcome::NotEligible
                }
                ContraindicationKind::Relative => Outcome::NeedsPhysicianReview,
            };
            check(&yes, expect, &[rule.as_str()]);
            let unknown = with_screening(|s| {
                s.contraindications
                    .insert(item.id.as_str().into(), "unknown".into());
            });
            check(&unknown, Outcome::NeedsPhysicianReview, &[rule.as_str()]);
        }
    }

    #[test]
    fn pregnancy_alone() {
        let pregnant = with_screening(|s| s.pregnancy_status = Some("pregnant".into()));
        check(&pregnant, Outcome::NotEligible, &["pregnancy"]);
        let unknown = with_screening(|s| s.pregnancy_status = Some("unknown".into()));
        check(&unknown, Outcome::NeedsPhysicianReview, &["pregnancy"]);
        let tested = with_screening(|s| {
            s.pregnancy_status = Some("not_pregnant".into());
            s.pregnancy_test_date = Some("2026-11-26".into());
            s.pregnancy_test_result = Some("negative".into());
        });
        check(&tested, Outcome::Eligible, &[]);
    }

    #[test]
    fn alcohol_withdrawal_alone() {
        let ciwa = |total: &str, band: &str| {
            with_screening(|s| {
                s.ciwa_ar_total = Some(total.into());
                s.ciwa_ar_band = Some(band.into());
                s.ciwa_ar_assessed_on = Some("2026-11-26".into());
            })
        };
        check(&ciwa("3", "minimal"), Outcome::Eligible, &[]);
        for (total, band) in [("8", "moderate"), ("16", "severe")] {
            let inputs = ciwa(total, band);
            check(
                &inputs,
                Outcome::NotEligible,
                &["alcohol_withdrawal.ciwa_ar"],
            );
            let reason = &propose(&inputs).reasons[0];
            assert!(reason
                .message
                .contains("refer for medically managed withdrawal"));
            assert_eq!(
                reason.basis,
                format!("CIWA-Ar {total} ({band}) on 2026-11-26")
            );
        }
        let seizures = with_screening(|s| s.withdrawal_seizure_history = Some("yes".into()));
        check(
            &seizures,
            Outcome::NotEligible,
            &["alcohol_withdrawal.complicated_history"],
        );
        let dts = with_screening(|s| s.delirium_tremens_history = Some("yes".into()));
        check(
            &dts,
            Outcome::NotEligible,
            &["alcohol_withdrawal.complicated_history"],
        );
        let managed = with_screening(|s| {
            s.delirium_tremens_history = Some("yes".into());
            s.managed_withdrawal_completed_on = Some("2026-11-01".into());
        });
        check(
            &managed,
            Outcome::NeedsPhysicianReview,
            &["alcohol_withdrawal.complicated_history"],
        );
        let unknown = with_screening(|s| s.withdrawal_seizure_history = Some("unknown".into()));
        check(
            &unknown,
            Outcome::NeedsPhysicianReview,
            &["alcohol_withdrawal.history_unknown"],
        );
        // Alcohol use on the record with no CIWA-Ar asks for one.
        let mut drinker = base();
        drinker.patient.diagnoses = vec!["F10.20".into()];
        check(
            &drinker,
            Outcome::NeedsPhysicianReview,
            &["alcohol_withdrawal.ciwa_ar"],
        );
    }

    #[test]
    fn suicide_risk_alone() {
        let flagged = EligibilityInputs {
            latest_phq9: Some(phq9(&["suicide_risk"])),
            ..base()
        };
        check(&flagged, Outcome::NeedsPhysicianReview, &["suicide_risk"]);
        let missing = EligibilityInputs {
            latest_phq9: None,
            ..base()
        };
        check(
            &missing,
            Outcome::NeedsPhysicianReview,
            &["suicide_risk.phq9_missing"],
        );
        let open = EligibilityInputs {
            open_suicide_risk_alert: true,
            ..base()
        };
        check(
            &open,
            Outcome::NeedsPhysicianReview,
            &["suicide_risk.open_alert"],
        );
    }

    #[test]
    fn vitals_against_settings_alone() {
        let high = with_screening(|s| s.systolic_bp_mmhg = Some("151".into()));
        check(&high, Outcome::NeedsPhysicianReview, &["baseline_bp"]);
        assert_eq!(propose(&high).reasons[0].basis, "BP 151/78 mmHg");
        let at_limit = with_screening(|s| {
            s.systolic_bp_mmhg = Some("150".into());
            s.diastolic_bp_mmhg = Some("95".into());
        });
        check(&at_limit, Outcome::Eligible, &[]);
        let low_spo2 = with_screening(|s| s.spo2_percent = Some("91".into()));
        check(&low_spo2, Outcome::NeedsPhysicianReview, &["baseline_spo2"]);
        check(
            &with_screening(|s| s.spo2_percent = Some("92".into())),
            Outcome::Eligible,
            &[],
        );
        // 107.2 kg at 175 cm: 107.2 / 3.0625 = 35.004… > 35.0; 107.1 kg gives 34.97…
        check(
            &with_screening(|s| s.weight_kg = Some("107.2".into())),
            Outcome::NeedsPhysicianReview,
            &["bmi"],
        );
        check(
            &with_screening(|s| s.weight_kg = Some("107.1".into())),
            Outcome::Eligible,
            &[],
        );
        let mut older = base();
        older.patient.date_of_birth = NaiveDate::from_ymd_opt(1961, 11, 26).unwrap();
        check(&older, Outcome::NeedsPhysicianReview, &["age"]);
        older.patient.date_of_birth = NaiveDate::from_ymd_opt(1961, 11, 27).unwrap();
        check(&older, Outcome::Eligible, &[]);
        let no_bmi_limit = EligibilityInputs {
            settings: ClinicSettings {
                bmi_limit: Some(BmiLimit::NoLimit),
                ..all_set()
            },
            ..with_screening(|s| s.weight_kg = Some("200".into()))
        };
        check(&no_bmi_limit, Outcome::Eligible, &[]);
    }

    #[test]
    fn unset_settings_ask_for_review_and_never_guess() {
        let shipped = EligibilityInputs {
            settings: ClinicSettings::shipped(),
            ..base()
        };
        check(
            &shipped,
            Outcome::NeedsPhysicianReview,
            &["baseline_bp", "bmi", "age"],
        );
        let proposal = propose(&shipped);
        assert_eq!(
            proposal.reasons[0].message,
            "needs physician review: baseline_bp_limit not set by the clinic (needs clinic setting)"
        );
        assert_eq!(
            proposal.reasons[1].basis,
            "BMI 22.9 kg/m² (exact 70000000/3062500)"
        );
        assert_eq!(
            ClinicSettings::shipped().unset_settings(),
            ["baseline_bp_limit", "bmi_limit", "age_review_from_years"]
        );
        let nothing = EligibilityInputs {
            settings: ClinicSettings {
                spo2_review_below_percent: None,
                ..ClinicSettings::shipped()
            },
            ..base()
        };
        check(
            &nothing,
            Outcome::NeedsPhysicianReview,
            &["baseline_bp", "baseline_spo2", "bmi", "age"],
        );
    }

    #[test]
    fn medications_alone() {
        let mut benzo = base();
        benzo.patient.medications = vec!["Lorazepam 1 mg".into()];
        check(
            &benzo,
            Outcome::NeedsPhysicianReview,
            &["medication.benzodiazepine", "medication.reconcile"],
        );
        let lamotrigine = with_screening(|s| s.lamotrigine_use = Some("yes".into()));
        check(
            &lamotrigine,
            Outcome::NeedsPhysicianReview,
            &["medication.lamotrigine"],
        );
        let unknown = with_screening(|s| s.benzodiazepine_use = Some("unknown".into()));
        check(
            &unknown,
            Outcome::NeedsPhysicianReview,
            &["medication.unknown"],
        );

        let mut moud = with_screening(|s| s.moud = Some("continued".into()));
        moud.patient.substances = vec!["opioids".into()];
        moud.patient.medications = vec!["Buprenorphine/naloxone".into()];
        check(&moud, Outcome::Eligible, &["medication.moud_continue"]);
        let mut no_moud = base();
        no_moud.patient.substances = vec!["opioids".into()];
        check(
            &no_moud,
            Outcome::Eligible,
            &["medication.opioid_use_without_moud"],
        );
        let mut disagree = base();
        disagree.patient.medications = vec!["methadone".into()];
        check(
            &disagree,
            Outcome::NeedsPhysicianReview,
            &["medication.reconcile"],
        );
    }

    #[test]
    fn allergies_pdmp_and_consents_alone() {
        let mut allergic = base();
        allergic.patient.allergies = vec!["Ketamine (Ketalar)".into()];
        check(&allergic, Outcome::NotEligible, &["allergy.ketamine"]);
        check(
            &with_screening(|s| s.allergies_reviewed = Some("no".into())),
            Outcome::NeedsPhysicianReview,
            &["allergies_not_reviewed"],
        );
        let unchecked = with_screening(|s| {
            s.pdmp_checked_on = None;
            s.pdmp_checked_by = None;
            s.pdmp_result = None;
            s.pdmp_concerning = None;
        });
        check(
            &unchecked,
            Outcome::NeedsPhysicianReview,
            &["pdmp.not_checked"],
        );
        check(
            &with_screening(|s| s.pdmp_concerning = Some("yes".into())),
            Outcome::NeedsPhysicianReview,
            &["pdmp.concerning"],
        );

        let now = at(26, 12);
        let infusion = signed(ConsentKind::Infusion, at(25, 9));
        let revoked = infusion
            .revoke(at(26, 11), "Front desk", "written request")
            .unwrap();
        let inputs = EligibilityInputs {
            consents: ConsentFacts::from_signed(
                &[signed(ConsentKind::Part2Disclosure, at(25, 9)), revoked],
                now,
            ),
            ..base()
        };
        check(
            &inputs,
            Outcome::NotEligible,
            &["consent.treatment", "consent.infusion"],
        );
        assert!(propose(&inputs).reasons.iter().all(|r| !r.overridable));
        assert_eq!(inputs.consents.in_force.len(), 1);
    }

    #[test]
    fn every_reason_is_reported_worst_first() {
        let mut inputs = with_screening(|s| {
            s.contraindications
                .insert("active_ketamine_or_pcp_use_disorder".into(), "yes".into());
            s.contraindications
                .insert("bipolar_or_mania_history".into(), "yes".into());
            s.contraindications
                .insert("breastfeeding".into(), "unknown".into());
            s.ciwa_ar_total = Some("18".into());
            s.ciwa_ar_band = Some("severe".into());
            s.ciwa_ar_assessed_on = Some("2026-11-26".into());
            s.systolic_bp_mmhg = Some("170".into());
            s.pdmp_concerning = Some("yes".into());
        });
        inputs.latest_phq9 = Some(phq9(&["suicide_risk"]));
        inputs.patient.medications = vec!["Lamictal".into()];
        inputs.consents = ConsentFacts::from_signed(&[], inputs.now);
        check(
            &inputs,
            Outcome::NotEligible,
            &[
                "contraindication.active_ketamine_or_pcp_use_disorder",
                "alcohol_withdrawal.ciwa_ar",
                "consent.treatment",
                "consent.infusion",
                "contraindication.breastfeeding",
                "contraindication.bipolar_or_mania_history",
                "suicide_risk",
                "baseline_bp",
                "medication.lamotrigine",
                "medication.reconcile",
                "pdmp.concerning",
            ],
        );
    }

    fn excluded_record() -> EligibilityRecord {
        let inputs = with_screening(|s| {
            s.contraindications
                .insert("active_ketamine_or_pcp_use_disorder".into(), "yes".into());
            s.contraindications
                .insert("coronary_disease".into(), "yes".into());
        });
        EligibilityRecord::new(inputs)
    }

    fn decide(decision: &str, reason: Option<&str>, overridden: &[&str]) -> DecisionInput {
        DecisionInput {
            physician: Some("Dr Chen".into()),
            decision: Some(decision.into()),
            reason: reason.map(Into::into),
            overridden_rules: overridden.iter().map(|r| r.to_string()).collect(),
        }
    }

    fn error_fields(err: &FieldErrors) -> Vec<&str> {
        err.0.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn agreeing_needs_no_reason() {
        let eligible = EligibilityRecord::new(base());
        let decision = sign_decision(eligible, &decide("eligible", None, &[]), at(26, 13)).unwrap();
        assert!(decision.agrees_with_proposal);
        let agree_not = sign_decision(
            excluded_record(),
            &decide("not_eligible", None, &[]),
            at(26, 13),
        )
        .unwrap();
        assert!(agree_not.agrees_with_proposal && agree_not.reason.is_none());
    }

    #[test]
    fn overriding_needs_a_reason_and_each_excluding_rule_named() {
        let rule = "contraindication.active_ketamine_or_pcp_use_disorder";
        let err = sign_decision(
            excluded_record(),
            &decide("eligible", None, &[]),
            at(26, 13),
        )
        .unwrap_err();
        assert_eq!(error_fields(&err), ["reason", "overridden_rules"]);
        assert!(err.0[1].message.ends_with(rule), "{}", err.0[1].message);

        let err = sign_decision(
            excluded_record(),
            &decide(
                "eligible",
                Some("In sustained remission 2 years"),
                &["coronary_disease"],
            ),
            at(26, 13),
        )
        .unwrap_err();
        assert_eq!(error_fields(&err), ["overridden_rules", "overridden_rules"]);

        let decision = sign_decision(
            excluded_record(),
            &decide("eligible", Some("Remission confirmed with the addiction psychiatrist; urine ketamine negative x3"), &[rule]),
            at(26, 13),
        )
        .unwrap();
        assert!(!decision.agrees_with_proposal);
        assert_eq!(decision.overridden_rules, [rule]);
        assert_eq!(
            decision.record.proposal.outcome,
            Outcome::NotEligible,
            "the proposal is kept as it was"
        );

        // A needs-review proposal differs from either decision: a reason is needed.
        let review =
            EligibilityRecord::new(with_screening(|s| s.pdmp_concerning = Some("yes".into())));
        let err =
            sign_decision(review.clone(), &decide("eligible", None, &[]), at(26, 13)).unwrap_err();
        assert_eq!(error_fields(&err), ["reason"]);
        assert!(sign_decision(
            review,
            &decide("eligible", Some("Prescriber confirmed; legitimate"), &[]),
            at(26, 13)
        )
        .is_ok());
    }

    #[test]
    fn a_missing_consent_cannot_be_overridden() {
        let inputs = EligibilityInputs {
            consents: ConsentFacts::from_signed(&[], at(26, 12)),
            ..base()
        };
        let record = EligibilityRecord::new(inputs);
        let err = sign_decision(
            record.clone(),
            &decide("eligible", Some("urgent"), &["consent.treatment"]),
            at(26, 13),
        )
        .unwrap_err();
        assert_eq!(
            error_fields(&err),
            ["decision", "decision", "overridden_rules"]
        );
        let err = sign_decision(record, &decide("maybe", None, &[]), at(26, 11)).unwrap_err();
        assert_eq!(error_fields(&err), ["decision", "signed_at"]);
        let empty =
            sign_decision(excluded_record(), &DecisionInput::default(), at(26, 13)).unwrap_err();
        assert_eq!(error_fields(&empty), ["physician", "decision"]);
        let stray = sign_decision(
            excluded_record(),
            &decide("not_eligible", None, &["x"]),
            at(26, 13),
        )
        .unwrap_err();
        assert_eq!(error_fields(&stray), ["overridden_rules"]);
    }

    #[test]
    fn the_snapshot_round_trips_as_json_and_re_derives_the_proposal() {
        let decision = sign_decision(
            excluded_record(),
            &decide(
                "eligible",
                Some("Reviewed"),
                &["contraindication.active_ketamine_or_pcp_use_disorder"],
            ),
            at(26, 13),
        )
        .unwrap();
        let json = serde_json::to_string(&decision).unwrap();
        assert!(
            json.contains("\"active_ketamine_or_pcp_use_disorder\":\"yes\""),
            "{json}"
        );
        assert!(json.contains("\"outcome\":\"not_eligible\""));
        let back: Decision = serde_json::from_str(&json).unwrap();
        assert_eq!(back, decision);
        assert_eq!(propose(&back.record.inputs), back.record.proposal);
        let bad = json.replace("\"decision\":\"eligible\"", "\"decision\":\"perhaps\"");
        assert!(serde_json::from_str::<Decision>(&bad).is_err());
    }

    #[test]
    fn ages_count_whole_years() {
        let dob = NaiveDate::from_ymd_opt(1980, 2, 29).unwrap();
        assert_eq!(
            age_years(dob, NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()),
            45
        );
        assert_eq!(
            age_years(dob, NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()),
            46
        );
        assert_eq!(
            age_years(dob, NaiveDate::from_ymd_opt(1979, 1, 1).unwrap()),
            0
        );
    }

    fn arbitrary_reason() -> impl Strategy<Value = Reason> {
        (
            prop::sample::select(Severity::ALL.to_vec()),
            "[a-z_.]{1,20}",
        )
            .prop_map(|(severity, rule)| Reason {
                rule,
                severity,
                message: String::new(),
                basis: String::new(),
                source: String::new(),
                overridable: true,
            })
    }

    fn arbitrary_answer() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec!["yes", "no", "unknown"])
    }

    proptest! {
        /// The outcome is always the worst reason's, eligible with none.
        #[test]
        fn outcome_is_the_worst_reason(reasons in prop::collection::vec(arbitrary_reason(), 0..12)) {
            let worst = reasons.iter().map(|r| r.severity.outcome()).max().unwrap_or(Outcome::Eligible);
            let proposal = Proposal::from_reasons(reasons.clone());
            prop_assert_eq!(proposal.outcome, worst);
            prop_assert_eq!(proposal.reasons.len(), reasons.len());
        }

        /// Adding a reason never improves the outcome.
        #[test]
        fn adding_a_reason_never_improves(reasons in prop::collection::vec(arbitrary_reason(), 0..12), extra in arbitrary_reason()) {
            let before = Proposal::from_reasons(reasons.clone()).outcome;
            let mut more = reasons;
            more.push(extra);
            prop_assert!(Proposal::from_reasons(more).outcome >= before);
        }

        /// Over arbitrary checklist answers: every "yes" and "unknown" is
        /// reported, "no" never is, and the outcome is the worst reason.
        #[test]
        fn every_checklist_answer_is_reported(answers in prop::collection::vec(arbitrary_answer(), CONTRAINDICATIONS.len())) {
            let inputs = with_screening(|s| {
                for (item, answer) in CONTRAINDICATIONS.iter().zip(&answers) {
                    s.contraindications.insert(item.id.as_str().into(), (*answer).into());
                }
            });
            let proposal = propose(&inputs);
            for (item, answer) in CONTRAINDICATIONS.iter().zip(&answers) {
                let rule = format!("contraindication.{}", item.id.as_str());
                prop_assert_eq!(proposal.reasons.iter().any(|r| r.rule == rule), *answer != "no");
            }
            let worst = proposal.reasons.iter().map(|r| r.severity.outcome()).max().unwrap_or(Outcome::Eligible);
            prop_assert_eq!(proposal.outcome, worst);
        }

        /// Turning one "no" into "yes" or "unknown" never improves the outcome.
        #[test]
        fn a_worse_answer_never_improves(answers in prop::collection::vec(arbitrary_answer(), CONTRAINDICATIONS.len()), idx in 0..CONTRAINDICATIONS.len(), to in prop::sample::select(vec!["yes", "unknown"])) {
            let build = |answers: &[&str]| with_screening(|s| {
                for (item, answer) in CONTRAINDICATIONS.iter().zip(answers) {
                    s.contraindications.insert(item.id.as_str().into(), (*answer).into());
                }
            });
            let mut worse = answers.clone();
            if worse[idx] == "no" {
                worse[idx] = to;
            }
            prop_assert!(propose(&build(&worse)).outcome >= propose(&build(&answers)).outcome);
        }
    }

    #[test]
    fn the_ketamine_pcp_item_is_excluding_and_overridable() {
        let inputs = with_screening(|s| {
            s.contraindications.insert(
                ContraindicationId::ActiveKetamineOrPcpUseDisorder
                    .as_str()
                    .into(),
                "yes".into(),
            );
        });
        let proposal = propose(&inputs);
        assert_eq!(proposal.outcome, Outcome::NotEligible);
        assert!(proposal.reasons[0].overridable);
        assert!(proposal.reasons[0]
            .message
            .contains("unless a physician overrides with a written reason"));
        let allergy = Allergy {
            substance: "ketamine".into(),
            reaction: None,
        };
        let med = Medication {
            name: "x".into(),
            dose: None,
        };
        let mut details = patient();
        details.allergies = vec![allergy];
        details.medications = vec![med];
        let facts = PatientFacts::from_details(&details);
        assert_eq!(
            (facts.allergies.as_slice(), facts.medications.as_slice()),
            (&["ketamine".to_string()][..], &["x".to_string()][..])
        );
    }
}
