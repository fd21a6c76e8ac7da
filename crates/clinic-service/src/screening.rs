//! Screening: questionnaires entered by staff or answered in the patient
//! portal, the safety alerts they raise (PHQ-9 item 9 → `suicide_risk`,
//! routed by the site's hours to the physicians or the on-call clinician),
//! portal links sent only on a consented channel, and the outbox.

use std::collections::BTreeMap;

use clinic_domain::alert::{parse_response, route, AlertKind, ClinicalAlert, OpenHours, Route};
use clinic_domain::audit::{Actor, AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_domain::authz::Permission;
use clinic_domain::field::{FieldError, FieldErrors};
use clinic_domain::inquiry::ContactChannel;
use clinic_domain::instrument::score::{score, Score, ScoreContext};
use clinic_domain::instrument::Sex;
use clinic_domain::patient::{Patient, SexAtBirth, Substance};
use clinic_domain::portal::{link_channel, link_message, link_state, page_message, LinkPurpose, LinkState, PortalLink, ResponseSource};
use clinic_store::screening::{AlertFilter, NewQuestionnaire, OutboxMessage, PortalSession, QuestionnaireResponseRecord};
use clinic_store::Store;
use uuid::Uuid;

use crate::auth::{hash_token, random_token, Principal};
use crate::error::ServiceError;
use crate::instruments::{score_json, LoadedInstrument};
use crate::Clinic;

/// Settings for alert routing, crisis resources and the portal: site
/// settings. The crisis numbers default to the US ones clinical.md §11.3
/// gives (988 Suicide & Crisis Lifeline, since July 2022; 911); hours and the
/// on-call clinician have no default ("needs clinic setting").
#[derive(Debug, Clone)]
pub struct SafetySettings {
    pub open_hours: Option<OpenHours>,
    /// (name, phone) of the clinician on call when the clinic is closed.
    pub on_call: Option<(String, String)>,
    pub crisis_line: String,
    pub emergency_number: String,
    /// The clinic's own after-hours number, shown with the crisis resources.
    pub after_hours_phone: Option<String>,
    pub link_lifetime: chrono::Duration,
    pub portal_session: chrono::Duration,
    /// The address patients reach the server at, for links in messages.
    pub public_url: Option<String>,
}

impl Default for SafetySettings {
    fn default() -> SafetySettings {
        SafetySettings {
            open_hours: None,
            on_call: None,
            crisis_line: "988".into(),
            emergency_number: "911".into(),
            after_hours_phone: None,
            link_lifetime: clinic_domain::portal::DEFAULT_LINK_LIFETIME,
            portal_session: clinic_domain::portal::DEFAULT_PORTAL_SESSION,
            public_url: None,
        }
    }
}

/// Answers as a client sends them.
#[derive(Debug, Clone, Default)]
pub struct QuestionnaireInput {
    pub instrument: String,
    pub answers: Vec<String>,
    pub sex: Option<String>,
    pub substance: Option<String>,
    pub difficulty: Option<String>,
}

/// A stored response with its score as JSON and the alerts it raised.
#[derive(Debug, Clone)]
pub struct RecordedQuestionnaire {
    pub record: QuestionnaireResponseRecord,
    pub score: serde_json::Value,
    pub alerts: Vec<ClinicalAlert>,
}

/// A portal session as the portal pages see it.
#[derive(Debug, Clone)]
pub struct PortalView {
    pub session: PortalSession,
    pub patient: Patient,
    pub link: PortalLink,
}

/// Why a portal link did not open; shown to the patient in plain words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefusal {
    Unknown,
    Expired,
    Used,
}

pub(crate) fn portal_actor(patient: &Patient, client_addr: Option<String>) -> Actor {
    Actor { user_id: None, name: format!("patient:{}", patient.mrn.as_str()), role: Some("patient".into()), client_addr }
}

impl<S: Store> Clinic<S> {
    pub fn safety(&self) -> &SafetySettings {
        &self.config().safety
    }

    fn loaded_instrument(&self, id: &str) -> Result<&LoadedInstrument, ServiceError> {
        self.instruments().get(id).ok_or_else(|| {
            FieldErrors::one("instrument", format!("must be one of: {}", self.instruments().ids().join(", "))).into()
        })
    }

