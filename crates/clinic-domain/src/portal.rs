//! The patient portal: links sent to a consented channel, their expiry and
//! single use, and the neutral wording of every message (DESIGN.md:
//! messages must not reveal treatment to someone else reading the phone).

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::inquiry::ContactChannel;
use crate::patient::PatientDetails;

wire_enum!(
    /// What a link opens: the portal, or one questionnaire (used up when answered).
    LinkPurpose, "purpose" {
    Signin => "signin",
    Questionnaire => "questionnaire",
});

wire_enum!(ResponseSource, "source" { Staff => "staff", Portal => "portal" });

/// Default lifetime of a link (issue 4: 72 h); a clinic setting.
pub const DEFAULT_LINK_LIFETIME: Duration = Duration::hours(72);
/// How long a portal session lasts after a link is opened; a security setting.
pub const DEFAULT_PORTAL_SESSION: Duration = Duration::minutes(30);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalLink {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub purpose: LinkPurpose,
    pub instrument_id: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Usable,
    Expired,
    Used,
}

pub fn link_state(link: &PortalLink, now: DateTime<Utc>) -> LinkState {
    if link.used_at.is_some() {
        LinkState::Used
    } else if now >= link.expires_at {
        LinkState::Expired
    } else {
        LinkState::Usable
    }
}

/// Where a link can be sent: a consented channel that can carry a link (SMS
/// or email), the preferred one first. A phone call cannot carry a link.
pub fn link_channel(details: &PatientDetails) -> Option<(ContactChannel, String)> {
    let address = |channel: ContactChannel| match channel {
        ContactChannel::Sms => details.phone.clone(),
        ContactChannel::Email => details.email.clone(),
        ContactChannel::Phone => None,
    };
    let mut candidates: Vec<ContactChannel> = details.preferred_contact_channel.into_iter().collect();
    candidates.extend(details.contact_channels.iter().copied());
    candidates.into_iter().filter(|c| details.contact_channels.contains(c)).find_map(|c| address(c).map(|a| (c, a)))
}

/// The message carrying a link: the clinic's name only, no mention of
/// treatment, substances or questionnaires.
pub fn link_message(clinic_name: &str, given_name: &str, url: &str, expires_in_hours: i64) -> String {
    format!(
        "Hello {given_name}, {clinic_name} has a message for you. Open this private link within {expires_in_hours} hours: {url} \
         — if this was not meant for you, please ignore it."
    )
}

/// The page to the on-call clinician: no patient name or reason in the text.
pub fn page_message(clinic_name: &str) -> String {
    format!("{clinic_name}: an urgent patient safety alert needs you. Please sign in to the clinic system now.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patient::{PatientStatus, SexAtBirth};
    use chrono::NaiveDate;

    fn link(expires_in: Duration, used: bool) -> PortalLink {
        let t0 = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        PortalLink {
            id: Uuid::nil(),
            patient_id: Uuid::nil(),
            purpose: LinkPurpose::Questionnaire,
            instrument_id: Some("phq-9".into()),
            expires_at: t0 + expires_in,
            used_at: used.then_some(t0),
            created_by: None,
            created_at: t0,
        }
    }

    #[test]
    fn links_expire_and_are_used_once() {
        let t0 = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        assert_eq!(link_state(&link(DEFAULT_LINK_LIFETIME, false), t0 + Duration::hours(71)), LinkState::Usable);
        assert_eq!(link_state(&link(DEFAULT_LINK_LIFETIME, false), t0 + Duration::hours(72)), LinkState::Expired);
        assert_eq!(link_state(&link(DEFAULT_LINK_LIFETIME, true), t0), LinkState::Used);
    }

    fn details(channels: Vec<ContactChannel>, preferred: Option<ContactChannel>, email: Option<&str>) -> PatientDetails {
        PatientDetails {
            given_name: "Ana".into(),
            family_name: "Diaz".into(),
            date_of_birth: NaiveDate::from_ymd_opt(1980, 1, 1).unwrap(),
            sex_at_birth: SexAtBirth::Female,
            gender_identity: None,
            phone: Some("5550100199".into()),
            email: email.map(str::to_string),
            address: None,
            substances: Vec::new(),
            status: PatientStatus::Screening,
            escort: None,
            emergency_contacts: Vec::new(),
            diagnoses: Vec::new(),
            allergies: Vec::new(),
            medications: Vec::new(),
            contact_channels: channels,
            preferred_contact_channel: preferred,
        }
    }

    #[test]
    fn links_go_only_to_a_consented_channel_that_carries_them() {
        use ContactChannel::*;
        assert_eq!(link_channel(&details(vec![Phone, Sms, Email], Some(Email), Some("a@b.org"))), Some((Email, "a@b.org".into())));
        assert_eq!(link_channel(&details(vec![Phone, Sms], Some(Phone), None)), Some((Sms, "5550100199".into())));
        assert_eq!(link_channel(&details(vec![Phone], Some(Phone), Some("a@b.org"))), None, "email on file but not consented");
        assert_eq!(link_channel(&details(vec![], None, Some("a@b.org"))), None);
    }

    #[test]
    fn messages_do_not_reveal_treatment() {
        let text = format!("{} {}", link_message("Harbor Light Clinic", "Ana", "https://x/portal/l/abc", 72), page_message("Harbor Light Clinic"));
        for word in ["ketamine", "alcohol", "cocaine", "opioid", "addiction", "suicid", "questionnaire", "PHQ", "treatment", "Diaz"] {
            assert!(!text.to_lowercase().contains(&word.to_lowercase()), "{word}");
        }
    }
}
