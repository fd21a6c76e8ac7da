//! Medical screening, consents and the eligibility decision: each kept whole
//! with what it rests on, so the chart shows why a patient was or was not
//! treated on any date. Signed documents are never edited: a consent is
//! revoked (at once), a proposal is decided once.

use clinic_domain::audit::{AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_domain::authz::Permission;
use clinic_domain::consent::{sign, ConsentKind, ConsentTemplate, ConsentTemplateInput, SignInput, SignedConsent};
use clinic_domain::eligibility::{
    sign_decision, ClinicSettings, ConsentFacts, Decision, DecisionInput, EligibilityInputs, EligibilityRecord, InstrumentResult, PatientFacts,
};
use clinic_domain::field::FieldErrors;
use clinic_domain::screening::{Screening, ScreeningInput};
use clinic_store::screening::{AlertFilter, DocumentKind, PatientDocument};
use clinic_store::Store;
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::ServiceError;
use crate::Clinic;

/// A consent template file, `consents/<kind>.toml`: the text is a clinic setting.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateFile {
    kind: String,
    version: u32,
    text: String,
    revocation_statement: Option<String>,
    redisclosure_statement: Option<String>,
    conditioning_statement: Option<String>,
}

/// Loads and validates the consent templates; a malformed file is named.
pub fn load_templates(files: &crate::data::DataFiles) -> anyhow::Result<Vec<ConsentTemplate>> {
    let mut templates = Vec::new();
    for kind in ConsentKind::ALL {
        let path = format!("consents/{}.toml", kind.as_str());
        let text = files.read_text(&path)?;
        let file: TemplateFile = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
        let input = ConsentTemplateInput {
            kind: Some(file.kind),
            version: Some(file.version.to_string()),
            text: Some(file.text),
            revocation_statement: file.revocation_statement,
            redisclosure_statement: file.redisclosure_statement,
            conditioning_statement: file.conditioning_statement,
        };
        let template = ConsentTemplate::parse(&input)
            .map_err(|e| anyhow::anyhow!("{path}: {}", e.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")))?;
        if template.kind != *kind {
            anyhow::bail!("{path}: kind must be {}", kind.as_str());
        }
        templates.push(template);
    }
    Ok(templates)
}

/// A signed consent as stored, with its document's id and version.
#[derive(Debug, Clone)]
pub struct StoredConsent {
    pub document: PatientDocument,
    pub consent: SignedConsent,
}

/// An eligibility proposal as stored, and the decision once signed.
#[derive(Debug, Clone)]
pub struct StoredEligibility {
    pub document: PatientDocument,
    pub record: EligibilityRecord,
    pub decision: Option<Decision>,
}

fn corrupt(what: &str, err: serde_json::Error) -> ServiceError {
    ServiceError::Internal(anyhow::anyhow!("stored {what} does not parse: {err}"))
}

impl<S: Store> Clinic<S> {
    pub fn consent_templates(&self) -> &[ConsentTemplate] {
        &self.inner.consent_templates
    }

    fn template(&self, kind: ConsentKind) -> Result<&ConsentTemplate, ServiceError> {
        self.consent_templates()
            .iter()
            .find(|t| t.kind == kind)
            .ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("no {} consent template", kind.as_str())))
    }

    fn event(&self, principal: &Principal, action: AuditAction, patient_id: Uuid, detail: serde_json::Value) -> AuditEvent {
        AuditEvent::new(Uuid::now_v7(), crate::now(), &principal.actor(), action, AuditTarget::patient(patient_id), Outcome::Success, Some(detail.to_string()))
    }

    /// Records a medical screening (checklist, medications, vitals, pregnancy,
    /// withdrawal risk, PDMP check), validated whole.
    pub async fn record_medical_screening(&self, principal: &Principal, patient_id: Uuid, input: &ScreeningInput) -> Result<(PatientDocument, Screening), ServiceError> {
        self.authorize(principal, Permission::ScreeningRecord, "record medical screening").await?;
        self.store().get_patient(patient_id).await.map_err(|e| ServiceError::from_store("patient", e))?;
        let site = self.main_site().await?;
        let mut input = input.clone();
        if input.screened_by.as_deref().is_none_or(|s| s.trim().is_empty()) {
            input.screened_by = Some(principal.user.display_name.clone());
        }
        if input.screened_on.as_deref().is_none_or(|s| s.trim().is_empty()) {
            input.screened_on = Some(Self::site_today(&site).format("%Y-%m-%d").to_string());
        }
        let screening = Screening::parse(&input, Self::site_today(&site))?;
        let body = serde_json::to_string(&screening).map_err(|e| ServiceError::Internal(e.into()))?;
        let document = PatientDocument {
            id: Uuid::now_v7(),
            patient_id,
            kind: DocumentKind::MedicalScreening,
            subtype: "medical_screening".into(),
            body,
            created_by: Some(principal.user.id),
            created_at: self.now(),
            closed_at: None,
            closed_by: None,
            version: 1,
        };
        let event = self.event(principal, AuditAction::ScreeningRecord, patient_id, serde_json::json!({ "document_id": document.id }));
        self.store().add_document(&document, &event).await?;
        Ok((document, screening))
    }

    pub async fn list_medical_screenings(&self, principal: &Principal, patient_id: Uuid) -> Result<Vec<(PatientDocument, Screening)>, ServiceError> {
        self.authorize(principal, Permission::ScreeningRead, "read medical screening").await?;
        let documents = self.store().list_documents(patient_id, DocumentKind::MedicalScreening).await?;
        let event = self.event(principal, AuditAction::ScreeningRead, patient_id, serde_json::json!({ "kind": "medical_screening" }));
        self.audit_writer().record(vec![event]).await?;
        documents
            .into_iter()
            .map(|d| serde_json::from_str(&d.body).map(|s| (d, s)).map_err(|e| corrupt("screening", e)))
            .collect()
    }

    /// Signs a consent on a clinic tablet, the patient typing their name.
    pub async fn sign_consent(&self, principal: &Principal, patient_id: Uuid, kind: &str, input: &SignInput) -> Result<StoredConsent, ServiceError> {
        self.authorize(principal, Permission::ConsentManage, "sign consent").await?;
        self.store_consent(patient_id, kind, input, principal.actor(), Some(principal.user.id)).await
    }

    /// The patient signs in the portal (a sign-in link's session): the
    /// consents to treatment and to infusion. The Part 2 consent names
    /// recipients and is completed with staff, on the clinic tablet.
    pub async fn portal_sign_consent(&self, view: &crate::screening::PortalView, kind: &str, input: &SignInput, client_addr: Option<String>) -> Result<StoredConsent, ServiceError> {
        if view.link.purpose != clinic_domain::portal::LinkPurpose::Signin {
            return Err(ServiceError::Conflict { code: "wrong_link", message: "this link opens a questionnaire only".into() });
        }
        if kind.trim() == ConsentKind::Part2Disclosure.as_str() {
            return Err(FieldErrors::one("kind", "the Part 2 consent is signed with staff at the clinic; in the portal: treatment, infusion").into());
        }
        let actor = clinic_domain::audit::Actor {
            user_id: None,
            name: format!("patient:{}", view.patient.mrn.as_str()),
            role: Some("patient".into()),
            client_addr,
        };
        self.store_consent(view.patient.id, kind, input, actor, None).await
    }

    async fn store_consent(&self, patient_id: Uuid, kind: &str, input: &SignInput, actor: clinic_domain::audit::Actor, by: Option<Uuid>) -> Result<StoredConsent, ServiceError> {
        let kind = ConsentKind::parse(kind.trim()).map_err(|e| FieldErrors(vec![e]))?;
        self.store().get_patient(patient_id).await.map_err(|e| ServiceError::from_store("patient", e))?;
        let template = self.template(kind)?;
        let now = crate::now();
        let consent = sign(template, input, now)?;
        let body = serde_json::to_string(&consent).map_err(|e| ServiceError::Internal(e.into()))?;
        let document = PatientDocument {
            id: Uuid::now_v7(),
            patient_id,
            kind: DocumentKind::Consent,
            subtype: kind.as_str().into(),
            body,
            created_by: by,
            created_at: now,
            closed_at: None,
            closed_by: None,
            version: 1,
        };
        let event = AuditEvent::new(
            Uuid::now_v7(),
            now,
            &actor,
            AuditAction::ConsentSign,
            AuditTarget::patient(patient_id),
            Outcome::Success,
            Some(serde_json::json!({ "document_id": document.id, "kind": kind.as_str(), "template_version": template.version }).to_string()),
        );
        self.store().add_document(&document, &event).await?;
        Ok(StoredConsent { document, consent })
    }

    /// Consents for the portal page: the patient's own (no audit beyond the portal read).
    pub async fn portal_consents(&self, view: &crate::screening::PortalView) -> Result<Vec<StoredConsent>, ServiceError> {
        self.stored_consents(view.patient.id).await
    }

    pub async fn list_consents(&self, principal: &Principal, patient_id: Uuid) -> Result<Vec<StoredConsent>, ServiceError> {
        self.authorize(principal, Permission::PatientRead, "read consents").await?;
        let consents = self.stored_consents(patient_id).await?;
        let event = self.event(principal, AuditAction::ConsentRead, patient_id, serde_json::json!({}));
        self.audit_writer().record(vec![event]).await?;
        Ok(consents)
    }

    pub(crate) async fn stored_consents(&self, patient_id: Uuid) -> Result<Vec<StoredConsent>, ServiceError> {
        self.store()
            .list_documents(patient_id, DocumentKind::Consent)
            .await?
            .into_iter()
            .map(|document| serde_json::from_str(&document.body).map(|consent| StoredConsent { document, consent }).map_err(|e| corrupt("consent", e)))
            .collect()
    }

    /// Revokes a consent; it stops being in force at once.
    pub async fn revoke_consent(&self, principal: &Principal, id: Uuid, expected_version: i64, how: Option<&str>) -> Result<StoredConsent, ServiceError> {
        self.authorize(principal, Permission::ConsentManage, "revoke consent").await?;
        let document = self.store().get_document(id).await.map_err(|e| ServiceError::from_store("consent", e))?;
        if document.kind != DocumentKind::Consent {
            return Err(ServiceError::NotFound { resource: "consent" });
        }
        let consent: SignedConsent = serde_json::from_str(&document.body).map_err(|e| corrupt("consent", e))?;
        let now = crate::now();
        let how = how.map(str::trim).filter(|h| !h.is_empty()).ok_or_else(|| FieldErrors::one("how", "is required: how the patient revoked it (e.g. in writing at the desk)"))?;
        let revoked = consent
            .revoke(now, &principal.user.display_name, how)
            .map_err(|e| ServiceError::Conflict { code: "consent_closed", message: e.to_string() })?;
        let body = serde_json::to_string(&revoked).map_err(|e| ServiceError::Internal(e.into()))?;
        let event = self.event(principal, AuditAction::ConsentRevoke, document.patient_id, serde_json::json!({ "document_id": id, "kind": document.subtype }));
        let closed = self.store().close_document(id, expected_version, &body, Some(principal.user.id), now, None, &event).await.map_err(|e| match e {
            clinic_store::error::StoreError::Conflict { .. } => ServiceError::Conflict { code: "consent_closed", message: "this consent was already revoked".into() },
            other => ServiceError::from_store("consent", other),
        })?;
        Ok(StoredConsent { document: closed, consent: revoked })
    }

    /// Derives a proposal from everything on record now, and keeps it with its inputs.
    pub async fn propose_eligibility(&self, principal: &Principal, patient_id: Uuid) -> Result<StoredEligibility, ServiceError> {
        self.authorize(principal, Permission::ScreeningRecord, "propose eligibility").await?;
        let patient = self.store().get_patient(patient_id).await.map_err(|e| ServiceError::from_store("patient", e))?;
        let inputs = self.eligibility_inputs(&patient).await?;
        let now = inputs.now;
        let record = EligibilityRecord::new(inputs);
        let document = PatientDocument {
            id: Uuid::now_v7(),
            patient_id,
            kind: DocumentKind::Eligibility,
            subtype: record.proposal.outcome.as_str().into(),
            body: serde_json::to_string(&record).map_err(|e| ServiceError::Internal(e.into()))?,
            created_by: Some(principal.user.id),
            created_at: now,
            closed_at: None,
            closed_by: None,
            version: 1,
        };
        let event = self.event(
            principal,
            AuditAction::EligibilityPropose,
            patient_id,
            serde_json::json!({ "document_id": document.id, "outcome": record.proposal.outcome.as_str(), "reasons": record.proposal.reasons.len() }),
        );
        self.store().add_document(&document, &event).await?;
        Ok(StoredEligibility { document, record, decision: None })
    }

    /// Everything a proposal rests on, read from the record now.
    pub(crate) async fn eligibility_inputs(&self, patient: &clinic_domain::patient::Patient) -> Result<EligibilityInputs, ServiceError> {
        let patient_id = patient.id;
        let Some(screening_doc) = self.store().list_documents(patient_id, DocumentKind::MedicalScreening).await?.pop() else {
            return Err(FieldErrors::one("medical_screening", "record the medical screening first").into());
        };
        let screening: Screening = serde_json::from_str(&screening_doc.body).map_err(|e| corrupt("screening", e))?;
        let now = crate::now();
        let site = self.main_site().await?;
        let latest_phq9 = self
            .store()
            .list_questionnaires(patient_id)
            .await?
            .into_iter()
            .rfind(|r| r.instrument_id == "phq-9")
            .map(|r| InstrumentResult { instrument: r.instrument_id, total: r.total, band: r.band, flags: r.flags, scored_at: r.created_at });
        let open_suicide_risk_alert = self
            .store()
            .list_alerts(&AlertFilter { patient_id: Some(patient_id), open_only: true, limit: 500 })
            .await?
            .iter()
            .any(|a| a.kind == clinic_domain::alert::AlertKind::SuicideRisk);
        let consents: Vec<SignedConsent> = self.stored_consents(patient_id).await?.into_iter().map(|c| c.consent).collect();
        Ok(EligibilityInputs {
            now,
            today: Self::site_today(&site),
            patient: PatientFacts::from_details(&patient.details),
            screening,
            latest_phq9,
            open_suicide_risk_alert,
            consents: ConsentFacts::from_signed(&consents, now),
            settings: self.config().eligibility,
        })
    }

    pub async fn list_eligibility(&self, principal: &Principal, patient_id: Uuid) -> Result<Vec<StoredEligibility>, ServiceError> {
        self.authorize(principal, Permission::ScreeningRead, "read eligibility").await?;
        let documents = self.store().list_documents(patient_id, DocumentKind::Eligibility).await?;
        let event = self.event(principal, AuditAction::ScreeningRead, patient_id, serde_json::json!({ "kind": "eligibility" }));
        self.audit_writer().record(vec![event]).await?;
        documents.into_iter().map(stored_eligibility).collect()
    }

    /// Patients in screening or treatment without a consent to treatment and
    /// to infusion in force now (reading their names is audited). `more` is
    /// true when there were more patients than one page could check.
    pub async fn patients_missing_consents(&self, principal: &Principal) -> Result<(Vec<(clinic_domain::patient::Patient, Vec<ConsentKind>)>, bool), ServiceError> {
        use clinic_domain::patient::PatientStatus;
        self.authorize(principal, Permission::PatientRead, "list missing consents").await?;
        let mut found = Vec::new();
        let mut more = false;
        for status in [PatientStatus::Screening, PatientStatus::Eligible, PatientStatus::InTreatment] {
            let page = self.store().list_patients(&clinic_store::records::PatientFilter { status: Some(status), limit: 500, ..Default::default() }).await?;
            more |= page.next_cursor.is_some();
            for patient in page.items {
                let signed: Vec<SignedConsent> = self.stored_consents(patient.id).await?.into_iter().map(|c| c.consent).collect();
                let missing = clinic_domain::consent::missing_consents(&signed, crate::now());
                if !missing.is_empty() {
                    found.push((patient, missing));
                }
            }
        }
        let now = crate::now();
        let actor = principal.actor();
        let events = found
            .iter()
            .map(|(p, _)| AuditEvent::new(Uuid::now_v7(), now, &actor, AuditAction::PatientList, AuditTarget::patient(p.id), Outcome::Success, None))
            .collect();
        self.audit_writer().record(events).await?;
        Ok((found, more))
    }

    /// Proposals awaiting a physician's signature, oldest first.
    pub async fn unsigned_eligibility(&self, principal: &Principal) -> Result<Vec<PatientDocument>, ServiceError> {
        self.authorize(principal, Permission::EligibilitySign, "list unsigned eligibility").await?;
        Ok(self.store().list_open_documents(DocumentKind::Eligibility, 500).await?)
    }

    /// A physician signs the decision on a proposal; overriding it needs a written reason.
    pub async fn sign_eligibility(&self, principal: &Principal, id: Uuid, expected_version: i64, input: &DecisionInput) -> Result<StoredEligibility, ServiceError> {
        self.authorize(principal, Permission::EligibilitySign, "sign eligibility").await?;
        let document = self.store().get_document(id).await.map_err(|e| ServiceError::from_store("eligibility proposal", e))?;
        if document.kind != DocumentKind::Eligibility {
            return Err(ServiceError::NotFound { resource: "eligibility proposal" });
        }
        if document.closed_at.is_some() {
            return Err(ServiceError::Conflict { code: "already_signed", message: "this proposal was already decided; propose again to decide anew".into() });
        }
        let record: EligibilityRecord = serde_json::from_str(&document.body).map_err(|e| corrupt("eligibility", e))?;
        let mut input = input.clone();
        input.physician = Some(format!("{} ({})", principal.user.display_name, principal.user.username));
        let now = crate::now();
        let decision = sign_decision(record.clone(), &input, now)?;
        let body = serde_json::to_string(&decision).map_err(|e| ServiceError::Internal(e.into()))?;
        let event = self.event(
            principal,
            AuditAction::EligibilitySign,
            document.patient_id,
            serde_json::json!({ "document_id": id, "decision": decision.decision.as_str(), "agrees_with_proposal": decision.agrees_with_proposal }),
        );
        let status = decided_status(&self.store().get_patient(document.patient_id).await.map_err(|e| ServiceError::from_store("patient", e))?, &decision);
        let closed = self.store().close_document(id, expected_version, &body, Some(principal.user.id), now, status, &event).await.map_err(|e| match e {
            clinic_store::error::StoreError::Conflict { .. } => ServiceError::Conflict { code: "already_signed", message: "this proposal was already decided".into() },
            other => ServiceError::from_store("eligibility proposal", other),
        })?;
        Ok(StoredEligibility { document: closed, record, decision: Some(decision) })
    }
}

