//! Audit event types and the tamper-evident hash chain.
//!
//! What an event records follows HIPAA audit controls, 45 CFR 164.312(b), and
//! the practical log content in clinical.md §7.2: who (user and role), what
//! (action), which resource and patient, when (UTC), where (client address),
//! and the outcome. Events never carry names, dates of birth or free text.

use chrono::{DateTime, SubsecRound, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The actor for operator commands run on the server (DESIGN.md).
pub const SYSTEM_CLI_ACTOR: &str = "system:cli";
/// The actor for requests that have not signed in.
pub const ANONYMOUS_ACTOR: &str = "anonymous";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    LoginSuccess,
    LoginFailure,
    Logout,
    PermissionDenied,
    PatientCreate,
    PatientRead,
    PatientList,
    PatientUpdate,
    PatientDuplicateWarning,
    UserCreate,
    UserDisable,
    UserPasswordReset,
    AuditRead,
    Backup,
    Seed,
    InquiryCreate,
    InquiryRead,
    InquiryList,
    InquiryUpdate,
    InquiryCall,
    InquiryConvert,
    QuestionnaireRecord,
    QuestionnaireRead,
    AlertRaise,
    AlertRead,
    AlertClose,
    PortalLinkCreate,
    PortalOpen,
    PortalLinkRefused,
    PortalRead,
    ScreeningRecord,
    ScreeningRead,
    ConsentSign,
    ConsentRead,
    ConsentRevoke,
    EligibilityPropose,
    EligibilitySign,
    PlanCreate,
    PlanRead,
    PlanUpdate,
    PlanSign,
    BookingCreate,
    BookingCancel,
    BookingReschedule,
    BookingNoShow,
    ReminderQueue,
    DiaryReminderQueue,
    SiteScheduleUpdate,
    CalendarFeedCreate,
    CalendarFeedRevoke,
    CalendarFeedRead,
    OrderSign,
    OrderRead,
    OrderCheck,
    OrderCancel,
    SessionOpen,
    SessionRead,
    SessionUpdate,
    SessionDischarge,
    SessionEmergency,
    LedgerRead,
    LedgerRecord,
    LedgerReport,
    LedgerDiscrepancyClose,
    CounselingRecord,
    CounselingRead,
    CounselingNoteRead,
    OutcomeRecord,
    OutcomeRead,
    RelapseDecide,
    CohortExport,
    MisuseDecide,
    EmergencyDisclosure,
    AnalyticsRead,
}

