//! Inquiries: someone asking about treatment ("click here or call our clinic").
//!
//! An inquiry already identifies a person seeking care for a substance use
//! disorder, so it is a confidential record like a chart (42 CFR Part 2,
//! clinical.md §7.1) and is audited like patient data.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use uuid::Uuid;

use crate::field::{FieldError, FieldErrors};
use crate::patient::{normalise_phone, Substance};

wire_enum!(InquiryStatus, "status" {
    New => "new",
    Contacted => "contacted",
    ScreeningBooked => "screening_booked",
    Converted => "converted",
    Closed => "closed",
});

wire_enum!(ContactChannel, "contact_channel" { Phone => "phone", Sms => "sms", Email => "email" });

wire_enum!(
    /// Why an inquiry was closed without becoming a patient.
    CloseReason, "close_reason" {
    NotInterested => "not_interested",
    Unreachable => "unreachable",
    NotEligible => "not_eligible",
    ReferredElsewhere => "referred_elsewhere",
    Duplicate => "duplicate",
    Spam => "spam",
    Other => "other",
});

wire_enum!(CallDirection, "direction" { Outbound => "outbound", Inbound => "inbound" });

wire_enum!(CallOutcome, "outcome" {
    Reached => "reached",
    LeftMessage => "left_message",
    NoAnswer => "no_answer",
    WrongNumber => "wrong_number",
    ScreeningBooked => "screening_booked",
});

/// Raw inquiry fields as a person or staff member sent them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InquiryInput {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub substances: Vec<String>,
    pub preferred_contact_time: Option<String>,
    pub contact_channel: Option<String>,
    pub message: Option<String>,
    pub consent_to_contact: Option<bool>,
}

/// A validated inquiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InquiryDetails {
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub substances: Vec<Substance>,
    pub preferred_contact_time: Option<String>,
    pub contact_channel: ContactChannel,
    pub message: Option<String>,
}

/// A stored inquiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inquiry {
    pub id: Uuid,
    pub site_id: Uuid,
    pub details: InquiryDetails,
    pub status: InquiryStatus,
    pub close_reason: Option<CloseReason>,
    pub assigned_to: Option<Uuid>,
    pub patient_id: Option<Uuid>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The last logged call, if any.
    pub last_contact_at: Option<DateTime<Utc>>,
}

/// One logged phone call about an inquiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InquiryCall {
    pub id: Uuid,
    pub inquiry_id: Uuid,
    pub called_at: DateTime<Utc>,
    pub direction: CallDirection,
    pub outcome: CallOutcome,
    pub note: Option<String>,
    pub user_id: Option<Uuid>,
}

const MAX_NAME: usize = 100;
const MAX_SHORT: usize = 200;
pub const MAX_MESSAGE: usize = 2_000;

fn trimmed(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|t| !t.is_empty())
}

fn bounded(errors: &mut Vec<FieldError>, field: &str, text: Option<&str>, max: usize) -> Option<String> {
    let text = trimmed(text)?;
    if text.chars().count() > max {
        errors.push(FieldError::new(field, format!("must be at most {max} characters")));
        return None;
    }
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\r') {
        errors.push(FieldError::new(field, "must not contain control characters"));
        return None;
    }
    Some(text.to_string())
}

