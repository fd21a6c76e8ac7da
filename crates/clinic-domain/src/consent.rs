//! Consents (issue 4 item 6): consent to treatment, informed consent to
//! off-label ketamine infusion, and the 42 CFR Part 2 consent to disclose
//! with every element clinical.md §7.1 lists. Templates are versioned clinic
//! settings; a signature keeps the version and the SHA-256 of the exact text
//! shown. Revocation takes effect at once.

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use crate::field::{FieldError, FieldErrors};

wire_enum!(
    /// `infusion` is the informed consent to off-label ketamine infusion
    /// (risks, alternatives, escort and no-driving rules: clinical.md §2.3).
    ConsentKind, "kind" {
    Treatment => "treatment",
    Infusion => "infusion",
    Part2Disclosure => "part2_disclosure",
});

crate::screening::wire_serde!(ConsentKind);

/// Consents a patient must have in force before treatment. The Part 2
/// disclosure consent is not among them: it governs disclosure, and the TPO
/// form must say whether treatment is conditioned on signing (§7.1).
pub const REQUIRED_FOR_TREATMENT: [ConsentKind; 2] =
    [ConsentKind::Treatment, ConsentKind::Infusion];

wire_enum!(
    /// The elements of a Part 2 consent, 42 CFR 2.31(a) (2024 text) as
    /// clinical.md §7.1 lists them [S65, S68]; the last two are required for
    /// a consent covering treatment, payment and health care operations (TPO).
    Part2Element, "part2_element" {
    PatientName => "patient_name",
    DisclosingParty => "disclosing_party",
    InformationDescription => "information_description",
    Recipients => "recipients",
    Purpose => "purpose",
    RevocationStatement => "revocation_statement",
    Expiry => "expiry",
    Signature => "signature",
    DateSigned => "date_signed",
    RedisclosureStatement => "redisclosure_statement",
    ConditioningStatement => "conditioning_statement",
});

impl Part2Element {
    /// What the element must say, in §7.1's words.
    pub fn requirement(self) -> &'static str {
        match self {
            Part2Element::PatientName => "the patient's name (42 CFR 2.31(a)(1))",
            Part2Element::DisclosingParty => "who may make the use or disclosure, by name or class (2.31(a)(2))",
            Part2Element::InformationDescription => {
                "a specific and meaningful description of the information to be disclosed (2.31(a)(3))"
            }
            Part2Element::Recipients => {
                "the recipients, by name or class; for TPO a general phrase such as the patient's treating providers, \
                 health plans and third-party payers is allowed (2.31(a)(4))"
            }
            Part2Element::Purpose => {
                "the purpose; \"at the request of the patient\" or \"treatment, payment and health care operations\" \
                 suffice (2.31(a)(5))"
            }
            Part2Element::RevocationStatement => {
                "the right to revoke the consent in writing and how, except where it was already relied on (2.31(a)(6))"
            }
            Part2Element::Expiry => "an expiration date, event or condition; \"none\" only for TPO (2.31(a)(7))",
            Part2Element::Signature => "the patient's signature, or an authorised representative's (2.31(a)(8))",
            Part2Element::DateSigned => "the date signed (2.31(a)(9))",
            Part2Element::RedisclosureStatement => {
                "for TPO: that the records may be redisclosed under HIPAA and lose Part 2 protection, except that \
                 they may never be used in proceedings against the patient without consent or a court order"
            }
            Part2Element::ConditioningStatement => "for TPO: whether treatment can be conditioned on signing",
        }
    }
}

/// Statements the Part 2 template must carry word for word in its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part2Statements {
    pub revocation: String,
    pub redisclosure: String,
    pub conditioning: String,
}

/// A consent text as the clinic set it. The text is a clinic setting; it is
/// never edited in place: a change is a new version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentTemplate {
    pub kind: ConsentKind,
    pub version: u32,
    pub text: String,
    /// Present exactly when `kind` is `part2_disclosure`.
    pub part2: Option<Part2Statements>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsentTemplateInput {
    pub kind: Option<String>,
    pub version: Option<String>,
    pub text: Option<String>,
    pub revocation_statement: Option<String>,
    pub redisclosure_statement: Option<String>,
    pub conditioning_statement: Option<String>,
}

pub const MAX_CONSENT_TEXT_CHARS: usize = 100_000;
const MAX_FIELD_CHARS: usize = 2000;

