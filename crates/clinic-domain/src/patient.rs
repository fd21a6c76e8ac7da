//! The patient registry: validated demographics, contacts, the escort and
//! substances of concern, and the likely-duplicate rule.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use uuid::Uuid;

use crate::field::{FieldError, FieldErrors};
use crate::inquiry::ContactChannel;
use crate::mrn::Mrn;

wire_enum!(SexAtBirth, "sex_at_birth" {
    Female => "female", Male => "male", Intersex => "intersex", Unknown => "unknown",
});

wire_enum!(
    /// Where the patient is in the program.
    PatientStatus, "status" {
    Inquiry => "inquiry",
    Screening => "screening",
    Eligible => "eligible",
    NotEligible => "not_eligible",
    InTreatment => "in_treatment",
    FollowUp => "follow_up",
    Discharged => "discharged",
});

wire_enum!(Substance, "substances" {
    Alcohol => "alcohol",
    Cocaine => "cocaine",
    Opioids => "opioids",
    Stimulants => "stimulants",
    Cannabis => "cannabis",
    Sedatives => "sedatives",
    Other => "other",
});

/// A person to call: an emergency contact, or the escort who takes the
/// patient home after an infusion (clinical.md §2.5: no driving that day).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub name: String,
    pub relationship: Option<String>,
    pub phone: Option<String>,
}

/// A recorded allergy: what the patient reacts to, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allergy {
    pub substance: String,
    pub reaction: Option<String>,
}

/// A medicine the patient takes now, with its dose as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Medication {
    pub name: String,
    pub dose: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllergyInput {
    pub substance: Option<String>,
    pub reaction: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MedicationInput {
    pub name: Option<String>,
    pub dose: Option<String>,
}

/// ICD-10-CM codes for the substance use disorders the program treats, with
/// the substance and meaning (clinical.md §8, from the CMS ICD-10-CM tables;
/// confirm against the current fiscal-year release).
pub const SUD_DIAGNOSES: &[(&str, Substance, &str)] = &[
    ("F10.10", Substance::Alcohol, "Alcohol abuse, uncomplicated (AUD, mild)"),
    ("F10.11", Substance::Alcohol, "Alcohol abuse, in remission (AUD, mild, in remission)"),
    ("F10.20", Substance::Alcohol, "Alcohol dependence, uncomplicated (AUD, moderate or severe)"),
    ("F10.21", Substance::Alcohol, "Alcohol dependence, in remission (AUD, moderate or severe, in remission)"),
    ("F14.10", Substance::Cocaine, "Cocaine abuse, uncomplicated (cocaine use disorder, mild)"),
    ("F14.11", Substance::Cocaine, "Cocaine abuse, in remission"),
    ("F14.20", Substance::Cocaine, "Cocaine dependence, uncomplicated (cocaine use disorder, moderate or severe)"),
    ("F14.21", Substance::Cocaine, "Cocaine dependence, in remission"),
    ("F11.10", Substance::Opioids, "Opioid abuse, uncomplicated (OUD, mild)"),
    ("F11.11", Substance::Opioids, "Opioid abuse, in remission"),
    ("F11.20", Substance::Opioids, "Opioid dependence, uncomplicated (OUD, moderate or severe)"),
    ("F11.21", Substance::Opioids, "Opioid dependence, in remission"),
];

/// The meaning of a diagnosis code from `SUD_DIAGNOSES`.
pub fn diagnosis_display(code: &str) -> Option<(Substance, &'static str)> {
    SUD_DIAGNOSES.iter().find(|(c, _, _)| *c == code).map(|(_, substance, text)| (*substance, *text))
}

pub const MAX_LIST_ENTRIES: usize = 20;

/// Raw, unvalidated patient fields as a client sent them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatientInput {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub date_of_birth: Option<String>,
    pub sex_at_birth: Option<String>,
    pub gender_identity: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
    pub substances: Vec<String>,
    pub status: Option<String>,
    pub escort: Option<ContactInput>,
    pub emergency_contacts: Vec<ContactInput>,
    /// ICD-10-CM codes from `SUD_DIAGNOSES`.
    pub diagnoses: Vec<String>,
    pub allergies: Vec<AllergyInput>,
    pub medications: Vec<MedicationInput>,
    /// Channels the patient agreed to be contacted on (`phone`, `sms`, `email`).
    pub contact_channels: Vec<String>,
    /// One of `contact_channels`.
    pub preferred_contact_channel: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactInput {
    pub name: Option<String>,
    pub relationship: Option<String>,
    pub phone: Option<String>,
}

/// Validated patient details: every value here has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientDetails {
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: NaiveDate,
    pub sex_at_birth: SexAtBirth,
    pub gender_identity: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
    /// Sorted, without repeats.
    pub substances: Vec<Substance>,
    pub status: PatientStatus,
    pub escort: Option<Contact>,
    pub emergency_contacts: Vec<Contact>,
    /// ICD-10-CM codes, sorted, without repeats.
    pub diagnoses: Vec<String>,
    pub allergies: Vec<Allergy>,
    pub medications: Vec<Medication>,
    /// The channels the patient agreed to be contacted on, sorted. Messages go
    /// only by one of these (DESIGN.md, confidentiality); empty means no
    /// consent is recorded and nothing may be sent.
    pub contact_channels: Vec<ContactChannel>,
    /// The channel to try first; always one of `contact_channels`.
    pub preferred_contact_channel: Option<ContactChannel>,
}

