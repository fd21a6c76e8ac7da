//! Counseling sessions: what the counselor records after a therapy or
//! integration session (attendance, minutes, the signed progress note,
//! homework), and the rule for SUD counseling notes.
//!
//! A **progress note** is part of the chart: clinicians who treat the
//! patient read it. A **SUD counseling note** is the counselor's own
//! process note, kept apart from the chart: by clinic policy only its author
//! reads it, and it leaves in no export or disclosure unless the patient gave
//! the separate consent 42 CFR Part 2 requires for it (2024 rule, clinical.md
//! §7.1). Every attempt to read one is audited, refused ones included.

use crate::field::{FieldError, FieldErrors};

wire_enum!(
    /// The kind of counseling, as the protocols name it.
    Modality, "modality" {
        MindfulnessBasedRelapsePrevention => "mindfulness_based_relapse_prevention",
        MotivationalEnhancementTherapy => "motivational_enhancement_therapy",
        RelapsePreventionTherapy => "relapse_prevention_therapy",
        Integration => "integration",
        Other => "other",
    }
);

wire_enum!(
    /// One patient or a group.
    Format, "format" {
        Individual => "individual",
        Group => "group",
    }
);

wire_enum!(
    /// What happened to the appointment.
    Attendance, "attendance" {
        Attended => "attended",
        Late => "late",
        NoShow => "no_show",
        CancelledByPatient => "cancelled_by_patient",
        CancelledByClinic => "cancelled_by_clinic",
    }
);

impl Attendance {
    /// The patient was there: minutes and a progress note are recorded.
    pub fn met(self) -> bool {
        matches!(self, Attendance::Attended | Attendance::Late)
    }
}

/// Longest session accepted, minutes: a typing guard (a digit too many),
/// not a clinical limit.
pub const MAX_MINUTES: u32 = 480;

/// Longest text accepted in one field, characters.
pub const MAX_TEXT: usize = 20_000;

/// A counseling record as typed: every value as text.
#[derive(Debug, Clone, Default)]
pub struct CounselingInput {
    pub modality: Option<String>,
    pub format: Option<String>,
    pub attendance: Option<String>,
    pub minutes: Option<String>,
    pub progress_note: Option<String>,
    pub homework: Option<String>,
    /// The counselor's SUD counseling note, kept apart (optional).
    pub counseling_note: Option<String>,
    /// Why the patient or clinic cancelled, or what was tried after a no-show.
    pub reason: Option<String>,
}

/// A checked counseling record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounselingRecord {
    pub modality: Modality,
    pub format: Format,
    pub attendance: Attendance,
    /// Only when the patient was there.
    pub minutes: Option<u32>,
    pub progress_note: Option<String>,
    pub homework: Option<String>,
    pub counseling_note: Option<String>,
    pub reason: Option<String>,
}

fn text(value: &Option<String>) -> Option<String> {
    value.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_string)
}

impl CounselingRecord {
    /// Checks a record, naming every field at fault: the patient there needs
    /// minutes (1 to `MAX_MINUTES`) and a progress note; an absent patient
    /// has neither, and a cancellation or no-show gives its reason.
    pub fn parse(input: &CounselingInput) -> Result<CounselingRecord, FieldErrors> {
        let mut errors = Vec::new();
        let mut pick = |field: &str, value: &Option<String>, parse: &dyn Fn(&str) -> Result<(), FieldError>| match text(value) {
            None => errors.push(FieldError::new(field, "is required")),
            Some(t) => {
                if let Err(e) = parse(&t) {
                    errors.push(e);
                }
            }
        };
        pick("modality", &input.modality, &|t| Modality::parse(t).map(|_| ()));
        pick("format", &input.format, &|t| Format::parse(t).map(|_| ()));
        pick("attendance", &input.attendance, &|t| Attendance::parse(t).map(|_| ()));
        let attendance = text(&input.attendance).and_then(|t| Attendance::parse(&t).ok());
        let minutes = match (attendance.map(Attendance::met), text(&input.minutes)) {
            (Some(true), None) => {
                errors.push(FieldError::new("minutes", format!("is required when the patient came: 1 to {MAX_MINUTES}")));
                None
            }
            (Some(true), Some(t)) => match t.parse::<u32>() {
                Ok(m) if (1..=MAX_MINUTES).contains(&m) => Some(m),
                _ => {
                    errors.push(FieldError::new("minutes", format!("must be a whole number from 1 to {MAX_MINUTES}, got {t:?}")));
                    None
                }
            },
            (Some(false), Some(_)) => {
                errors.push(FieldError::new("minutes", "leave it empty: the patient did not come"));
                None
            }
            _ => None,
        };
        let progress_note = text(&input.progress_note);
        let counseling_note = text(&input.counseling_note);
        let reason = text(&input.reason);
        match attendance {
            Some(a) if a.met() && progress_note.is_none() => {
                errors.push(FieldError::new("progress_note", "is required: what was done and how the patient is"));
            }
            Some(a) if !a.met() && reason.is_none() => {
                errors.push(FieldError::new("reason", "is required: why the session did not take place, or what was tried"));
            }
            Some(a) if !a.met() && (progress_note.is_some() || counseling_note.is_some()) => {
                errors.push(FieldError::new("progress_note", "leave the notes empty: the patient did not come (give the reason)"));
            }
            _ => {}
        }
        for (field, value) in [("progress_note", &progress_note), ("homework", &text(&input.homework)), ("counseling_note", &counseling_note), ("reason", &reason)] {
            if value.as_ref().is_some_and(|v| v.chars().count() > MAX_TEXT) {
                errors.push(FieldError::new(field, format!("must be at most {MAX_TEXT} characters")));
            }
        }
        if !errors.is_empty() {
            return Err(FieldErrors(errors));
        }
        let (Some(modality), Some(format), Some(attendance)) = (
            text(&input.modality).and_then(|t| Modality::parse(&t).ok()),
            text(&input.format).and_then(|t| Format::parse(&t).ok()),
            attendance,
        ) else {
            return Err(FieldErrors::one("attendance", "is required"));
        };
        Ok(CounselingRecord { modality, format, attendance, minutes, progress_note, homework: text(&input.homework), counseling_note, reason })
    }
}