/// The status a signed decision gives a patient still before treatment; a
/// patient already in treatment or later keeps their status.
pub(crate) fn decided_status(patient: &clinic_domain::patient::Patient, decision: &Decision) -> Option<clinic_domain::patient::PatientStatus> {
    use clinic_domain::eligibility::DecidedOutcome;
    use clinic_domain::patient::PatientStatus;
    if !matches!(patient.details.status, PatientStatus::Inquiry | PatientStatus::Screening | PatientStatus::Eligible | PatientStatus::NotEligible) {
        return None;
    }
    Some(match decision.decision {
        DecidedOutcome::Eligible => PatientStatus::Eligible,
        DecidedOutcome::NotEligible => PatientStatus::NotEligible,
    })
}

fn stored_eligibility(document: PatientDocument) -> Result<StoredEligibility, ServiceError> {
    if document.closed_at.is_some() {
        let decision: Decision = serde_json::from_str(&document.body).map_err(|e| corrupt("eligibility decision", e))?;
        Ok(StoredEligibility { record: decision.record.clone(), decision: Some(decision), document })
    } else {
        let record: EligibilityRecord = serde_json::from_str(&document.body).map_err(|e| corrupt("eligibility", e))?;
        Ok(StoredEligibility { document, record, decision: None })
    }
}

/// The clinic's eligibility settings: the shipped ones (SpO2 from clinical.md
/// §11.6; blood pressure, BMI and age limits unset, "needs clinic setting").
pub fn shipped_eligibility_settings() -> ClinicSettings {
    ClinicSettings::shipped()
}