impl ConsentTemplate {
    /// Validates a template. A Part 2 template must carry the revocation,
    /// redisclosure and conditioning statements, each found word for word in
    /// the text the patient reads; a missing one is named.
    pub fn parse(input: &ConsentTemplateInput) -> Result<ConsentTemplate, FieldErrors> {
        let mut errors = Vec::new();
        let kind = match blank_to_none(input.kind.as_deref()) {
            None => {
                errors.push(FieldError::new(
                    "kind",
                    format!("is required: one of {}", ConsentKind::allowed_list()),
                ));
                None
            }
            Some(text) => ConsentKind::parse(text)
                .map_err(|err| errors.push(err))
                .ok(),
        };
        let version = match blank_to_none(input.version.as_deref()).map(str::parse::<u32>) {
            Some(Ok(version)) if version >= 1 => Some(version),
            _ => {
                errors.push(FieldError::new(
                    "version",
                    "is required: a whole number from 1",
                ));
                None
            }
        };
        let text = match blank_to_none(input.text.as_deref()) {
            None => {
                errors.push(FieldError::new(
                    "text",
                    "is required: the consent text the patient reads",
                ));
                None
            }
            Some(_)
                if input
                    .text
                    .as_deref()
                    .is_some_and(|t| t.chars().count() > MAX_CONSENT_TEXT_CHARS) =>
            {
                errors.push(FieldError::new(
                    "text",
                    format!("must be at most {MAX_CONSENT_TEXT_CHARS} characters"),
                ));
                None
            }
            // Kept exactly as written (not trimmed): its hash is what the patient saw.
            Some(_) => input.text.clone(),
        };
        let statements = [
            (
                Part2Element::RevocationStatement,
                &input.revocation_statement,
            ),
            (
                Part2Element::RedisclosureStatement,
                &input.redisclosure_statement,
            ),
            (
                Part2Element::ConditioningStatement,
                &input.conditioning_statement,
            ),
        ];
        let mut part2 = None;
        if kind == Some(ConsentKind::Part2Disclosure) {
            let mut found = Vec::new();
            for (element, value) in statements {
                match blank_to_none(value.as_deref()) {
                    None => errors.push(FieldError::new(
                        element.as_str(),
                        format!("is required in a Part 2 consent: {}", element.requirement()),
                    )),
                    Some(statement) if text.as_deref().is_some_and(|t| !t.contains(statement)) => {
                        errors.push(FieldError::new(
                            element.as_str(),
                            "must appear word for word in the text, so the patient reads it",
                        ))
                    }
                    Some(statement) => found.push(statement.to_string()),
                }
            }
            if let [revocation, redisclosure, conditioning] = found.as_slice() {
                part2 = Some(Part2Statements {
                    revocation: revocation.clone(),
                    redisclosure: redisclosure.clone(),
                    conditioning: conditioning.clone(),
                });
            }
        } else if kind.is_some() {
            for (element, value) in statements {
                if blank_to_none(value.as_deref()).is_some() {
                    errors.push(FieldError::new(
                        element.as_str(),
                        "belongs only to a part2_disclosure template",
                    ));
                }
            }
        }
        match (kind, version, text) {
            (Some(kind), Some(version), Some(text)) if errors.is_empty() => Ok(ConsentTemplate {
                kind,
                version,
                text,
                part2,
            }),
            _ => Err(FieldErrors(errors)),
        }
    }

    /// Lowercase hex SHA-256 of the exact text.
    pub fn text_sha256(&self) -> String {
        sha256_hex(&self.text)
    }
}

pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

wire_enum!(SignerCapacity, "signer_capacity" {
    Patient => "patient",
    AuthorizedRepresentative => "authorized_representative",
});

wire_enum!(
    /// TPO = treatment, payment and health care operations.
    Part2PurposeKind, "purpose" {
    Tpo => "treatment_payment_operations",
    PatientRequest => "at_request_of_patient",
    Other => "other",
});

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Part2Purpose {
    Tpo,
    PatientRequest,
    Other(String),
}

crate::screening::wire_serde!(SignerCapacity);

wire_enum!(Part2ExpiryKind, "expiry" { Date => "date", EventOrCondition => "event_or_condition", None => "none" });

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Part2Expiry {
    /// In force through this date (UTC).
    Date(NaiveDate),
    /// Such as "end of treatment"; staff record when it happens.
    EventOrCondition(String),
    /// Allowed for a TPO consent only (§7.1 element 7).
    None,
}