/// The parts of the recovery plan built in integration sessions after the
/// infusions, in the order the plan shows them (DESIGN.md §8).
pub const RECOVERY_PLAN_PARTS: [(&str, &str); 7] = [
    ("values", "What matters to me"),
    ("goals", "My goals"),
    ("strategies", "What I do to stay well"),
    ("triggers", "My triggers"),
    ("warning_signs", "My warning signs"),
    ("supports", "People I can call"),
    ("crisis_plan", "If I am in crisis"),
];

/// A recovery plan version: each part as the patient and counselor wrote it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryPlan {
    /// `(part, text)` in `RECOVERY_PLAN_PARTS` order; empty parts left out.
    pub parts: Vec<(String, String)>,
}

impl RecoveryPlan {
    /// Checks a plan as typed (`(part, text)` pairs): known parts only, each
    /// at most `MAX_TEXT` characters, and the goals and the crisis plan not
    /// empty — a plan without a crisis plan is not one to hand the patient.
    pub fn parse(input: &[(String, String)]) -> Result<RecoveryPlan, FieldErrors> {
        let mut errors = Vec::new();
        for (part, _) in input {
            if !RECOVERY_PLAN_PARTS.iter().any(|(p, _)| p == part) {
                errors.push(FieldError::new(part.clone(), format!("is not a part of the plan: {}", RECOVERY_PLAN_PARTS.map(|(p, _)| p).join(", "))));
            }
        }
        let mut parts = Vec::new();
        for (part, _) in RECOVERY_PLAN_PARTS {
            let text = input.iter().filter(|(p, _)| p == part).map(|(_, t)| t.trim()).find(|t| !t.is_empty());
            match text {
                Some(t) if t.chars().count() > MAX_TEXT => errors.push(FieldError::new(part, format!("must be at most {MAX_TEXT} characters"))),
                Some(t) => parts.push((part.to_string(), t.to_string())),
                None if part == "goals" || part == "crisis_plan" => errors.push(FieldError::new(part, "is required")),
                None => {}
            }
        }
        if errors.is_empty() {
            Ok(RecoveryPlan { parts })
        } else {
            Err(FieldErrors(errors))
        }
    }

    pub fn part(&self, name: &str) -> Option<&str> {
        self.parts.iter().find(|(p, _)| p == name).map(|(_, t)| t.as_str())
    }

    /// The parts that differ from `before` (added, changed or emptied), in plan order.
    pub fn changed_from(&self, before: Option<&RecoveryPlan>) -> Vec<&'static str> {
        RECOVERY_PLAN_PARTS.iter().map(|(p, _)| *p).filter(|p| self.part(p) != before.and_then(|b| b.part(p))).collect()
    }
}

/// Who may read a SUD counseling note: its author only (clinic policy;
/// clinical.md §7.1 — disclosure needs the patient's separate consent).
pub fn may_read_counseling_note(reader: uuid::Uuid, author: uuid::Uuid) -> bool {
    reader == author
}

