//! The medical screening record (issue 4 item 5): the contraindication
//! checklist of clinical.md §2.6, medication reconciliation, baseline vitals
//! with BMI, pregnancy status, alcohol withdrawal (§11.1) and the
//! prescription-monitoring-program (PDMP) check. `Screening::parse` validates
//! what a client sent and reports every failing field by its wire name.
//!
//! The screening records facts; `crate::eligibility` turns them into reasons.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::field::{FieldError, FieldErrors};

/// Serde for a `wire_enum!` type: written as its wire name, read through
/// `parse`. Only for types kept inside an eligibility snapshot.
macro_rules! wire_serde {
    ($($name:ident),+ $(,)?) => { $(
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                let text = String::deserialize(deserializer)?;
                $name::parse(&text).map_err(|err| serde::de::Error::custom(err.message))
            }
        }
    )+ };
}
pub(crate) use wire_serde;

wire_enum!(
    /// A checklist answer. `unknown` is an honest answer, not a blank.
    Answer, "answer" { Yes => "yes", No => "no", Unknown => "unknown" }
);

wire_enum!(
    /// Each contraindication of clinical.md §2.6 as a stable id. Pregnancy is
    /// not here: it is `Screening::pregnancy`, which also records the test.
    ContraindicationId, "contraindications" {
    KetamineHypersensitivity => "ketamine_hypersensitivity",
    UncontrolledHypertension => "uncontrolled_hypertension",
    RecentMyocardialInfarctionOrStroke => "recent_myocardial_infarction_or_stroke",
    AneurysmalVascularDisease => "aneurysmal_vascular_disease",
    ArteriovenousMalformation => "arteriovenous_malformation",
    IntracerebralHemorrhageHistory => "intracerebral_hemorrhage_history",
    ActivePsychosisOrSchizophrenia => "active_psychosis_or_schizophrenia",
    Breastfeeding => "breastfeeding",
    ActiveKetamineOrPcpUseDisorder => "active_ketamine_or_pcp_use_disorder",
    ControlledHypertension => "controlled_hypertension",
    CoronaryDisease => "coronary_disease",
    HeartFailure => "heart_failure",
    Arrhythmia => "arrhythmia",
    RaisedIntracranialPressure => "raised_intracranial_pressure",
    RaisedIntraocularPressure => "raised_intraocular_pressure",
    PsychosisHistory => "psychosis_history",
    BipolarOrManiaHistory => "bipolar_or_mania_history",
    DissociativeDisorder => "dissociative_disorder",
    KetamineOrPcpMisuseHistory => "ketamine_or_pcp_misuse_history",
    IntoxicatedOrInWithdrawalToday => "intoxicated_or_in_withdrawal_today",
    SevereHepaticImpairment => "severe_hepatic_impairment",
    KetamineRelatedBladderDisease => "ketamine_related_bladder_disease",
});

wire_enum!(
    /// How a "yes" counts. `absolute`: clinical.md §2.6 left column.
    /// `program_exclusion`: excluding by this program's rule (issue 4 item 5)
    /// though §2.6 does not list it as absolute. `relative`: §2.6 right column
    /// ("relative / caution"), a physician weighs it.
    ContraindicationKind, "kind" {
    Absolute => "absolute",
    ProgramExclusion => "program_exclusion",
    Relative => "relative",
});

/// One checklist item: what it asks, how a "yes" counts, and where that comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contraindication {
    pub id: ContraindicationId,
    pub kind: ContraindicationKind,
    /// The question in a clinician's words.
    pub label: &'static str,
    /// The original source as clinical.md §2.6 cites it, and its status there.
    pub source: &'static str,
}

/// The checklist, in the order the form asks it. Source ids ([S40] …) are
/// those of clinical.md §10; §2.6 heads the table "label items VERIFIED, the
/// rest are consensus/trial practice".
pub const CONTRAINDICATIONS: &[Contraindication] = &[
    Contraindication {
        id: ContraindicationId::KetamineHypersensitivity,
        kind: ContraindicationKind::Absolute,
        label: "Hypersensitivity to ketamine",
        source: "Ketamine HCl injection US label (Ketalar/Mylan SPL) [S40]; clinical.md §2.6, label item, VERIFIED",
    },
    Contraindication {
        id: ContraindicationId::UncontrolledHypertension,
        kind: ContraindicationKind::Absolute,
        label: "Uncontrolled hypertension (a significant rise in blood pressure would be a serious hazard)",
        source: "Ketamine HCl injection US label [S40]; clinical.md §2.6, label item, VERIFIED",
    },
    Contraindication {
        id: ContraindicationId::RecentMyocardialInfarctionOrStroke,
        kind: ContraindicationKind::Absolute,
        label: "Recent myocardial infarction or stroke",
        source: "Ketamine HCl injection US label [S40]; clinical.md §2.6, label item, VERIFIED",
    },
    Contraindication {
        id: ContraindicationId::AneurysmalVascularDisease,
        kind: ContraindicationKind::Absolute,
        label: "Aneurysmal vascular disease (intracranial, thoracic or abdominal aorta, or peripheral arteries)",
        source: "Spravato US prescribing information [S27]; clinical.md §2.6, label item, VERIFIED",
    },
    Contraindication {
        id: ContraindicationId::ArteriovenousMalformation,
        kind: ContraindicationKind::Absolute,
        label: "Arteriovenous malformation",
        source: "Spravato US prescribing information [S27]; clinical.md §2.6, label item, VERIFIED",
    },
    Contraindication {
        id: ContraindicationId::IntracerebralHemorrhageHistory,
        kind: ContraindicationKind::Absolute,
        label: "History of intracerebral haemorrhage",
        source: "Spravato US prescribing information [S27]; clinical.md §2.6, label item, VERIFIED",
    },
    Contraindication {
        id: ContraindicationId::ActivePsychosisOrSchizophrenia,
        kind: ContraindicationKind::Absolute,
        label: "Active psychosis or schizophrenia",
        source: "Trial exclusion, NCT02539511 eligibility [S7]; Spravato label \"carefully assess psychosis\" [S27]; clinical.md §2.6",
    },
    Contraindication {
        id: ContraindicationId::Breastfeeding,
        kind: ContraindicationKind::Absolute,
        label: "Breast-feeding",
        source: "Trial exclusion, NCT06943859 record [S18]; clinical.md §2.6 (trial practice)",
    },
    Contraindication {
        id: ContraindicationId::ActiveKetamineOrPcpUseDisorder,
        kind: ContraindicationKind::ProgramExclusion,
        label: "Active ketamine or PCP use disorder",
        source: "Program rule, issue 4 item 5: excluding unless a physician overrides with a written reason; \
                 clinical.md §2.6 lists ketamine/PCP misuse as a caution for its abuse potential [S18]",
    },
    Contraindication {
        id: ContraindicationId::ControlledHypertension,
        kind: ContraindicationKind::Relative,
        label: "Controlled hypertension",
        source: "Szarmach et al. 2020 [S23]; Yale BP study, Gen Hosp Psychiatry 2024 [S29]; clinical.md §2.6",
    },
    Contraindication {
        id: ContraindicationId::CoronaryDisease,
        kind: ContraindicationKind::Relative,
        label: "Coronary artery disease",
        source: "Szarmach et al. 2020 [S23]; Yale BP study 2024 [S29]; clinical.md §2.6",
    },
    Contraindication {
        id: ContraindicationId::HeartFailure,
        kind: ContraindicationKind::Relative,
        label: "Heart failure",
        source: "Szarmach et al. 2020 [S23]; Yale BP study 2024 [S29]; clinical.md §2.6",
    },
    Contraindication {
        id: ContraindicationId::Arrhythmia,
        kind: ContraindicationKind::Relative,
        label: "Arrhythmia",
        source: "Szarmach et al. 2020 [S23]; Yale BP study 2024 [S29]; clinical.md §2.6",
    },
    Contraindication {
        id: ContraindicationId::RaisedIntracranialPressure,
        kind: ContraindicationKind::Relative,
        label: "Raised intracranial pressure",
        source: "clinical.md §2.6, consensus practice, evidence weak; no source named",
    },
    Contraindication {
        id: ContraindicationId::RaisedIntraocularPressure,
        kind: ContraindicationKind::Relative,
        label: "Raised intra-ocular pressure",
        source: "clinical.md §2.6, consensus practice, evidence weak; no source named",
    },
    Contraindication {
        id: ContraindicationId::PsychosisHistory,
        kind: ContraindicationKind::Relative,
        label: "Past psychosis (not active now)",
        source: "Spravato label \"carefully assess psychosis\" [S27]; clinical.md §2.3 (screen psychosis) and §2.6; \
                 treated as a caution, the active form being absolute",
    },
    Contraindication {
        id: ContraindicationId::BipolarOrManiaHistory,
        kind: ContraindicationKind::Relative,
        label: "Bipolar disorder or a history of mania",
        source: "NCT02539511 eligibility [S7]; clinical.md §2.6",
    },
    Contraindication {
        id: ContraindicationId::DissociativeDisorder,
        kind: ContraindicationKind::Relative,
        label: "Dissociative disorder",
        source: "NCT02539511 eligibility [S7]; clinical.md §2.6",
    },
    Contraindication {
        id: ContraindicationId::KetamineOrPcpMisuseHistory,
        kind: ContraindicationKind::Relative,
        label: "Past ketamine or PCP misuse (abuse potential)",
        source: "NCT06943859 record [S18]; clinical.md §2.6",
    },
    Contraindication {
        id: ContraindicationId::IntoxicatedOrInWithdrawalToday,
        kind: ContraindicationKind::Relative,
        label: "Intoxicated or in withdrawal at this screening",
        source: "NCT06943859 record [S18]; clinical.md §2.6",
    },
    Contraindication {
        id: ContraindicationId::SevereHepaticImpairment,
        kind: ContraindicationKind::Relative,
        label: "Severe hepatic impairment",
        source: "clinical.md §2.6, consensus practice; no source named",
    },
    Contraindication {
        id: ContraindicationId::KetamineRelatedBladderDisease,
        kind: ContraindicationKind::Relative,
        label: "Ketamine-related bladder disease",
        source: "clinical.md §2.6, consensus practice; no source named",
    },
];

