//! Alerts in the chart header derived from the patient record itself: what a
//! clinician must know before acting, each saying what it is, why it matters
//! and what to do (DESIGN.md, UI principles). Alerts raised by events (a
//! PHQ-9 item 9 answer, a vital sign) are kept elsewhere and shown beside these.

use crate::patient::{PatientDetails, PatientStatus, Substance};

wire_enum!(
    /// A stable id for each record-derived alert.
    ChartAlertKind, "alert" {
    AllergiesNotRecorded => "allergies_not_recorded",
    MoudContinue => "moud_continue",
    OpioidUseWithoutMoud => "opioid_use_without_moud",
    NoEscort => "no_escort",
    NoContactConsent => "no_contact_consent",
});

wire_enum!(AlertSeverity, "severity" { Warning => "warning", Info => "info" });

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartAlert {
    pub kind: ChartAlertKind,
    pub severity: AlertSeverity,
    /// What the record shows.
    pub what: String,
    /// Why it matters and what to do.
    pub action: &'static str,
}

/// Medications for opioid use disorder as recorded in free text: the generic
/// names clinical.md §11.4 lists (buprenorphine, methadone, extended-release
/// naltrexone) and the US brand names they are commonly written under.
/// Each name with the generic it stands for.
const MOUD_NAMES: [(&str, &str); 9] = [
    ("buprenorphine", "buprenorphine"),
    ("methadone", "methadone"),
    ("naltrexone", "naltrexone"),
    ("suboxone", "buprenorphine"),
    ("subutex", "buprenorphine"),
    ("zubsolv", "buprenorphine"),
    ("sublocade", "buprenorphine"),
    ("brixadi", "buprenorphine"),
    ("vivitrol", "naltrexone"),
];

/// The generic MOUD a free-text medication name is (buprenorphine,
/// methadone or naltrexone), if it is one.
pub fn moud_generic(medication_name: &str) -> Option<&'static str> {
    let name = medication_name.to_lowercase();
    MOUD_NAMES.iter().find(|(moud, _)| name.contains(moud)).map(|(_, generic)| *generic)
}

/// Whether a free-text medication name is one of the MOUD.
pub fn is_moud(medication_name: &str) -> bool {
    moud_generic(medication_name).is_some()
}

/// Opioid use recorded as a substance of concern or an F11 diagnosis.
pub fn has_opioid_use(details: &PatientDetails) -> bool {
    details.substances.contains(&Substance::Opioids) || details.diagnoses.iter().any(|code| code.starts_with("F11"))
}