impl AuditAction {
    pub const ALL: [AuditAction; 74] = [
        AuditAction::LoginSuccess,
        AuditAction::LoginFailure,
        AuditAction::Logout,
        AuditAction::PermissionDenied,
        AuditAction::PatientCreate,
        AuditAction::PatientRead,
        AuditAction::PatientList,
        AuditAction::PatientUpdate,
        AuditAction::PatientDuplicateWarning,
        AuditAction::UserCreate,
        AuditAction::UserDisable,
        AuditAction::UserPasswordReset,
        AuditAction::AuditRead,
        AuditAction::Backup,
        AuditAction::Seed,
        AuditAction::InquiryCreate,
        AuditAction::InquiryRead,
        AuditAction::InquiryList,
        AuditAction::InquiryUpdate,
        AuditAction::InquiryCall,
        AuditAction::InquiryConvert,
        AuditAction::QuestionnaireRecord,
        AuditAction::QuestionnaireRead,
        AuditAction::AlertRaise,
        AuditAction::AlertRead,
        AuditAction::AlertClose,
        AuditAction::PortalLinkCreate,
        AuditAction::PortalOpen,
        AuditAction::PortalLinkRefused,
        AuditAction::PortalRead,
        AuditAction::ScreeningRecord,
        AuditAction::ScreeningRead,
        AuditAction::ConsentSign,
        AuditAction::ConsentRead,
        AuditAction::ConsentRevoke,
        AuditAction::EligibilityPropose,
        AuditAction::EligibilitySign,
        AuditAction::PlanCreate,
        AuditAction::PlanRead,
        AuditAction::PlanUpdate,
        AuditAction::PlanSign,
        AuditAction::BookingCreate,
        AuditAction::BookingCancel,
        AuditAction::BookingReschedule,
        AuditAction::BookingNoShow,
        AuditAction::ReminderQueue,
        AuditAction::DiaryReminderQueue,
        AuditAction::SiteScheduleUpdate,
        AuditAction::CalendarFeedCreate,
        AuditAction::CalendarFeedRevoke,
        AuditAction::CalendarFeedRead,
        AuditAction::OrderSign,
        AuditAction::OrderRead,
        AuditAction::OrderCheck,
        AuditAction::OrderCancel,
        AuditAction::SessionOpen,
        AuditAction::SessionRead,
        AuditAction::SessionUpdate,
        AuditAction::SessionDischarge,
        AuditAction::SessionEmergency,
        AuditAction::LedgerRead,
        AuditAction::LedgerRecord,
        AuditAction::LedgerReport,
        AuditAction::LedgerDiscrepancyClose,
        AuditAction::CounselingRecord,
        AuditAction::CounselingRead,
        AuditAction::CounselingNoteRead,
        AuditAction::OutcomeRecord,
        AuditAction::OutcomeRead,
        AuditAction::RelapseDecide,
        AuditAction::CohortExport,
        AuditAction::MisuseDecide,
        AuditAction::EmergencyDisclosure,
        AuditAction::AnalyticsRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::LoginSuccess => "auth.login",
            AuditAction::LoginFailure => "auth.login_failed",
            AuditAction::Logout => "auth.logout",
            AuditAction::PermissionDenied => "auth.denied",
            AuditAction::PatientCreate => "patient.create",
            AuditAction::PatientRead => "patient.read",
            AuditAction::PatientList => "patient.list",
            AuditAction::PatientUpdate => "patient.update",
            AuditAction::PatientDuplicateWarning => "patient.duplicate_warning",
            AuditAction::UserCreate => "user.create",
            AuditAction::UserDisable => "user.disable",
            AuditAction::UserPasswordReset => "user.reset_password",
            AuditAction::AuditRead => "audit.read",
            AuditAction::Backup => "system.backup",
            AuditAction::Seed => "system.seed",
            AuditAction::InquiryCreate => "inquiry.create",
            AuditAction::InquiryRead => "inquiry.read",
            AuditAction::InquiryList => "inquiry.list",
            AuditAction::InquiryUpdate => "inquiry.update",
            AuditAction::InquiryCall => "inquiry.call",
            AuditAction::InquiryConvert => "inquiry.convert",
            AuditAction::QuestionnaireRecord => "questionnaire.record",
            AuditAction::QuestionnaireRead => "questionnaire.read",
            AuditAction::AlertRaise => "alert.raise",
            AuditAction::AlertRead => "alert.read",
            AuditAction::AlertClose => "alert.close",
            AuditAction::PortalLinkCreate => "portal.link_create",
            AuditAction::PortalOpen => "portal.open",
            AuditAction::PortalLinkRefused => "portal.link_refused",
            AuditAction::PortalRead => "portal.read",
            AuditAction::ScreeningRecord => "screening.record",
            AuditAction::ScreeningRead => "screening.read",
            AuditAction::ConsentSign => "consent.sign",
            AuditAction::ConsentRead => "consent.read",
            AuditAction::ConsentRevoke => "consent.revoke",
            AuditAction::EligibilityPropose => "eligibility.propose",
            AuditAction::EligibilitySign => "eligibility.sign",
            AuditAction::PlanCreate => "plan.create",
            AuditAction::PlanRead => "plan.read",
            AuditAction::PlanUpdate => "plan.update",
            AuditAction::PlanSign => "plan.sign",
            AuditAction::BookingCreate => "booking.create",
            AuditAction::BookingCancel => "booking.cancel",
            AuditAction::BookingReschedule => "booking.reschedule",
            AuditAction::BookingNoShow => "booking.no_show",
            AuditAction::ReminderQueue => "booking.reminder",
            AuditAction::DiaryReminderQueue => "diary.reminder",
            AuditAction::SiteScheduleUpdate => "site.schedule_update",
            AuditAction::CalendarFeedCreate => "calendar_feed.create",
            AuditAction::CalendarFeedRevoke => "calendar_feed.revoke",
            AuditAction::CalendarFeedRead => "calendar_feed.read",
            AuditAction::OrderSign => "order.sign",
            AuditAction::OrderRead => "order.read",
            AuditAction::OrderCheck => "order.check",
            AuditAction::OrderCancel => "order.cancel",
            AuditAction::SessionOpen => "session.open",
            AuditAction::SessionRead => "session.read",
            AuditAction::SessionUpdate => "session.update",
            AuditAction::SessionDischarge => "session.discharge",
            AuditAction::SessionEmergency => "session.emergency",
            AuditAction::LedgerRead => "ledger.read",
            AuditAction::LedgerRecord => "ledger.record",
            AuditAction::LedgerReport => "ledger.report",
            AuditAction::LedgerDiscrepancyClose => "ledger.discrepancy_close",
            AuditAction::CounselingRecord => "counseling.record",
            AuditAction::CounselingRead => "counseling.read",
            AuditAction::CounselingNoteRead => "counseling_note.read",
            AuditAction::OutcomeRecord => "outcome.record",
            AuditAction::OutcomeRead => "outcome.read",
            AuditAction::RelapseDecide => "relapse.decide",
            AuditAction::CohortExport => "export.cohort",
            AuditAction::MisuseDecide => "misuse.decide",
            AuditAction::EmergencyDisclosure => "disclosure.medical_emergency",
            AuditAction::AnalyticsRead => "analytics.read",
        }
    }

    /// Whether a successful event of this kind may change what a patient's
    /// record says (and so their derived outcomes). Reads, sign-ins,
    /// reminders, reports and exports do not; anything else, including an
    /// action added later and not listed here, is taken to (the safe side:
    /// a derived summary is recomputed, never kept stale).
    pub fn may_change_record(self) -> bool {
        use AuditAction as A;
        !matches!(
            self,
            A::LoginSuccess
                | A::LoginFailure
                | A::Logout
                | A::PermissionDenied
                | A::PatientRead
                | A::PatientList
                | A::PatientDuplicateWarning
                | A::AuditRead
                | A::Backup
                | A::InquiryRead
                | A::InquiryList
                | A::QuestionnaireRead
                | A::AlertRead
                | A::PortalLinkCreate
                | A::PortalOpen
                | A::PortalLinkRefused
                | A::PortalRead
                | A::ScreeningRead
                | A::ConsentRead
                | A::PlanRead
                | A::ReminderQueue
                | A::DiaryReminderQueue
                | A::CalendarFeedRead
                | A::OrderRead
                | A::SessionRead
                | A::LedgerRead
                | A::LedgerReport
                | A::CounselingRead
                | A::CounselingNoteRead
                | A::OutcomeRead
                | A::CohortExport
                | A::EmergencyDisclosure
                | A::AnalyticsRead
        )
    }

    pub fn parse(text: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Denied,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failure => "failure",
        }
    }

    pub fn parse(text: &str) -> Option<Outcome> {
        [Outcome::Success, Outcome::Denied, Outcome::Failure].into_iter().find(|o| o.as_str() == text)
    }
}