/// The table entry of a checklist item.
pub fn contraindication(id: ContraindicationId) -> Option<&'static Contraindication> {
    CONTRAINDICATIONS.iter().find(|c| c.id == id)
}

wire_enum!(
    /// Medication for opioid use disorder at screening. There is no "stopped":
    /// MOUD is continued, never stopped for ketamine (clinical.md §11.4).
    MoudStatus, "moud" { Continued => "continued", NotOnMoud => "not_on_moud" }
);

wire_enum!(PregnancyStatus, "pregnancy_status" {
    NotApplicable => "not_applicable",
    NotPregnant => "not_pregnant",
    Pregnant => "pregnant",
    Unknown => "unknown",
});

wire_enum!(PregnancyTestResult, "pregnancy_test_result" { Negative => "negative", Positive => "positive" });

wire_enum!(
    /// CIWA-Ar band names as the clinic's `ciwa-ar` instrument file scores
    /// them (DESIGN.md `ketaclinic score`). The cut-offs are that file's
    /// setting (clinical.md §11.1), so the band is recorded, not recomputed.
    CiwaArBand, "ciwa_ar_band" { Minimal => "minimal", Moderate => "moderate", Severe => "severe" }
);

wire_serde!(
    Answer,
    ContraindicationId,
    ContraindicationKind,
    MoudStatus,
    PregnancyStatus,
    PregnancyTestResult,
    CiwaArBand
);

// Input plausibility limits. These catch typing errors (a pulse typed in the
// pressure box, pounds for kilograms, a slipped decimal point); they are NOT
// clinical thresholds, which live in `crate::eligibility::ClinicSettings`.
pub const SYSTOLIC_BP_MMHG_RANGE: (u32, u32) = (50, 300);
pub const DIASTOLIC_BP_MMHG_RANGE: (u32, u32) = (20, 200);
pub const HEART_RATE_BPM_RANGE: (u32, u32) = (20, 250);
pub const RESPIRATORY_RATE_PER_MIN_RANGE: (u32, u32) = (4, 60);
pub const SPO2_PERCENT_RANGE: (u32, u32) = (50, 100);
/// The same typing-error guard as `ketaclinic dose` (DESIGN.md: weight 30–250 kg).
pub const WEIGHT_KG_RANGE: (u32, u32) = (30, 250);
pub const HEIGHT_CM_RANGE: (u32, u32) = (100, 250);
/// Weight is kept in grams: up to 3 decimals of a kilogram, exactly.
pub const WEIGHT_KG_MAX_DECIMALS: u32 = 3;
/// Height is kept in millimetres: up to 1 decimal of a centimetre, exactly.
pub const HEIGHT_CM_MAX_DECIMALS: u32 = 1;
/// CIWA-Ar total range, 0–67 (Sullivan JT et al., Br J Addict 1989;84:1353; clinical.md §11.1).
pub const CIWA_AR_TOTAL_MAX: u32 = 67;

const MAX_NAME_CHARS: usize = 100;
const MAX_NOTE_CHARS: usize = 2000;

/// Raw screening fields as a client sent them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScreeningInput {
    pub screened_on: Option<String>,
    pub screened_by: Option<String>,
    /// Checklist item id (`CONTRAINDICATIONS`) → `yes`, `no` or `unknown`; every item is required.
    pub contraindications: BTreeMap<String, String>,
    /// `yes` once the allergy list was gone through with the patient (including "none").
    pub allergies_reviewed: Option<String>,
    pub benzodiazepine_use: Option<String>,
    pub lamotrigine_use: Option<String>,
    /// `continued` or `not_on_moud`.
    pub moud: Option<String>,
    pub medication_notes: Option<String>,
    pub systolic_bp_mmhg: Option<String>,
    pub diastolic_bp_mmhg: Option<String>,
    pub heart_rate_bpm: Option<String>,
    pub respiratory_rate_per_min: Option<String>,
    pub spo2_percent: Option<String>,
    pub weight_kg: Option<String>,
    pub height_cm: Option<String>,
    pub pregnancy_status: Option<String>,
    pub pregnancy_test_date: Option<String>,
    pub pregnancy_test_result: Option<String>,
    pub psychiatric_history_notes: Option<String>,
    pub ciwa_ar_total: Option<String>,
    pub ciwa_ar_band: Option<String>,
    pub ciwa_ar_assessed_on: Option<String>,
    pub withdrawal_seizure_history: Option<String>,
    pub delirium_tremens_history: Option<String>,
    /// The date medically managed withdrawal (detox) was completed, if it was.
    pub managed_withdrawal_completed_on: Option<String>,
    pub pdmp_checked_on: Option<String>,
    pub pdmp_checked_by: Option<String>,
    pub pdmp_result: Option<String>,
    pub pdmp_concerning: Option<String>,
}