/// The Part 2 elements filled in for one patient, as a client sent them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Part2Input {
    pub patient_name: Option<String>,
    pub disclosing_party: Option<String>,
    pub information_description: Option<String>,
    pub recipients: Vec<String>,
    pub purpose: Option<String>,
    /// Required when `purpose` is `other`.
    pub purpose_text: Option<String>,
    pub expiry: Option<String>,
    pub expiry_date: Option<String>,
    pub expiry_event: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Part2Elements {
    pub patient_name: String,
    pub disclosing_party: String,
    pub information_description: String,
    pub recipients: Vec<String>,
    pub purpose: Part2Purpose,
    pub expiry: Part2Expiry,
}

/// A signature as a client sent it. `signature` is the signer's typed full
/// name (an e-signature, which §7.1 allows).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignInput {
    pub signature: Option<String>,
    pub signer_capacity: Option<String>,
    /// Why a representative may sign (minor, incapacity, deceased), when one does.
    pub representative_authority: Option<String>,
    /// The SHA-256 of the text the form showed; must be the template's.
    pub shown_text_sha256: Option<String>,
    pub part2: Option<Part2Input>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Revocation {
    pub revoked_at: DateTime<Utc>,
    pub recorded_by: String,
    /// How the revocation came (e.g. "written request handed in at the desk").
    pub how: String,
}

/// A signed consent: which text, its hash, who signed and when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SignedConsent {
    pub kind: ConsentKind,
    pub template_version: u32,
    pub text_sha256: String,
    pub signer_name: String,
    pub signer_capacity: SignerCapacity,
    pub representative_authority: Option<String>,
    pub signed_at: DateTime<Utc>,
    /// The filled elements, for a Part 2 consent.
    pub part2: Option<Part2Elements>,
    pub revocation: Option<Revocation>,
    /// When staff recorded that an expiry event or condition occurred.
    pub expiry_event_recorded_at: Option<DateTime<Utc>>,
}

/// Every Part 2 element a consent lacks, in regulation order. `signature`
/// and `date_signed` are what the signer typed and when; the statements come
/// from the template.
pub fn missing_part2_elements(
    template: &ConsentTemplate,
    elements: &Part2Input,
    signature: Option<&str>,
    date_signed: Option<NaiveDate>,
) -> Vec<Part2Element> {
    let blank = |text: &Option<String>| blank_to_none(text.as_deref()).is_none();
    let statements = template.part2.as_ref();
    let missing_statement = |pick: fn(&Part2Statements) -> &str| {
        statements.is_none_or(|s| {
            let statement = pick(s).trim();
            statement.is_empty() || !template.text.contains(statement)
        })
    };
    let purpose_missing =
        match blank_to_none(elements.purpose.as_deref()).map(Part2PurposeKind::parse) {
            Some(Ok(Part2PurposeKind::Other)) => blank(&elements.purpose_text),
            Some(Ok(_)) => false,
            _ => true,
        };
    let expiry_missing = match blank_to_none(elements.expiry.as_deref()).map(Part2ExpiryKind::parse)
    {
        Some(Ok(Part2ExpiryKind::Date)) => blank(&elements.expiry_date),
        Some(Ok(Part2ExpiryKind::EventOrCondition)) => blank(&elements.expiry_event),
        Some(Ok(Part2ExpiryKind::None)) => false,
        _ => true,
    };
    let checks = [
        (Part2Element::PatientName, blank(&elements.patient_name)),
        (
            Part2Element::DisclosingParty,
            blank(&elements.disclosing_party),
        ),
        (
            Part2Element::InformationDescription,
            blank(&elements.information_description),
        ),
        (
            Part2Element::Recipients,
            elements.recipients.iter().all(|r| r.trim().is_empty()),
        ),
        (Part2Element::Purpose, purpose_missing),
        (
            Part2Element::RevocationStatement,
            missing_statement(|s| &s.revocation),
        ),
        (Part2Element::Expiry, expiry_missing),
        (Part2Element::Signature, blank_to_none(signature).is_none()),
        (Part2Element::DateSigned, date_signed.is_none()),
        (
            Part2Element::RedisclosureStatement,
            missing_statement(|s| &s.redisclosure),
        ),
        (
            Part2Element::ConditioningStatement,
            missing_statement(|s| &s.conditioning),
        ),
    ];
    checks
        .into_iter()
        .filter(|(_, missing)| *missing)
        .map(|(element, _)| element)
        .collect()
}

