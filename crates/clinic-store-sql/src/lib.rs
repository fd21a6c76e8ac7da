//! The SQL that SQLite and PostgreSQL share, written once.
//!
//! Most data-manipulation SQL reads the same on both databases (`$N`
//! placeholders, `RETURNING`, row values, `LIKE … ESCAPE`), so it lives here
//! and `impl_store!` expands it into each backend crate against that crate's
//! concrete sqlx driver. A backend supplies only what differs: how it opens
//! and migrates, and how it begins a write transaction
//! (`BEGIN IMMEDIATE` on SQLite). STYLE.md §5: keep the two backends thin.
//!
//! The backend type must have these inherent methods:
//! `fn pool(&self) -> &sqlx::Pool<DB>` and
//! `async fn begin_write(&self) -> Result<sqlx::Transaction<'static, DB>, sqlx::Error>`.

mod analytics;
mod orders;
mod plans;
mod schedule;
mod screening;
mod sessions;
mod ledger;
mod counseling;
mod outcomes;

use clinic_domain::inquiry::ContactChannel;
use clinic_store::error::StoreError;

/// Turns a driver error into a `StoreError`. Unique and foreign-key
/// violations become `Conflict` with a constraint name that reads the same on
/// both databases (`users_username_key`, PostgreSQL's default naming).
pub fn map_sqlx_error(err: sqlx::Error) -> StoreError {
    match err {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(db_err) => {
            use sqlx::error::ErrorKind;
            match db_err.kind() {
                ErrorKind::UniqueViolation | ErrorKind::ForeignKeyViolation => {
                    let constraint = db_err
                        .constraint()
                        .map(str::to_string)
                        .unwrap_or_else(|| sqlite_constraint_name(db_err.message()));
                    StoreError::Conflict { constraint }
                }
                _ => StoreError::Other(anyhow::Error::new(sqlx::Error::Database(db_err))),
            }
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => {
            StoreError::Unavailable(anyhow::Error::new(err))
        }
        other => StoreError::Other(anyhow::Error::new(other)),
    }
}

/// `UNIQUE constraint failed: users.username` → `users_username_key`.
fn sqlite_constraint_name(message: &str) -> String {
    match message.strip_prefix("UNIQUE constraint failed: ") {
        Some(columns) => format!("{}_key", columns.replace(", ", "_").replace('.', "_")),
        None => message.to_string(),
    }
}

/// Builds `$first, $first+1, …` for an `IN (…)` list of `count` values.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

/// Escapes `%`, `_` and `\` for `LIKE … ESCAPE '\'`.
pub fn like_pattern(text: &str) -> String {
    let escaped: String = text
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            other => vec![other],
        })
        .collect();
    format!("%{}%", escaped.to_lowercase())
}

/// `WHERE a AND b …`, or nothing when there are no conditions.
pub fn where_clause(conditions: &[String]) -> String {
    if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    }
}

/// Pages fetch `limit + 1` rows; this keeps `limit` and says whether more exist.
pub fn take_page<T>(rows: &mut Vec<T>, limit: i64) -> bool {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    has_more
}

/// Consented contact channels as stored: `phone,sms` (empty for none).
pub fn channels_text(channels: &[ContactChannel]) -> String {
    channels.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(",")
}

/// The stored channel list back as channels; an unknown name is a corrupt row.
pub fn parse_channels(text: &str) -> Result<Vec<ContactChannel>, StoreError> {
    text.split(',')
        .filter(|part| !part.is_empty())
        .map(|part| ContactChannel::parse(part).map_err(|e| StoreError::Other(anyhow::anyhow!("stored contact channel: {}", e.message))))
        .collect()
}

pub fn hash_from_bytes(bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(bytes).map_err(|_| StoreError::Other(anyhow::anyhow!("stored hash is not 32 bytes")))
}

pub const AUDIT_COLUMNS: &str = "id, occurred_at, actor_user_id, actor, actor_role, action, resource_type, \
     resource_id, patient_id, outcome, client_addr, detail";

pub const PATIENT_COLUMNS: &str = "id, site_id, mrn, given_name, family_name, date_of_birth, sex_at_birth, \
     gender_identity, phone, email, address, status, version, created_at, updated_at, sort_key, contact_channels, \
     preferred_contact_channel";

pub const INQUIRY_COLUMNS: &str = "id, site_id, name, phone, email, preferred_contact_time, contact_channel, message, \
     status, close_reason, assigned_to, patient_id, version, created_at, updated_at, last_contact_at";

pub const USER_COLUMNS: &str = "id, username, display_name, role, disabled, created_at, updated_at";