/// A validated screening: every value here has been checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Screening {
    pub screened_on: NaiveDate,
    pub screened_by: String,
    /// Every item of `CONTRAINDICATIONS`, answered.
    pub contraindications: BTreeMap<ContraindicationId, Answer>,
    pub allergies_reviewed: bool,
    pub medications: MedicationReconciliation,
    pub vitals: BaselineVitals,
    pub pregnancy: Pregnancy,
    pub psychiatric_history_notes: Option<String>,
    pub alcohol_withdrawal: AlcoholWithdrawal,
    /// `None` until staff record the check.
    pub pdmp: Option<PdmpCheck>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicationReconciliation {
    /// Any current benzodiazepine (clinical.md §2.6: heavy use may blunt the effect).
    pub benzodiazepines: Answer,
    /// Current lamotrigine (clinical.md §2.6: may blunt the effect).
    pub lamotrigine: Answer,
    pub moud: MoudStatus,
    pub notes: Option<String>,
}

/// Baseline vitals with units in the names. Weight and height are integers
/// in the smallest unit entered, so BMI is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineVitals {
    pub systolic_bp_mmhg: u32,
    pub diastolic_bp_mmhg: u32,
    pub heart_rate_bpm: u32,
    pub respiratory_rate_per_min: u32,
    pub spo2_percent: u32,
    pub weight_g: u32,
    pub height_mm: u32,
}

impl BaselineVitals {
    pub fn bmi(&self) -> Bmi {
        Bmi {
            weight_g: self.weight_g,
            height_mm: self.height_mm,
        }
    }
}

/// Body-mass index, kg/m², kept as the exact fraction
/// `weight_g × 1000 / height_mm²`. Nothing is rounded unless a caller asks
/// for a decimal string with a stated number of places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bmi {
    weight_g: u32,
    height_mm: u32,
}

impl Bmi {
    /// Numerator and denominator of the exact value in kg/m².
    pub fn fraction(&self) -> (u64, u64) {
        (
            u64::from(self.weight_g) * 1000,
            u64::from(self.height_mm) * u64::from(self.height_mm),
        )
    }

    /// The nearest `f64`, for charts only; compare with `exceeds_tenths`.
    pub fn approx_kg_per_m2(&self) -> f64 {
        f64::from(self.weight_g) * 1000.0 / (f64::from(self.height_mm) * f64::from(self.height_mm))
    }

    /// True when the exact BMI is above `limit_tenths / 10` kg/m².
    pub fn exceeds_tenths(&self, limit_tenths: u32) -> bool {
        let (num, den) = self.fraction();
        u128::from(num) * 10 > u128::from(limit_tenths) * u128::from(den)
    }

    /// True when the value is exactly representable with `places` decimals.
    pub fn is_exact_at(&self, places: u32) -> bool {
        let (num, den) = self.fraction();
        (u128::from(num) * 10u128.pow(places.min(12))).checked_rem(u128::from(den)) == Some(0)
    }

    /// The value with `places` decimals (at most 12), rounded half up: the
    /// name says it rounds, and `is_exact_at` says whether it had to.
    pub fn rounded_half_up(&self, places: u32) -> String {
        let places = places.min(12);
        let (num, den) = self.fraction();
        if den == 0 {
            return "undefined".into();
        }
        let scale = 10u128.pow(places);
        let scaled = (u128::from(num) * scale * 2 + u128::from(den)) / (u128::from(den) * 2);
        let whole = scaled / scale;
        if places == 0 {
            return whole.to_string();
        }
        let frac = scaled % scale;
        format!(
            "{whole}.{frac:0width$}",
            width = usize::try_from(places).unwrap_or(0)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PregnancyTest {
    pub date: NaiveDate,
    pub result: PregnancyTestResult,
}

/// Pregnancy status with the test behind it: `not_pregnant` needs a negative
/// test; `pregnant` may carry a positive one; the others carry none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pregnancy {
    pub status: PregnancyStatus,
    pub test: Option<PregnancyTest>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CiwaAr {
    pub total: u32,
    pub band: CiwaArBand,
    pub assessed_on: NaiveDate,
}

/// Alcohol withdrawal risk before an infusion (clinical.md §11.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlcoholWithdrawal {
    /// The latest CIWA-Ar, if one was done.
    pub ciwa_ar: Option<CiwaAr>,
    pub seizure_history: Answer,
    pub delirium_tremens_history: Answer,
    pub managed_withdrawal_completed_on: Option<NaiveDate>,
}

/// The state prescription-monitoring-program check, entered by staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PdmpCheck {
    pub checked_on: NaiveDate,
    pub checked_by: String,
    pub result: String,
    pub concerning: bool,
}

impl Screening {
    /// Validates every field and reports every failure. `today` is the
    /// site's date, passed in: no date here may be after it.
    pub fn parse(input: &ScreeningInput, today: NaiveDate) -> Result<Screening, FieldErrors> {
        let mut errors = Vec::new();
        let e = &mut errors;
        let screened_on = required_date(e, "screened_on", input.screened_on.as_deref(), today);
        let screened_by = required_text(
            e,
            "screened_by",
            input.screened_by.as_deref(),
            MAX_NAME_CHARS,
        );
        let contraindications = parse_checklist(e, &input.contraindications);
        let allergies_reviewed = match blank_to_none(input.allergies_reviewed.as_deref()) {
            None => {
                e.push(FieldError::new(
                    "allergies_reviewed",
                    "is required: yes or no",
                ));
                None
            }
            Some("yes") => Some(true),
            Some("no") => Some(false),
            Some(_) => {
                e.push(FieldError::new(
                    "allergies_reviewed",
                    "must be one of: yes, no",
                ));
                None
            }
        };
        let medications = parse_medications(e, input);
        let vitals = parse_vitals(e, input);
        let pregnancy = parse_pregnancy(e, input, today);
        let psychiatric_history_notes = optional_text(
            e,
            "psychiatric_history_notes",
            input.psychiatric_history_notes.as_deref(),
            MAX_NOTE_CHARS,
        );
        let alcohol_withdrawal = parse_alcohol_withdrawal(e, input, today);
        let pdmp = parse_pdmp(e, input, today);

        match (
            screened_on,
            screened_by,
            contraindications,
            allergies_reviewed,
            medications,
            vitals,
            pregnancy,
            alcohol_withdrawal,
            pdmp,
        ) {
            (
                Some(screened_on),
                Some(screened_by),
                Some(contraindications),
                Some(allergies_reviewed),
                Some(medications),
                Some(vitals),
                Some(pregnancy),
                Some(alcohol_withdrawal),
                Some(pdmp),
            ) if errors.is_empty() => Ok(Screening {
                screened_on,
                screened_by,
                contraindications,
                allergies_reviewed,
                medications,
                vitals,
                pregnancy,
                psychiatric_history_notes,
                alcohol_withdrawal,
                pdmp,
            }),
            _ => Err(FieldErrors(errors)),
        }
    }

