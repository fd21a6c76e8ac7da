//! Clinical safety alerts raised by events (a questionnaire answer now; vital
//! signs later): who they go to, and the rule that one stays open until a
//! clinician records the response taken (DESIGN.md: alerts say what happened,
//! why it matters and what to do, and closing one asks for the response).

use chrono::{DateTime, Datelike, NaiveTime, TimeZone, Utc, Weekday};
use uuid::Uuid;

use crate::field::{FieldError, FieldErrors};

wire_enum!(
    /// A stable alert id; the instrument flags use the same ids.
    AlertKind, "kind" {
    SuicideRisk => "suicide_risk",
    PositiveScreen => "positive_screen",
    KetamineMisuse => "ketamine_misuse",
});

impl AlertKind {
    /// Why it matters and what to do, shown with the alert.
    pub fn action(self) -> &'static str {
        match self {
            AlertKind::SuicideRisk => {
                "The patient reported thoughts of being better off dead or of self-harm (PHQ-9 item 9). \
                 Contact the patient today and assess suicide risk; if there is immediate danger call 911. \
                 Close the alert by recording what was done."
            }
            AlertKind::PositiveScreen => "A screening questionnaire was positive. Review it and plan the assessment it calls for.",
            AlertKind::KetamineMisuse => {
                "A sign that treatment may be leading to ketamine misuse (an unexplained ketamine positive, ketamine craving, or a request for more, earlier or stronger infusions). \
                 A physician reviews the evidence on the patient's Outcomes tab and confirms or rejects the flag there; close this alert with what was done."
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClinicalAlert {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub kind: AlertKind,
    /// What happened, in one sentence.
    pub message: String,
    /// The record that raised it (a questionnaire response).
    pub source_id: Option<Uuid>,
    /// Who it went to when raised.
    pub routed_to: String,
    pub raised_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<Uuid>,
    /// The response taken, required to close.
    pub response: Option<String>,
    pub version: i64,
}

impl ClinicalAlert {
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }
}

/// The response a clinician records to close an alert: required, plain text.
pub fn parse_response(text: Option<&str>) -> Result<String, FieldErrors> {
    let text = text.map(str::trim).unwrap_or("");
    if text.chars().count() < 3 {
        return Err(FieldErrors::one("response", "is required: say what was done (e.g. called the patient, risk assessed, safety plan made)"));
    }
    if text.chars().count() > 2000 {
        return Err(FieldErrors(vec![FieldError::new("response", "must be at most 2000 characters")]));
    }
    Ok(text.to_string())
}

/// When the clinic is staffed, for routing alerts (a site setting; no
/// reference gives one). Days are Monday-first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenHours {
    pub days: Vec<Weekday>,
    pub opens: NaiveTime,
    pub closes: NaiveTime,
}

impl OpenHours {
    /// Parses `mon-fri` (or a comma list such as `mon,wed,fri`) and `HH:MM` times.
    pub fn parse(days: &str, opens: &str, closes: &str) -> Result<OpenHours, FieldErrors> {
        let mut errors = Vec::new();
        let day = |text: &str| -> Option<Weekday> { text.trim().parse::<Weekday>().ok() };
        let mut parsed_days = Vec::new();
        for part in days.split(',') {
            match part.split_once('-') {
                Some((from, to)) => match (day(from), day(to)) {
                    (Some(mut d), Some(end)) => {
                        parsed_days.push(d);
                        while d != end {
                            d = d.succ();
                            parsed_days.push(d);
                        }
                    }
                    _ => errors.push(FieldError::new("open_days", "must be days such as mon-fri or mon,wed,fri")),
                },
                None => match day(part) {
                    Some(d) => parsed_days.push(d),
                    None => errors.push(FieldError::new("open_days", "must be days such as mon-fri or mon,wed,fri")),
                },
            }
        }
        let time = |field: &str, text: &str, errors: &mut Vec<FieldError>| {
            NaiveTime::parse_from_str(text.trim(), "%H:%M").map_err(|_| errors.push(FieldError::new(field, "must be a time HH:MM"))).ok()
        };
        let opens = time("opens", opens, &mut errors);
        let closes = time("closes", closes, &mut errors);
        if let (Some(o), Some(c)) = (opens, closes) {
            if o >= c {
                errors.push(FieldError::new("closes", "must be after opens"));
            }
        }
        match (opens, closes) {
            (Some(opens), Some(closes)) if errors.is_empty() => Ok(OpenHours { days: parsed_days, opens, closes }),
            _ => Err(FieldErrors(errors)),
        }
    }