    /// Scores without storing anything: the anonymous self-check and previews.
    pub fn score_answers(&self, input: &QuestionnaireInput, patient_sex: Option<SexAtBirth>) -> Result<(Score, serde_json::Value), ServiceError> {
        let loaded = self.loaded_instrument(&input.instrument)?;
        let mut errors = Vec::new();
        let sex = match input.sex.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            Some(text) => Sex::parse(text).map_err(|e| errors.push(e)).ok(),
            None => match patient_sex {
                Some(SexAtBirth::Female) => Some(Sex::Female),
                Some(SexAtBirth::Male) => Some(Sex::Male),
                _ => None,
            },
        };
        let substance = input
            .substance
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .and_then(|text| Substance::parse(text).map_err(|e| errors.push(FieldError::new("substance", e.message))).ok());
        if !errors.is_empty() {
            return Err(FieldErrors(errors).into());
        }
        let mut unscored = BTreeMap::new();
        if let Some(difficulty) = input.difficulty.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            unscored.insert("difficulty".to_string(), difficulty.to_string());
        }
        let answers: Vec<&str> = input.answers.iter().map(|a| a.trim()).collect();
        let scored = score(&loaded.instrument, &answers, &ScoreContext { sex, substance, unscored })?;
        let json = score_json(loaded, &scored);
        Ok((scored, json))
    }

    /// A clinician enters a patient's answers.
    pub async fn record_questionnaire(&self, principal: &Principal, patient_id: Uuid, input: &QuestionnaireInput) -> Result<RecordedQuestionnaire, ServiceError> {
        self.authorize(principal, Permission::ScreeningRecord, "record questionnaire").await?;
        let patient = self.store().get_patient(patient_id).await.map_err(|e| ServiceError::from_store("patient", e))?;
        self.store_questionnaire(&patient, input, ResponseSource::Staff, Some(principal.user.id), None, principal.actor(), self.now()).await
    }

    /// Seeding: a questionnaire entered at `at` by the seed actor.
    pub(crate) async fn store_questionnaire_at(&self, patient: &Patient, input: &QuestionnaireInput, actor: Actor, at: chrono::DateTime<chrono::Utc>) -> Result<RecordedQuestionnaire, ServiceError> {
        self.store_questionnaire(patient, input, ResponseSource::Staff, None, None, actor, at).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn store_questionnaire(
        &self,
        patient: &Patient,
        input: &QuestionnaireInput,
        source: ResponseSource,
        entered_by: Option<Uuid>,
        link_id: Option<Uuid>,
        actor: Actor,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<RecordedQuestionnaire, ServiceError> {
        let (scored, json) = self.score_answers(input, Some(patient.details.sex_at_birth))?;
        let loaded = self.loaded_instrument(&input.instrument)?;
        let record = QuestionnaireResponseRecord {
            id: Uuid::now_v7(),
            patient_id: patient.id,
            instrument_id: loaded.instrument.id().to_string(),
            instrument_version: i64::from(loaded.instrument.definition().version),
            answers: input.answers.iter().map(|a| a.trim().to_string()).collect(),
            total: scored.total,
            band: scored.band.clone(),
            flags: scored.flags.iter().map(|f| f.id.clone()).collect(),
            result_json: json.to_string(),
            source,
            entered_by,
            created_at: now,
        };
        let site = self.main_site().await?;
        let mut alerts = Vec::new();
        let mut pages = Vec::new();
        if scored.flags.iter().any(|f| f.id == AlertKind::SuicideRisk.as_str()) {
            let safety = self.safety();
            let routed = route(now, &Self::site_zone(&site), safety.open_hours.as_ref(), safety.on_call.as_ref().map(|(n, p)| (n.as_str(), p.as_str())));
            let item9 = scored.items.last().copied().unwrap_or_default();
            alerts.push(ClinicalAlert {
                id: Uuid::now_v7(),
                patient_id: patient.id,
                kind: AlertKind::SuicideRisk,
                message: format!(
                    "{} {} answered PHQ-9 item 9 with {item9} ({}, {}).",
                    patient.details.given_name,
                    patient.details.family_name,
                    if source == ResponseSource::Portal { "in the portal, and was shown crisis resources at once" } else { "entered by staff" },
                    loaded.instrument.definition().title
                ),
                source_id: Some(record.id),
                routed_to: routed.describe(),
                raised_at: now,
                closed_at: None,
                closed_by: None,
                response: None,
                version: 1,
            });
            if let Route::OnCall { phone, .. } = &routed {
                pages.push(OutboxMessage {
                    id: Uuid::now_v7(),
                    patient_id: None,
                    channel: ContactChannel::Sms,
                    address: phone.clone(),
                    body: page_message(&site.name),
                    created_at: now,
                    sent_at: None,
                });
            }
        }
        let mut audit = vec![AuditEvent::new(
            Uuid::now_v7(),
            now,
            &actor,
            AuditAction::QuestionnaireRecord,
            AuditTarget::patient(patient.id),
            Outcome::Success,
            Some(serde_json::json!({ "instrument": record.instrument_id, "response_id": record.id, "source": source.as_str() }).to_string()),
        )];
        for alert in &alerts {
            audit.push(AuditEvent::new(
                Uuid::now_v7(),
                now,
                &actor,
                AuditAction::AlertRaise,
                AuditTarget::patient(patient.id),
                Outcome::Success,
                Some(serde_json::json!({ "alert_id": alert.id, "kind": alert.kind.as_str(), "routed_to": alert.routed_to }).to_string()),
            ));
        }
        let new = NewQuestionnaire { response: &record, alerts: &alerts, link_id, outbox: &pages, audit: &audit };
        self.store().record_questionnaire(new).await.map_err(|e| match e {
            clinic_store::error::StoreError::Conflict { .. } => {
                ServiceError::Conflict { code: "link_used", message: "this questionnaire was already answered".into() }
            }
            other => ServiceError::from_store("questionnaire", other),
        })?;
        Ok(RecordedQuestionnaire { record, score: json, alerts })
    }

    /// A patient's questionnaires, oldest first (clinical staff only; audited).
    pub async fn list_questionnaires(&self, principal: &Principal, patient_id: Uuid) -> Result<Vec<QuestionnaireResponseRecord>, ServiceError> {
        self.authorize(principal, Permission::ScreeningRead, "read questionnaires").await?;
        self.store().get_patient(patient_id).await.map_err(|e| ServiceError::from_store("patient", e))?;
        let list = self.store().list_questionnaires(patient_id).await?;
        let event = AuditEvent::new(Uuid::now_v7(), crate::now(), &principal.actor(), AuditAction::QuestionnaireRead, AuditTarget::patient(patient_id), Outcome::Success, None);
        self.audit_writer().record(vec![event]).await?;
        Ok(list)
    }

    /// Safety alerts, newest first; each patient's read is audited.
    pub async fn list_alerts(&self, principal: &Principal, patient_id: Option<Uuid>, open_only: bool) -> Result<Vec<ClinicalAlert>, ServiceError> {
        self.authorize(principal, Permission::AlertRead, "read alerts").await?;
        let alerts = self.store().list_alerts(&AlertFilter { patient_id, open_only, limit: 500 }).await?;
        let now = crate::now();
        let actor = principal.actor();
        let mut patients: Vec<Uuid> = alerts.iter().map(|a| a.patient_id).collect();
        patients.sort();
        patients.dedup();
        let events = patients
            .into_iter()
            .map(|id| AuditEvent::new(Uuid::now_v7(), now, &actor, AuditAction::AlertRead, AuditTarget::patient(id), Outcome::Success, None))
            .collect();
        self.audit_writer().record(events).await?;
        Ok(alerts)
    }

    pub async fn get_alert(&self, principal: &Principal, id: Uuid) -> Result<ClinicalAlert, ServiceError> {
        self.authorize(principal, Permission::AlertRead, "read alert").await?;
        let alert = self.store().get_alert(id).await.map_err(|e| ServiceError::from_store("alert", e))?;
        let event = AuditEvent::new(Uuid::now_v7(), crate::now(), &principal.actor(), AuditAction::AlertRead, AuditTarget::patient(alert.patient_id), Outcome::Success, None);
        self.audit_writer().record(vec![event]).await?;
        Ok(alert)
    }

    /// Closes an alert with the response taken (required).
    pub async fn close_alert(&self, principal: &Principal, id: Uuid, expected_version: i64, response: Option<&str>) -> Result<ClinicalAlert, ServiceError> {
        self.authorize(principal, Permission::AlertManage, "close alert").await?;
        let response = parse_response(response)?;
        let current = self.store().get_alert(id).await.map_err(|e| ServiceError::from_store("alert", e))?;
        let now = crate::now();
        let event = AuditEvent::new(
            Uuid::now_v7(),
            now,
            &principal.actor(),
            AuditAction::AlertClose,
            AuditTarget::patient(current.patient_id),
            Outcome::Success,
            Some(serde_json::json!({ "alert_id": id, "kind": current.kind.as_str() }).to_string()),
        );
        self.store().close_alert(id, expected_version, principal.user.id, &response, now, &event).await.map_err(|e| match e {
            clinic_store::error::StoreError::Conflict { .. } => {
                ServiceError::Conflict { code: "alert_closed", message: "this alert was already closed".into() }
            }
            other => ServiceError::from_store("alert", other),
        })
    }

    /// Sends a portal link by the patient's consented channel. The token is
    /// only in the message; the database keeps its hash.
    pub async fn send_portal_link(&self, principal: &Principal, patient_id: Uuid, purpose: &str, instrument: Option<&str>) -> Result<(PortalLink, OutboxMessage), ServiceError> {
        self.authorize(principal, Permission::PortalInvite, "send portal link").await?;
        let purpose = LinkPurpose::parse(purpose.trim()).map_err(|e| FieldErrors(vec![e]))?;
        let instrument_id = match (purpose, instrument.map(str::trim).filter(|t| !t.is_empty())) {
            (LinkPurpose::Questionnaire, Some(id)) => {
                let loaded = self.loaded_instrument(id)?;
                if loaded.instrument.definition().rater != clinic_domain::instrument::definition::Rater::SelfReport {
                    return Err(FieldErrors::one("instrument", format!("{id} is rated by a clinician, not answered by the patient")).into());
                }
                Some(loaded.instrument.id().to_string())
            }
            (LinkPurpose::Questionnaire, None) => return Err(FieldErrors::one("instrument", "is required for a questionnaire link").into()),
            (LinkPurpose::Signin, Some(_)) => return Err(FieldErrors::one("instrument", "only a questionnaire link names an instrument").into()),
            (LinkPurpose::Signin, None) => None,
        };
        let patient = self.store().get_patient(patient_id).await.map_err(|e| ServiceError::from_store("patient", e))?;
        let Some((channel, address)) = link_channel(&patient.details) else {
            return Err(FieldErrors::one(
                "contact_channels",
                "the patient has not agreed to be contacted by text message or email; record their consent first",
            )
            .into());
        };
        let Some(base) = self.safety().public_url.clone() else {
            return Err(ServiceError::Conflict { code: "needs_clinic_setting", message: "public_url is not set (needs clinic setting): links cannot be sent".into() });
        };
        let site = self.main_site().await?;
        let now = crate::now();
        let token = random_token();
        let link = PortalLink {
            id: Uuid::now_v7(),
            patient_id,
            purpose,
            instrument_id,
            expires_at: now + self.safety().link_lifetime,
            used_at: None,
            created_by: Some(principal.user.id),
            created_at: now,
        };
        let url = format!("{}/portal/l/{token}", base.trim_end_matches('/'));
        let message = OutboxMessage {
            id: Uuid::now_v7(),
            patient_id: Some(patient_id),
            channel,
            address,
            body: link_message(&site.name, &patient.details.given_name, &url, self.safety().link_lifetime.num_hours()),
            created_at: now,
            sent_at: None,
        };
        let event = AuditEvent::new(
            Uuid::now_v7(),
            now,
            &principal.actor(),
            AuditAction::PortalLinkCreate,
            AuditTarget::patient(patient_id),
            Outcome::Success,
            Some(serde_json::json!({ "link_id": link.id, "purpose": purpose.as_str(), "instrument": link.instrument_id, "channel": channel.as_str() }).to_string()),
        );
        self.store().create_portal_link(&link, &hash_token(&token), &message, &event).await?;
        Ok((link, message))
    }

    pub async fn list_portal_links(&self, principal: &Principal, patient_id: Uuid) -> Result<Vec<PortalLink>, ServiceError> {
        self.authorize(principal, Permission::PortalInvite, "list portal links").await?;
        Ok(self.store().list_portal_links(patient_id).await?)
    }

    /// Opens a link: starts a short portal session, returning its token.
    pub async fn open_portal_link(&self, token: &str, client_addr: Option<String>) -> Result<Result<(String, PortalLink), LinkRefusal>, ServiceError> {
        let now = crate::now();
        let Some(link) = self.store().find_portal_link(&hash_token(token)).await? else {
            return Ok(Err(LinkRefusal::Unknown));
        };
        let patient = self.store().get_patient(link.patient_id).await.map_err(|e| ServiceError::from_store("patient", e))?;
        let actor = portal_actor(&patient, client_addr);
        let state = link_state(&link, now);
        if state != LinkState::Usable {
            let event = AuditEvent::new(
                Uuid::now_v7(),
                now,
                &actor,
                AuditAction::PortalLinkRefused,
                AuditTarget::patient(patient.id),
                Outcome::Denied,
                Some(serde_json::json!({ "link_id": link.id, "state": if state == LinkState::Used { "used" } else { "expired" } }).to_string()),
            );
            self.audit_writer().record(vec![event]).await?;
            return Ok(Err(if state == LinkState::Used { LinkRefusal::Used } else { LinkRefusal::Expired }));
        }
        let session_token = random_token();
        let session = PortalSession {
            token_hash: hash_token(&session_token),
            patient_id: patient.id,
            link_id: link.id,
            created_at: now,
            // The session never outlives the link.
            expires_at: std::cmp::min(now + self.safety().portal_session, link.expires_at),
        };
        let event = AuditEvent::new(Uuid::now_v7(), now, &actor, AuditAction::PortalOpen, AuditTarget::patient(patient.id), Outcome::Success, Some(serde_json::json!({ "link_id": link.id }).to_string()));
        self.store().create_portal_session(&session, &event).await?;
        Ok(Ok((session_token, link)))
    }

    /// The portal session behind a cookie, if it is still valid.
    pub async fn portal_view(&self, session_token: &str, client_addr: Option<String>) -> Result<Option<PortalView>, ServiceError> {
        let now = crate::now();
        let Some(session) = self.store().get_portal_session(&hash_token(session_token)).await? else { return Ok(None) };
        if now >= session.expires_at {
            return Ok(None);
        }
        let patient = self.store().get_patient(session.patient_id).await.map_err(|e| ServiceError::from_store("patient", e))?;
        let link = self.store().get_portal_link(session.link_id).await.map_err(|e| ServiceError::from_store("link", e))?;
        let event = AuditEvent::new(Uuid::now_v7(), now, &portal_actor(&patient, client_addr), AuditAction::PortalRead, AuditTarget::patient(patient.id), Outcome::Success, None);
        self.audit_writer().record(vec![event]).await?;
        Ok(Some(PortalView { session, patient, link }))
    }

    /// The patient answers the questionnaire their link is for; the link is used up.
    pub async fn portal_submit(&self, view: &PortalView, answers: Vec<String>, difficulty: Option<String>, client_addr: Option<String>) -> Result<RecordedQuestionnaire, ServiceError> {
        let Some(instrument) = view.link.instrument_id.clone() else {
            return Err(ServiceError::Conflict { code: "no_questionnaire", message: "this link does not open a questionnaire".into() });
        };
        if link_state(&view.link, crate::now()) != LinkState::Usable {
            return Err(ServiceError::Conflict { code: "link_used", message: "this questionnaire was already answered or has expired".into() });
        }
        let input = QuestionnaireInput { instrument, answers, sex: None, substance: None, difficulty };
        let actor = portal_actor(&view.patient, client_addr);
        self.store_questionnaire(&view.patient, &input, ResponseSource::Portal, None, Some(view.link.id), actor, self.now()).await
    }

    /// Messages awaiting delivery (and delivered), newest first.
    pub async fn outbox(&self, principal: &Principal) -> Result<Vec<OutboxMessage>, ServiceError> {
        self.authorize(principal, Permission::AuditRead, "read outbox").await?;
        Ok(self.store().list_outbox(200).await?)
    }
}