    /// The answer recorded for a checklist item (`unknown` if somehow absent).
    pub fn answer(&self, id: ContraindicationId) -> Answer {
        self.contraindications
            .get(&id)
            .copied()
            .unwrap_or(Answer::Unknown)
    }
}

fn parse_checklist(
    errors: &mut Vec<FieldError>,
    answers: &BTreeMap<String, String>,
) -> Option<BTreeMap<ContraindicationId, Answer>> {
    let n_before = errors.len();
    for key in answers.keys() {
        if ContraindicationId::parse(key.trim()).is_err() {
            errors.push(FieldError::new(
                format!("contraindications.{key}"),
                format!(
                    "is not a checklist item; items are: {}",
                    ContraindicationId::allowed_list()
                ),
            ));
        }
    }
    let mut checklist = BTreeMap::new();
    for item in CONTRAINDICATIONS {
        let field = format!("contraindications.{}", item.id.as_str());
        let typed = answers
            .iter()
            .find(|(key, _)| key.trim() == item.id.as_str())
            .map(|(_, value)| value.as_str());
        match blank_to_none(typed) {
            None => errors.push(FieldError::new(field, "is required: yes, no or unknown")),
            Some(text) => match Answer::parse(text) {
                Ok(answer) => {
                    checklist.insert(item.id, answer);
                }
                Err(err) => errors.push(FieldError::new(field, err.message)),
            },
        }
    }
    (errors.len() == n_before).then_some(checklist)
}

fn required_answer(
    errors: &mut Vec<FieldError>,
    field: &str,
    text: Option<&str>,
) -> Option<Answer> {
    match blank_to_none(text) {
        None => {
            errors.push(FieldError::new(field, "is required: yes, no or unknown"));
            None
        }
        Some(text) => match Answer::parse(text) {
            Ok(answer) => Some(answer),
            Err(err) => {
                errors.push(FieldError::new(field, err.message));
                None
            }
        },
    }
}

/// MOUD is never stopped for ketamine (clinical.md §11.4), so the field has
/// no "stopped" value, and anything else is refused saying why.
fn parse_moud(errors: &mut Vec<FieldError>, text: Option<&str>) -> Option<MoudStatus> {
    const RULE: &str = "MOUD (buprenorphine, methadone, extended-release naltrexone) is continued through ketamine \
                        treatment, never stopped (clinical.md §11.4)";
    match blank_to_none(text) {
        None => {
            errors.push(FieldError::new(
                "moud",
                format!("is required: one of {}", MoudStatus::allowed_list()),
            ));
            None
        }
        Some(text) => match MoudStatus::parse(text) {
            Ok(status) => Some(status),
            Err(_) => {
                let lower = text.to_lowercase();
                let stopping = [
                    "stop",
                    "discontinu",
                    "taper",
                    "hold",
                    "held",
                    "paus",
                    "suspend",
                    "wean",
                    "cease",
                ]
                .iter()
                .any(|word| lower.contains(word));
                let message = if stopping {
                    format!("a screening cannot record stopping MOUD: {RULE}; record `continued`")
                } else {
                    format!("must be one of: {}; {RULE}", MoudStatus::allowed_list())
                };
                errors.push(FieldError::new("moud", message));
                None
            }
        },
    }
}

fn parse_medications(
    errors: &mut Vec<FieldError>,
    input: &ScreeningInput,
) -> Option<MedicationReconciliation> {
    let benzodiazepines = required_answer(
        errors,
        "benzodiazepine_use",
        input.benzodiazepine_use.as_deref(),
    );
    let lamotrigine = required_answer(errors, "lamotrigine_use", input.lamotrigine_use.as_deref());
    let moud = parse_moud(errors, input.moud.as_deref());
    let notes = optional_text(
        errors,
        "medication_notes",
        input.medication_notes.as_deref(),
        MAX_NOTE_CHARS,
    );
    Some(MedicationReconciliation {
        benzodiazepines: benzodiazepines?,
        lamotrigine: lamotrigine?,
        moud: moud?,
        notes,
    })
}

fn parse_vitals(errors: &mut Vec<FieldError>, input: &ScreeningInput) -> Option<BaselineVitals> {
    let systolic = whole_in(
        errors,
        "systolic_bp_mmhg",
        input.systolic_bp_mmhg.as_deref(),
        SYSTOLIC_BP_MMHG_RANGE,
        "mmHg",
    );
    let diastolic = whole_in(
        errors,
        "diastolic_bp_mmhg",
        input.diastolic_bp_mmhg.as_deref(),
        DIASTOLIC_BP_MMHG_RANGE,
        "mmHg",
    );
    let heart_rate = whole_in(
        errors,
        "heart_rate_bpm",
        input.heart_rate_bpm.as_deref(),
        HEART_RATE_BPM_RANGE,
        "beats/min",
    );
    let respiratory_rate = whole_in(
        errors,
        "respiratory_rate_per_min",
        input.respiratory_rate_per_min.as_deref(),
        RESPIRATORY_RATE_PER_MIN_RANGE,
        "breaths/min",
    );
    let spo2 = whole_in(
        errors,
        "spo2_percent",
        input.spo2_percent.as_deref(),
        SPO2_PERCENT_RANGE,
        "%",
    );
    let weight_g = decimal_in(
        errors,
        "weight_kg",
        input.weight_kg.as_deref(),
        WEIGHT_KG_RANGE,
        WEIGHT_KG_MAX_DECIMALS,
        "kg",
    );
    let height_mm = decimal_in(
        errors,
        "height_cm",
        input.height_cm.as_deref(),
        HEIGHT_CM_RANGE,
        HEIGHT_CM_MAX_DECIMALS,
        "cm",
    );
    if let (Some(systolic), Some(diastolic)) = (systolic, diastolic) {
        if diastolic >= systolic {
            errors.push(FieldError::new(
                "diastolic_bp_mmhg",
                "must be below the systolic pressure (were the two swapped?)",
            ));
            return None;
        }
    }
    Some(BaselineVitals {
        systolic_bp_mmhg: systolic?,
        diastolic_bp_mmhg: diastolic?,
        heart_rate_bpm: heart_rate?,
        respiratory_rate_per_min: respiratory_rate?,
        spo2_percent: spo2?,
        weight_g: weight_g?,
        height_mm: height_mm?,
    })
}

fn parse_pregnancy(
    errors: &mut Vec<FieldError>,
    input: &ScreeningInput,
    today: NaiveDate,
) -> Option<Pregnancy> {
    let n_before = errors.len();
    let status = match blank_to_none(input.pregnancy_status.as_deref()) {
        None => {
            errors.push(FieldError::new(
                "pregnancy_status",
                format!("is required: one of {}", PregnancyStatus::allowed_list()),
            ));
            None
        }
        Some(text) => keep(errors, PregnancyStatus::parse(text)),
    };
    let date = optional_date(
        errors,
        "pregnancy_test_date",
        input.pregnancy_test_date.as_deref(),
        today,
    );
    let result = blank_to_none(input.pregnancy_test_result.as_deref())
        .and_then(|text| keep(errors, PregnancyTestResult::parse(text)));
    let date_given = blank_to_none(input.pregnancy_test_date.as_deref()).is_some();
    let result_given = blank_to_none(input.pregnancy_test_result.as_deref()).is_some();
    if date_given != result_given {
        let missing = if date_given {
            "pregnancy_test_result"
        } else {
            "pregnancy_test_date"
        };
        errors.push(FieldError::new(
            missing,
            "a pregnancy test needs both its date and its result",
        ));
    }
    let test = match (date, result) {
        (Some(date), Some(result)) => Some(PregnancyTest { date, result }),
        _ => None,
    };
    match (status, test) {
        (Some(PregnancyStatus::NotPregnant), None) if !date_given && !result_given => errors.push(FieldError::new(
            "pregnancy_test_date",
            "not_pregnant needs the test it rests on: its date and a negative result (clinical.md §2.3)",
        )),
        (Some(PregnancyStatus::NotPregnant), Some(test)) if test.result == PregnancyTestResult::Positive => errors.push(
            FieldError::new("pregnancy_test_result", "a positive test contradicts not_pregnant; record pregnant"),
        ),
        (Some(PregnancyStatus::Pregnant), Some(test)) if test.result == PregnancyTestResult::Negative => errors.push(
            FieldError::new("pregnancy_test_result", "a negative test contradicts pregnant; check the status"),
        ),
        (Some(status @ (PregnancyStatus::NotApplicable | PregnancyStatus::Unknown)), _) if date_given || result_given => {
            errors.push(FieldError::new(
                "pregnancy_status",
                format!("{} takes no test; with a test result record not_pregnant or pregnant", status.as_str()),
            ))
        }
        _ => {}
    }
    if errors.len() > n_before {
        return None;
    }
    Some(Pregnancy {
        status: status?,
        test,
    })
}

fn parse_alcohol_withdrawal(
    errors: &mut Vec<FieldError>,
    input: &ScreeningInput,
    today: NaiveDate,
) -> Option<AlcoholWithdrawal> {
    let n_before = errors.len();
    let total_text = blank_to_none(input.ciwa_ar_total.as_deref());
    let band_text = blank_to_none(input.ciwa_ar_band.as_deref());
    let date_text = blank_to_none(input.ciwa_ar_assessed_on.as_deref());
    let ciwa_ar = if total_text.is_none() && band_text.is_none() && date_text.is_none() {
        None
    } else {
        let total = whole_in(
            errors,
            "ciwa_ar_total",
            total_text,
            (0, CIWA_AR_TOTAL_MAX),
            "points",
        );
        let band = match band_text {
            None => {
                errors.push(FieldError::new(
                    "ciwa_ar_band",
                    format!(
                        "is required with a CIWA-Ar: one of {}",
                        CiwaArBand::allowed_list()
                    ),
                ));
                None
            }
            Some(text) => keep(errors, CiwaArBand::parse(text)),
        };
        let assessed_on = required_date(errors, "ciwa_ar_assessed_on", date_text, today);
        match (total, band, assessed_on) {
            (Some(total), Some(band), Some(assessed_on)) => Some(CiwaAr {
                total,
                band,
                assessed_on,
            }),
            _ => None,
        }
    };
    let seizure_history = required_answer(
        errors,
        "withdrawal_seizure_history",
        input.withdrawal_seizure_history.as_deref(),
    );
    let delirium_tremens_history = required_answer(
        errors,
        "delirium_tremens_history",
        input.delirium_tremens_history.as_deref(),
    );
    let managed_withdrawal_completed_on = optional_date(
        errors,
        "managed_withdrawal_completed_on",
        input.managed_withdrawal_completed_on.as_deref(),
        today,
    );
    if errors.len() > n_before {
        return None;
    }
    Some(AlcoholWithdrawal {
        ciwa_ar,
        seizure_history: seizure_history?,
        delirium_tremens_history: delirium_tremens_history?,
        managed_withdrawal_completed_on,
    })
}

/// The PDMP check is all or nothing: absent until staff record it, and then
/// with its date, who checked, the result and whether it is concerning.
fn parse_pdmp(
    errors: &mut Vec<FieldError>,
    input: &ScreeningInput,
    today: NaiveDate,
) -> Option<Option<PdmpCheck>> {
    let fields = [
        &input.pdmp_checked_on,
        &input.pdmp_checked_by,
        &input.pdmp_result,
        &input.pdmp_concerning,
    ];
    if fields.iter().all(|f| blank_to_none(f.as_deref()).is_none()) {
        return Some(None);
    }
    let checked_on = required_date(
        errors,
        "pdmp_checked_on",
        input.pdmp_checked_on.as_deref(),
        today,
    );
    let checked_by = required_text(
        errors,
        "pdmp_checked_by",
        input.pdmp_checked_by.as_deref(),
        MAX_NAME_CHARS,
    );
    let result = required_text(
        errors,
        "pdmp_result",
        input.pdmp_result.as_deref(),
        MAX_NOTE_CHARS,
    );
    let concerning = match blank_to_none(input.pdmp_concerning.as_deref()) {
        Some("yes") => Some(true),
        Some("no") => Some(false),
        None => {
            errors.push(FieldError::new(
                "pdmp_concerning",
                "is required with a PDMP check: yes or no",
            ));
            None
        }
        Some(_) => {
            errors.push(FieldError::new(
                "pdmp_concerning",
                "must be one of: yes, no",
            ));
            None
        }
    };
    Some(Some(PdmpCheck {
        checked_on: checked_on?,
        checked_by: checked_by?,
        result: result?,
        concerning: concerning?,
    }))
}

fn keep<T>(errors: &mut Vec<FieldError>, res: Result<T, FieldError>) -> Option<T> {
    match res {
        Ok(value) => Some(value),
        Err(err) => {
            errors.push(err);
            None
        }
    }
}

fn blank_to_none(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|t| !t.is_empty())
}