/// Every alert the record raises, most urgent first.
pub fn chart_alerts(details: &PatientDetails) -> Vec<ChartAlert> {
    let mut alerts = Vec::new();
    if details.allergies.is_empty() {
        alerts.push(ChartAlert {
            kind: ChartAlertKind::AllergiesNotRecorded,
            severity: AlertSeverity::Warning,
            what: "No allergies recorded.".into(),
            action: "Ask the patient and record allergies (or confirm none) before any medicine is ordered.",
        });
    }
    if has_opioid_use(details) {
        let moud: Vec<&str> = details.medications.iter().filter(|m| is_moud(&m.name)).map(|m| m.name.as_str()).collect();
        if moud.is_empty() {
            alerts.push(ChartAlert {
                kind: ChartAlertKind::OpioidUseWithoutMoud,
                severity: AlertSeverity::Warning,
                what: "Opioid use recorded, but no medication for opioid use disorder (MOUD).".into(),
                action: "MOUD is the standard of care; ketamine is given alongside it, never instead (clinical.md §11.4). \
                         Record current MOUD or discuss starting it, and offer a naloxone kit.",
            });
        } else {
            alerts.push(ChartAlert {
                kind: ChartAlertKind::MoudContinue,
                severity: AlertSeverity::Info,
                what: format!("On MOUD: {}.", moud.join(", ")),
                action: "Continue it through treatment; never stop MOUD for ketamine (clinical.md §11.4). Offer a naloxone kit.",
            });
        }
    }
    if details.escort.is_none() && matches!(details.status, PatientStatus::Eligible | PatientStatus::InTreatment) {
        alerts.push(ChartAlert {
            kind: ChartAlertKind::NoEscort,
            severity: AlertSeverity::Warning,
            what: "No escort recorded.".into(),
            action: "An adult must take the patient home after each infusion; no driving that day (clinical.md §2.5). \
                     Record the escort before booking.",
        });
    }
    if details.contact_channels.is_empty() {
        alerts.push(ChartAlert {
            kind: ChartAlertKind::NoContactConsent,
            severity: AlertSeverity::Info,
            what: "No consent to be contacted recorded.".into(),
            action: "Nothing can be sent to this patient (reminders, portal links). Ask which channels they agree to.",
        });
    }
    alerts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inquiry::ContactChannel;
    use crate::patient::{Allergy, Contact, Medication, SexAtBirth};
    use chrono::NaiveDate;

    fn complete() -> PatientDetails {
        PatientDetails {
            given_name: "Ana".into(),
            family_name: "Diaz".into(),
            date_of_birth: NaiveDate::from_ymd_opt(1980, 1, 1).unwrap(),
            sex_at_birth: SexAtBirth::Female,
            gender_identity: None,
            phone: Some("5550100199".into()),
            email: None,
            address: None,
            substances: vec![Substance::Alcohol],
            status: PatientStatus::InTreatment,
            escort: Some(Contact { name: "Ben".into(), relationship: None, phone: None }),
            emergency_contacts: Vec::new(),
            diagnoses: vec!["F10.20".into()],
            allergies: vec![Allergy { substance: "latex".into(), reaction: None }],
            medications: Vec::new(),
            contact_channels: vec![ContactChannel::Phone],
            preferred_contact_channel: None,
        }
    }

    fn kinds(details: &PatientDetails) -> Vec<ChartAlertKind> {
        chart_alerts(details).into_iter().map(|a| a.kind).collect()
    }

    #[test]
    fn a_complete_record_raises_nothing() {
        assert!(chart_alerts(&complete()).is_empty());
    }

    #[test]
    fn each_rule_alone() {
        let mut d = complete();
        d.allergies.clear();
        assert_eq!(kinds(&d), [ChartAlertKind::AllergiesNotRecorded]);

        let mut d = complete();
        d.escort = None;
        assert_eq!(kinds(&d), [ChartAlertKind::NoEscort]);
        d.status = PatientStatus::Screening;
        assert!(kinds(&d).is_empty(), "an escort is needed only once infusions are near");

        let mut d = complete();
        d.contact_channels.clear();
        assert_eq!(kinds(&d), [ChartAlertKind::NoContactConsent]);
    }

    #[test]
    fn brand_names_resolve_to_their_generic_moud() {
        assert_eq!(moud_generic("Sublocade 300 mg monthly"), Some("buprenorphine"));
        assert_eq!(moud_generic("buprenorphine/naloxone"), Some("buprenorphine"));
        assert_eq!(moud_generic("Methadone liquid"), Some("methadone"));
        assert_eq!(moud_generic("Vivitrol"), Some("naltrexone"));
        assert_eq!(moud_generic("sertraline"), None);
    }

    #[test]
    fn opioid_use_asks_for_moud_and_moud_is_to_be_continued() {
        let mut d = complete();
        d.diagnoses = vec!["F11.20".into()];
        assert_eq!(kinds(&d), [ChartAlertKind::OpioidUseWithoutMoud]);
        // Naltrexone for alcohol alone is not flagged: no opioid use recorded.
        let mut alcohol_only = complete();
        alcohol_only.medications = vec![Medication { name: "Naltrexone".into(), dose: None }];
        assert!(kinds(&alcohol_only).is_empty());

        d.medications = vec![Medication { name: "Buprenorphine/naloxone (Suboxone)".into(), dose: Some("16/4 mg".into()) }];
        let alerts = chart_alerts(&d);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].kind, ChartAlertKind::MoudContinue);
        assert!(alerts[0].what.contains("Buprenorphine/naloxone"));

        let mut by_substance = complete();
        by_substance.substances = vec![Substance::Opioids];
        by_substance.diagnoses.clear();
        by_substance.medications = vec![Medication { name: "methadone".into(), dose: None }];
        assert_eq!(kinds(&by_substance), [ChartAlertKind::MoudContinue]);
        assert!(!is_moud("ondansetron"));
    }
}