/// A stored patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patient {
    pub id: Uuid,
    pub mrn: Mrn,
    pub site_id: Uuid,
    pub details: PatientDetails,
    /// Incremented on every change; the ETag is derived from it.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The oldest plausible age, to catch a mistyped year (not a clinical limit).
pub const MAX_AGE_YEARS: i32 = 120;
const MAX_NAME_CHARS: usize = 100;
const MAX_TEXT_CHARS: usize = 500;
pub const MAX_EMERGENCY_CONTACTS: usize = 5;

impl PatientDetails {
    /// Validates every field and reports every failure. `today` is the
    /// site's current date, passed in so the rule stays deterministic.
    pub fn parse(input: &PatientInput, today: NaiveDate) -> Result<PatientDetails, FieldErrors> {
        let mut errors = Vec::new();
        let given_name = required_text(&mut errors, "given_name", input.given_name.as_deref(), MAX_NAME_CHARS);
        let family_name = required_text(&mut errors, "family_name", input.family_name.as_deref(), MAX_NAME_CHARS);
        let date_of_birth = parse_date_of_birth(&mut errors, input.date_of_birth.as_deref(), today);
        let sex_at_birth = match blank_to_none(input.sex_at_birth.as_deref()) {
            None => Some(SexAtBirth::Unknown),
            Some(text) => keep(&mut errors, SexAtBirth::parse(text)),
        };
        let status = match blank_to_none(input.status.as_deref()) {
            None => Some(PatientStatus::Screening),
            Some(text) => keep(&mut errors, PatientStatus::parse(text)),
        };
        let gender_identity = optional_text(&mut errors, "gender_identity", input.gender_identity.as_deref(), MAX_NAME_CHARS);
        let phone = optional_phone(&mut errors, "phone", input.phone.as_deref());
        let email = optional_email(&mut errors, "email", input.email.as_deref());
        let address = optional_text(&mut errors, "address", input.address.as_deref(), MAX_TEXT_CHARS);
        let mut substances = Vec::new();
        for text in &input.substances {
            if let Some(substance) = keep(&mut errors, Substance::parse(text.trim())) {
                substances.push(substance);
            }
        }
        substances.sort();
        substances.dedup();
        let escort = input.escort.as_ref().and_then(|contact| parse_contact(&mut errors, "escort", contact));
        if input.emergency_contacts.len() > MAX_EMERGENCY_CONTACTS {
            errors.push(FieldError::new(
                "emergency_contacts",
                format!("at most {MAX_EMERGENCY_CONTACTS} contacts"),
            ));
        }
        let emergency_contacts: Vec<Contact> = input
            .emergency_contacts
            .iter()
            .enumerate()
            .filter_map(|(idx, contact)| parse_contact(&mut errors, &format!("emergency_contacts[{idx}]"), contact))
            .collect();

        let mut diagnoses = Vec::new();
        for code in &input.diagnoses {
            let code = code.trim().to_ascii_uppercase();
            if diagnosis_display(&code).is_some() {
                diagnoses.push(code);
            } else {
                let allowed: Vec<&str> = SUD_DIAGNOSES.iter().map(|(c, _, _)| *c).collect();
                errors.push(FieldError::new("diagnoses", format!("must be ICD-10-CM codes among: {}", allowed.join(", "))));
            }
        }
        diagnoses.sort();
        diagnoses.dedup();
        for (field, n) in [("allergies", input.allergies.len()), ("medications", input.medications.len())] {
            if n > MAX_LIST_ENTRIES {
                errors.push(FieldError::new(field, format!("at most {MAX_LIST_ENTRIES} entries")));
            }
        }
        let allergies: Vec<Allergy> = input
            .allergies
            .iter()
            .enumerate()
            .filter_map(|(idx, a)| {
                let substance = required_text(&mut errors, &format!("allergies[{idx}].substance"), a.substance.as_deref(), MAX_NAME_CHARS)?;
                let reaction = optional_text(&mut errors, &format!("allergies[{idx}].reaction"), a.reaction.as_deref(), MAX_NAME_CHARS);
                Some(Allergy { substance, reaction })
            })
            .collect();
        let medications: Vec<Medication> = input
            .medications
            .iter()
            .enumerate()
            .filter_map(|(idx, m)| {
                let name = required_text(&mut errors, &format!("medications[{idx}].name"), m.name.as_deref(), MAX_NAME_CHARS)?;
                let dose = optional_text(&mut errors, &format!("medications[{idx}].dose"), m.dose.as_deref(), MAX_NAME_CHARS);
                Some(Medication { name, dose })
            })
            .collect();

        let (contact_channels, preferred_contact_channel) = parse_channels(&mut errors, input);

        match (given_name, family_name, date_of_birth, sex_at_birth, status) {
            (Some(given_name), Some(family_name), Some(date_of_birth), Some(sex_at_birth), Some(status))
                if errors.is_empty() =>
            {
                Ok(PatientDetails {
                    given_name,
                    family_name,
                    date_of_birth,
                    sex_at_birth,
                    gender_identity,
                    phone,
                    email,
                    address,
                    substances,
                    status,
                    escort,
                    emergency_contacts,
                    diagnoses,
                    allergies,
                    medications,
                    contact_channels,
                    preferred_contact_channel,
                })
            }
            _ => Err(FieldErrors(errors)),
        }
    }