    pub fn is_open<Tz: TimeZone>(&self, at: DateTime<Utc>, tz: &Tz) -> bool {
        let local = at.with_timezone(tz);
        let time = local.time();
        self.days.contains(&local.weekday()) && time >= self.opens && time < self.closes
    }
}

/// Who takes an alert now: the physicians on site while the clinic is open,
/// the on-call clinician when it is closed (clinical.md §11.3). Missing
/// settings are said, not guessed: the alert then goes to both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    OnSite,
    OnCall { name: String, phone: String },
    /// Hours or on-call not set: physicians, plus the on-call clinician if known.
    Unknown { reason: &'static str },
}

impl Route {
    pub fn describe(&self) -> String {
        match self {
            Route::OnSite => "physicians on site (clinic open)".into(),
            Route::OnCall { name, phone } => format!("on-call clinician {name} ({phone}) — clinic closed"),
            Route::Unknown { reason } => format!("physicians' dashboard — {reason}"),
        }
    }
}

pub fn route<Tz: TimeZone>(at: DateTime<Utc>, tz: &Tz, hours: Option<&OpenHours>, on_call: Option<(&str, &str)>) -> Route {
    match (hours, on_call) {
        (Some(hours), _) if hours.is_open(at, tz) => Route::OnSite,
        (Some(_), Some((name, phone))) => Route::OnCall { name: name.into(), phone: phone.into() },
        (Some(_), None) => Route::Unknown { reason: "clinic closed and no on-call clinician set (needs clinic setting)" },
        (None, _) => Route::Unknown { reason: "opening hours not set (needs clinic setting)" },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours() -> OpenHours {
        OpenHours::parse("mon-fri", "08:00", "17:00").unwrap()
    }

    #[test]
    fn open_hours_parse_and_refuse() {
        assert_eq!(hours().days, [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri]);
        assert_eq!(OpenHours::parse("sat,sun", "09:00", "12:00").unwrap().days, [Weekday::Sat, Weekday::Sun]);
        let err = OpenHours::parse("weekdays", "8am", "07:00").unwrap_err();
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["open_days", "opens"]);
        assert_eq!(OpenHours::parse("mon", "17:00", "08:00").unwrap_err().0[0].field, "closes");
    }

    #[test]
    fn routing_follows_the_site_clock() {
        let tz = chrono_tz::America::New_York;
        // Friday 2026-11-27 10:00 in New York is 15:00 UTC: open.
        let open = Utc.with_ymd_and_hms(2026, 11, 27, 15, 0, 0).unwrap();
        // Friday 17:00 local (22:00 UTC): closed (closing time is exclusive).
        let closing = Utc.with_ymd_and_hms(2026, 11, 27, 22, 0, 0).unwrap();
        let saturday = Utc.with_ymd_and_hms(2026, 11, 28, 15, 0, 0).unwrap();
        let on_call = Some(("Dr Rivera", "555-010-0999"));
        assert_eq!(route(open, &tz, Some(&hours()), on_call), Route::OnSite);
        assert_eq!(route(closing, &tz, Some(&hours()), on_call), Route::OnCall { name: "Dr Rivera".into(), phone: "555-010-0999".into() });
        assert_eq!(route(saturday, &tz, Some(&hours()), on_call), Route::OnCall { name: "Dr Rivera".into(), phone: "555-010-0999".into() });
        assert!(matches!(route(saturday, &tz, Some(&hours()), None), Route::Unknown { .. }));
        assert!(route(open, &tz, None, on_call).describe().contains("needs clinic setting"));
    }

    #[test]
    fn closing_needs_a_response() {
        assert_eq!(parse_response(None).unwrap_err().0[0].field, "response");
        assert_eq!(parse_response(Some("  called the patient ")).unwrap(), "called the patient");
        assert!(parse_response(Some("ok")).is_err());
        assert!(parse_response(Some(" ")).is_err());
        assert!(parse_response(Some(&"x".repeat(2001))).is_err());
    }
}