fn clean_text(
    errors: &mut Vec<FieldError>,
    field: &str,
    text: &str,
    max_chars: usize,
) -> Option<String> {
    if text.chars().count() > max_chars {
        errors.push(FieldError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
        return None;
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        errors.push(FieldError::new(
            field,
            "must not contain control characters",
        ));
        return None;
    }
    Some(text.to_string())
}

fn required_text(
    errors: &mut Vec<FieldError>,
    field: &str,
    text: Option<&str>,
    max_chars: usize,
) -> Option<String> {
    match blank_to_none(text) {
        None => {
            errors.push(FieldError::new(field, "is required"));
            None
        }
        Some(text) => clean_text(errors, field, text, max_chars),
    }
}

fn optional_text(
    errors: &mut Vec<FieldError>,
    field: &str,
    text: Option<&str>,
    max_chars: usize,
) -> Option<String> {
    blank_to_none(text).and_then(|text| clean_text(errors, field, text, max_chars))
}

fn parse_date(
    errors: &mut Vec<FieldError>,
    field: &str,
    text: &str,
    today: NaiveDate,
) -> Option<NaiveDate> {
    let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") else {
        errors.push(FieldError::new(
            field,
            "must be a real date written YYYY-MM-DD",
        ));
        return None;
    };
    if date > today {
        errors.push(FieldError::new(field, "must not be in the future"));
        return None;
    }
    Some(date)
}

fn required_date(
    errors: &mut Vec<FieldError>,
    field: &str,
    text: Option<&str>,
    today: NaiveDate,
) -> Option<NaiveDate> {
    match blank_to_none(text) {
        None => {
            errors.push(FieldError::new(field, "is required, as YYYY-MM-DD"));
            None
        }
        Some(text) => parse_date(errors, field, text, today),
    }
}

fn optional_date(
    errors: &mut Vec<FieldError>,
    field: &str,
    text: Option<&str>,
    today: NaiveDate,
) -> Option<NaiveDate> {
    blank_to_none(text).and_then(|text| parse_date(errors, field, text, today))
}

/// A whole number within a plausibility range (inclusive), e.g. a pressure.
fn whole_in(
    errors: &mut Vec<FieldError>,
    field: &str,
    text: Option<&str>,
    range: (u32, u32),
    unit: &str,
) -> Option<u32> {
    let (min, max) = range;
    let message = format!("must be a whole number from {min} to {max} {unit}");
    let Some(text) = blank_to_none(text) else {
        errors.push(FieldError::new(field, format!("is required; {message}")));
        return None;
    };
    match text.parse::<u32>() {
        Ok(value) if text.chars().all(|c| c.is_ascii_digit()) && (min..=max).contains(&value) => {
            Some(value)
        }
        _ => {
            errors.push(FieldError::new(field, message));
            None
        }
    }
}

/// A decimal with at most `max_decimals` places within a plausibility range,
/// returned exactly as an integer count of 10^-max_decimals units (72.5 kg
/// with 3 places is 72500 g). Never rounded: more places are refused.
fn decimal_in(
    errors: &mut Vec<FieldError>,
    field: &str,
    text: Option<&str>,
    range: (u32, u32),
    max_decimals: u32,
    unit: &str,
) -> Option<u32> {
    let (min, max) = range;
    let message = format!(
        "must be a number from {min} to {max} {unit}, with at most {max_decimals} decimal places"
    );
    let Some(text) = blank_to_none(text) else {
        errors.push(FieldError::new(field, format!("is required; {message}")));
        return None;
    };
    let scaled = scaled_decimal(text, max_decimals);
    let scale = 10u64.pow(max_decimals);
    match scaled {
        Some(value) if value >= u64::from(min) * scale && value <= u64::from(max) * scale => {
            u32::try_from(value).ok()
        }
        _ => {
            errors.push(FieldError::new(field, message));
            None
        }
    }
}