/// The modality a protocol's therapy names (free text in the protocol
/// files), for prefilling the form.
pub fn modality_of(protocol_text: &str) -> Modality {
    let t = protocol_text.to_ascii_lowercase();
    if t.contains("mbrp") || t.contains("mindfulness") {
        Modality::MindfulnessBasedRelapsePrevention
    } else if t.contains("met") || t.contains("motivational") {
        Modality::MotivationalEnhancementTherapy
    } else if t.contains("relapse") {
        Modality::RelapsePreventionTherapy
    } else if t.contains("integration") {
        Modality::Integration
    } else {
        Modality::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(attendance: &str) -> CounselingInput {
        CounselingInput {
            modality: Some("motivational_enhancement_therapy".into()),
            format: Some("individual".into()),
            attendance: Some(attendance.into()),
            ..Default::default()
        }
    }

    fn fields(err: FieldErrors) -> Vec<String> {
        err.0.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_session_attended_needs_minutes_and_a_progress_note() {
        let err = CounselingRecord::parse(&input("attended")).unwrap_err();
        assert_eq!(fields(err), ["minutes", "progress_note"]);
        let mut ok = input("late");
        ok.minutes = Some("50".into());
        ok.progress_note = Some("Reviewed triggers; practised urge surfing.".into());
        ok.homework = Some("  Daily 10-minute body scan ".into());
        let r = CounselingRecord::parse(&ok).unwrap();
        assert_eq!((r.attendance, r.minutes, r.homework.as_deref()), (Attendance::Late, Some(50), Some("Daily 10-minute body scan")));
        for bad in ["0", "481", "fifty", "-5"] {
            ok.minutes = Some(bad.into());
            let err = CounselingRecord::parse(&ok).unwrap_err();
            assert_eq!(err.0[0].field, "minutes", "{bad}");
            assert!(err.0[0].message.contains("1 to 480"), "{bad}");
        }
    }

    #[test]
    fn a_session_missed_gives_its_reason_and_no_notes() {
        let err = CounselingRecord::parse(&input("no_show")).unwrap_err();
        assert_eq!(fields(err), ["reason"]);
        let mut missed = input("cancelled_by_patient");
        missed.reason = Some("unwell; rebooked for Thursday".into());
        missed.minutes = Some("30".into());
        missed.progress_note = Some("n/a".into());
        assert_eq!(fields(CounselingRecord::parse(&missed).unwrap_err()), ["minutes", "progress_note"]);
        missed.minutes = None;
        missed.progress_note = None;
        let r = CounselingRecord::parse(&missed).unwrap();
        assert_eq!((r.attendance, r.minutes), (Attendance::CancelledByPatient, None));
    }

    #[test]
    fn unknown_values_name_the_allowed_ones() {
        let bad = CounselingInput { modality: Some("hypnosis".into()), format: Some("couple".into()), attendance: Some("maybe".into()), ..Default::default() };
        let err = CounselingRecord::parse(&bad).unwrap_err();
        let text: Vec<String> = err.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
        assert_eq!(
            text,
            [
                "modality: must be one of: mindfulness_based_relapse_prevention, motivational_enhancement_therapy, relapse_prevention_therapy, integration, other",
                "format: must be one of: individual, group",
                "attendance: must be one of: attended, late, no_show, cancelled_by_patient, cancelled_by_clinic",
            ]
        );
        assert_eq!(fields(CounselingRecord::parse(&CounselingInput::default()).unwrap_err()), ["modality", "format", "attendance"]);
    }

    #[test]
    fn a_recovery_plan_needs_goals_and_a_crisis_plan_and_names_what_changed() {
        let typed = |pairs: &[(&str, &str)]| pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>();
        assert_eq!(fields(RecoveryPlan::parse(&typed(&[("values", "family")])).unwrap_err()), ["goals", "crisis_plan"]);
        assert_eq!(fields(RecoveryPlan::parse(&typed(&[("goals", "x"), ("crisis_plan", "y"), ("hopes", "z")])).unwrap_err()), ["hopes"]);
        let first = RecoveryPlan::parse(&typed(&[("goals", " stay sober 90 days "), ("crisis_plan", "call my sister, then 988")])).unwrap();
        assert_eq!(first.part("goals"), Some("stay sober 90 days"));
        assert_eq!(first.changed_from(None), ["goals", "crisis_plan"]);
        let second = RecoveryPlan::parse(&typed(&[("goals", "stay sober 90 days"), ("crisis_plan", "call my sister, then 988"), ("triggers", "payday")])).unwrap();
        assert_eq!(second.changed_from(Some(&first)), ["triggers"]);
        assert!(second.changed_from(Some(&second)).is_empty());
    }

    #[test]
    fn only_the_author_reads_a_counseling_note() {
        let (a, b) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        assert!(may_read_counseling_note(a, a));
        assert!(!may_read_counseling_note(b, a));
    }

    #[test]
    fn protocol_therapy_names_map_to_a_modality() {
        assert_eq!(modality_of("mindfulness-based relapse prevention (MBRP)"), Modality::MindfulnessBasedRelapsePrevention);
        assert_eq!(modality_of("MET"), Modality::MotivationalEnhancementTherapy);
        assert_eq!(modality_of("relapse-prevention therapy (KARE therapy: manualised, mindfulness-based relapse prevention)"), Modality::MindfulnessBasedRelapsePrevention);
        assert_eq!(modality_of("integration session"), Modality::Integration);
        assert_eq!(modality_of("supportive"), Modality::Other);
    }
}