    /// The details as raw input, so a partial update can be applied on top and
    /// the result validated as a whole.
    pub fn to_input(&self) -> PatientInput {
        let contact_input = |contact: &Contact| ContactInput {
            name: Some(contact.name.clone()),
            relationship: contact.relationship.clone(),
            phone: contact.phone.clone(),
        };
        PatientInput {
            given_name: Some(self.given_name.clone()),
            family_name: Some(self.family_name.clone()),
            date_of_birth: Some(self.date_of_birth.format("%Y-%m-%d").to_string()),
            sex_at_birth: Some(self.sex_at_birth.as_str().to_string()),
            gender_identity: self.gender_identity.clone(),
            phone: self.phone.clone(),
            email: self.email.clone(),
            address: self.address.clone(),
            substances: self.substances.iter().map(|s| s.as_str().to_string()).collect(),
            status: Some(self.status.as_str().to_string()),
            escort: self.escort.as_ref().map(contact_input),
            emergency_contacts: self.emergency_contacts.iter().map(contact_input).collect(),
            diagnoses: self.diagnoses.clone(),
            allergies: self
                .allergies
                .iter()
                .map(|a| AllergyInput { substance: Some(a.substance.clone()), reaction: a.reaction.clone() })
                .collect(),
            medications: self.medications.iter().map(|m| MedicationInput { name: Some(m.name.clone()), dose: m.dose.clone() }).collect(),
            contact_channels: self.contact_channels.iter().map(|c| c.as_str().to_string()).collect(),
            preferred_contact_channel: self.preferred_contact_channel.map(|c| c.as_str().to_string()),
        }
    }