/// "72.5" with 3 places → 72500. Digits and one optional point only.
fn scaled_decimal(text: &str, places: u32) -> Option<u64> {
    let (whole, frac) = match text.split_once('.') {
        Some((whole, frac)) => (whole, frac),
        None => (text, ""),
    };
    let places_usize = usize::try_from(places).ok()?;
    if whole.is_empty()
        || whole.len() > 6
        || frac.len() > places_usize
        || (text.contains('.') && frac.is_empty())
    {
        return None;
    }
    if !whole
        .chars()
        .chain(frac.chars())
        .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    let mut frac_value: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    for _ in frac.len()..places_usize {
        frac_value *= 10;
    }
    whole
        .checked_mul(10u64.pow(places))?
        .checked_add(frac_value)
}

/// Current-medication names that are benzodiazepines: generic names and
/// common US brand names (standard drug naming, matched in lower case).
const BENZODIAZEPINE_NAMES: &[&str] = &[
    "alprazolam",
    "chlordiazepoxide",
    "clobazam",
    "clonazepam",
    "clorazepate",
    "diazepam",
    "estazolam",
    "flurazepam",
    "lorazepam",
    "midazolam",
    "oxazepam",
    "quazepam",
    "temazepam",
    "triazolam",
    "xanax",
    "ativan",
    "klonopin",
    "valium",
    "librium",
    "restoril",
    "halcion",
    "tranxene",
    "onfi",
];

/// Lamotrigine under its generic and US brand name.
const LAMOTRIGINE_NAMES: &[&str] = &["lamotrigine", "lamictal"];

wire_enum!(
    /// A note from medication reconciliation, by stable id.
    InteractionKind, "interaction" {
    Benzodiazepine => "benzodiazepine",
    Lamotrigine => "lamotrigine",
    MoudContinue => "moud_continue",
    MedicationListDisagrees => "medication_list_disagrees",
    AnswerUnknown => "answer_unknown",
});

/// What medication reconciliation found, with the medicines behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InteractionNote {
    pub kind: InteractionKind,
    /// The medication names (as recorded) or the screening answer behind the note.
    pub basis: String,
    pub message: String,
}

fn matching<'a>(names: &[&'a str], patterns: &[&str]) -> Vec<&'a str> {
    names
        .iter()
        .copied()
        .filter(|name| {
            let lower = name.to_lowercase();
            patterns.iter().any(|p| lower.contains(p))
        })
        .collect()
}