/// One audit event. Stored append-only; `action` and `outcome` are kept as
/// their stable text so old events stay readable when enums grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: Uuid,
    /// Truncated to microseconds, the precision both databases keep, so the
    /// hash of a stored event equals the hash of the event as written.
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
    /// Structured detail without PHI (ids, counts, field names).
    pub detail: Option<String>,
}

/// Who did something, for audit events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Option<Uuid>,
    pub name: String,
    pub role: Option<String>,
    pub client_addr: Option<String>,
}

impl Actor {
    pub fn system_cli() -> Actor {
        Actor { user_id: None, name: SYSTEM_CLI_ACTOR.to_string(), role: None, client_addr: None }
    }

    /// The background jobs that queue reminders to patients.
    pub fn system_reminders() -> Actor {
        Actor { user_id: None, name: "system:reminders".to_string(), role: None, client_addr: None }
    }

    pub fn anonymous(client_addr: Option<String>) -> Actor {
        Actor { user_id: None, name: ANONYMOUS_ACTOR.to_string(), role: None, client_addr }
    }
}

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditTarget {
    pub resource_type: &'static str,
    pub resource_id: Option<String>,
    pub patient_id: Option<Uuid>,
}

impl AuditTarget {
    pub fn patient(patient_id: Uuid) -> AuditTarget {
        AuditTarget { resource_type: "patient", resource_id: Some(patient_id.to_string()), patient_id: Some(patient_id) }
    }

    pub fn none(resource_type: &'static str) -> AuditTarget {
        AuditTarget { resource_type, resource_id: None, patient_id: None }
    }

    pub fn resource(resource_type: &'static str, resource_id: String) -> AuditTarget {
        AuditTarget { resource_type, resource_id: Some(resource_id), patient_id: None }
    }
}

impl AuditEvent {
    pub fn new(
        id: Uuid,
        now: DateTime<Utc>,
        actor: &Actor,
        action: AuditAction,
        target: AuditTarget,
        outcome: Outcome,
        detail: Option<String>,
    ) -> AuditEvent {
        AuditEvent {
            id,
            occurred_at: now.trunc_subsecs(6),
            actor_user_id: actor.user_id,
            actor: actor.name.clone(),
            actor_role: actor.role.clone(),
            action: action.as_str().to_string(),
            resource_type: target.resource_type.to_string(),
            resource_id: target.resource_id,
            patient_id: target.patient_id,
            outcome: outcome.as_str().to_string(),
            client_addr: actor.client_addr.clone(),
            detail,
        }
    }
}