    /// The wire names of the fields that differ from `new` (for the audit
    /// detail, which never holds values, and to show an edit conflict).
    pub fn changed_fields(&self, new: &PatientDetails) -> Vec<&'static str> {
        let old = self;
        let mut fields = Vec::new();
        let mut check = |name: &'static str, differs: bool| {
            if differs {
                fields.push(name);
            }
        };
        check("given_name", old.given_name != new.given_name);
        check("family_name", old.family_name != new.family_name);
        check("date_of_birth", old.date_of_birth != new.date_of_birth);
        check("sex_at_birth", old.sex_at_birth != new.sex_at_birth);
        check("gender_identity", old.gender_identity != new.gender_identity);
        check("phone", old.phone != new.phone);
        check("email", old.email != new.email);
        check("address", old.address != new.address);
        check("substances", old.substances != new.substances);
        check("status", old.status != new.status);
        check("escort", old.escort != new.escort);
        check("emergency_contacts", old.emergency_contacts != new.emergency_contacts);
        check("diagnoses", old.diagnoses != new.diagnoses);
        check("allergies", old.allergies != new.allergies);
        check("medications", old.medications != new.medications);
        check("contact_channels", old.contact_channels != new.contact_channels);
        check("preferred_contact_channel", old.preferred_contact_channel != new.preferred_contact_channel);
        fields
    }

    pub fn initials(&self) -> String {
        let first = |text: &str| text.chars().next().map(|c| c.to_uppercase().to_string()).unwrap_or_default();
        format!("{}{}", first(&self.given_name), first(&self.family_name))
    }
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

fn clean_text(errors: &mut Vec<FieldError>, field: &str, text: &str, max_chars: usize) -> Option<String> {
    if text.chars().count() > max_chars {
        errors.push(FieldError::new(field, format!("must be at most {max_chars} characters")));
        return None;
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        errors.push(FieldError::new(field, "must not contain control characters"));
        return None;
    }
    Some(text.to_string())
}

fn required_text(errors: &mut Vec<FieldError>, field: &str, text: Option<&str>, max_chars: usize) -> Option<String> {
    match blank_to_none(text) {
        None => {
            errors.push(FieldError::new(field, "is required"));
            None
        }
        Some(text) => clean_text(errors, field, text, max_chars),
    }
}

fn optional_text(errors: &mut Vec<FieldError>, field: &str, text: Option<&str>, max_chars: usize) -> Option<String> {
    blank_to_none(text).and_then(|text| clean_text(errors, field, text, max_chars))
}

fn parse_date_of_birth(errors: &mut Vec<FieldError>, text: Option<&str>, today: NaiveDate) -> Option<NaiveDate> {
    let Some(text) = blank_to_none(text) else {
        errors.push(FieldError::new("date_of_birth", "is required, as YYYY-MM-DD"));
        return None;
    };
    let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") else {
        errors.push(FieldError::new("date_of_birth", "must be a real date written YYYY-MM-DD"));
        return None;
    };
    if date > today {
        errors.push(FieldError::new("date_of_birth", "must not be in the future"));
        return None;
    }
    if today.year() - date.year() > MAX_AGE_YEARS {
        errors.push(FieldError::new("date_of_birth", format!("must be within the last {MAX_AGE_YEARS} years")));
        return None;
    }
    Some(date)
}

