//! A clinician's iCalendar feed behind a secret URL: only the token's hash is
//! kept, making a new link revokes the old ones, and revoking stops every
//! link at once. Event titles name the kind of appointment and the chair or
//! room, never the patient (calendar apps sync to phones and clouds).

use std::collections::BTreeMap;

use chrono::Duration;
use clinic_domain::audit::{Actor, AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_domain::authz::Permission;
use clinic_domain::ical::{Feed, FeedEvent, FeedStatus};
use clinic_domain::protocol::EventKind;
use clinic_domain::schedule::BookingStatus;
use clinic_store::schedule::CalendarFeedRecord;
use clinic_store::Store;
use uuid::Uuid;

use crate::auth::{hash_token, random_token, Principal};
use crate::error::ServiceError;
use crate::Clinic;

/// How far back and ahead a feed reaches: the last month and everything booked ahead.
const FEED_PAST_DAYS: i64 = 30;
const FEED_FUTURE_DAYS: i64 = 3660;

fn title(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Infusion => "Ketamine infusion",
        EventKind::Therapy => "Therapy session",
        EventKind::Integration => "Integration session",
        EventKind::Assessment => "Assessment",
        EventKind::Inpatient => "Inpatient day",
        EventKind::FollowUp => "Follow-up",
    }
}

impl<S: Store> Clinic<S> {
    /// Makes a new secret feed link for the signed-in clinician (older links
    /// stop working) and returns its path, `/calendar/<token>.ics`.
    pub async fn create_calendar_feed(&self, principal: &Principal) -> Result<String, ServiceError> {
        self.authorize(principal, Permission::ScheduleRead, "make a calendar feed").await?;
        let now = crate::now();
        let event = |action| AuditEvent::new(Uuid::now_v7(), now, &principal.actor(), action, AuditTarget::resource("user", principal.user.id.to_string()), Outcome::Success, None);
        self.store().revoke_calendar_feeds(principal.user.id, now, &event(AuditAction::CalendarFeedRevoke)).await?;
        let token = random_token();
        let feed = CalendarFeedRecord { token_hash: hash_token(&token), user_id: principal.user.id, created_at: now, revoked_at: None };
        self.store().create_calendar_feed(&feed, &event(AuditAction::CalendarFeedCreate)).await?;
        Ok(format!("/calendar/{token}.ics"))
    }

    /// Stops every feed link of the signed-in clinician; returns how many.
    pub async fn revoke_calendar_feeds(&self, principal: &Principal) -> Result<u64, ServiceError> {
        self.authorize(principal, Permission::ScheduleRead, "revoke calendar feeds").await?;
        let now = crate::now();
        let event = AuditEvent::new(Uuid::now_v7(), now, &principal.actor(), AuditAction::CalendarFeedRevoke, AuditTarget::resource("user", principal.user.id.to_string()), Outcome::Success, None);
        Ok(self.store().revoke_calendar_feeds(principal.user.id, now, &event).await?)
    }

    /// The feed behind a token: `None` for an unknown or revoked token or a
    /// disabled account. Each fetch is audited.
    pub async fn calendar_feed(&self, token: &str, host: &str) -> Result<Option<String>, ServiceError> {
        let Some(feed) = self.store().find_calendar_feed(&hash_token(token)).await? else { return Ok(None) };
        if feed.revoked_at.is_some() {
            return Ok(None);
        }
        let user = self.store().get_user(feed.user_id).await?;
        if user.disabled || !clinic_domain::authz::role_allows(user.role, Permission::ScheduleRead) {
            return Ok(None);
        }
        let now = crate::now();
        let (from, to) = (now - Duration::days(FEED_PAST_DAYS), now + Duration::days(FEED_FUTURE_DAYS));
        let (bookings, _, places) = self.clinician_agenda(user.id, from, to).await?;
        let sites = self.store().list_sites().await?;
        let site_names: BTreeMap<Uuid, String> = sites.iter().map(|s| (s.id, s.name.clone())).collect();
        let events = bookings
            .iter()
            .filter(|b| !matches!(b.status, BookingStatus::Rescheduled))
            .map(|b| {
                let place = b.resource_id.and_then(|r| places.get(&r).cloned());
                FeedEvent {
                    uid: b.id,
                    start: b.starts_at,
                    end: b.starts_at + Duration::minutes(b.minutes),
                    summary: match &place {
                        Some(p) => format!("{} · {p}", title(b.kind)),
                        None => title(b.kind).to_string(),
                    },
                    location: site_names.get(&b.site_id).cloned(),
                    description: Some("Open the clinic's schedule for details.".into()),
                    status: if b.status.is_active() { FeedStatus::Confirmed } else { FeedStatus::Cancelled },
                    sequence: b.version,
                    last_modified: b.updated_at.unwrap_or(b.created_at),
                }
            })
            .collect();
        let actor = Actor { user_id: Some(user.id), name: format!("{} (calendar feed)", user.username), role: Some(user.role.as_str().into()), client_addr: None };
        let audit = AuditEvent::new(Uuid::now_v7(), now, &actor, AuditAction::CalendarFeedRead, AuditTarget::resource("user", user.id.to_string()), Outcome::Success, None);
        self.audit_writer().record(vec![audit]).await?;
        let feed = Feed { name: format!("{} · {}", sites.first().map(|s| s.name.clone()).unwrap_or_default(), user.display_name), host: host.to_string(), generated_at: now, events };
        Ok(Some(clinic_domain::ical::render(&feed)))
    }
}