/// Interaction notes from the recorded medication names and the
/// reconciliation answers: benzodiazepines and lamotrigine (clinical.md §2.6,
/// "may blunt effect"), MOUD to continue (§11.4), and every disagreement
/// between the list and the answers.
pub fn interaction_notes(
    reconciliation: &MedicationReconciliation,
    medication_names: &[&str],
) -> Vec<InteractionNote> {
    let mut notes = Vec::new();
    let classes = [
        (
            InteractionKind::Benzodiazepine,
            "benzodiazepine_use",
            reconciliation.benzodiazepines,
            BENZODIAZEPINE_NAMES,
            "a benzodiazepine",
        ),
        (
            InteractionKind::Lamotrigine,
            "lamotrigine_use",
            reconciliation.lamotrigine,
            LAMOTRIGINE_NAMES,
            "lamotrigine",
        ),
    ];
    for (kind, field, answer, patterns, what) in classes {
        let named = matching(medication_names, patterns);
        if !named.is_empty() || answer == Answer::Yes {
            let basis = if named.is_empty() {
                format!("{field}: yes")
            } else {
                named.join(", ")
            };
            notes.push(InteractionNote {
                kind,
                basis,
                message: format!(
                    "Takes {what}, which may blunt ketamine's effect (clinical.md §2.6, a relative caution for heavy use). \
                     Weigh the dose and timing; do not stop it abruptly without a plan."
                ),
            });
        }
        if !named.is_empty() && answer == Answer::No {
            notes.push(InteractionNote {
                kind: InteractionKind::MedicationListDisagrees,
                basis: format!("{field}: no; medication list: {}", named.join(", ")),
                message: format!("The medication list names {what} but the screening says no: reconcile the two."),
            });
        }
        if answer == Answer::Unknown && named.is_empty() {
            notes.push(InteractionNote {
                kind: InteractionKind::AnswerUnknown,
                basis: format!("{field}: unknown"),
                message: format!(
                    "Whether the patient takes {what} is not known: ask and record it."
                ),
            });
        }
    }
    let moud: Vec<&str> = medication_names
        .iter()
        .copied()
        .filter(|name| crate::chart::is_moud(name))
        .collect();
    match (reconciliation.moud, moud.is_empty()) {
        (MoudStatus::Continued, false) => notes.push(InteractionNote {
            kind: InteractionKind::MoudContinue,
            basis: moud.join(", "),
            message: "Continue MOUD through ketamine treatment; never stop it (clinical.md §11.4).".into(),
        }),
        (MoudStatus::Continued, true) => notes.push(InteractionNote {
            kind: InteractionKind::MedicationListDisagrees,
            basis: "moud: continued; no MOUD on the medication list".into(),
            message: "The screening says MOUD continues but the medication list holds none: record the MOUD \
                      (clinical.md §11.4)."
                .into(),
        }),
        (MoudStatus::NotOnMoud, false) => notes.push(InteractionNote {
            kind: InteractionKind::MedicationListDisagrees,
            basis: format!("moud: not_on_moud; medication list: {}", moud.join(", ")),
            message: "The medication list holds MOUD but the screening says not on MOUD: reconcile; MOUD is \
                      continued, never stopped (clinical.md §11.4)."
                .into(),
        }),
        (MoudStatus::NotOnMoud, true) => {}
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()
    }

    /// A complete screening input with every checklist answer "no".
    pub(crate) fn valid_input() -> ScreeningInput {
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
            medication_notes: None,
            systolic_bp_mmhg: Some("122".into()),
            diastolic_bp_mmhg: Some("78".into()),
            heart_rate_bpm: Some("72".into()),
            respiratory_rate_per_min: Some("14".into()),
            spo2_percent: Some("98".into()),
            weight_kg: Some("70".into()),
            height_cm: Some("175".into()),
            pregnancy_status: Some("not_applicable".into()),
            pregnancy_test_date: None,
            pregnancy_test_result: None,
            psychiatric_history_notes: None,
            ciwa_ar_total: None,
            ciwa_ar_band: None,
            ciwa_ar_assessed_on: None,
            withdrawal_seizure_history: Some("no".into()),
            delirium_tremens_history: Some("no".into()),
            managed_withdrawal_completed_on: None,
            pdmp_checked_on: Some("2026-11-26".into()),
            pdmp_checked_by: Some("Nurse Okafor".into()),
            pdmp_result: Some("One buprenorphine prescriber, matches the record".into()),
            pdmp_concerning: Some("no".into()),
        }
    }

    fn fields(err: &FieldErrors) -> Vec<&str> {
        err.0.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn a_complete_screening_parses() {
        let screening = Screening::parse(&valid_input(), today()).unwrap();
        assert_eq!(screening.contraindications.len(), CONTRAINDICATIONS.len());
        assert_eq!(screening.vitals.weight_g, 70_000);
        assert_eq!(screening.vitals.height_mm, 1750);
        assert!(screening.allergies_reviewed);
        assert_eq!(screening.pdmp.as_ref().map(|p| p.concerning), Some(false));
        assert_eq!(
            screening.answer(ContraindicationId::Breastfeeding),
            Answer::No
        );
    }

    #[test]
    fn the_table_covers_every_item_once_with_a_source() {
        assert_eq!(CONTRAINDICATIONS.len(), ContraindicationId::ALL.len());
        for id in ContraindicationId::ALL {
            let item = contraindication(*id).unwrap();
            assert!(!item.source.is_empty() && !item.label.is_empty());
        }
        let absolute: Vec<&str> = CONTRAINDICATIONS
            .iter()
            .filter(|c| c.kind == ContraindicationKind::Absolute)
            .map(|c| c.id.as_str())
            .collect();
        // clinical.md §2.6 left column (pregnancy is recorded by `pregnancy`).
        assert_eq!(
            absolute,
            [
                "ketamine_hypersensitivity",
                "uncontrolled_hypertension",
                "recent_myocardial_infarction_or_stroke",
                "aneurysmal_vascular_disease",
                "arteriovenous_malformation",
                "intracerebral_hemorrhage_history",
                "active_psychosis_or_schizophrenia",
                "breastfeeding",
            ]
        );
        assert_eq!(
            contraindication(ContraindicationId::ActiveKetamineOrPcpUseDisorder)
                .unwrap()
                .kind,
            ContraindicationKind::ProgramExclusion
        );
    }

    #[test]
    fn every_bad_field_is_reported() {
        let mut input = valid_input();
        input.screened_on = Some("2026-11-28".into());
        input.screened_by = None;
        input.contraindications.remove("breastfeeding");
        input
            .contraindications
            .insert("heart_failure".into(), "maybe".into());
        input.contraindications.insert("gout".into(), "yes".into());
        input.allergies_reviewed = Some("y".into());
        input.systolic_bp_mmhg = Some("12.5".into());
        input.heart_rate_bpm = Some("".into());
        input.spo2_percent = Some("101".into());
        input.weight_kg = Some("70.1234".into());
        input.height_cm = Some("5.9".into());
        input.withdrawal_seizure_history = None;
        input.pdmp_result = None;
        let err = Screening::parse(&input, today()).unwrap_err();
        assert_eq!(
            fields(&err),
            [
                "screened_on",
                "screened_by",
                "contraindications.gout",
                "contraindications.breastfeeding",
                "contraindications.heart_failure",
                "allergies_reviewed",
                "systolic_bp_mmhg",
                "heart_rate_bpm",
                "spo2_percent",
                "weight_kg",
                "height_cm",
                "withdrawal_seizure_history",
                "pdmp_result",
            ]
        );
        let weight = err.0.iter().find(|e| e.field == "weight_kg").unwrap();
        assert_eq!(
            weight.message,
            "must be a number from 30 to 250 kg, with at most 3 decimal places"
        );
    }

    #[test]
    fn stopping_moud_is_refused_with_the_rule() {
        for typed in [
            "stopped",
            "Stop for ketamine",
            "taper",
            "discontinued",
            "on hold",
        ] {
            let input = ScreeningInput {
                moud: Some(typed.into()),
                ..valid_input()
            };
            let err = Screening::parse(&input, today()).unwrap_err();
            assert_eq!(fields(&err), ["moud"], "{typed}");
            assert!(
                err.0[0].message.contains("cannot record stopping MOUD"),
                "{}",
                err.0[0].message
            );
            assert!(err.0[0]
                .message
                .contains("never stopped (clinical.md §11.4)"));
        }
        let other = ScreeningInput {
            moud: Some("yes".into()),
            ..valid_input()
        };
        let err = Screening::parse(&other, today()).unwrap_err();
        assert!(
            err.0[0]
                .message
                .starts_with("must be one of: continued, not_on_moud; MOUD"),
            "{}",
            err.0[0].message
        );
        let continued = ScreeningInput {
            moud: Some("continued".into()),
            ..valid_input()
        };
        assert_eq!(
            Screening::parse(&continued, today())
                .unwrap()
                .medications
                .moud,
            MoudStatus::Continued
        );
    }

    #[test]
    fn diastolic_must_be_below_systolic() {
        let input = ScreeningInput {
            systolic_bp_mmhg: Some("80".into()),
            diastolic_bp_mmhg: Some("120".into()),
            ..valid_input()
        };
        assert_eq!(
            fields(&Screening::parse(&input, today()).unwrap_err()),
            ["diastolic_bp_mmhg"]
        );
    }

    #[test]
    fn bmi_is_exact() {
        let vitals = |kg: &str, cm: &str| {
            let input = ScreeningInput {
                weight_kg: Some(kg.into()),
                height_cm: Some(cm.into()),
                ..valid_input()
            };
            Screening::parse(&input, today()).unwrap().vitals
        };
        // 70 kg / 1.75 m² = 70 / 3.0625 = 22.857142… (exactly 160/7).
        let bmi = vitals("70", "175").bmi();
        assert_eq!(bmi.fraction(), (70_000_000, 3_062_500));
        assert_eq!(bmi.rounded_half_up(1), "22.9");
        assert_eq!(bmi.rounded_half_up(3), "22.857");
        assert!(!bmi.is_exact_at(6));
        assert!(bmi.exceeds_tenths(228) && !bmi.exceeds_tenths(229));
        // 80 kg / 2 m² = 20 exactly: not above a 20.0 limit.
        let exact = vitals("80", "200").bmi();
        assert!(exact.is_exact_at(0));
        assert_eq!(exact.rounded_half_up(2), "20.00");
        assert!(!exact.exceeds_tenths(200) && exact.exceeds_tenths(199));
        // 62.375 kg / 1.6 m² = 62.375 / 2.56 = 24.365234375 exactly (9 places).
        let fine = vitals("62.375", "160.0").bmi();
        assert!(fine.is_exact_at(9) && !fine.is_exact_at(8));
        assert_eq!(fine.rounded_half_up(9), "24.365234375");
        assert_eq!(fine.rounded_half_up(2), "24.37");
        assert!((fine.approx_kg_per_m2() - 24.365_234_375).abs() < 1e-12);
    }

    #[test]
    fn decimals_are_kept_exactly_or_refused() {
        assert_eq!(scaled_decimal("72.5", 3), Some(72_500));
        assert_eq!(scaled_decimal("72", 3), Some(72_000));
        assert_eq!(scaled_decimal("0.125", 3), Some(125));
        for bad in ["72.", ".5", "72,5", "7e1", "-70", "+70", "72.5.1", "1.2345"] {
            assert_eq!(scaled_decimal(bad, 3), None, "{bad}");
        }
    }

    #[test]
    fn pregnancy_status_and_test() {
        let with = |status: &str, date: Option<&str>, result: Option<&str>| ScreeningInput {
            pregnancy_status: Some(status.into()),
            pregnancy_test_date: date.map(Into::into),
            pregnancy_test_result: result.map(Into::into),
            ..valid_input()
        };
        let ok = Screening::parse(
            &with("not_pregnant", Some("2026-11-26"), Some("negative")),
            today(),
        )
        .unwrap();
        assert_eq!(
            ok.pregnancy.test.map(|t| t.result),
            Some(PregnancyTestResult::Negative)
        );
        assert!(Screening::parse(&with("pregnant", None, None), today()).is_ok());
        assert!(Screening::parse(&with("unknown", None, None), today()).is_ok());

        let cases = [
            (
                with("not_pregnant", None, None),
                vec!["pregnancy_test_date"],
            ),
            (
                with("not_pregnant", Some("2026-11-26"), Some("positive")),
                vec!["pregnancy_test_result"],
            ),
            (
                with("pregnant", Some("2026-11-26"), Some("negative")),
                vec!["pregnancy_test_result"],
            ),
            (
                with("not_pregnant", Some("2026-11-26"), None),
                vec!["pregnancy_test_result"],
            ),
            (
                with("not_applicable", Some("2026-11-26"), Some("negative")),
                vec!["pregnancy_status"],
            ),
            (
                with("not_pregnant", Some("2026-12-01"), Some("negative")),
                vec!["pregnancy_test_date"],
            ),
            (with("expecting", None, None), vec!["pregnancy_status"]),
        ];
        for (input, expect) in cases {
            let err = Screening::parse(&input, today()).unwrap_err();
            assert_eq!(fields(&err), expect, "{input:?}");
        }
    }

    #[test]
    fn ciwa_ar_and_pdmp_are_all_or_nothing() {
        let ciwa = ScreeningInput {
            ciwa_ar_total: Some("12".into()),
            ciwa_ar_band: Some("moderate".into()),
            ciwa_ar_assessed_on: Some("2026-11-26".into()),
            ..valid_input()
        };
        let parsed = Screening::parse(&ciwa, today())
            .unwrap()
            .alcohol_withdrawal
            .ciwa_ar
            .unwrap();
        assert_eq!((parsed.total, parsed.band), (12, CiwaArBand::Moderate));

        let partial = ScreeningInput {
            ciwa_ar_total: Some("68".into()),
            ..valid_input()
        };
        let err = Screening::parse(&partial, today()).unwrap_err();
        assert_eq!(
            fields(&err),
            ["ciwa_ar_total", "ciwa_ar_band", "ciwa_ar_assessed_on"]
        );
        assert!(err.0[0].message.contains("0 to 67"));

        let no_pdmp = ScreeningInput {
            pdmp_checked_on: None,
            pdmp_checked_by: None,
            pdmp_result: None,
            pdmp_concerning: None,
            ..valid_input()
        };
        assert_eq!(Screening::parse(&no_pdmp, today()).unwrap().pdmp, None);
        let half = ScreeningInput {
            pdmp_concerning: Some("maybe".into()),
            pdmp_checked_by: None,
            ..valid_input()
        };
        assert_eq!(
            fields(&Screening::parse(&half, today()).unwrap_err()),
            ["pdmp_checked_by", "pdmp_concerning"]
        );
    }

    #[test]
    fn interaction_notes_from_names_and_answers() {
        let recon = |benzo: Answer, lamo: Answer, moud: MoudStatus| MedicationReconciliation {
            benzodiazepines: benzo,
            lamotrigine: lamo,
            moud,
            notes: None,
        };
        let kinds =
            |notes: Vec<InteractionNote>| notes.into_iter().map(|n| n.kind).collect::<Vec<_>>();
        assert!(interaction_notes(
            &recon(Answer::No, Answer::No, MoudStatus::NotOnMoud),
            &["ondansetron"]
        )
        .is_empty());

        let notes = interaction_notes(
            &recon(Answer::No, Answer::Yes, MoudStatus::Continued),
            &["Clonazepam 0.5 mg", "Suboxone"],
        );
        assert_eq!(
            kinds(notes.clone()),
            [
                InteractionKind::Benzodiazepine,
                InteractionKind::MedicationListDisagrees,
                InteractionKind::Lamotrigine,
                InteractionKind::MoudContinue
            ]
        );
        assert_eq!(notes[0].basis, "Clonazepam 0.5 mg");
        assert_eq!(notes[2].basis, "lamotrigine_use: yes");

        assert_eq!(
            kinds(interaction_notes(
                &recon(Answer::Unknown, Answer::No, MoudStatus::NotOnMoud),
                &["methadone"]
            )),
            [
                InteractionKind::AnswerUnknown,
                InteractionKind::MedicationListDisagrees
            ]
        );
        assert_eq!(
            kinds(interaction_notes(
                &recon(Answer::No, Answer::No, MoudStatus::Continued),
                &[]
            )),
            [InteractionKind::MedicationListDisagrees]
        );
    }

    fn arbitrary_field() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            Just(None),
            any::<String>().prop_map(Some),
            "[0-9.]{0,6}".prop_map(Some),
            "(yes|no|unknown)".prop_map(Some)
        ]
    }

    proptest! {
        /// Any input either parses or is refused with at least one named
        /// field; it never panics.
        #[test]
        fn any_input_parses_or_names_fields(
            values in proptest::collection::vec(arbitrary_field(), 28),
            checklist in proptest::collection::btree_map("[a-z_]{0,40}", "(yes|no|unknown|[a-z]{0,4})", 0..30),
        ) {
            let v = |idx: usize| values.get(idx).cloned().flatten();
            let input = ScreeningInput {
                screened_on: v(0), screened_by: v(1), contraindications: checklist, allergies_reviewed: v(2),
                benzodiazepine_use: v(3), lamotrigine_use: v(4), moud: v(5), medication_notes: v(6),
                systolic_bp_mmhg: v(7), diastolic_bp_mmhg: v(8), heart_rate_bpm: v(9), respiratory_rate_per_min: v(10),
                spo2_percent: v(11), weight_kg: v(12), height_cm: v(13), pregnancy_status: v(14),
                pregnancy_test_date: v(15), pregnancy_test_result: v(16), psychiatric_history_notes: v(17),
                ciwa_ar_total: v(18), ciwa_ar_band: v(19), ciwa_ar_assessed_on: v(20),
                withdrawal_seizure_history: v(21), delirium_tremens_history: v(22),
                managed_withdrawal_completed_on: v(23), pdmp_checked_on: v(24), pdmp_checked_by: v(25),
                pdmp_result: v(26), pdmp_concerning: v(27),
            };
            match Screening::parse(&input, today()) {
                Ok(screening) => prop_assert_eq!(screening.contraindications.len(), CONTRAINDICATIONS.len()),
                Err(err) => prop_assert!(!err.0.is_empty() && err.0.iter().all(|e| !e.field.is_empty())),
            }
        }

        /// Any single field replaced by an arbitrary string in an otherwise
        /// valid input: parses, or is refused naming fields.
        #[test]
        fn one_arbitrary_field(idx in 0usize..8, text in any::<String>()) {
            let mut input = valid_input();
            let slot = match idx {
                0 => &mut input.weight_kg,
                1 => &mut input.height_cm,
                2 => &mut input.systolic_bp_mmhg,
                3 => &mut input.moud,
                4 => &mut input.pregnancy_status,
                5 => &mut input.ciwa_ar_total,
                6 => &mut input.pdmp_checked_on,
                _ => &mut input.screened_on,
            };
            *slot = Some(text);
            if let Err(err) = Screening::parse(&input, today()) {
                prop_assert!(!err.0.is_empty());
            }
        }

        /// BMI rounding is half up and never off by more than half a unit in
        /// the last place; the exact comparison agrees with the fraction.
        #[test]
        fn bmi_rounding_and_comparison(weight_g in 30_000u32..=250_000, height_mm in 1000u32..=2500, limit in 100u32..=800) {
            let bmi = BaselineVitals {
                systolic_bp_mmhg: 120, diastolic_bp_mmhg: 80, heart_rate_bpm: 70, respiratory_rate_per_min: 14,
                spo2_percent: 98, weight_g, height_mm,
            }.bmi();
            let (num, den) = bmi.fraction();
            let tenths_text = bmi.rounded_half_up(1);
            let tenths: u128 = tenths_text.replace('.', "").parse().unwrap();
            // |tenths/10 − num/den| ≤ 1/20  ⇔  |2·tenths·den − 20·num| ≤ den.
            let lhs = (tenths * 2 * u128::from(den)).abs_diff(u128::from(num) * 20);
            prop_assert!(lhs <= u128::from(den));
            prop_assert_eq!(bmi.exceeds_tenths(limit), u128::from(num) * 10 > u128::from(limit) * u128::from(den));
        }
    }
}