/// Keeps a leading `+` and the digits; 7 to 15 digits (ITU-T E.164 allows at most 15).
pub fn normalise_phone(text: &str) -> Option<String> {
    let trimmed = text.trim();
    let allowed = trimmed.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.'));
    let plus_ok = trimmed.chars().skip(1).all(|c| c != '+');
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    if !allowed || !plus_ok || !(7..=15).contains(&digits.len()) {
        return None;
    }
    Some(if trimmed.starts_with('+') { format!("+{digits}") } else { digits })
}

fn optional_phone(errors: &mut Vec<FieldError>, field: &str, text: Option<&str>) -> Option<String> {
    let text = blank_to_none(text)?;
    let phone = normalise_phone(text);
    if phone.is_none() {
        errors.push(FieldError::new(field, "must be a phone number of 7 to 15 digits (spaces, dashes, brackets and a leading + allowed)"));
    }
    phone
}

fn optional_email(errors: &mut Vec<FieldError>, field: &str, text: Option<&str>) -> Option<String> {
    let text = blank_to_none(text)?;
    let valid = text.len() <= 254
        && !text.chars().any(char::is_whitespace)
        && text.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.contains('@') && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        });
    if valid {
        Some(text.to_string())
    } else {
        errors.push(FieldError::new(field, "must be an email address such as name@example.org"));
        None
    }
}

/// The consented channels must each have the detail they need (a phone for
/// `phone` and `sms`, an email address for `email`), and the preferred one
/// must be among them.
fn parse_channels(errors: &mut Vec<FieldError>, input: &PatientInput) -> (Vec<ContactChannel>, Option<ContactChannel>) {
    let mut channels = Vec::new();
    for text in &input.contact_channels {
        match ContactChannel::parse(text.trim()) {
            Ok(channel) => channels.push(channel),
            Err(_) => errors.push(FieldError::new("contact_channels", format!("must be among: {}", ContactChannel::allowed_list()))),
        }
    }
    channels.sort();
    channels.dedup();
    for channel in &channels {
        let missing = match channel {
            ContactChannel::Phone | ContactChannel::Sms => blank_to_none(input.phone.as_deref()).is_none(),
            ContactChannel::Email => blank_to_none(input.email.as_deref()).is_none(),
        };
        if missing {
            let needs = if *channel == ContactChannel::Email { "an email address" } else { "a phone number" };
            errors.push(FieldError::new("contact_channels", format!("{} needs {needs} on the record", channel.as_str())));
        }
    }
    let preferred = match blank_to_none(input.preferred_contact_channel.as_deref()) {
        None => None,
        Some(text) => match ContactChannel::parse(text) {
            Ok(channel) if channels.contains(&channel) => Some(channel),
            Ok(_) => {
                errors.push(FieldError::new("preferred_contact_channel", "must be one of the consented contact_channels"));
                None
            }
            Err(_) => {
                errors.push(FieldError::new("preferred_contact_channel", format!("must be among: {}", ContactChannel::allowed_list())));
                None
            }
        },
    };
    (channels, preferred)
}

fn parse_contact(errors: &mut Vec<FieldError>, prefix: &str, input: &ContactInput) -> Option<Contact> {
    let n_before = errors.len();
    let name = required_text(errors, &format!("{prefix}.name"), input.name.as_deref(), MAX_NAME_CHARS);
    let relationship = optional_text(errors, &format!("{prefix}.relationship"), input.relationship.as_deref(), MAX_NAME_CHARS);
    let phone = optional_phone(errors, &format!("{prefix}.phone"), input.phone.as_deref());
    if errors.len() > n_before {
        return None;
    }
    name.map(|name| Contact { name, relationship, phone })
}

/// What the likely-duplicate rule compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKey<'a> {
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub date_of_birth: NaiveDate,
    pub phone: Option<&'a str>,
}