/// Signs `template` at `signed_at`. Refused, naming every failing field,
/// when the shown text is not the template's, the signer is missing, or (for
/// Part 2) any element of §7.1 is missing or wrong.
pub fn sign(
    template: &ConsentTemplate,
    input: &SignInput,
    signed_at: DateTime<Utc>,
) -> Result<SignedConsent, FieldErrors> {
    let mut errors = Vec::new();
    let text_sha256 = template.text_sha256();
    match blank_to_none(input.shown_text_sha256.as_deref()) {
        Some(shown) if shown.eq_ignore_ascii_case(&text_sha256) => {}
        Some(_) => errors.push(FieldError::new(
            "shown_text_sha256",
            format!(
                "the text shown is not version {} of the {} consent; show the current text and sign again",
                template.version,
                template.kind.as_str()
            ),
        )),
        None => errors.push(FieldError::new("shown_text_sha256", "is required: the SHA-256 of the text shown")),
    }
    let is_part2 = template.kind == ConsentKind::Part2Disclosure;
    let signer_name = match blank_to_none(input.signature.as_deref()) {
        None if is_part2 => None, // named below as the `signature` element
        None => {
            errors.push(FieldError::new(
                "signature",
                "is required: the signer's full name",
            ));
            None
        }
        Some(name) => clean(&mut errors, "signature", name, 200),
    };
    let signer_capacity = match blank_to_none(input.signer_capacity.as_deref()) {
        None => Some(SignerCapacity::Patient),
        Some(text) => SignerCapacity::parse(text)
            .map_err(|err| errors.push(err))
            .ok(),
    };
    let representative_authority = blank_to_none(input.representative_authority.as_deref())
        .and_then(|t| clean(&mut errors, "representative_authority", t, 500));
    match (signer_capacity, &representative_authority) {
        (Some(SignerCapacity::AuthorizedRepresentative), None) => errors.push(FieldError::new(
            "representative_authority",
            "is required when a representative signs: why they may (minor, incapacity, deceased)",
        )),
        (Some(SignerCapacity::Patient), Some(_)) => errors.push(FieldError::new(
            "representative_authority",
            "applies only when signer_capacity is authorized_representative",
        )),
        _ => {}
    }
    let part2 = match (is_part2, &input.part2) {
        (true, elements) => {
            let empty = Part2Input::default();
            let elements = elements.as_ref().unwrap_or(&empty);
            parse_part2(
                &mut errors,
                template,
                elements,
                input.signature.as_deref(),
                signed_at,
            )
        }
        (false, Some(_)) => {
            errors.push(FieldError::new(
                "part2",
                "belongs only to a part2_disclosure consent",
            ));
            None
        }
        (false, None) => None,
    };
    match (signer_name, signer_capacity) {
        (Some(signer_name), Some(signer_capacity)) if errors.is_empty() => Ok(SignedConsent {
            kind: template.kind,
            template_version: template.version,
            text_sha256,
            signer_name,
            signer_capacity,
            representative_authority,
            signed_at,
            part2,
            revocation: None,
            expiry_event_recorded_at: None,
        }),
        _ => Err(FieldErrors(errors)),
    }
}