/// Expands the shared `Store` implementation for `$store` over driver `$db`.
#[macro_export]
macro_rules! impl_store {
    ($store:ty, $db:ty) => {
        mod shared_store_impl {
            use super::*;
            use ::chrono::{DateTime, NaiveDate, Utc};
            use ::clinic_domain::audit::{chain_hash, AuditEvent, ChainLink};
            use ::clinic_domain::inquiry::{
                CallDirection, CallOutcome, CloseReason, ContactChannel, Inquiry, InquiryCall, InquiryDetails, InquiryStatus,
            };
            use ::clinic_domain::mrn::Mrn;
            use ::clinic_domain::patient::{Contact, Patient, PatientDetails, PatientStatus, SexAtBirth, Substance};
            use ::clinic_domain::user::Role;
            use ::clinic_store::error::StoreError;
            use ::clinic_store::records::*;
            use ::clinic_store::{Store, StoreResult};
            use ::clinic_store_sql::{
                channels_text, hash_from_bytes, like_pattern, parse_channels, map_sqlx_error as db_err, placeholders, take_page, where_clause, AUDIT_COLUMNS,
                INQUIRY_COLUMNS, PATIENT_COLUMNS, USER_COLUMNS,
            };
            use ::sqlx::Row;
            use ::uuid::Uuid;

            type Db = $db;
            type DbRow = <$db as ::sqlx::Database>::Row;
            type Tx = ::sqlx::Transaction<'static, $db>;

            fn other(message: String) -> StoreError {
                StoreError::Other(::anyhow::anyhow!(message))
            }

            fn user_from_row(row: &DbRow) -> StoreResult<User> {
                let role: String = row.try_get("role").map_err(db_err)?;
                Ok(User {
                    id: row.try_get("id").map_err(db_err)?,
                    username: row.try_get("username").map_err(db_err)?,
                    display_name: row.try_get("display_name").map_err(db_err)?,
                    role: Role::parse(&role).map_err(|_| other(format!("unknown stored role {role}")))?,
                    disabled: row.try_get("disabled").map_err(db_err)?,
                    created_at: row.try_get("created_at").map_err(db_err)?,
                    updated_at: row.try_get("updated_at").map_err(db_err)?,
                })
            }

            fn site_from_row(row: &DbRow) -> StoreResult<Site> {
                Ok(Site {
                    id: row.try_get("id").map_err(db_err)?,
                    name: row.try_get("name").map_err(db_err)?,
                    time_zone: row.try_get("time_zone").map_err(db_err)?,
                    phone: row.try_get("phone").map_err(db_err)?,
                    address: row.try_get("address").map_err(db_err)?,
                    hours: row.try_get("hours").map_err(db_err)?,
                    created_at: row.try_get("created_at").map_err(db_err)?,
                })
            }

            async fn insert_site(tx: &mut Tx, site: &Site) -> StoreResult<()> {
                ::sqlx::query(
                    "INSERT INTO sites (id, name, time_zone, phone, address, hours, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(site.id)
                .bind(&site.name)
                .bind(&site.time_zone)
                .bind(&site.phone)
                .bind(&site.address)
                .bind(&site.hours)
                .bind(site.created_at)
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            fn audit_from_row(row: &DbRow) -> StoreResult<AuditEvent> {
                Ok(AuditEvent {
                    id: row.try_get("id").map_err(db_err)?,
                    occurred_at: row.try_get("occurred_at").map_err(db_err)?,
                    actor_user_id: row.try_get("actor_user_id").map_err(db_err)?,
                    actor: row.try_get("actor").map_err(db_err)?,
                    actor_role: row.try_get("actor_role").map_err(db_err)?,
                    action: row.try_get("action").map_err(db_err)?,
                    resource_type: row.try_get("resource_type").map_err(db_err)?,
                    resource_id: row.try_get("resource_id").map_err(db_err)?,
                    patient_id: row.try_get("patient_id").map_err(db_err)?,
                    outcome: row.try_get("outcome").map_err(db_err)?,
                    client_addr: row.try_get("client_addr").map_err(db_err)?,
                    detail: row.try_get("detail").map_err(db_err)?,
                })
            }

            /// A patient row without its substances and contacts, which
            /// `load_patient_parts` adds.
            fn patient_from_row(row: &DbRow) -> StoreResult<(Patient, String)> {
                let text = |name: &str| -> StoreResult<String> { row.try_get(name).map_err(db_err) };
                let mrn_text = text("mrn")?;
                let sex = text("sex_at_birth")?;
                let status = text("status")?;
                let patient = Patient {
                    id: row.try_get("id").map_err(db_err)?,
                    mrn: Mrn::parse(&mrn_text).map_err(|_| other(format!("stored MRN {mrn_text} is invalid")))?,
                    site_id: row.try_get("site_id").map_err(db_err)?,
                    details: PatientDetails {
                        given_name: text("given_name")?,
                        family_name: text("family_name")?,
                        date_of_birth: row.try_get::<NaiveDate, _>("date_of_birth").map_err(db_err)?,
                        sex_at_birth: SexAtBirth::parse(&sex).map_err(|e| other(e.message))?,
                        gender_identity: row.try_get("gender_identity").map_err(db_err)?,
                        phone: row.try_get("phone").map_err(db_err)?,
                        email: row.try_get("email").map_err(db_err)?,
                        address: row.try_get("address").map_err(db_err)?,
                        substances: Vec::new(),
                        status: PatientStatus::parse(&status).map_err(|e| other(e.message))?,
                        escort: None,
                        emergency_contacts: Vec::new(),
                        diagnoses: Vec::new(),
                        allergies: Vec::new(),
                        medications: Vec::new(),
                        contact_channels: parse_channels(&text("contact_channels")?)?,
                        preferred_contact_channel: row
                            .try_get::<Option<String>, _>("preferred_contact_channel")
                            .map_err(db_err)?
                            .map(|c| ContactChannel::parse(&c).map_err(|e| other(e.message)))
                            .transpose()?,
                    },
                    version: row.try_get("version").map_err(db_err)?,
                    created_at: row.try_get("created_at").map_err(db_err)?,
                    updated_at: row.try_get("updated_at").map_err(db_err)?,
                };
                Ok((patient, text("sort_key")?))
            }

            async fn load_patient_parts<'e, E>(executor: E, patients: &mut [Patient]) -> StoreResult<()>
            where
                E: ::sqlx::Executor<'e, Database = Db> + Copy,
            {
                if patients.is_empty() {
                    return Ok(());
                }
                let ids = placeholders(1, patients.len());
                let sql = format!(
                    "SELECT patient_id, substance FROM patient_substances WHERE patient_id IN ({ids}) ORDER BY substance"
                );
                let mut query = ::sqlx::query(&sql);
                for patient in patients.iter() {
                    query = query.bind(patient.id);
                }
                for row in query.fetch_all(executor).await.map_err(db_err)? {
                    let patient_id: Uuid = row.try_get("patient_id").map_err(db_err)?;
                    let text: String = row.try_get("substance").map_err(db_err)?;
                    let substance = Substance::parse(&text).map_err(|e| other(e.message))?;
                    if let Some(patient) = patients.iter_mut().find(|p| p.id == patient_id) {
                        patient.details.substances.push(substance);
                    }
                }
                let sql = format!(
                    "SELECT patient_id, kind, name, relationship, phone FROM patient_contacts \
                     WHERE patient_id IN ({ids}) ORDER BY patient_id, position"
                );
                let mut query = ::sqlx::query(&sql);
                for patient in patients.iter() {
                    query = query.bind(patient.id);
                }
                for row in query.fetch_all(executor).await.map_err(db_err)? {
                    let patient_id: Uuid = row.try_get("patient_id").map_err(db_err)?;
                    let kind: String = row.try_get("kind").map_err(db_err)?;
                    let contact = Contact {
                        name: row.try_get("name").map_err(db_err)?,
                        relationship: row.try_get("relationship").map_err(db_err)?,
                        phone: row.try_get("phone").map_err(db_err)?,
                    };
                    if let Some(patient) = patients.iter_mut().find(|p| p.id == patient_id) {
                        match kind.as_str() {
                            "escort" => patient.details.escort = Some(contact),
                            "emergency" => patient.details.emergency_contacts.push(contact),
                            other_kind => return Err(other(format!("unknown contact kind {other_kind}"))),
                        }
                    }
                }
                let sql = format!("SELECT patient_id, code FROM patient_diagnoses WHERE patient_id IN ({ids}) ORDER BY code");
                let mut query = ::sqlx::query(&sql);
                for patient in patients.iter() {
                    query = query.bind(patient.id);
                }
                for row in query.fetch_all(executor).await.map_err(db_err)? {
                    let patient_id: Uuid = row.try_get("patient_id").map_err(db_err)?;
                    if let Some(patient) = patients.iter_mut().find(|p| p.id == patient_id) {
                        patient.details.diagnoses.push(row.try_get("code").map_err(db_err)?);
                    }
                }
                let sql = format!(
                    "SELECT patient_id, kind, first_text, second_text FROM patient_list_items \
                     WHERE patient_id IN ({ids}) ORDER BY patient_id, kind, position"
                );
                let mut query = ::sqlx::query(&sql);
                for patient in patients.iter() {
                    query = query.bind(patient.id);
                }
                for row in query.fetch_all(executor).await.map_err(db_err)? {
                    let patient_id: Uuid = row.try_get("patient_id").map_err(db_err)?;
                    let kind: String = row.try_get("kind").map_err(db_err)?;
                    let first: String = row.try_get("first_text").map_err(db_err)?;
                    let second: Option<String> = row.try_get("second_text").map_err(db_err)?;
                    if let Some(patient) = patients.iter_mut().find(|p| p.id == patient_id) {
                        match kind.as_str() {
                            "allergy" => patient.details.allergies.push(::clinic_domain::patient::Allergy { substance: first, reaction: second }),
                            "medication" => patient.details.medications.push(::clinic_domain::patient::Medication { name: first, dose: second }),
                            other_kind => return Err(other(format!("unknown list item kind {other_kind}"))),
                        }
                    }
                }
                for patient in patients.iter_mut() {
                    patient.details.substances.sort();
                }
                Ok(())
            }

            async fn insert_audit(tx: &mut Tx, event: &AuditEvent) -> StoreResult<()> {
                let sql = format!("INSERT INTO audit_events ({AUDIT_COLUMNS}) VALUES ({})", placeholders(1, 12));
                ::sqlx::query(&sql)
                    .bind(event.id)
                    .bind(event.occurred_at)
                    .bind(event.actor_user_id)
                    .bind(&event.actor)
                    .bind(&event.actor_role)
                    .bind(&event.action)
                    .bind(&event.resource_type)
                    .bind(&event.resource_id)
                    .bind(event.patient_id)
                    .bind(&event.outcome)
                    .bind(&event.client_addr)
                    .bind(&event.detail)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_err)?;
                ::sqlx::query("INSERT INTO audit_pending (event_id) VALUES ($1)")
                    .bind(event.id)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_err)?;
                Ok(())
            }

            async fn write_patient_parts(tx: &mut Tx, patient_id: Uuid, details: &PatientDetails) -> StoreResult<()> {
                ::sqlx::query("DELETE FROM patient_substances WHERE patient_id = $1")
                    .bind(patient_id)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_err)?;
                for table in ["patient_contacts", "patient_diagnoses", "patient_list_items"] {
                    ::sqlx::query(&format!("DELETE FROM {table} WHERE patient_id = $1"))
                        .bind(patient_id)
                        .execute(&mut **tx)
                        .await
                        .map_err(db_err)?;
                }
                for code in &details.diagnoses {
                    ::sqlx::query("INSERT INTO patient_diagnoses (patient_id, code) VALUES ($1, $2)")
                        .bind(patient_id)
                        .bind(code)
                        .execute(&mut **tx)
                        .await
                        .map_err(db_err)?;
                }
                let items = details
                    .allergies
                    .iter()
                    .map(|a| ("allergy", &a.substance, &a.reaction))
                    .chain(details.medications.iter().map(|m| ("medication", &m.name, &m.dose)));
                for (position, (kind, first, second)) in (0i64..).zip(items) {
                    ::sqlx::query(
                        "INSERT INTO patient_list_items (id, patient_id, kind, position, first_text, second_text) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(Uuid::now_v7())
                    .bind(patient_id)
                    .bind(kind)
                    .bind(position)
                    .bind(first)
                    .bind(second)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_err)?;
                }
                for substance in &details.substances {
                    ::sqlx::query("INSERT INTO patient_substances (patient_id, substance) VALUES ($1, $2)")
                        .bind(patient_id)
                        .bind(substance.as_str())
                        .execute(&mut **tx)
                        .await
                        .map_err(db_err)?;
                }
                let contacts = details
                    .escort
                    .iter()
                    .map(|c| ("escort", c))
                    .chain(details.emergency_contacts.iter().map(|c| ("emergency", c)));
                for (position, (kind, contact)) in (0i64..).zip(contacts) {
                    ::sqlx::query(
                        "INSERT INTO patient_contacts (id, patient_id, kind, position, name, relationship, phone) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(Uuid::now_v7())
                    .bind(patient_id)
                    .bind(kind)
                    .bind(position)
                    .bind(&contact.name)
                    .bind(&contact.relationship)
                    .bind(&contact.phone)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_err)?;
                }
                Ok(())
            }

            async fn end_sessions(tx: &mut Tx, user_id: Uuid) -> StoreResult<()> {
                ::sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_err)?;
                Ok(())
            }

            async fn insert_patient(tx: &mut Tx, patient: &NewPatient) -> StoreResult<Patient> {
                let sequence: i64 =
                    ::sqlx::query_scalar("UPDATE counters SET value = value + 1 WHERE name = 'mrn' RETURNING value")
                        .fetch_one(&mut **tx)
                        .await
                        .map_err(db_err)?;
                let sequence = u64::try_from(sequence).map_err(|_| other(format!("MRN counter is {sequence}")))?;
                let mrn = Mrn::from_sequence(sequence).map_err(|e| other(e.to_string()))?;
                let details = &patient.details;
                let sql = format!("INSERT INTO patients ({PATIENT_COLUMNS}, search_name) VALUES ({})", placeholders(1, 19));
                ::sqlx::query(&sql)
                    .bind(patient.id)
                    .bind(patient.site_id)
                    .bind(mrn.as_str())
                    .bind(&details.given_name)
                    .bind(&details.family_name)
                    .bind(details.date_of_birth)
                    .bind(details.sex_at_birth.as_str())
                    .bind(&details.gender_identity)
                    .bind(&details.phone)
                    .bind(&details.email)
                    .bind(&details.address)
                    .bind(details.status.as_str())
                    .bind(1i64)
                    .bind(patient.created_at)
                    .bind(patient.created_at)
                    .bind(patient_sort_key(&details.family_name, &details.given_name))
                    .bind(channels_text(&details.contact_channels))
                    .bind(details.preferred_contact_channel.map(ContactChannel::as_str))
                    .bind(patient_search_name(&details.family_name, &details.given_name))
                    .execute(&mut **tx)
                    .await
                    .map_err(db_err)?;
                write_patient_parts(tx, patient.id, details).await?;
                Ok(Patient {
                    id: patient.id,
                    mrn,
                    site_id: patient.site_id,
                    details: details.clone(),
                    version: 1,
                    created_at: patient.created_at,
                    updated_at: patient.created_at,
                })
            }

            fn inquiry_from_row(row: &DbRow) -> StoreResult<Inquiry> {
                let text = |name: &str| -> StoreResult<String> { row.try_get(name).map_err(db_err) };
                let channel = text("contact_channel")?;
                let status = text("status")?;
                let close_reason: Option<String> = row.try_get("close_reason").map_err(db_err)?;
                Ok(Inquiry {
                    id: row.try_get("id").map_err(db_err)?,
                    site_id: row.try_get("site_id").map_err(db_err)?,
                    details: InquiryDetails {
                        name: text("name")?,
                        phone: row.try_get("phone").map_err(db_err)?,
                        email: row.try_get("email").map_err(db_err)?,
                        substances: Vec::new(),
                        preferred_contact_time: row.try_get("preferred_contact_time").map_err(db_err)?,
                        contact_channel: ContactChannel::parse(&channel).map_err(|e| other(e.message))?,
                        message: row.try_get("message").map_err(db_err)?,
                    },
                    status: InquiryStatus::parse(&status).map_err(|e| other(e.message))?,
                    close_reason: close_reason.map(|r| CloseReason::parse(&r).map_err(|e| other(e.message))).transpose()?,
                    assigned_to: row.try_get("assigned_to").map_err(db_err)?,
                    patient_id: row.try_get("patient_id").map_err(db_err)?,
                    version: row.try_get("version").map_err(db_err)?,
                    created_at: row.try_get("created_at").map_err(db_err)?,
                    updated_at: row.try_get("updated_at").map_err(db_err)?,
                    last_contact_at: row.try_get("last_contact_at").map_err(db_err)?,
                })
            }

            async fn load_inquiry_substances<'e, E>(executor: E, inquiries: &mut [Inquiry]) -> StoreResult<()>
            where
                E: ::sqlx::Executor<'e, Database = Db>,
            {
                if inquiries.is_empty() {
                    return Ok(());
                }
                let sql = format!(
                    "SELECT inquiry_id, substance FROM inquiry_substances WHERE inquiry_id IN ({}) ORDER BY substance",
                    placeholders(1, inquiries.len())
                );
                let mut query = ::sqlx::query(&sql);
                for inquiry in inquiries.iter() {
                    query = query.bind(inquiry.id);
                }
                for row in query.fetch_all(executor).await.map_err(db_err)? {
                    let inquiry_id: Uuid = row.try_get("inquiry_id").map_err(db_err)?;
                    let text: String = row.try_get("substance").map_err(db_err)?;
                    let substance = Substance::parse(&text).map_err(|e| other(e.message))?;
                    if let Some(inquiry) = inquiries.iter_mut().find(|i| i.id == inquiry_id) {
                        inquiry.details.substances.push(substance);
                    }
                }
                for inquiry in inquiries.iter_mut() {
                    inquiry.details.substances.sort();
                }
                Ok(())
            }

            async fn fetch_inquiry_in(tx: &mut Tx, id: Uuid) -> StoreResult<Inquiry> {
                let sql = format!("SELECT {INQUIRY_COLUMNS} FROM inquiries WHERE id = $1");
                let row = ::sqlx::query(&sql).bind(id).fetch_optional(&mut **tx).await.map_err(db_err)?.ok_or(StoreError::NotFound)?;
                let mut inquiries = vec![inquiry_from_row(&row)?];
                load_inquiry_substances(&mut **tx, &mut inquiries).await?;
                inquiries.pop().ok_or(StoreError::NotFound)
            }

            /// Bumps the version if it is `expected`, or says why not.
            async fn claim_inquiry_version(tx: &mut Tx, id: Uuid, expected: i64, now: DateTime<Utc>) -> StoreResult<()> {
                let res = ::sqlx::query("UPDATE inquiries SET version = version + 1, updated_at = $1 WHERE id = $2 AND version = $3")
                    .bind(now)
                    .bind(id)
                    .bind(expected)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_err)?;
                if res.rows_affected() == 0 {
                    let current: Option<i64> = ::sqlx::query_scalar("SELECT version FROM inquiries WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err(db_err)?;
                    return Err(match current {
                        None => StoreError::NotFound,
                        Some(current) => StoreError::StaleVersion { current },
                    });
                }
                Ok(())
            }

            enum Arg {
                Text(String),
                Date(NaiveDate),
                Id(Uuid),
                Time(DateTime<Utc>),
                Int(i64),
            }

            fn bind_all<'q>(
                mut query: ::sqlx::query::Query<'q, Db, <Db as ::sqlx::Database>::Arguments<'q>>,
                args: &'q [Arg],
            ) -> ::sqlx::query::Query<'q, Db, <Db as ::sqlx::Database>::Arguments<'q>> {
                for arg in args {
                    query = match arg {
                        Arg::Text(v) => query.bind(v),
                        Arg::Date(v) => query.bind(*v),
                        Arg::Id(v) => query.bind(*v),
                        Arg::Time(v) => query.bind(*v),
                        Arg::Int(v) => query.bind(*v),
                    };
                }
                query
            }

            impl Store for $store {
                async fn ensure_site(&self, site: &Site) -> StoreResult<Site> {
                    let mut tx = self.begin_write().await.map_err(db_err)?;
                    let existing = ::sqlx::query("SELECT * FROM sites ORDER BY created_at, id LIMIT 1")
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    let res = match existing {
                        Some(row) => site_from_row(&row)?,
                        None => {
                            insert_site(&mut tx, site).await?;
                            site.clone()
                        }
                    };
                    tx.commit().await.map_err(db_err)?;
                    Ok(res)
                }

                async fn list_sites(&self) -> StoreResult<Vec<Site>> {
                    let rows = ::sqlx::query("SELECT * FROM sites ORDER BY created_at, id")
                        .fetch_all(self.pool())
                        .await
                        .map_err(db_err)?;
                    rows.iter().map(site_from_row).collect()
                }

                async fn add_site(&self, site: &Site) -> StoreResult<Site> {
                    let mut tx = self.begin_write().await.map_err(db_err)?;
                    insert_site(&mut tx, site).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(site.clone())
                }

                async fn create_user(&self, user: &NewUser, audit: &AuditEvent) -> StoreResult<User> {
                    let mut tx = self.begin_write().await.map_err(db_err)?;
                    let sql = format!(
                        "INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {USER_COLUMNS}"
                    );
                    let row = ::sqlx::query(&sql)
                        .bind(user.id)
                        .bind(&user.username)
                        .bind(&user.display_name)
                        .bind(user.role.as_str())
                        .bind(false)
                        .bind(user.created_at)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    ::sqlx::query("INSERT INTO credentials (user_id, password_hash, changed_at) VALUES ($1, $2, $3)")
                        .bind(user.id)
                        .bind(&user.password_hash)
                        .bind(user.created_at)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err(db_err)?;
                    user_from_row(&row)
                }

                async fn get_user(&self, id: Uuid) -> StoreResult<User> {
                    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
                    let row = ::sqlx::query(&sql).bind(id).fetch_optional(self.pool()).await.map_err(db_err)?;
                    row.as_ref().map(user_from_row).unwrap_or(Err(StoreError::NotFound))
                }

                async fn find_credential(&self, username: &str) -> StoreResult<Option<UserCredential>> {
                    let sql = format!(
                        "SELECT u.{}, c.password_hash FROM users u JOIN credentials c ON c.user_id = u.id \
                         WHERE u.username = $1",
                        USER_COLUMNS.replace(", ", ", u.")
                    );
                    let row = ::sqlx::query(&sql).bind(username).fetch_optional(self.pool()).await.map_err(db_err)?;
                    match row {
                        None => Ok(None),
                        Some(row) => Ok(Some(UserCredential {
                            user: user_from_row(&row)?,
                            password_hash: row.try_get("password_hash").map_err(db_err)?,
                        })),
                    }
                }

                async fn list_users(&self) -> StoreResult<Vec<User>> {
                    let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY username");
                    let rows = ::sqlx::query(&sql).fetch_all(self.pool()).await.map_err(db_err)?;
                    rows.iter().map(user_from_row).collect()
                }

                async fn set_user_disabled(
                    &self,
                    id: Uuid,
                    disabled: bool,
                    now: DateTime<Utc>,
                    audit: &AuditEvent,
                ) -> StoreResult<User> {
                    let mut tx = self.begin_write().await.map_err(db_err)?;
                    let sql = format!(
                        "UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3 RETURNING {USER_COLUMNS}"
                    );
                    let row = ::sqlx::query(&sql)
                        .bind(disabled)
                        .bind(now)
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?
                        .ok_or(StoreError::NotFound)?;
                    if disabled {
                        end_sessions(&mut tx, id).await?;
                    }
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err(db_err)?;
                    user_from_row(&row)
                }

                async fn set_password(
                    &self,
                    id: Uuid,
                    password_hash: &str,
                    now: DateTime<Utc>,
                    audit: &AuditEvent,
                ) -> StoreResult<()> {
                    let mut tx = self.begin_write().await.map_err(db_err)?;
                    let res = ::sqlx::query("UPDATE credentials SET password_hash = $1, changed_at = $2 WHERE user_id = $3")
                        .bind(password_hash)
                        .bind(now)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    if res.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    end_sessions(&mut tx, id).await?;
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn create_session(&self, session: &NewSession, audit: &AuditEvent) -> StoreResult<()> {
                    let mut tx = self.begin_write().await.map_err(db_err)?;
                    ::sqlx::query(
                        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, client_addr) \
                         VALUES ($1, $2, $3, $4, $4, $5)",
                    )
                    .bind(&session.token_hash)
                    .bind(session.user_id)
                    .bind(&session.csrf_token)
                    .bind(session.created_at)
                    .bind(&session.client_addr)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn get_session(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
                    let sql = format!(
                        "SELECT s.token_hash, s.csrf_token, s.created_at AS session_created_at, s.last_seen_at, u.{} \
                         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
                        USER_COLUMNS.replace(", ", ", u.")
                    );
                    let row = ::sqlx::query(&sql).bind(token_hash).fetch_optional(self.pool()).await.map_err(db_err)?;
                    match row {
                        None => Ok(None),
                        Some(row) => Ok(Some(SessionRecord {
                            token_hash: row.try_get("token_hash").map_err(db_err)?,
                            user: user_from_row(&row)?,
                            csrf_token: row.try_get("csrf_token").map_err(db_err)?,
                            created_at: row.try_get("session_created_at").map_err(db_err)?,
                            last_seen_at: row.try_get("last_seen_at").map_err(db_err)?,
                        })),
                    }
                }

                async fn touch_session(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<()> {
                    let mut tx = self.begin_write().await.map_err(db_err)?;
                    ::sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
                        .bind(now)
                        .bind(token_hash)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn delete_session(&self, token_hash: &str, audit: Option<&AuditEvent>) -> StoreResult<()> {
                    let mut tx = self.begin_write().await.map_err(db_err)?;
                    ::sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                        .bind(token_hash)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    if let Some(audit) = audit {
                        insert_audit(&mut tx, audit).await?;
                    }
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn create_patient(&self, patient: &NewPatient, audit: &AuditEvent) -> StoreResult<Patient> {
                    let mut tx = self.begin_write().await.map_err(db_err)?;
                    let created = insert_patient(&mut tx, patient).await?;
                    insert_audit(&mut tx, audit).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(created)
                }

                async fn find_duplicate_candidates(
                    &self,
                    date_of_birth: NaiveDate,
                    phone: Option<&str>,
                ) -> StoreResult<Vec<Patient>> {
                    let sql = format!(
                        "SELECT {PATIENT_COLUMNS} FROM patients WHERE date_of_birth = $1 OR (phone IS NOT NULL AND phone = $2) \
                         ORDER BY sort_key, id LIMIT 50"
                    );
                    let rows = ::sqlx::query(&sql)
                        .bind(date_of_birth)
                        .bind(phone)
                        .fetch_all(self.pool())
                        .await
                        .map_err(db_err)?;
                    let mut patients =
                        rows.iter().map(|row| patient_from_row(row).map(|(p, _)| p)).collect::<StoreResult<Vec<_>>>()?;
                    load_patient_parts(self.pool(), &mut patients).await?;
                    Ok(patients)
                }

                async fn get_patient(&self, id: Uuid) -> StoreResult<Patient> {
                    let sql = format!("SELECT {PATIENT_COLUMNS} FROM patients WHERE id = $1");
                    let row = ::sqlx::query(&sql)
                        .bind(id)
                        .fetch_optional(self.pool())
                        .await
                        .map_err(db_err)?
                        .ok_or(StoreError::NotFound)?;
                    let mut patients = vec![patient_from_row(&row)?.0];
                    load_patient_parts(self.pool(), &mut patients).await?;
                    patients.pop().ok_or(StoreError::NotFound)
                }

                async fn list_patients(&self, filter: &PatientFilter) -> StoreResult<Page<Patient>> {
                    let mut conditions: Vec<String> = Vec::new();
                    let mut args: Vec<Arg> = Vec::new();
                    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
                        args.push(Arg::Text(like_pattern(q)));
                        let n_like = args.len();
                        args.push(Arg::Text(q.to_ascii_uppercase()));
                        let n_mrn = args.len();
                        conditions.push(format!(
                            "(search_name LIKE ${n_like} ESCAPE '\\' OR sort_key LIKE ${n_like} ESCAPE '\\' OR mrn = ${n_mrn})"
                        ));
                    }
                    if let Some(date_of_birth) = filter.date_of_birth {
                        args.push(Arg::Date(date_of_birth));
                        conditions.push(format!("date_of_birth = ${}", args.len()));
                    }
                    if let Some(status) = filter.status {
                        args.push(Arg::Text(status.as_str().to_string()));
                        conditions.push(format!("status = ${}", args.len()));
                    }
                    if let Some(after) = &filter.after {
                        args.push(Arg::Text(after.sort_key.clone()));
                        args.push(Arg::Id(after.id));
                        conditions.push(format!("(sort_key, id) > (${}, ${})", args.len() - 1, args.len()));
                    }
                    let limit = filter.limit.clamp(1, 500);
                    args.push(Arg::Int(limit + 1));
                    let where_clause = where_clause(&conditions);
                    let sql = format!(
                        "SELECT {PATIENT_COLUMNS} FROM patients {where_clause} ORDER BY sort_key, id LIMIT ${}",
                        args.len()
                    );
                    let rows = bind_all(::sqlx::query(&sql), &args).fetch_all(self.pool()).await.map_err(db_err)?;
                    let mut rows = rows.iter().map(patient_from_row).collect::<StoreResult<Vec<_>>>()?;
                    let has_more = take_page(&mut rows, limit);
                    let next_cursor = if has_more {
                        rows.last().map(|(p, sort_key)| PatientCursor { sort_key: sort_key.clone(), id: p.id }.encode())
                    } else {
                        None
                    };
                    let mut items: Vec<Patient> = rows.into_iter().map(|(p, _)| p).collect();
                    load_patient_parts(self.pool(), &mut items).await?;
                    Ok(Page { items, next_cursor })
                }

                async fn update_patient(
                    &self,
                    id: Uuid,
                    expected_version: i64,
                    details: &PatientDetails,
                    now: DateTime<Utc>,
                    audit: &AuditEvent,
                ) -> StoreResult<Patient> {
                    let mut tx = self.begin_write().await.map_err(db_err)?;
                    let res = ::sqlx::query(
                        "UPDATE patients SET given_name = $1, family_name = $2, date_of_birth = $3, sex_at_birth = $4, \
                         gender_identity = $5, phone = $6, email = $7, address = $8, status = $9, sort_key = $10, \
                         search_name = $11, version = version + 1, updated_at = $12, contact_channels = $13, \
                         preferred_contact_channel = $14 WHERE id = $15 AND version = $16",
                    )
                    .bind(&details.given_name)
                    .bind(&details.family_name)
                    .bind(details.date_of_birth)
                    .bind(details.sex_at_birth.as_str())
                    .bind(&details.gender_identity)
                    .bind(&details.phone)
                    .bind(&details.email)
                    .bind(&details.address)
                    .bind(details.status.as_str())
                    .bind(patient_sort_key(&details.family_name, &details.given_name))
                    .bind(patient_search_name(&details.family_name, &details.given_name))
                    .bind(now)
                    .bind(channels_text(&details.contact_channels))
                    .bind(details.preferred_contact_channel.map(ContactChannel::as_str))
                    .bind(id)
                    .bind(expected_version)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    if res.rows_affected() == 0 {
                        let current: Option<i64> = ::sqlx::query_scalar("SELECT version FROM patients WHERE id = $1")
                            .bind(id)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(db_err)?;
                        return Err(match current {
                            None => StoreError::NotFound,
                            Some(current) => StoreError::StaleVersion { current },
                        });
                    }
                    write_patient_parts(&mut tx, id, details).await?;
                    insert_audit(&mut tx, audit).await?;
                    let sql = format!("SELECT {PATIENT_COLUMNS} FROM patients WHERE id = $1");
                    let row = ::sqlx::query(&sql).bind(id).fetch_one(&mut *tx).await.map_err(db_err)?;
                    tx.commit().await.map_err(db_err)?;
                    let mut patient = patient_from_row(&row)?.0;
                    patient.details = details.clone();
                    Ok(patient)
                }

                async fn count_patients(&self) -> StoreResult<i64> {
                    ::sqlx::query_scalar("SELECT COUNT(*) FROM patients").fetch_one(self.pool()).await.map_err(db_err)
                }

                async fn patient_status_counts(&self) -> StoreResult<Vec<(PatientStatus, i64)>> {
                    let rows: Vec<(String, i64)> =
                        ::sqlx::query_as("SELECT status, COUNT(*) FROM patients GROUP BY status ORDER BY status")
                            .fetch_all(self.pool())
                            .await
                            .map_err(db_err)?;
                    rows.into_iter()
                        .map(|(status, n)| PatientStatus::parse(&status).map(|s| (s, n)).map_err(|e| other(e.message)))
                        .collect()
                }

                async fn create_inquiry(&self, inquiry: &NewInquiry, audit: &AuditEvent) -> StoreResult<Inquiry> {
                    let mut tx = self.begin_write().await.map_err(db_err)?;
                    let d = &inquiry.details;
                    let sql = format!("INSERT INTO inquiries ({INQUIRY_COLUMNS}, search_name) VALUES ({})", placeholders(1, 17));
                    ::sqlx::query(&sql)
                        .bind(inquiry.id)
                        .bind(inquiry.site_id)
                        .bind(&d.name)
                        .bind(&d.phone)
                        .bind(&d.email)
                        .bind(&d.preferred_contact_time)
                        .bind(d.contact_channel.as_str())
                        .bind(&d.message)
                        .bind(InquiryStatus::New.as_str())
                        .bind(None::<String>)
                        .bind(None::<Uuid>)
                        .bind(None::<Uuid>)
                        .bind(1i64)
                        .bind(inquiry.created_at)
                        .bind(inquiry.created_at)
                        .bind(None::<DateTime<Utc>>)
                        .bind(d.name.to_lowercase())
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    for substance in &d.substances {
                        ::sqlx::query("INSERT INTO inquiry_substances (inquiry_id, substance) VALUES ($1, $2)")
                            .bind(inquiry.id)
                            .bind(substance.as_str())
                            .execute(&mut *tx)
                            .await
                            .map_err(db_err)?;
                    }
                    insert_audit(&mut tx, audit).await?;
                    let created = fetch_inquiry_in(&mut tx, inquiry.id).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(created)
                }

                async fn get_inquiry(&self, id: Uuid) -> StoreResult<InquiryRecord> {
                    let sql = format!("SELECT {INQUIRY_COLUMNS} FROM inquiries WHERE id = $1");
                    let row = ::sqlx::query(&sql).bind(id).fetch_optional(self.pool()).await.map_err(db_err)?.ok_or(StoreError::NotFound)?;
                    let mut inquiries = vec![inquiry_from_row(&row)?];
                    load_inquiry_substances(self.pool(), &mut inquiries).await?;
                    let inquiry = inquiries.pop().ok_or(StoreError::NotFound)?;
                    let rows = ::sqlx::query(
                        "SELECT id, inquiry_id, called_at, direction, outcome, note, user_id FROM inquiry_calls \
                         WHERE inquiry_id = $1 ORDER BY called_at, id",
                    )
                    .bind(id)
                    .fetch_all(self.pool())
                    .await
                    .map_err(db_err)?;
                    let mut calls = Vec::with_capacity(rows.len());
                    for row in &rows {
                        let direction: String = row.try_get("direction").map_err(db_err)?;
                        let outcome: String = row.try_get("outcome").map_err(db_err)?;
                        calls.push(InquiryCall {
                            id: row.try_get("id").map_err(db_err)?,
                            inquiry_id: row.try_get("inquiry_id").map_err(db_err)?,
                            called_at: row.try_get("called_at").map_err(db_err)?,
                            direction: CallDirection::parse(&direction).map_err(|e| other(e.message))?,
                            outcome: CallOutcome::parse(&outcome).map_err(|e| other(e.message))?,
                            note: row.try_get("note").map_err(db_err)?,
                            user_id: row.try_get("user_id").map_err(db_err)?,
                        });
                    }
                    Ok(InquiryRecord { inquiry, calls })
                }

                async fn list_inquiries(&self, filter: &InquiryFilter) -> StoreResult<Page<Inquiry>> {
                    let mut conditions: Vec<String> = Vec::new();
                    let mut args: Vec<Arg> = Vec::new();
                    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
                        args.push(Arg::Text(like_pattern(q)));
                        let n_like = args.len();
                        let digits: String = q.chars().filter(char::is_ascii_digit).collect();
                        if digits.len() >= 4 {
                            args.push(Arg::Text(format!("%{digits}%")));
                            conditions.push(format!("(search_name LIKE ${n_like} ESCAPE '\\' OR phone LIKE ${})", args.len()));
                        } else {
                            conditions.push(format!("search_name LIKE ${n_like} ESCAPE '\\'"));
                        }
                    }
                    if let Some(status) = filter.status {
                        args.push(Arg::Text(status.as_str().to_string()));
                        conditions.push(format!("status = ${}", args.len()));
                    }
                    if let Some(cutoff) = filter.untouched_created_before {
                        args.push(Arg::Time(cutoff));
                        conditions.push(format!("last_contact_at IS NULL AND created_at < ${}", args.len()));
                    }
                    if let Some(before_id) = filter.before_id {
                        args.push(Arg::Id(before_id));
                        conditions.push(format!("id < ${}", args.len()));
                    }
                    let limit = filter.limit.clamp(1, 500);
                    args.push(Arg::Int(limit + 1));
                    let where_clause = where_clause(&conditions);
                    let sql = format!("SELECT {INQUIRY_COLUMNS} FROM inquiries {where_clause} ORDER BY id DESC LIMIT ${}", args.len());
                    let rows = bind_all(::sqlx::query(&sql), &args).fetch_all(self.pool()).await.map_err(db_err)?;
                    let mut items = rows.iter().map(inquiry_from_row).collect::<StoreResult<Vec<_>>>()?;
                    let has_more = take_page(&mut items, limit);
                    load_inquiry_substances(self.pool(), &mut items).await?;
                    let next_cursor = if has_more { items.last().map(|i| i.id.to_string()) } else { None };
                    Ok(Page { items, next_cursor })
                }

                async fn update_inquiry(
                    &self,
                    id: Uuid,
                    expected_version: i64,
                    change: &InquiryChange,
                    now: DateTime<Utc>,
                    audit: &AuditEvent,
                ) -> StoreResult<Inquiry> {
                    let mut tx = self.begin_write().await.map_err(db_err)?;
                    claim_inquiry_version(&mut tx, id, expected_version, now).await?;
                    ::sqlx::query("UPDATE inquiries SET status = $1, close_reason = $2, assigned_to = $3 WHERE id = $4")
                        .bind(change.status.as_str())
                        .bind(change.close_reason.map(|r| r.as_str()))
                        .bind(change.assigned_to)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    insert_audit(&mut tx, audit).await?;
                    let updated = fetch_inquiry_in(&mut tx, id).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(updated)
                }

                async fn add_inquiry_call(
                    &self,
                    call: &InquiryCall,
                    new_status: Option<InquiryStatus>,
                    now: DateTime<Utc>,
                    audit: &AuditEvent,
                ) -> StoreResult<Inquiry> {
                    let mut tx = self.begin_write().await.map_err(db_err)?;
                    ::sqlx::query(
                        "INSERT INTO inquiry_calls (id, inquiry_id, called_at, direction, outcome, note, user_id) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(call.id)
                    .bind(call.inquiry_id)
                    .bind(call.called_at)
                    .bind(call.direction.as_str())
                    .bind(call.outcome.as_str())
                    .bind(&call.note)
                    .bind(call.user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    let res = ::sqlx::query(
                        "UPDATE inquiries SET version = version + 1, updated_at = $1, status = COALESCE($2, status), \
                         last_contact_at = CASE WHEN last_contact_at IS NULL OR last_contact_at < $3 THEN $3 ELSE last_contact_at END \
                         WHERE id = $4",
                    )
                    .bind(now)
                    .bind(new_status.map(|s| s.as_str()))
                    .bind(call.called_at)
                    .bind(call.inquiry_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    if res.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    insert_audit(&mut tx, audit).await?;
                    let updated = fetch_inquiry_in(&mut tx, call.inquiry_id).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(updated)
                }

                async fn convert_inquiry(
                    &self,
                    id: Uuid,
                    expected_version: i64,
                    patient: &NewPatient,
                    patient_audit: &AuditEvent,
                    inquiry_audit: &AuditEvent,
                ) -> StoreResult<(Inquiry, Patient)> {
                    let mut tx = self.begin_write().await.map_err(db_err)?;
                    claim_inquiry_version(&mut tx, id, expected_version, patient.created_at).await?;
                    let created = insert_patient(&mut tx, patient).await?;
                    ::sqlx::query("UPDATE inquiries SET status = $1, patient_id = $2, close_reason = NULL WHERE id = $3")
                        .bind(InquiryStatus::Converted.as_str())
                        .bind(patient.id)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    insert_audit(&mut tx, patient_audit).await?;
                    insert_audit(&mut tx, inquiry_audit).await?;
                    let inquiry = fetch_inquiry_in(&mut tx, id).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok((inquiry, created))
                }

                async fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()> {
                    if events.is_empty() {
                        return Ok(());
                    }
                    let mut tx = self.begin_write().await.map_err(db_err)?;
                    for event in events {
                        insert_audit(&mut tx, event).await?;
                    }
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn seal_audit(&self, max_events: i64, now: DateTime<Utc>) -> StoreResult<i64> {
                    let mut tx = self.begin_write().await.map_err(db_err)?;
                    // Taking the head row's lock first serialises sealers across
                    // processes, so the chain never forks.
                    ::sqlx::query("UPDATE audit_chain_head SET seq = seq WHERE id = 1")
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    let head = ::sqlx::query("SELECT seq, hash FROM audit_chain_head WHERE id = 1")
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    let mut seq: i64 = head.try_get("seq").map_err(db_err)?;
                    let mut prev_hash = hash_from_bytes(&head.try_get::<Vec<u8>, _>("hash").map_err(db_err)?)?;
                    let sql = format!(
                        "SELECT {} FROM audit_pending p JOIN audit_events e ON e.id = p.event_id \
                         ORDER BY e.occurred_at, e.id LIMIT $1",
                        format!("e.{}", AUDIT_COLUMNS.replace(", ", ", e."))
                    );
                    let rows = ::sqlx::query(&sql).bind(max_events).fetch_all(&mut *tx).await.map_err(db_err)?;
                    let mut n_sealed = 0i64;
                    for row in &rows {
                        let event = audit_from_row(row)?;
                        seq += 1;
                        let hash = chain_hash(&prev_hash, seq, &event);
                        ::sqlx::query(
                            "INSERT INTO audit_chain (seq, event_id, prev_hash, hash, sealed_at) VALUES ($1, $2, $3, $4, $5)",
                        )
                        .bind(seq)
                        .bind(event.id)
                        .bind(prev_hash.to_vec())
                        .bind(hash.to_vec())
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                        ::sqlx::query("DELETE FROM audit_pending WHERE event_id = $1")
                            .bind(event.id)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_err)?;
                        prev_hash = hash;
                        n_sealed += 1;
                    }
                    if n_sealed > 0 {
                        ::sqlx::query("UPDATE audit_chain_head SET seq = $1, hash = $2 WHERE id = 1")
                            .bind(seq)
                            .bind(prev_hash.to_vec())
                            .execute(&mut *tx)
                            .await
                            .map_err(db_err)?;
                    }
                    tx.commit().await.map_err(db_err)?;
                    Ok(n_sealed)
                }

                async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Page<AuditEvent>> {
                    let mut conditions: Vec<String> = Vec::new();
                    let mut args: Vec<Arg> = Vec::new();
                    if let Some(patient_id) = filter.patient_id {
                        args.push(Arg::Id(patient_id));
                        conditions.push(format!("patient_id = ${}", args.len()));
                    }
                    if let Some(actor) = &filter.actor {
                        args.push(Arg::Text(actor.clone()));
                        conditions.push(format!("actor = ${}", args.len()));
                    }
                    if let Some(action) = &filter.action {
                        args.push(Arg::Text(action.clone()));
                        conditions.push(format!("action = ${}", args.len()));
                    }
                    if let Some(from) = filter.from {
                        args.push(Arg::Time(from));
                        conditions.push(format!("occurred_at >= ${}", args.len()));
                    }
                    if let Some(to) = filter.to {
                        args.push(Arg::Time(to));
                        conditions.push(format!("occurred_at < ${}", args.len()));
                    }
                    if let Some(before_id) = filter.before_id {
                        args.push(Arg::Id(before_id));
                        conditions.push(format!("id < ${}", args.len()));
                    }
                    let limit = filter.limit.clamp(1, 500);
                    args.push(Arg::Int(limit + 1));
                    let where_clause = where_clause(&conditions);
                    let sql = format!(
                        "SELECT {AUDIT_COLUMNS} FROM audit_events {where_clause} ORDER BY id DESC LIMIT ${}",
                        args.len()
                    );
                    let rows = bind_all(::sqlx::query(&sql), &args).fetch_all(self.pool()).await.map_err(db_err)?;
                    let mut items = rows.iter().map(audit_from_row).collect::<StoreResult<Vec<_>>>()?;
                    let has_more = take_page(&mut items, limit);
                    let next_cursor = if has_more { items.last().map(|e| e.id.to_string()) } else { None };
                    Ok(Page { items, next_cursor })
                }

                async fn audit_chain(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<(ChainLink, Option<AuditEvent>)>> {
                    let sql = format!(
                        "SELECT c.seq, c.event_id, c.prev_hash, c.hash, e.id AS event_exists, {} \
                         FROM audit_chain c LEFT JOIN audit_events e ON e.id = c.event_id \
                         WHERE c.seq > $1 ORDER BY c.seq LIMIT $2",
                        format!("e.{}", AUDIT_COLUMNS.replace(", ", ", e."))
                    );
                    let rows = ::sqlx::query(&sql).bind(after_seq).bind(limit).fetch_all(self.pool()).await.map_err(db_err)?;
                    let mut res = Vec::with_capacity(rows.len());
                    for row in &rows {
                        let link = ChainLink {
                            seq: row.try_get("seq").map_err(db_err)?,
                            event_id: row.try_get("event_id").map_err(db_err)?,
                            prev_hash: hash_from_bytes(&row.try_get::<Vec<u8>, _>("prev_hash").map_err(db_err)?)?,
                            hash: hash_from_bytes(&row.try_get::<Vec<u8>, _>("hash").map_err(db_err)?)?,
                        };
                        let exists: Option<Uuid> = row.try_get("event_exists").map_err(db_err)?;
                        let event = if exists.is_some() { Some(audit_from_row(row)?) } else { None };
                        res.push((link, event));
                    }
                    Ok(res)
                }

                async fn audit_chain_head(&self) -> StoreResult<ChainHead> {
                    let row = ::sqlx::query("SELECT seq, hash FROM audit_chain_head WHERE id = 1")
                        .fetch_one(self.pool())
                        .await
                        .map_err(db_err)?;
                    Ok(ChainHead {
                        seq: row.try_get("seq").map_err(db_err)?,
                        hash: hash_from_bytes(&row.try_get::<Vec<u8>, _>("hash").map_err(db_err)?)?,
                    })
                }

                async fn oldest_unsealed(&self) -> StoreResult<Option<AuditEvent>> {
                    let sql = format!(
                        "SELECT {} FROM audit_pending p JOIN audit_events e ON e.id = p.event_id \
                         ORDER BY e.occurred_at, e.id LIMIT 1",
                        format!("e.{}", AUDIT_COLUMNS.replace(", ", ", e."))
                    );
                    let row = ::sqlx::query(&sql).fetch_optional(self.pool()).await.map_err(db_err)?;
                    row.as_ref().map(audit_from_row).transpose()
                }

                async fn orphan_audit_event(&self) -> StoreResult<Option<Uuid>> {
                    ::sqlx::query_scalar(
                        "SELECT e.id FROM audit_events e \
                         WHERE NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_id = e.id) \
                         AND NOT EXISTS (SELECT 1 FROM audit_pending p WHERE p.event_id = e.id) \
                         ORDER BY e.id LIMIT 1",
                    )
                    .fetch_optional(self.pool())
                    .await
                    .map_err(db_err)
                }
            }

            $crate::impl_screening_store!($store);
            $crate::impl_plan_store!($store);
            $crate::impl_schedule_store!($store);
            $crate::impl_order_store!($store);
            $crate::impl_session_store!($store);
            $crate::impl_ledger_store!($store);
            $crate::impl_counseling_store!($store);
            $crate::impl_outcome_store!($store);
            $crate::impl_analytics_store!($store);
        }
    };
}