impl PatientDetails {
    pub fn duplicate_key(&self) -> DuplicateKey<'_> {
        DuplicateKey {
            given_name: &self.given_name,
            family_name: &self.family_name,
            date_of_birth: self.date_of_birth,
            phone: self.phone.as_deref(),
        }
    }
}

/// Why two records look like the same person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateReason {
    SameNameAndDateOfBirth,
    SamePhone,
}

impl DuplicateReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DuplicateReason::SameNameAndDateOfBirth => "same_name_and_date_of_birth",
            DuplicateReason::SamePhone => "same_phone",
        }
    }
}

/// Same name (ignoring case, spacing and accents on ASCII letters) and date
/// of birth, or the same phone number.
pub fn likely_duplicate(new: &DuplicateKey<'_>, existing: &DuplicateKey<'_>) -> Option<DuplicateReason> {
    let fold = |text: &str| -> String {
        text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
    };
    if fold(new.given_name) == fold(existing.given_name)
        && fold(new.family_name) == fold(existing.family_name)
        && new.date_of_birth == existing.date_of_birth
    {
        return Some(DuplicateReason::SameNameAndDateOfBirth);
    }
    match (new.phone, existing.phone) {
        (Some(a), Some(b)) if normalise_phone(a).is_some() && normalise_phone(a) == normalise_phone(b) => {
            Some(DuplicateReason::SamePhone)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()
    }

    fn minimal() -> PatientInput {
        PatientInput {
            given_name: Some("Ana".into()),
            family_name: Some("Diaz".into()),
            date_of_birth: Some("1980-02-29".into()),
            ..PatientInput::default()
        }
    }

    #[test]
    fn minimal_patient_gets_defaults() {
        let details = PatientDetails::parse(&minimal(), today()).unwrap();
        assert_eq!(details.status, PatientStatus::Screening);
        assert_eq!(details.sex_at_birth, SexAtBirth::Unknown);
        assert_eq!(details.initials(), "AD");
        assert_eq!(PatientDetails::parse(&details.to_input(), today()).unwrap(), details);
    }

    #[test]
    fn every_bad_field_is_reported() {
        let input = PatientInput {
            given_name: Some("  ".into()),
            family_name: None,
            date_of_birth: Some("1980-02-30".into()),
            sex_at_birth: Some("f".into()),
            phone: Some("12".into()),
            email: Some("not-an-email".into()),
            substances: vec!["alcohol".into(), "heroin".into()],
            status: Some("active".into()),
            escort: Some(ContactInput { name: None, relationship: None, phone: Some("555 0100 222".into()) }),
            ..PatientInput::default()
        };
        let err = PatientDetails::parse(&input, today()).unwrap_err();
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["given_name", "family_name", "date_of_birth", "sex_at_birth", "status", "phone", "email", "substances", "escort.name"]
        );
        let substances = err.0.iter().find(|e| e.field == "substances").unwrap();
        assert!(substances.message.contains("alcohol, cocaine, opioids"), "{}", substances.message);
    }

    #[test]
    fn diagnoses_allergies_and_medications() {
        let input = PatientInput {
            diagnoses: vec!["f10.20".into(), "F14.20".into(), "F10.20".into()],
            allergies: vec![AllergyInput { substance: Some("penicillin".into()), reaction: Some("hives".into()) }],
            medications: vec![MedicationInput { name: Some("buprenorphine".into()), dose: Some("16 mg daily".into()) }],
            ..minimal()
        };
        let details = PatientDetails::parse(&input, today()).unwrap();
        assert_eq!(details.diagnoses, ["F10.20", "F14.20"]);
        assert_eq!(details.allergies[0].reaction.as_deref(), Some("hives"));
        assert_eq!(PatientDetails::parse(&details.to_input(), today()).unwrap(), details);
        assert_eq!(diagnosis_display("F11.21").map(|(s, _)| s), Some(Substance::Opioids));

        let bad = PatientInput {
            diagnoses: vec!["F99".into()],
            allergies: vec![AllergyInput { substance: None, reaction: Some("rash".into()) }],
            medications: vec![MedicationInput { name: Some(" ".into()), dose: None }],
            ..minimal()
        };
        let err = PatientDetails::parse(&bad, today()).unwrap_err();
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["diagnoses", "allergies[0].substance", "medications[0].name"]);
        assert!(err.0[0].message.contains("F10.20"));
    }

    #[test]
    fn consented_contact_channels() {
        let input = PatientInput {
            phone: Some("555 010 0199".into()),
            contact_channels: vec!["sms".into(), "phone".into(), "sms".into()],
            preferred_contact_channel: Some("sms".into()),
            ..minimal()
        };
        let details = PatientDetails::parse(&input, today()).unwrap();
        assert_eq!(details.contact_channels, [ContactChannel::Phone, ContactChannel::Sms]);
        assert_eq!(details.preferred_contact_channel, Some(ContactChannel::Sms));
        assert_eq!(PatientDetails::parse(&details.to_input(), today()).unwrap(), details);
        assert!(PatientDetails::parse(&minimal(), today()).unwrap().contact_channels.is_empty());

        // Email consented without an address; a preferred channel not consented; an unknown channel.
        let bad = PatientInput {
            phone: Some("555 010 0199".into()),
            contact_channels: vec!["email".into(), "fax".into()],
            preferred_contact_channel: Some("phone".into()),
            ..minimal()
        };
        let err = PatientDetails::parse(&bad, today()).unwrap_err();
        let messages: Vec<String> = err.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
        assert_eq!(
            messages,
            [
                "contact_channels: must be among: phone, sms, email",
                "contact_channels: email needs an email address on the record",
                "preferred_contact_channel: must be one of the consented contact_channels",
            ]
        );
        let unknown = PatientInput { preferred_contact_channel: Some("pager".into()), ..minimal() };
        let err = PatientDetails::parse(&unknown, today()).unwrap_err();
        assert_eq!(err.0[0].field, "preferred_contact_channel");
    }

    #[test]
    fn dates_of_birth() {
        for (text, ok) in [("2026-11-27", true), ("2026-11-28", false), ("1906-01-01", true), ("1905-12-31", false), ("27/11/1980", false)] {
            let input = PatientInput { date_of_birth: Some(text.into()), ..minimal() };
            assert_eq!(PatientDetails::parse(&input, today()).is_ok(), ok, "{text}");
        }
    }

    #[test]
    fn phones_are_normalised() {
        assert_eq!(normalise_phone("(555) 010-0199"), Some("5550100199".into()));
        assert_eq!(normalise_phone("+1 555 010 0199"), Some("+15550100199".into()));
        assert_eq!(normalise_phone("555-CALL-NOW"), None);
        assert_eq!(normalise_phone("1+2345678"), None);
    }

    #[test]
    fn duplicates() {
        let dob = NaiveDate::from_ymd_opt(1980, 1, 2).unwrap();
        let other_dob = NaiveDate::from_ymd_opt(1981, 1, 2).unwrap();
        let key = |given, family, dob, phone| DuplicateKey { given_name: given, family_name: family, date_of_birth: dob, phone };
        assert_eq!(
            likely_duplicate(&key("ana", "DIAZ ", dob, None), &key("Ana", "Diaz", dob, None)),
            Some(DuplicateReason::SameNameAndDateOfBirth)
        );
        assert_eq!(likely_duplicate(&key("Ana", "Diaz", other_dob, None), &key("Ana", "Diaz", dob, None)), None);
        assert_eq!(
            likely_duplicate(&key("Bo", "Li", other_dob, Some("555 010 0199")), &key("Ana", "Diaz", dob, Some("5550100199"))),
            Some(DuplicateReason::SamePhone)
        );
    }
}