impl InquiryDetails {
    /// Checks every field and reports every failure.
    pub fn parse(input: &InquiryInput) -> Result<InquiryDetails, FieldErrors> {
        let mut errors = Vec::new();
        let name = bounded(&mut errors, "name", input.name.as_deref(), MAX_NAME);
        if trimmed(input.name.as_deref()).is_none() {
            errors.push(FieldError::new("name", "is required: the name we should ask for when we call"));
        }
        let phone = match trimmed(input.phone.as_deref()) {
            None => None,
            Some(text) => {
                let phone = normalise_phone(text);
                if phone.is_none() {
                    errors.push(FieldError::new("phone", "must be a phone number of 7 to 15 digits"));
                }
                phone
            }
        };
        let email = match trimmed(input.email.as_deref()) {
            None => None,
            Some(text) => {
                let ok = text.len() <= 254
                    && !text.chars().any(char::is_whitespace)
                    && text.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.contains('@'));
                if !ok {
                    errors.push(FieldError::new("email", "must be an email address such as name@example.org"));
                }
                ok.then(|| text.to_string())
            }
        };
        if trimmed(input.phone.as_deref()).is_none() && trimmed(input.email.as_deref()).is_none() {
            errors.push(FieldError::new("phone", "give a phone number or an email address (or both)"));
            errors.push(FieldError::new("email", "give a phone number or an email address (or both)"));
        }
        let mut substances = Vec::new();
        for text in &input.substances {
            match Substance::parse(text.trim()) {
                Ok(s) => substances.push(s),
                Err(err) => errors.push(err),
            }
        }
        substances.sort();
        substances.dedup();
        let preferred_contact_time = bounded(&mut errors, "preferred_contact_time", input.preferred_contact_time.as_deref(), MAX_SHORT);
        let message = bounded(&mut errors, "message", input.message.as_deref(), MAX_MESSAGE);
        let contact_channel = match trimmed(input.contact_channel.as_deref()) {
            None if trimmed(input.phone.as_deref()).is_some() => Some(ContactChannel::Phone),
            None => Some(ContactChannel::Email),
            Some(text) => ContactChannel::parse(text).map_err(|e| errors.push(e)).ok(),
        };
        match contact_channel {
            Some(ContactChannel::Phone | ContactChannel::Sms) if trimmed(input.phone.as_deref()).is_none() => {
                errors.push(FieldError::new("contact_channel", "phone or sms needs a phone number"));
            }
            Some(ContactChannel::Email) if trimmed(input.email.as_deref()).is_none() => {
                errors.push(FieldError::new("contact_channel", "email needs an email address"));
            }
            _ => {}
        }
        if input.consent_to_contact != Some(true) {
            errors.push(FieldError::new("consent_to_contact", "must be true (tick the box): we contact you only if you agree"));
        }
        match (name, contact_channel) {
            (Some(name), Some(contact_channel)) if errors.is_empty() => Ok(InquiryDetails {
                name,
                phone,
                email,
                substances,
                preferred_contact_time,
                contact_channel,
                message,
            }),
            _ => Err(FieldErrors(errors)),
        }
    }
}

/// Whether a queue may move an inquiry from one status to another by hand.
/// `converted` is reached only by converting (which creates the patient).
pub fn transition_allowed(from: InquiryStatus, to: InquiryStatus) -> bool {
    use InquiryStatus as S;
    match (from, to) {
        (S::New, S::Contacted | S::ScreeningBooked | S::Closed) => true,
        (S::Contacted, S::ScreeningBooked | S::Closed) => true,
        (S::ScreeningBooked, S::Contacted | S::Closed) => true,
        // A closed inquiry can be reopened when the person calls back.
        (S::Closed, S::Contacted) => true,
        _ => false,
    }
}

/// Whether an inquiry in `from` may be converted into a patient.
pub fn conversion_allowed(from: InquiryStatus) -> bool {
    matches!(from, InquiryStatus::New | InquiryStatus::Contacted | InquiryStatus::ScreeningBooked)
}

/// The moment one business day (Monday to Friday, in the site's time zone)
/// after `created_at` has passed. Public holidays are not known here.
pub fn one_business_day_after<Tz: TimeZone>(created_at: DateTime<Utc>, tz: &Tz) -> DateTime<Utc> {
    let local = created_at.with_timezone(tz).naive_local();
    let is_weekend = |date: NaiveDate| matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
    let mut start = local;
    while is_weekend(start.date()) {
        start = (start.date() + Duration::days(1)).and_time(NaiveTime::MIN);
    }
    let mut deadline = start + Duration::days(1);
    while is_weekend(deadline.date()) {
        deadline += Duration::days(1);
    }
    // A deadline inside a daylight-saving gap does not exist on the clock;
    // the first moment after the gap (gaps are at most an hour) is used.
    tz.from_local_datetime(&deadline)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(deadline + Duration::hours(1))).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| deadline.and_utc())
}

