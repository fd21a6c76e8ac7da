//! Wire types of the JSON API. Separate from domain types on purpose: a
//! serialisable type is a compatibility promise (STYLE.md §2).

use chrono::{DateTime, NaiveDate, Utc};
use clinic_domain::audit::AuditEvent;
use clinic_domain::patient::{AllergyInput, Contact, ContactInput, MedicationInput, Patient, PatientInput};
use clinic_store::records::User;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct LoginResponse {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Me {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub role: String,
    /// The permissions this role holds (from the permission table).
    pub permissions: Vec<String>,
}

impl Me {
    pub fn from_user(user: &User) -> Me {
        let permissions = clinic_domain::authz::Permission::ALL
            .into_iter()
            .filter(|p| clinic_domain::authz::role_allows(user.role, *p))
            .map(|p| p.as_str().to_string())
            .collect();
        Me {
            id: user.id,
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            role: user.role.as_str().to_string(),
            permissions,
        }
    }
}

/// A person to call: the escort home after an infusion, or an emergency contact.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ContactDto {
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationship: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl ContactDto {
    fn from_contact(contact: &Contact) -> ContactDto {
        ContactDto { name: Some(contact.name.clone()), relationship: contact.relationship.clone(), phone: contact.phone.clone() }
    }

    fn into_input(self) -> ContactInput {
        ContactInput { name: self.name, relationship: self.relationship, phone: self.phone }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AllergyDto {
    pub substance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reaction: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MedicationDto {
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dose: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DiagnosisDto {
    /// ICD-10-CM.
    pub code: String,
    pub display: String,
    pub substance: String,
}

/// The fields a client may write. `given_name`, `family_name` and
/// `date_of_birth` are required on create; `mrn` is assigned by the system.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatientWrite {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// YYYY-MM-DD.
    pub date_of_birth: Option<String>,
    /// `female`, `male`, `intersex` or `unknown` (default).
    pub sex_at_birth: Option<String>,
    pub gender_identity: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
    /// Any of `alcohol`, `cocaine`, `opioids`, `stimulants`, `cannabis`, `sedatives`, `other`.
    pub substances: Option<Vec<String>>,
    /// `inquiry`, `screening` (default), `eligible`, `not_eligible`, `in_treatment`, `follow_up`, `discharged`.
    pub status: Option<String>,
    pub escort: Option<ContactDto>,
    pub emergency_contacts: Option<Vec<ContactDto>>,
    /// ICD-10-CM codes of substance use disorders, e.g. `F10.20`.
    pub diagnoses: Option<Vec<String>>,
    pub allergies: Option<Vec<AllergyDto>>,
    /// Current medications.
    pub medications: Option<Vec<MedicationDto>>,
    /// Channels the patient agreed to be contacted on: any of `phone`, `sms`,
    /// `email` (each needs the matching detail on the record). Messages go only
    /// by one of these.
    pub contact_channels: Option<Vec<String>>,
    /// One of `contact_channels`.
    pub preferred_contact_channel: Option<String>,
    /// Register even though likely duplicates were reported (create only).
    #[serde(default, skip_serializing)]
    pub confirm_not_duplicate: Option<bool>,
}

impl PatientWrite {
    pub fn into_input(self) -> PatientInput {
        PatientInput {
            given_name: self.given_name,
            family_name: self.family_name,
            date_of_birth: self.date_of_birth,
            sex_at_birth: self.sex_at_birth,
            gender_identity: self.gender_identity,
            phone: self.phone,
            email: self.email,
            address: self.address,
            substances: self.substances.unwrap_or_default(),
            status: self.status,
            escort: self.escort.map(ContactDto::into_input),
            emergency_contacts: self.emergency_contacts.unwrap_or_default().into_iter().map(ContactDto::into_input).collect(),
            diagnoses: self.diagnoses.unwrap_or_default(),
            allergies: self.allergies.unwrap_or_default().into_iter().map(|a| AllergyInput { substance: a.substance, reaction: a.reaction }).collect(),
            medications: self.medications.unwrap_or_default().into_iter().map(|m| MedicationInput { name: m.name, dose: m.dose }).collect(),
            contact_channels: self.contact_channels.unwrap_or_default(),
            preferred_contact_channel: self.preferred_contact_channel,
        }
    }

    /// The stored patient in this shape, so a merge patch can be applied to it.
    pub fn from_patient(patient: &Patient) -> PatientWrite {
        let d = &patient.details;
        PatientWrite {
            given_name: Some(d.given_name.clone()),
            family_name: Some(d.family_name.clone()),
            date_of_birth: Some(d.date_of_birth.format("%Y-%m-%d").to_string()),
            sex_at_birth: Some(d.sex_at_birth.as_str().to_string()),
            gender_identity: d.gender_identity.clone(),
            phone: d.phone.clone(),
            email: d.email.clone(),
            address: d.address.clone(),
            substances: Some(d.substances.iter().map(|s| s.as_str().to_string()).collect()),
            status: Some(d.status.as_str().to_string()),
            escort: d.escort.as_ref().map(ContactDto::from_contact),
            emergency_contacts: Some(d.emergency_contacts.iter().map(ContactDto::from_contact).collect()),
            diagnoses: Some(d.diagnoses.clone()),
            allergies: Some(d.allergies.iter().map(|a| AllergyDto { substance: Some(a.substance.clone()), reaction: a.reaction.clone() }).collect()),
            medications: Some(d.medications.iter().map(|m| MedicationDto { name: Some(m.name.clone()), dose: m.dose.clone() }).collect()),
            contact_channels: Some(d.contact_channels.iter().map(|c| c.as_str().to_string()).collect()),
            preferred_contact_channel: d.preferred_contact_channel.map(|c| c.as_str().to_string()),
            confirm_not_duplicate: None,
        }
    }
}

/// An alert derived from the patient record.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChartAlertDto {
    /// `allergies_not_recorded`, `moud_continue`, `opioid_use_without_moud`, `no_escort`, `no_contact_consent`.
    pub kind: &'static str,
    /// `warning` or `info`.
    pub severity: &'static str,
    /// What the record shows.
    pub what: String,
    /// Why it matters and what to do.
    pub action: &'static str,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PatientDto {
    pub id: Uuid,
    pub mrn: String,
    pub site_id: Uuid,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: NaiveDate,
    pub sex_at_birth: String,
    pub gender_identity: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
    pub substances: Vec<String>,
    pub status: String,
    pub escort: Option<ContactDto>,
    pub emergency_contacts: Vec<ContactDto>,
    pub diagnoses: Vec<DiagnosisDto>,
    pub allergies: Vec<AllergyDto>,
    pub medications: Vec<MedicationDto>,
    /// Channels the patient agreed to be contacted on (`phone`, `sms`, `email`); empty: none recorded.
    pub contact_channels: Vec<String>,
    pub preferred_contact_channel: Option<String>,
    /// What a clinician must know before acting, derived from the record.
    pub alerts: Vec<ChartAlertDto>,
    /// Increments on every change; the ETag is `"<version>"`.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PatientDto {
    pub fn from_patient(patient: &Patient) -> PatientDto {
        let d = &patient.details;
        PatientDto {
            id: patient.id,
            mrn: patient.mrn.as_str().to_string(),
            site_id: patient.site_id,
            given_name: d.given_name.clone(),
            family_name: d.family_name.clone(),
            date_of_birth: d.date_of_birth,
            sex_at_birth: d.sex_at_birth.as_str().to_string(),
            gender_identity: d.gender_identity.clone(),
            phone: d.phone.clone(),
            email: d.email.clone(),
            address: d.address.clone(),
            substances: d.substances.iter().map(|s| s.as_str().to_string()).collect(),
            status: d.status.as_str().to_string(),
            escort: d.escort.as_ref().map(ContactDto::from_contact),
            emergency_contacts: d.emergency_contacts.iter().map(ContactDto::from_contact).collect(),
            diagnoses: d
                .diagnoses
                .iter()
                .map(|code| {
                    let (substance, display) = clinic_domain::patient::diagnosis_display(code).unwrap_or((clinic_domain::patient::Substance::Other, ""));
                    DiagnosisDto { code: code.clone(), display: display.to_string(), substance: substance.as_str().to_string() }
                })
                .collect(),
            allergies: d.allergies.iter().map(|a| AllergyDto { substance: Some(a.substance.clone()), reaction: a.reaction.clone() }).collect(),
            medications: d.medications.iter().map(|m| MedicationDto { name: Some(m.name.clone()), dose: m.dose.clone() }).collect(),
            contact_channels: d.contact_channels.iter().map(|c| c.as_str().to_string()).collect(),
            preferred_contact_channel: d.preferred_contact_channel.map(|c| c.as_str().to_string()),
            alerts: clinic_domain::chart::chart_alerts(d)
                .into_iter()
                .map(|a| ChartAlertDto { kind: a.kind.as_str(), severity: a.severity.as_str(), what: a.what, action: a.action })
                .collect(),
            version: patient.version,
            created_at: patient.created_at,
            updated_at: patient.updated_at,
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ListResponse<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatientListQuery {
    pub q: Option<String>,
    pub date_of_birth: Option<String>,
    pub status: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditListQuery {
    pub patient_id: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
    /// `csv` downloads the page as CSV (pages only).
    pub format: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AuditEventDto {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub actor_user_id: Option<Uuid>,
    pub actor: String,
    pub actor_role: Option<String>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub patient_id: Option<Uuid>,
    pub outcome: String,
    pub client_addr: Option<String>,
    pub detail: Option<String>,
}

impl AuditEventDto {
    pub fn from_event(event: &AuditEvent) -> AuditEventDto {
        AuditEventDto {
            id: event.id,
            occurred_at: event.occurred_at,
            actor_user_id: event.actor_user_id,
            actor: event.actor.clone(),
            actor_role: event.actor_role.clone(),
            action: event.action.clone(),
            resource_type: event.resource_type.clone(),
            resource_id: event.resource_id.clone(),
            patient_id: event.patient_id,
            outcome: event.outcome.clone(),
            client_addr: event.client_addr.clone(),
            detail: event.detail.clone(),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct UserDto {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

impl UserDto {
    pub fn from_user(user: &User) -> UserDto {
        UserDto {
            id: user.id,
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            role: user.role.as_str().to_string(),
            disabled: user.disabled,
            created_at: user.created_at,
        }
    }
}

/// An inquiry as the public form or staff send it.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InquiryWrite {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// Any of `alcohol`, `cocaine`, `opioids`, `stimulants`, `cannabis`, `sedatives`, `other`.
    pub substances: Option<Vec<String>>,
    pub preferred_contact_time: Option<String>,
    /// `phone`, `sms` or `email`; default `phone` when a phone is given, else `email`.
    pub contact_channel: Option<String>,
    pub message: Option<String>,
    /// Must be `true`.
    pub consent_to_contact: Option<bool>,
    /// Leave empty (a field people never see).
    pub website: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CallDto {
    pub id: Uuid,
    pub called_at: DateTime<Utc>,
    pub direction: String,
    pub outcome: String,
    pub note: Option<String>,
    pub user_id: Option<Uuid>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct InquiryDto {
    pub id: Uuid,
    pub site_id: Uuid,
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub substances: Vec<String>,
    pub preferred_contact_time: Option<String>,
    pub contact_channel: String,
    pub message: Option<String>,
    pub consent_to_contact: bool,
    /// `new`, `contacted`, `screening_booked`, `converted` or `closed`.
    pub status: String,
    pub close_reason: Option<String>,
    pub assigned_to: Option<Uuid>,
    pub patient_id: Option<Uuid>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_contact_at: Option<DateTime<Utc>>,
    /// The call log, oldest first (on a single inquiry only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calls: Option<Vec<CallDto>>,
}

impl InquiryDto {
    pub fn from_inquiry(inquiry: &clinic_domain::inquiry::Inquiry, calls: Option<&[clinic_domain::inquiry::InquiryCall]>) -> InquiryDto {
        let d = &inquiry.details;
        InquiryDto {
            id: inquiry.id,
            site_id: inquiry.site_id,
            name: d.name.clone(),
            phone: d.phone.clone(),
            email: d.email.clone(),
            substances: d.substances.iter().map(|s| s.as_str().to_string()).collect(),
            preferred_contact_time: d.preferred_contact_time.clone(),
            contact_channel: d.contact_channel.as_str().to_string(),
            message: d.message.clone(),
            // Stored inquiries all had consent: the domain refuses one without it.
            consent_to_contact: true,
            status: inquiry.status.as_str().to_string(),
            close_reason: inquiry.close_reason.map(|r| r.as_str().to_string()),
            assigned_to: inquiry.assigned_to,
            patient_id: inquiry.patient_id,
            version: inquiry.version,
            created_at: inquiry.created_at,
            updated_at: inquiry.updated_at,
            last_contact_at: inquiry.last_contact_at,
            calls: calls.map(|calls| {
                calls
                    .iter()
                    .map(|c| CallDto {
                        id: c.id,
                        called_at: c.called_at,
                        direction: c.direction.as_str().to_string(),
                        outcome: c.outcome.as_str().to_string(),
                        note: c.note.clone(),
                        user_id: c.user_id,
                    })
                    .collect()
            }),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InquiryListQuery {
    pub q: Option<String>,
    pub status: Option<String>,
    /// `true`: only new inquiries with no call logged for more than one
    /// business day in the site's time zone.
    pub overdue: Option<bool>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InquiryPatch {
    pub status: Option<String>,
    /// Required when closing: `not_interested`, `unreachable`, `not_eligible`, `referred_elsewhere`, `duplicate`, `spam`, `other`.
    pub close_reason: Option<String>,
    /// A staff username; empty to unassign.
    pub assigned_to: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallWrite {
    /// `outbound` (default) or `inbound`.
    pub direction: Option<String>,
    /// `reached`, `left_message`, `no_answer`, `wrong_number` or `screening_booked`.
    pub outcome: Option<String>,
    pub note: Option<String>,
    /// RFC 3339; defaults to now.
    pub called_at: Option<String>,
}

/// What converting needs beyond the inquiry: the date of birth at least.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConvertWrite {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub date_of_birth: Option<String>,
    pub sex_at_birth: Option<String>,
    pub confirm_not_duplicate: Option<bool>,
}