/// The hash before the first sealed event.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// Links an event to its predecessor: SHA-256 over the previous hash, the
/// chain position and every field of the event, each length-prefixed so no
/// two different events encode alike.
pub fn chain_hash(prev_hash: &[u8; 32], seq: i64, event: &AuditEvent) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"ketaclinic-audit-v1");
    hasher.update(prev_hash);
    hasher.update(seq.to_be_bytes());
    let uuid_text = |id: Option<Uuid>| id.map(|id| id.to_string());
    let fields: [Option<String>; 12] = [
        Some(event.id.to_string()),
        Some(event.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        uuid_text(event.actor_user_id),
        Some(event.actor.clone()),
        event.actor_role.clone(),
        Some(event.action.clone()),
        Some(event.resource_type.clone()),
        event.resource_id.clone(),
        uuid_text(event.patient_id),
        Some(event.outcome.clone()),
        event.client_addr.clone(),
        event.detail.clone(),
    ];
    for field in fields {
        match field {
            None => hasher.update([0u8]),
            Some(text) => {
                hasher.update([1u8]);
                hasher.update(u64::try_from(text.len()).unwrap_or(u64::MAX).to_be_bytes());
                hasher.update(text.as_bytes());
            }
        }
    }
    hasher.finalize().into()
}

/// A sealed link of the chain as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLink {
    pub seq: i64,
    pub event_id: Uuid,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// What verification found wrong, naming the first bad event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("audit event {event_id} (chain position {seq}) does not match its hash: the event was changed")]
    HashMismatch { seq: i64, event_id: Uuid },
    #[error("audit event {event_id} (chain position {seq}) does not link to the previous event")]
    BrokenLink { seq: i64, event_id: Uuid },
    #[error("chain position {expected} is missing (found {found} next)")]
    Gap { expected: i64, found: i64 },
    #[error("chain position {seq} refers to audit event {event_id}, which is missing")]
    MissingEvent { seq: i64, event_id: Uuid },
    #[error("audit event {event_id} has stayed unsealed since {occurred_at}, longer than the sealer's interval")]
    Unsealed { event_id: Uuid, occurred_at: DateTime<Utc> },
}

/// Checks one link against the previous link's hash and the stored event.
/// The caller walks the chain in `seq` order starting from `GENESIS_HASH` at 1.
pub fn verify_link(expected_seq: i64, prev_hash: &[u8; 32], link: &ChainLink, event: Option<&AuditEvent>) -> Result<(), ChainBreak> {
    if link.seq != expected_seq {
        return Err(ChainBreak::Gap { expected: expected_seq, found: link.seq });
    }
    let Some(event) = event else {
        return Err(ChainBreak::MissingEvent { seq: link.seq, event_id: link.event_id });
    };
    if link.prev_hash != *prev_hash {
        return Err(ChainBreak::BrokenLink { seq: link.seq, event_id: link.event_id });
    }
    if chain_hash(prev_hash, link.seq, event) != link.hash || event.id != link.event_id {
        return Err(ChainBreak::HashMismatch { seq: link.seq, event_id: link.event_id });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: u128, detail: Option<&str>) -> AuditEvent {
        let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 123_456_789).unwrap();
        let mut event = AuditEvent::new(
            Uuid::from_u128(n),
            now,
            &Actor::system_cli(),
            AuditAction::UserCreate,
            AuditTarget::resource("user", "u1".into()),
            Outcome::Success,
            detail.map(str::to_string),
        );
        event.client_addr = Some("127.0.0.1".into());
        event
    }

    #[test]
    fn time_is_kept_to_microseconds() {
        assert_eq!(event(1, None).occurred_at.timestamp_subsec_nanos(), 123_456_000);
    }

    #[test]
    fn a_chain_verifies_and_any_change_breaks_it() {
        let events = [event(1, None), event(2, Some("a")), event(3, Some(""))];
        let mut prev = GENESIS_HASH;
        let mut links = Vec::new();
        for (idx, ev) in events.iter().enumerate() {
            let seq = i64::try_from(idx).unwrap() + 1;
            let hash = chain_hash(&prev, seq, ev);
            links.push(ChainLink { seq, event_id: ev.id, prev_hash: prev, hash });
            prev = hash;
        }
        let mut prev = GENESIS_HASH;
        for (link, ev) in links.iter().zip(&events) {
            verify_link(link.seq, &prev, link, Some(ev)).unwrap();
            prev = link.hash;
        }
        // None and "" differ; so does any changed field.
        let mut changed = events[2].clone();
        changed.detail = None;
        assert_eq!(
            verify_link(3, &links[1].hash, &links[2], Some(&changed)),
            Err(ChainBreak::HashMismatch { seq: 3, event_id: events[2].id })
        );
        let mut changed = events[1].clone();
        changed.outcome = "denied".into();
        assert!(verify_link(2, &links[0].hash, &links[1], Some(&changed)).is_err());
        assert_eq!(verify_link(2, &links[0].hash, &links[2], Some(&events[2])), Err(ChainBreak::Gap { expected: 2, found: 3 }));
        assert_eq!(
            verify_link(3, &GENESIS_HASH, &links[2], Some(&events[2])),
            Err(ChainBreak::BrokenLink { seq: 3, event_id: events[2].id })
        );
    }

    #[test]
    fn actions_round_trip() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
        }
    }
}