fn parse_part2(
    errors: &mut Vec<FieldError>,
    template: &ConsentTemplate,
    input: &Part2Input,
    signature: Option<&str>,
    signed_at: DateTime<Utc>,
) -> Option<Part2Elements> {
    let n_before = errors.len();
    for element in missing_part2_elements(template, input, signature, Some(signed_at.date_naive()))
    {
        errors.push(FieldError::new(
            element.as_str(),
            format!("is required in a Part 2 consent: {}", element.requirement()),
        ));
    }
    if errors.len() > n_before {
        return None;
    }
    let text = |field: &str, value: &Option<String>, errors: &mut Vec<FieldError>| {
        blank_to_none(value.as_deref()).and_then(|t| clean(errors, field, t, MAX_FIELD_CHARS))
    };
    let patient_name = text("patient_name", &input.patient_name, errors);
    let disclosing_party = text("disclosing_party", &input.disclosing_party, errors);
    let information_description = text(
        "information_description",
        &input.information_description,
        errors,
    );
    let recipients: Vec<String> = input
        .recipients
        .iter()
        .filter_map(|r| {
            blank_to_none(Some(r.as_str()))
                .and_then(|r| clean(errors, "recipients", r, MAX_FIELD_CHARS))
        })
        .collect();
    let purpose = match blank_to_none(input.purpose.as_deref()).map(Part2PurposeKind::parse) {
        Some(Ok(Part2PurposeKind::Tpo)) => Some(Part2Purpose::Tpo),
        Some(Ok(Part2PurposeKind::PatientRequest)) => Some(Part2Purpose::PatientRequest),
        Some(Ok(Part2PurposeKind::Other)) => {
            text("purpose_text", &input.purpose_text, errors).map(Part2Purpose::Other)
        }
        _ => None,
    };
    let expiry = match blank_to_none(input.expiry.as_deref()).map(Part2ExpiryKind::parse) {
        Some(Ok(Part2ExpiryKind::Date)) => {
            match NaiveDate::parse_from_str(
                input.expiry_date.as_deref().unwrap_or("").trim(),
                "%Y-%m-%d",
            ) {
                Ok(date) if date > signed_at.date_naive() => Some(Part2Expiry::Date(date)),
                Ok(_) => {
                    errors.push(FieldError::new(
                        "expiry_date",
                        "must be after the date signed",
                    ));
                    None
                }
                Err(_) => {
                    errors.push(FieldError::new(
                        "expiry_date",
                        "must be a real date written YYYY-MM-DD",
                    ));
                    None
                }
            }
        }
        Some(Ok(Part2ExpiryKind::EventOrCondition)) => {
            text("expiry_event", &input.expiry_event, errors).map(Part2Expiry::EventOrCondition)
        }
        Some(Ok(Part2ExpiryKind::None)) if purpose == Some(Part2Purpose::Tpo) => {
            Some(Part2Expiry::None)
        }
        Some(Ok(Part2ExpiryKind::None)) => {
            errors.push(FieldError::new(
                "expiry",
                "none is allowed only for a treatment_payment_operations consent (42 CFR 2.31(a)(7))",
            ));
            None
        }
        _ => None,
    };
    Some(Part2Elements {
        patient_name: patient_name?,
        disclosing_party: disclosing_party?,
        information_description: information_description?,
        recipients,
        purpose: purpose?,
        expiry: expiry?,
    })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsentChangeError {
    #[error("the consent is already revoked")]
    AlreadyRevoked,
    #[error("a consent cannot be changed at a time before it was signed")]
    BeforeSigned,
    #[error("{field} is required")]
    Missing { field: &'static str },
    #[error("only a consent that expires on an event or condition can have that event recorded")]
    NotEventExpiry,
}

impl SignedConsent {
    /// Revokes the consent at `at`. It takes effect at once: the consent is
    /// not in force at `at` itself or after.
    pub fn revoke(
        &self,
        at: DateTime<Utc>,
        recorded_by: &str,
        how: &str,
    ) -> Result<SignedConsent, ConsentChangeError> {
        if self.revocation.is_some() {
            return Err(ConsentChangeError::AlreadyRevoked);
        }
        if at < self.signed_at {
            return Err(ConsentChangeError::BeforeSigned);
        }
        let recorded_by = recorded_by.trim();
        let how = how.trim();
        if recorded_by.is_empty() {
            return Err(ConsentChangeError::Missing {
                field: "recorded_by",
            });
        }
        if how.is_empty() {
            return Err(ConsentChangeError::Missing { field: "how" });
        }
        let revocation = Revocation {
            revoked_at: at,
            recorded_by: recorded_by.into(),
            how: how.into(),
        };
        Ok(SignedConsent {
            revocation: Some(revocation),
            ..self.clone()
        })
    }

    /// Records that the expiry event or condition of a Part 2 consent happened.
    pub fn record_expiry_event(
        &self,
        at: DateTime<Utc>,
    ) -> Result<SignedConsent, ConsentChangeError> {
        if !matches!(
            self.part2.as_ref().map(|p| &p.expiry),
            Some(Part2Expiry::EventOrCondition(_))
        ) {
            return Err(ConsentChangeError::NotEventExpiry);
        }
        if at < self.signed_at {
            return Err(ConsentChangeError::BeforeSigned);
        }
        Ok(SignedConsent {
            expiry_event_recorded_at: Some(at),
            ..self.clone()
        })
    }

    /// Signed at or before `at`, not revoked by then, and not expired.
    pub fn is_in_force(&self, at: DateTime<Utc>) -> bool {
        let signed = self.signed_at <= at;
        let revoked = self.revocation.as_ref().is_some_and(|r| r.revoked_at <= at);
        let expired = match self.part2.as_ref().map(|p| &p.expiry) {
            Some(Part2Expiry::Date(last_day)) => at.date_naive() > *last_day,
            _ => false,
        } || self.expiry_event_recorded_at.is_some_and(|when| when <= at);
        signed && !revoked && !expired
    }
}

/// The consents required for treatment (`REQUIRED_FOR_TREATMENT`) that have
/// no signed consent in force at `now`, in that order.
pub fn missing_consents(signed: &[SignedConsent], now: DateTime<Utc>) -> Vec<ConsentKind> {
    REQUIRED_FOR_TREATMENT
        .into_iter()
        .filter(|kind| !signed.iter().any(|c| c.kind == *kind && c.is_in_force(now)))
        .collect()
}

fn blank_to_none(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|t| !t.is_empty())
}

fn clean(
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    pub(crate) fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
    }

    const REVOKE: &str =
        "You may revoke this consent at any time by writing to the clinic; it stops future \
                          disclosures but not those already made in reliance on it.";
    const REDISCLOSE: &str = "Records disclosed for treatment, payment and health care operations may be redisclosed \
                              as HIPAA allows and then lose Part 2 protection, except that they may never be used in \
                              proceedings against you without your consent or a court order.";
    const CONDITION: &str = "Your treatment does not depend on signing this consent.";

    pub(crate) fn template(kind: ConsentKind) -> ConsentTemplate {
        let input = match kind {
            ConsentKind::Part2Disclosure => ConsentTemplateInput {
                kind: Some("part2_disclosure".into()),
                version: Some("1".into()),
                text: Some(format!(
                    "Consent to disclose.\n{REVOKE}\n{REDISCLOSE}\n{CONDITION}\n"
                )),
                revocation_statement: Some(REVOKE.into()),
                redisclosure_statement: Some(REDISCLOSE.into()),
                conditioning_statement: Some(CONDITION.into()),
            },
            other => ConsentTemplateInput {
                kind: Some(other.as_str().into()),
                version: Some("2".into()),
                text: Some(format!(
                    "{} consent text set by the clinic.",
                    other.as_str()
                )),
                ..ConsentTemplateInput::default()
            },
        };
        ConsentTemplate::parse(&input).unwrap()
    }

    pub(crate) fn signed(kind: ConsentKind, signed_at: DateTime<Utc>) -> SignedConsent {
        let t = template(kind);
        let part2 = (kind == ConsentKind::Part2Disclosure).then(part2_input);
        let input = SignInput {
            signature: Some("Ana Diaz".into()),
            shown_text_sha256: Some(t.text_sha256()),
            part2,
            ..SignInput::default()
        };
        sign(&t, &input, signed_at).unwrap()
    }

    fn part2_input() -> Part2Input {
        Part2Input {
            patient_name: Some("Ana Diaz".into()),
            disclosing_party: Some("Ketaclinic Springfield".into()),
            information_description: Some("Diagnosis, medications and treatment attendance".into()),
            recipients: vec!["My treating providers, health plans and third-party payers".into()],
            purpose: Some("treatment_payment_operations".into()),
            purpose_text: None,
            expiry: Some("event_or_condition".into()),
            expiry_date: None,
            expiry_event: Some("end of treatment".into()),
        }
    }

    fn fields(err: &FieldErrors) -> Vec<&str> {
        err.0.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn templates_hash_the_exact_text() {
        let t = template(ConsentKind::Infusion);
        assert_eq!(t.version, 2);
        assert_eq!(
            t.text_sha256(),
            sha256_hex("infusion consent text set by the clinic.")
        );
        // sha256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_part2_template_needs_each_statement_in_its_text() {
        let base = ConsentTemplateInput {
            kind: Some("part2_disclosure".into()),
            version: Some("1".into()),
            text: Some(format!("Consent.\n{REVOKE}\n")),
            revocation_statement: Some(REVOKE.into()),
            redisclosure_statement: Some(REDISCLOSE.into()),
            conditioning_statement: None,
        };
        let err = ConsentTemplate::parse(&base).unwrap_err();
        assert_eq!(
            fields(&err),
            ["redisclosure_statement", "conditioning_statement"]
        );
        assert_eq!(
            err.0[0].message,
            "must appear word for word in the text, so the patient reads it"
        );
        assert!(err.0[1]
            .message
            .contains("whether treatment can be conditioned on signing"));

        let other = ConsentTemplateInput {
            kind: Some("treatment".into()),
            version: Some("0".into()),
            text: Some(" ".into()),
            revocation_statement: Some(REVOKE.into()),
            ..ConsentTemplateInput::default()
        };
        assert_eq!(
            fields(&ConsentTemplate::parse(&other).unwrap_err()),
            ["version", "text", "revocation_statement"]
        );
    }

    #[test]
    fn part2_signing_names_each_missing_element() {
        let t = template(ConsentKind::Part2Disclosure);
        let input = SignInput {
            shown_text_sha256: Some(t.text_sha256()),
            part2: Some(Part2Input::default()),
            ..SignInput::default()
        };
        let err = sign(&t, &input, at(26, 10)).unwrap_err();
        assert_eq!(
            fields(&err),
            [
                "patient_name",
                "disclosing_party",
                "information_description",
                "recipients",
                "purpose",
                "expiry",
                "signature"
            ]
        );
        assert!(err.0[3].message.contains("2.31(a)(4)"));

        // Each element alone.
        type Breaker = fn(&mut Part2Input);
        let cases: [(Breaker, &str); 7] = [
            (|p| p.patient_name = None, "patient_name"),
            (
                |p| p.disclosing_party = Some(" ".into()),
                "disclosing_party",
            ),
            (
                |p| p.information_description = None,
                "information_description",
            ),
            (|p| p.recipients = vec![String::new()], "recipients"),
            (|p| p.purpose = Some("other".into()), "purpose"),
            (|p| p.expiry = None, "expiry"),
            (|p| p.expiry_event = None, "expiry"),
        ];
        for (break_it, field) in cases {
            let mut p = part2_input();
            break_it(&mut p);
            let input = SignInput {
                signature: Some("Ana Diaz".into()),
                shown_text_sha256: Some(t.text_sha256()),
                part2: Some(p),
                ..SignInput::default()
            };
            assert_eq!(fields(&sign(&t, &input, at(26, 10)).unwrap_err()), [field]);
        }

        // A template without the statements (e.g. one built in code) is named too.
        let mut bare = t.clone();
        bare.part2 = None;
        assert_eq!(
            missing_part2_elements(&bare, &part2_input(), Some("Ana Diaz"), None),
            [
                Part2Element::RevocationStatement,
                Part2Element::DateSigned,
                Part2Element::RedisclosureStatement,
                Part2Element::ConditioningStatement
            ]
        );
        assert!(missing_part2_elements(
            &t,
            &part2_input(),
            Some("Ana Diaz"),
            Some(at(26, 10).date_naive())
        )
        .is_empty());
    }

    #[test]
    fn part2_purpose_and_expiry() {
        let t = template(ConsentKind::Part2Disclosure);
        let sign_with = |p: Part2Input| {
            let input = SignInput {
                signature: Some("Ana Diaz".into()),
                shown_text_sha256: Some(t.text_sha256()),
                part2: Some(p),
                ..SignInput::default()
            };
            sign(&t, &input, at(26, 10))
        };
        let ok = sign_with(part2_input()).unwrap();
        assert_eq!(ok.part2.as_ref().unwrap().purpose, Part2Purpose::Tpo);

        let none_tpo = Part2Input {
            expiry: Some("none".into()),
            ..part2_input()
        };
        assert_eq!(
            sign_with(none_tpo).unwrap().part2.unwrap().expiry,
            Part2Expiry::None
        );
        let none_request = Part2Input {
            expiry: Some("none".into()),
            purpose: Some("at_request_of_patient".into()),
            ..part2_input()
        };
        assert_eq!(fields(&sign_with(none_request).unwrap_err()), ["expiry"]);
        let past = Part2Input {
            expiry: Some("date".into()),
            expiry_date: Some("2026-11-26".into()),
            ..part2_input()
        };
        assert_eq!(fields(&sign_with(past).unwrap_err()), ["expiry_date"]);
        let other = Part2Input {
            purpose: Some("other".into()),
            purpose_text: Some("Court-ordered evaluation".into()),
            ..part2_input()
        };
        assert_eq!(
            sign_with(other).unwrap().part2.unwrap().purpose,
            Part2Purpose::Other("Court-ordered evaluation".into())
        );

        // A dated Part 2 consent is in force through its last day.
        let dated = sign_with(Part2Input {
            expiry: Some("date".into()),
            expiry_date: Some("2026-11-28".into()),
            ..part2_input()
        })
        .unwrap();
        assert!(dated.is_in_force(at(28, 23)));
        assert!(!dated.is_in_force(at(29, 0)));
        // An event expiry ends when staff record the event.
        let ended = ok.record_expiry_event(at(27, 9)).unwrap();
        assert!(ended.is_in_force(at(27, 8)) && !ended.is_in_force(at(27, 9)));
        assert_eq!(
            dated.record_expiry_event(at(27, 9)),
            Err(ConsentChangeError::NotEventExpiry)
        );
    }

    #[test]
    fn signing_checks_the_text_shown_and_the_signer() {
        let t = template(ConsentKind::Treatment);
        let stale = SignInput {
            signature: Some("Ana Diaz".into()),
            shown_text_sha256: Some(sha256_hex("an older text")),
            ..SignInput::default()
        };
        let err = sign(&t, &stale, at(26, 10)).unwrap_err();
        assert_eq!(fields(&err), ["shown_text_sha256"]);
        assert!(err.0[0]
            .message
            .contains("version 2 of the treatment consent"));

        let representative = SignInput {
            signature: Some("Bo Diaz".into()),
            signer_capacity: Some("authorized_representative".into()),
            shown_text_sha256: Some(t.text_sha256()),
            part2: Some(part2_input()),
            ..SignInput::default()
        };
        assert_eq!(
            fields(&sign(&t, &representative, at(26, 10)).unwrap_err()),
            ["representative_authority", "part2"]
        );
        let c = signed(ConsentKind::Treatment, at(26, 10));
        assert_eq!(
            (c.template_version, c.signer_capacity, c.text_sha256.len()),
            (2, SignerCapacity::Patient, 64)
        );
    }

    #[test]
    fn revocation_takes_effect_at_once() {
        let c = signed(ConsentKind::Infusion, at(20, 9));
        assert!(!c.is_in_force(at(20, 8)), "not before it is signed");
        assert!(c.is_in_force(at(20, 9)));
        let revoked = c
            .revoke(
                at(22, 15),
                "Front desk",
                "verbal request, written form to follow",
            )
            .unwrap();
        assert!(revoked.is_in_force(at(22, 14)));
        assert!(
            !revoked.is_in_force(at(22, 15)),
            "at the moment of revocation"
        );
        assert!(!revoked.is_in_force(at(30, 0)));
        assert_eq!(
            revoked.revoke(at(23, 0), "x", "y"),
            Err(ConsentChangeError::AlreadyRevoked)
        );
        assert_eq!(
            c.revoke(at(19, 0), "x", "y"),
            Err(ConsentChangeError::BeforeSigned)
        );
        assert_eq!(
            c.revoke(at(23, 0), " ", "y"),
            Err(ConsentChangeError::Missing {
                field: "recorded_by"
            })
        );
    }

    #[test]
    fn missing_consents_for_treatment() {
        assert_eq!(missing_consents(&[], at(26, 10)), REQUIRED_FOR_TREATMENT);
        let treatment = signed(ConsentKind::Treatment, at(20, 9));
        let infusion = signed(ConsentKind::Infusion, at(20, 9));
        let part2 = signed(ConsentKind::Part2Disclosure, at(20, 9));
        assert_eq!(
            missing_consents(&[treatment.clone(), part2.clone()], at(26, 10)),
            [ConsentKind::Infusion]
        );
        let all = [treatment.clone(), infusion.clone(), part2];
        assert!(missing_consents(&all, at(26, 10)).is_empty());
        let revoked = infusion
            .revoke(at(25, 0), "Front desk", "written request")
            .unwrap();
        assert_eq!(
            missing_consents(&[treatment.clone(), revoked.clone()], at(26, 10)),
            [ConsentKind::Infusion]
        );
        // Signing again after a revocation restores it.
        let again = signed(ConsentKind::Infusion, at(26, 9));
        assert!(missing_consents(&[treatment, revoked, again], at(26, 10)).is_empty());
    }

    proptest! {
        /// Revocation takes effect at once, whenever it happens.
        #[test]
        fn in_force_exactly_between_signing_and_revocation(sign_min in 0i64..10_000, revoke_after in 0i64..10_000, probe in 0i64..30_000) {
            let start = at(1, 0);
            let signed_at = start + chrono::Duration::minutes(sign_min);
            let revoked_at = signed_at + chrono::Duration::minutes(revoke_after);
            let when = start + chrono::Duration::minutes(probe);
            let c = signed(ConsentKind::Treatment, signed_at).revoke(revoked_at, "staff", "written").unwrap();
            prop_assert_eq!(c.is_in_force(when), signed_at <= when && when < revoked_at);
        }
    }
}