/// The creation time before which a new, untouched inquiry is overdue at
/// `now`: `is_overdue` holds exactly for those created strictly before it.
/// The deadline never moves back as the creation time moves forward, so a
/// bisection over microseconds finds the boundary; a store can then filter
/// on `created_at < cutoff` instead of loading every new inquiry.
pub fn overdue_cutoff<Tz: TimeZone>(now: DateTime<Utc>, tz: &Tz) -> DateTime<Utc> {
    // Search over whole microseconds back from `now` (the precision times are
    // stored at). A weekend and a business day are at most four days, so
    // anything a week old is overdue and nothing created now is.
    let overdue_at = |micros_back: i64| now > one_business_day_after(now - Duration::microseconds(micros_back), tz);
    let (mut fresh, mut overdue) = (0i64, 7 * 86_400 * 1_000_000i64);
    while overdue - fresh > 1 {
        let mid = fresh + (overdue - fresh) / 2;
        if overdue_at(mid) {
            overdue = mid;
        } else {
            fresh = mid;
        }
    }
    now - Duration::microseconds(fresh)
}

/// New and untouched (no call logged) for more than one business day.
pub fn is_overdue<Tz: TimeZone>(inquiry: &Inquiry, now: DateTime<Utc>, tz: &Tz) -> bool {
    inquiry.status == InquiryStatus::New && inquiry.last_contact_at.is_none() && now > one_business_day_after(inquiry.created_at, tz)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;
    use proptest::prelude::*;

    fn valid() -> InquiryInput {
        InquiryInput {
            name: Some("Sam".into()),
            phone: Some("555 010 0100".into()),
            consent_to_contact: Some(true),
            ..InquiryInput::default()
        }
    }

    #[test]
    fn a_minimal_inquiry_defaults_to_phone() {
        let details = InquiryDetails::parse(&valid()).unwrap();
        assert_eq!(details.contact_channel, ContactChannel::Phone);
        assert_eq!(details.phone.as_deref(), Some("5550100100"));
        let email_only = InquiryInput { phone: None, email: Some("sam@example.org".into()), ..valid() };
        assert_eq!(InquiryDetails::parse(&email_only).unwrap().contact_channel, ContactChannel::Email);
    }

    #[track_caller]
    fn check(input: InquiryInput, fields: &[&str]) {
        let err = InquiryDetails::parse(&input).unwrap_err();
        let got: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(got, fields);
    }

    #[test]
    fn every_field_is_checked() {
        check(InquiryInput { name: None, ..valid() }, &["name"]);
        check(InquiryInput { name: Some("x".repeat(101)), ..valid() }, &["name"]);
        check(InquiryInput { phone: None, ..valid() }, &["phone", "email", "contact_channel"]);
        check(InquiryInput { phone: Some("12".into()), ..valid() }, &["phone"]);
        check(InquiryInput { email: Some("no".into()), ..valid() }, &["email"]);
        check(InquiryInput { substances: vec!["heroin".into()], ..valid() }, &["substances"]);
        check(InquiryInput { preferred_contact_time: Some("x".repeat(201)), ..valid() }, &["preferred_contact_time"]);
        check(InquiryInput { message: Some("x".repeat(MAX_MESSAGE + 1)), ..valid() }, &["message"]);
        check(InquiryInput { contact_channel: Some("pigeon".into()), ..valid() }, &["contact_channel"]);
        check(InquiryInput { contact_channel: Some("email".into()), ..valid() }, &["contact_channel"]);
        check(InquiryInput { consent_to_contact: Some(false), ..valid() }, &["consent_to_contact"]);
        check(InquiryInput { consent_to_contact: None, ..valid() }, &["consent_to_contact"]);
    }

    #[test]
    fn status_flow() {
        use InquiryStatus::*;
        assert!(transition_allowed(New, Contacted));
        assert!(transition_allowed(Contacted, ScreeningBooked));
        assert!(transition_allowed(ScreeningBooked, Closed));
        assert!(!transition_allowed(New, Converted));
        assert!(!transition_allowed(Converted, Contacted));
        assert!(!transition_allowed(Closed, New));
        assert!(conversion_allowed(ScreeningBooked));
        assert!(!conversion_allowed(Closed));
        assert!(!conversion_allowed(Converted));
    }

    fn utc(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn business_days_skip_weekends_in_the_site_time_zone() {
        let utc_tz = Utc;
        // Tuesday 2026-11-24 10:00 -> Wednesday 10:00.
        assert_eq!(one_business_day_after(utc(2026, 11, 24, 10), &utc_tz), utc(2026, 11, 25, 10));
        // Friday 15:00 -> Monday 15:00.
        assert_eq!(one_business_day_after(utc(2026, 11, 27, 15), &utc_tz), utc(2026, 11, 30, 15));
        // Saturday -> counts from Monday 00:00 -> Tuesday 00:00.
        assert_eq!(one_business_day_after(utc(2026, 11, 28, 9), &utc_tz), utc(2026, 12, 1, 0));
        // Friday 23:00 UTC is Friday 18:00 in UTC-5: deadline Monday 18:00 local = 23:00 UTC.
        let est = FixedOffset::west_opt(5 * 3600).unwrap();
        assert_eq!(one_business_day_after(utc(2026, 11, 27, 23), &est), utc(2026, 11, 30, 23));
        // Saturday 02:00 UTC is still Friday 21:00 in UTC-5.
        assert_eq!(one_business_day_after(utc(2026, 11, 28, 2), &est), utc(2026, 12, 1, 2));
    }

    proptest! {
        #[test]
        fn the_deadline_is_between_one_and_four_days_later_and_on_a_weekday(secs in 1_700_000_000i64..1_900_000_000) {
            let created = DateTime::<Utc>::from_timestamp(secs, 0).unwrap();
            let deadline = one_business_day_after(created, &Utc);
            prop_assert!(deadline >= created + Duration::days(1));
            prop_assert!(deadline <= created + Duration::days(4));
            prop_assert!(!matches!(deadline.weekday(), Weekday::Sat | Weekday::Sun));
        }

        /// The cutoff splits exactly: overdue iff created strictly before it,
        /// in a zone with daylight-saving changes and in UTC.
        #[test]
        fn the_overdue_cutoff_is_exact(now_secs in 1_700_000_000i64..1_900_000_000, back_micros in 0i64..(8 * 86_400 * 1_000_000)) {
            let now = DateTime::<Utc>::from_timestamp(now_secs, 0).unwrap();
            let created = now - Duration::microseconds(back_micros);
            let inquiry = new_inquiry(created);
            for overdue_then in [
                is_overdue(&inquiry, now, &chrono_tz::America::New_York) == (created < overdue_cutoff(now, &chrono_tz::America::New_York)),
                is_overdue(&inquiry, now, &Utc) == (created < overdue_cutoff(now, &Utc)),
            ] {
                prop_assert!(overdue_then);
            }
        }
    }

    fn new_inquiry(created_at: DateTime<Utc>) -> Inquiry {
        Inquiry {
            id: uuid::Uuid::nil(),
            site_id: uuid::Uuid::nil(),
            details: InquiryDetails::parse(&valid()).unwrap(),
            status: InquiryStatus::New,
            close_reason: None,
            assigned_to: None,
            patient_id: None,
            last_contact_at: None,
            version: 1,
            created_at,
            updated_at: created_at,
        }
    }

    #[test]
    fn the_cutoff_at_the_edges_of_a_weekend() {
        // Monday 2026-11-30 10:00 UTC: inquiries from Friday 10:00 or earlier are overdue.
        let now = utc(2026, 11, 30, 10);
        assert_eq!(overdue_cutoff(now, &Utc), utc(2026, 11, 27, 10));
        assert!(is_overdue(&new_inquiry(utc(2026, 11, 27, 10) - Duration::microseconds(1)), now, &Utc));
        assert!(!is_overdue(&new_inquiry(utc(2026, 11, 27, 10)), now, &Utc));
        // Tuesday 00:00: anything from the weekend counts from Monday 00:00, so it is not overdue yet.
        let tuesday = utc(2026, 12, 1, 0);
        assert_eq!(overdue_cutoff(tuesday, &Utc), utc(2026, 11, 28, 0), "Saturday 00:00 on");
        assert!(!is_overdue(&new_inquiry(utc(2026, 11, 29, 12)), tuesday, &Utc));
        assert!(is_overdue(&new_inquiry(utc(2026, 11, 27, 23)), tuesday, &Utc));
    }
}
