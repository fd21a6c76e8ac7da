//! The controlled-substance ledger of each site (clinical.md §6): entries
//! are typed at the cabinet or the chair, checked whole against the site's
//! ledger as the domain folds it (`clinic_domain::ledger`), and appended at
//! the next number with their audit event — racing writers re-read and try
//! again, so no balance ever goes negative. Witnessed entries carry a second
//! person who signed with their own password at that moment. A count that
//! differs raises a discrepancy alert to the physician in charge, paged
//! without patient data. The administration of ketamine is computed from
//! the session's pump record, never typed.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use clinic_domain::audit::{AuditAction, AuditEvent, AuditTarget, Outcome};
use clinic_domain::authz::Permission;
use clinic_domain::dose::Exact;
use clinic_domain::field::{FieldError, FieldErrors};
use clinic_domain::ledger::entry::{DestructionMethod, Entry, EntryKind, EntryType, Lot, Receipt, Witness};
use clinic_domain::ledger::report::{self, AdministrationRow, InventoryRow, LossReportDraft};
use clinic_domain::ledger::{self, Custody, Discrepancy, Drug, Ledger, LedgerSettings};
use clinic_store::Store;
use clinic_store::error::StoreError;
use clinic_store::ledger::{DiscrepancyRecord, LedgerAppend, LedgerEntryRecord};
use clinic_store::records::Site;
use clinic_store::screening::OutboxMessage;
use clinic_store::sessions::InfusionSessionRecord;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::Clinic;
use crate::auth::Principal;
use crate::error::ServiceError;

/// How many times an append is retried after another writer took the next number.
const APPEND_ATTEMPTS: usize = 5;

/// Stock volumes in the ledger are decimals of at most this many places (0.0001 mL).
const LEDGER_STEP: &str = "0.0001";

/// A site's ledger as folded from its stored entries.
#[derive(Debug, Clone)]
pub struct SiteLedger {
    pub site: Site,
    pub ledger: Ledger,
    pub records: Vec<LedgerEntryRecord>,
    pub discrepancies: Vec<DiscrepancyRecord>,
}

impl SiteLedger {
    fn last_seq(&self) -> i64 {
        self.records.last().map_or(0, |r| r.seq)
    }

    /// The lot's record, for display.
    pub fn lot(&self, lot: Uuid) -> Option<&ledger::LotRecord> {
        self.ledger.lot(lot)
    }
}

/// One ledger entry as typed in a form or sent as JSON: every value as text,
/// parsed here so that every mistake is named at once.
#[derive(Debug, Clone, Default)]
pub struct LedgerRequest {
    /// received, withdrawn, administered, wasted, returned, destroyed, lost, count, correction.
    pub entry_type: Option<String>,
    pub lot_id: Option<String>,
    pub session_id: Option<String>,
    pub container: Option<String>,
    pub volume_ml: Option<String>,
    // Receipt.
    pub drug: Option<String>,
    pub dosage_form: Option<String>,
    pub mg_per_ml: Option<String>,
    pub container_ml: Option<String>,
    pub containers: Option<String>,
    pub lot_number: Option<String>,
    pub expires_on: Option<String>,
    pub supplier: Option<String>,
    pub invoice_number: Option<String>,
    pub maker_discard_after_opening_days: Option<String>,
    // Administration of a medicine other than the infusion (midazolam): the chart's medication entry.
    pub medication_entry_id: Option<String>,
    // Destruction.
    pub method: Option<String>,
    pub reference: Option<String>,
    // Loss and count.
    pub count_id: Option<String>,
    pub counted_ml: Option<String>,
    pub estimated: Option<bool>,
    // Correction.
    pub corrects: Option<String>,
    pub reason: Option<String>,
    // The witness signs with their own credentials.
    pub witness_username: Option<String>,
    pub witness_password: Option<String>,
}

/// What was recorded, and the discrepancy a count raised.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub entry: LedgerEntryRecord,
    pub discrepancy: Option<DiscrepancyRecord>,
}

/// One vial of a lot as it stands.
#[derive(Debug, Clone)]
pub struct ShelfContainer {
    pub number: u32,
    pub remaining_ml: Exact,
    pub opened: bool,
    pub discard_by: Option<NaiveDate>,
}

/// A lot as staff choose it: its label, its vials and what is on the shelf.
#[derive(Debug, Clone)]
pub struct ShelfLot {
    pub id: Uuid,
    pub drug: Drug,
    pub mg_per_ml: Exact,
    pub lot_number: String,
    pub expires_on: NaiveDate,
    pub containers: Vec<ShelfContainer>,
    pub on_hand_ml: Exact,
    pub voided: bool,
}

impl ShelfLot {
    /// The vial to draw `need` mL from on `today`: an opened one that holds
    /// enough and is within its discard-by date (use it up first), else the
    /// first unopened one that holds enough.
    pub fn next_container(&self, need: Option<Exact>, today: NaiveDate) -> Option<u32> {
        let enough = |c: &&ShelfContainer| c.remaining_ml.is_positive() && need.is_none_or(|n| c.remaining_ml.cmp_value(n).is_ge());
        self.containers
            .iter()
            .filter(|c| c.opened && c.discard_by.is_none_or(|d| d >= today))
            .find(enough)
            .or_else(|| self.containers.iter().filter(|c| !c.opened).find(enough))
            .map(|c| c.number)
    }

    /// e.g. "ketamine 100 mg/mL lot K2291".
    pub fn label(&self) -> String {
        format!("{} {} mg/mL lot {}", self.drug.as_str(), self.mg_per_ml.to_decimal(), self.lot_number)
    }
}

impl SiteLedger {
    /// Every lot received at the site, in order of receipt.
    pub fn shelf(&self) -> Vec<ShelfLot> {
        self.ledger
            .lots()
            .map(|l| {
                let lot = &l.receipt.lot;
                let containers: Vec<ShelfContainer> = (1..=lot.containers)
                    .filter_map(|n| {
                        self.ledger.container(l.id, n).map(|c| ShelfContainer {
                            number: n,
                            remaining_ml: c.remaining_ml,
                            opened: c.first_puncture.is_some(),
                            discard_by: c.discard_by,
                        })
                    })
                    .collect();
                ShelfLot {
                    id: l.id,
                    drug: lot.drug,
                    mg_per_ml: lot.mg_per_ml,
                    lot_number: lot.lot_number.clone(),
                    expires_on: lot.expires_on,
                    on_hand_ml: self.ledger.lot_balance(l.id).map_or(Exact::integer(0), |q| q.ml),
                    containers,
                    voided: self.ledger.lot_voided(l.id),
                }
            })
            .collect()
    }
}

/// A session's part of the ledger, for the chair-side chart.
#[derive(Debug, Clone)]
pub struct SessionLedger {
    /// The site's lots (to draw from, and to name the entries' lots).
    pub shelf: Vec<ShelfLot>,
    pub entries: Vec<LedgerEntryRecord>,
    /// Drug drawn for the session and not yet administered, wasted or returned.
    pub custody: Vec<Custody>,
    /// Ketamine the pump record shows delivered and not yet recorded
    /// administered, mg; `None` when the pump has not run or its
    /// concentration is unknown.
    pub ketamine_to_record_mg: Option<Exact>,
    /// Ketamine mg recorded administered in this session.
    pub ketamine_administered_mg: Exact,
}

impl SessionLedger {
    /// What still stops the discharge, in words (empty when accounted).
    pub fn unaccounted(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .custody
            .iter()
            .map(|c| {
                format!(
                    "{} mL ({} mg) of {} drawn for this session is not yet administered, wasted or returned",
                    c.held.ml.to_decimal(),
                    c.held.mg.to_decimal(),
                    c.drug.as_str()
                )
            })
            .collect();
        // Drug in custody is listed above; with none left, the pump's record is
        // accounted once any administration is recorded (the rest of its figure
        // is the rate's rounding beyond what the bag held).
        let delivered = self.ketamine_to_record_mg.map(|rest| rest.plus(self.ketamine_administered_mg));
        if delivered.is_some_and(Exact::is_positive) && !self.ketamine_administered_mg.is_positive() {
            out.push(format!(
                "the pump delivered {} mg of ketamine, not yet recorded administered in the ledger",
                delivered.unwrap_or(Exact::integer(0)).to_decimal()
            ));
        }
        out
    }
}

fn text(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

fn required<'a>(errors: &mut Vec<FieldError>, field: &str, value: &'a Option<String>, what: &str) -> Option<&'a str> {
    let found = text(value);
    if found.is_none() {
        errors.push(FieldError::new(field, format!("is required: {what}")));
    }
    found
}

fn uuid_field(errors: &mut Vec<FieldError>, field: &str, value: &Option<String>, what: &str) -> Option<Uuid> {
    let raw = required(errors, field, value, what)?;
    match Uuid::parse_str(raw) {
        Ok(id) => Some(id),
        Err(_) => {
            errors.push(FieldError::new(field, format!("must be an id (UUID), got {raw:?}")));
            None
        }
    }
}

fn exact_field(errors: &mut Vec<FieldError>, field: &str, value: &Option<String>, what: &str) -> Option<Exact> {
    let raw = required(errors, field, value, what)?;
    match Exact::parse(raw) {
        Some(v) => Some(v),
        None => {
            errors.push(FieldError::new(field, format!("must be a decimal number, got {raw:?}")));
            None
        }
    }
}

fn count_field(errors: &mut Vec<FieldError>, field: &str, value: &Option<String>, what: &str) -> Option<u32> {
    let raw = required(errors, field, value, what)?;
    match raw.parse::<u32>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.push(FieldError::new(field, format!("must be a whole number from 1, got {raw:?}")));
            None
        }
    }
}

fn days_field(errors: &mut Vec<FieldError>, field: &str, value: &Option<String>) -> Option<i64> {
    let raw = text(value)?;
    match raw.parse::<i64>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.push(FieldError::new(field, format!("must be a whole number of days, got {raw:?}")));
            None
        }
    }
}

fn parse_entry_type(value: &Option<String>) -> Result<EntryType, FieldErrors> {
    EntryType::parse(text(value).unwrap_or("")).map_err(|e| FieldErrors(vec![e]))
}

fn witness_json(w: &Option<Witness>) -> Value {
    match w {
        Some(w) => json!({ "user": w.user, "authenticated": w.authenticated }),
        None => Value::Null,
    }
}

/// The stored form of an entry (kept whole; read back by `entry_of`).
fn entry_json(entry: &Entry) -> Value {
    let kind = match &entry.kind {
        EntryKind::Received(r) => json!({
            "drug": r.lot.drug.as_str(),
            "dosage_form": r.lot.dosage_form,
            "mg_per_ml": r.lot.mg_per_ml.to_decimal(),
            "container_ml": r.lot.container_ml.to_decimal(),
            "containers": r.lot.containers,
            "lot_number": r.lot.lot_number,
            "expires_on": r.lot.expires_on,
            "supplier": r.lot.supplier,
            "invoice_number": r.lot.invoice_number,
            "maker_discard_after_opening_days": r.lot.maker_discard_after_opening_days,
            "site_zone": r.site_zone.name(),
            "discard_after_opening_days": r.discard_after_opening_days,
        }),
        EntryKind::Withdrawn { session, patient, container, volume_ml } => {
            json!({ "session": session, "patient": patient, "container": container, "volume_ml": volume_ml.to_decimal() })
        }
        EntryKind::Administered { session, pump_record, volume_ml } => {
            json!({ "session": session, "pump_record": pump_record, "volume_ml": volume_ml.to_decimal() })
        }
        EntryKind::Wasted { session, volume_ml, witness } => {
            json!({ "session": session, "volume_ml": volume_ml.to_decimal(), "witness": witness_json(witness) })
        }
        EntryKind::Returned { session, container, volume_ml, witness } => json!({
            "session": session, "container": container, "volume_ml": volume_ml.to_decimal(), "witness": witness_json(witness)
        }),
        EntryKind::Destroyed { container, volume_ml, method, reference, witness } => json!({
            "container": container, "volume_ml": volume_ml.to_decimal(), "method": method.as_str(), "reference": reference, "witness": witness_json(witness)
        }),
        EntryKind::Lost { count, container, volume_ml, witness } => json!({
            "count": count, "container": container, "volume_ml": volume_ml.to_decimal(), "witness": witness_json(witness)
        }),
        EntryKind::Count { counted_ml, estimated, witness } => {
            json!({ "counted_ml": counted_ml.to_decimal(), "estimated": estimated, "witness": witness_json(witness) })
        }
        EntryKind::Correction { corrects, reason } => json!({ "corrects": corrects, "reason": reason }),
    };
    json!({
        "id": entry.id,
        "at": entry.at,
        "site": entry.site,
        "actor": entry.actor,
        "lot": entry.lot,
        "type": entry.kind.entry_type().as_str(),
        "detail": kind,
    })
}

fn corrupt(record: &LedgerEntryRecord, what: &str) -> ServiceError {
    ServiceError::Internal(anyhow::anyhow!("ledger entry {} (seq {}) is unreadable: {what}", record.id, record.seq))
}

/// Reads a stored entry back.
fn entry_of(record: &LedgerEntryRecord) -> Result<Entry, ServiceError> {
    let v: Value = serde_json::from_str(&record.body).map_err(|e| corrupt(record, &e.to_string()))?;
    let d = &v["detail"];
    let s = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_string);
    let ex = |k: &str| s(k).and_then(|t| Exact::parse(&t)).ok_or_else(|| corrupt(record, k));
    let id = |k: &str| s(k).and_then(|t| Uuid::parse_str(&t).ok()).ok_or_else(|| corrupt(record, k));
    let n = |k: &str| d.get(k).and_then(Value::as_u64).and_then(|x| u32::try_from(x).ok()).ok_or_else(|| corrupt(record, k));
    let witness = || -> Option<Witness> {
        let w = d.get("witness")?;
        Some(Witness {
            user: w.get("user").and_then(Value::as_str).and_then(|t| Uuid::parse_str(t).ok())?,
            authenticated: w.get("authenticated").and_then(Value::as_bool)?,
        })
    };
    let entry_type = EntryType::parse(v.get("type").and_then(Value::as_str).unwrap_or("")).map_err(|_| corrupt(record, "type"))?;
    let kind = match entry_type {
        EntryType::Received => {
            let lot = Lot {
                drug: Drug::parse(&s("drug").unwrap_or_default()).map_err(|_| corrupt(record, "drug"))?,
                dosage_form: s("dosage_form").unwrap_or_default(),
                mg_per_ml: ex("mg_per_ml")?,
                container_ml: ex("container_ml")?,
                containers: n("containers")?,
                lot_number: s("lot_number").unwrap_or_default(),
                expires_on: s("expires_on").and_then(|t| NaiveDate::parse_from_str(&t, "%Y-%m-%d").ok()).ok_or_else(|| corrupt(record, "expires_on"))?,
                supplier: s("supplier").unwrap_or_default(),
                invoice_number: s("invoice_number").unwrap_or_default(),
                maker_discard_after_opening_days: d.get("maker_discard_after_opening_days").and_then(Value::as_i64),
            };
            EntryKind::Received(Receipt {
                lot,
                site_zone: s("site_zone").and_then(|z| z.parse().ok()).ok_or_else(|| corrupt(record, "site_zone"))?,
                discard_after_opening_days: d.get("discard_after_opening_days").and_then(Value::as_i64),
            })
        }
        EntryType::Withdrawn => EntryKind::Withdrawn { session: id("session")?, patient: id("patient")?, container: n("container")?, volume_ml: ex("volume_ml")? },
        EntryType::Administered => EntryKind::Administered { session: id("session")?, pump_record: id("pump_record")?, volume_ml: ex("volume_ml")? },
        EntryType::Wasted => EntryKind::Wasted { session: id("session")?, volume_ml: ex("volume_ml")?, witness: witness() },
        EntryType::Returned => EntryKind::Returned { session: id("session")?, container: n("container")?, volume_ml: ex("volume_ml")?, witness: witness() },
        EntryType::Destroyed => EntryKind::Destroyed {
            container: n("container")?,
            volume_ml: ex("volume_ml")?,
            method: DestructionMethod::parse(&s("method").unwrap_or_default()).map_err(|_| corrupt(record, "method"))?,
            reference: s("reference"),
            witness: witness(),
        },
        EntryType::Lost => EntryKind::Lost { count: id("count")?, container: n("container")?, volume_ml: ex("volume_ml")?, witness: witness() },
        EntryType::Count => EntryKind::Count {
            counted_ml: ex("counted_ml")?,
            estimated: d.get("estimated").and_then(Value::as_bool).unwrap_or(false),
            witness: witness(),
        },
        EntryType::Correction => EntryKind::Correction { corrects: id("corrects")?, reason: s("reason").unwrap_or_default() },
    };
    Ok(Entry { id: record.id, at: record.at, site: record.site_id, actor: record.actor_id, lot: record.lot_id, kind })
}

/// A refusal in staff's words: lots named by their label, not their id.
fn ledger_error(err: ledger::error::LedgerError, view: &SiteLedger) -> ServiceError {
    let shelf = view.shelf();
    let errors = err
        .field_errors()
        .0
        .into_iter()
        .map(|e| {
            let message = shelf.iter().fold(e.message.clone(), |m, l| m.replace(&format!("lot {}", l.id), &l.label()));
            FieldError::new(e.field, message)
        })
        .collect();
    ServiceError::Invalid(FieldErrors(errors))
}

/// The end of a site date, for "as of" reports.
fn end_of_day(zone: chrono_tz::Tz, date: NaiveDate) -> DateTime<Utc> {
    let last = date.and_time(NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).unwrap_or(NaiveTime::MIN));
    zone.from_local_datetime(&last).latest().map_or_else(|| Utc.from_utc_datetime(&last), |t| t.with_timezone(&Utc))
}

impl<S: Store> Clinic<S> {
    /// Reads and folds a site's ledger (no permission check: callers check).
    pub(crate) async fn load_ledger(&self, site_id: Uuid) -> Result<SiteLedger, ServiceError> {
        let site = self.site_by_id(site_id).await?;
        let records = self.store().ledger_entries(site_id).await?;
        let entries = records.iter().map(entry_of).collect::<Result<Vec<_>, _>>()?;
        let ledger = ledger::fold(entries).map_err(|e| ServiceError::Internal(anyhow::anyhow!("the stored ledger of site {site_id} does not fold: {e}")))?;
        let discrepancies = self.store().list_discrepancies(Some(site_id), false).await?;
        Ok(SiteLedger { site, ledger, records, discrepancies })
    }

    /// A site's ledger: lots, balances, entries and discrepancy alerts (audited).
    pub async fn site_ledger(&self, principal: &Principal, site_id: Uuid) -> Result<SiteLedger, ServiceError> {
        self.authorize(principal, Permission::LedgerRead, "read the controlled-substance ledger").await?;
        let view = self.load_ledger(site_id).await?;
        let audit = self.ledger_audit(principal, AuditAction::LedgerRead, None, json!({ "site_id": site_id }));
        self.audit_writer().record(vec![audit]).await?;
        Ok(view)
    }

    fn ledger_audit(&self, principal: &Principal, action: AuditAction, patient: Option<Uuid>, detail: Value) -> AuditEvent {
        let target = match patient {
            Some(p) => AuditTarget::patient(p),
            None => AuditTarget::none("ledger"),
        };
        AuditEvent::new(Uuid::now_v7(), self.now(), &principal.actor(), action, target, Outcome::Success, Some(detail.to_string()))
    }

    /// The session's part of the ledger: its entries, what it holds, and
    /// the ketamine the pump delivered that is not yet recorded.
    /// `chart` is the session's chart the caller has folded (its pump record gives the delivery).
    pub async fn session_ledger(&self, chart: &crate::infusions::Chart) -> Result<SessionLedger, ServiceError> {
        let view = self.load_ledger(chart.session.site_id).await?;
        Ok(Self::session_part(&view, chart.session.id, chart.delivered.map(|(_, mg)| mg)))
    }

    fn session_part(view: &SiteLedger, session: Uuid, delivered_mg: Option<Exact>) -> SessionLedger {
        let entries: Vec<LedgerEntryRecord> = view.records.iter().filter(|r| r.session_id == Some(session)).cloned().collect();
        let mut administered = Exact::integer(0);
        for lot in view.ledger.lots().filter(|l| l.receipt.lot.drug == Drug::Ketamine) {
            let moved = view.ledger.session_movements(session, lot.id);
            administered = administered.plus(moved.administered.times(lot.receipt.lot.mg_per_ml));
        }
        SessionLedger {
            shelf: view.shelf(),
            custody: view.ledger.session_custody(session).into_iter().filter(|c| c.held.ml.is_positive()).collect(),
            ketamine_to_record_mg: delivered_mg.map(|mg| mg.minus(administered)),
            ketamine_administered_mg: administered,
            entries,
        }
    }

    /// Records one ledger entry at a site. Witnessed entries need the
    /// witness's username and password; the administration of ketamine is
    /// computed from the session's pump record.
    pub async fn record_ledger(&self, principal: &Principal, site_id: Uuid, request: &LedgerRequest) -> Result<Recorded, ServiceError> {
        self.authorize(principal, Permission::LedgerRecord, "record a controlled-substance ledger entry").await?;
        let entry_type = parse_entry_type(&request.entry_type)?;
        let witness = match entry_type {
            EntryType::Wasted | EntryType::Returned | EntryType::Destroyed | EntryType::Lost | EntryType::Count => {
                let username = text(&request.witness_username).unwrap_or("");
                let password = request.witness_password.as_deref().unwrap_or("");
                let user = self.verify_witness(principal, username, password, Permission::LedgerRecord).await?;
                Some(Witness { user: user.id, authenticated: true })
            }
            _ => None,
        };
        let mut last_error = None;
        for _ in 0..APPEND_ATTEMPTS {
            let view = self.load_ledger(site_id).await?;
            let (entry, patient) = self.build_entry(principal, &view, entry_type, request, witness).await?;
            let applied = ledger::apply(&view.ledger, entry.clone()).map_err(|e| ledger_error(e, &view))?;
            let record = LedgerEntryRecord {
                id: entry.id,
                site_id,
                seq: view.last_seq() + 1,
                lot_id: entry.lot,
                entry_type: entry_type.as_str().to_string(),
                at: entry.at,
                actor_id: entry.actor,
                witness_id: witness.map(|w| w.user),
                session_id: session_of(&entry.kind),
                patient_id: patient,
                body: entry_json(&entry).to_string(),
            };
            let (discrepancy, outbox) = match applied.discrepancy {
                Some(found) => {
                    let (d, page) = self.discrepancy_alert(&view, &record, &found);
                    (Some(d), page.into_iter().collect::<Vec<_>>())
                }
                None => (None, Vec::new()),
            };
            let audit = self.ledger_audit(
                principal,
                AuditAction::LedgerRecord,
                patient,
                json!({ "site_id": site_id, "entry_id": record.id, "type": record.entry_type, "lot_id": record.lot_id, "witness": record.witness_id, "discrepancy": discrepancy.as_ref().map(|d| d.id) }),
            );
            match self
                .store()
                .append_ledger(LedgerAppend { entry: &record, discrepancy: discrepancy.as_ref(), outbox: &outbox, audit: &[audit] })
                .await
            {
                Ok(()) => return Ok(Recorded { entry: record, discrepancy }),
                Err(StoreError::StaleVersion { current }) => last_error = Some(ServiceError::StaleVersion { current }),
                Err(other) => return Err(ServiceError::from_store("ledger entry", other)),
            }
        }
        Err(last_error.unwrap_or(ServiceError::Conflict { code: "ledger_busy", message: "the ledger is busy; try again".into() }))
    }

    fn discrepancy_alert(&self, view: &SiteLedger, record: &LedgerEntryRecord, found: &Discrepancy) -> (DiscrepancyRecord, Option<OutboxMessage>) {
        let lot = view.ledger.lot(found.lot).map(|l| &l.receipt.lot);
        let name = lot.map_or_else(|| found.lot.to_string(), |l| format!("{} {} mg/mL lot {}", l.drug.as_str(), l.mg_per_ml.to_decimal(), l.lot_number));
        let direction = if found.difference_ml.is_positive() { "more than" } else { "less than" };
        let message = format!(
            "Count of {name} at {}: counted {} mL ({} mg){}, {} mL ({} mg) {direction} the ledger's {} mL ({} mg). Investigate; a theft or significant loss is reported to the DEA within 1 business day (21 CFR 1301.76(b)).",
            view.site.name,
            found.counted.ml.to_decimal(),
            found.counted.mg.to_decimal(),
            if found.estimated { " (estimated)" } else { "" },
            found.difference_ml.to_decimal().trim_start_matches('-'),
            found.difference_mg.to_decimal().trim_start_matches('-'),
            found.expected.ml.to_decimal(),
            found.expected.mg.to_decimal(),
        );
        let on_call = self.config().safety.on_call.clone();
        let routed_to = on_call
            .as_ref()
            .map_or_else(|| "the physician in charge (no on-call number is set: tell them in person)".to_string(), |(name, phone)| format!("{name} ({phone})"));
        let now = record.at;
        let page = on_call.map(|(_, phone)| OutboxMessage {
            id: Uuid::now_v7(),
            patient_id: None,
            channel: clinic_domain::inquiry::ContactChannel::Sms,
            address: phone,
            body: format!("Controlled-substance count discrepancy at {}: open the ledger and record what was done.", view.site.name),
            created_at: now,
            sent_at: None,
        });
        let d = DiscrepancyRecord {
            id: Uuid::now_v7(),
            site_id: view.site.id,
            count_entry_id: record.id,
            lot_id: found.lot,
            message,
            routed_to,
            raised_at: now,
            closed_at: None,
            closed_by: None,
            response: None,
            version: 0,
        };
        (d, page)
    }

    /// Builds the domain entry a request asks for, with the checks that need
    /// the rest of the clinic (the session, its pump record).
    async fn build_entry(
        &self,
        principal: &Principal,
        view: &SiteLedger,
        entry_type: EntryType,
        r: &LedgerRequest,
        witness: Option<Witness>,
    ) -> Result<(Entry, Option<Uuid>), ServiceError> {
        let mut errors = Vec::new();
        let mut patient = None;
        let lot_id = if entry_type == EntryType::Received {
            Uuid::now_v7()
        } else {
            uuid_field(&mut errors, "lot_id", &r.lot_id, "the lot").unwrap_or_default()
        };
        let session = if matches!(entry_type, EntryType::Withdrawn | EntryType::Administered | EntryType::Wasted | EntryType::Returned) {
            match uuid_field(&mut errors, "session_id", &r.session_id, "the infusion session") {
                Some(id) => {
                    let s = self.store().get_infusion_session(id).await.map_err(|e| ServiceError::from_store("infusion session", e))?;
                    if s.site_id != view.site.id {
                        errors.push(FieldError::new("session_id", format!("the session is at another site, not {}", view.site.name)));
                    }
                    patient = Some(s.patient_id);
                    Some(s)
                }
                None => None,
            }
        } else {
            None
        };
        let kind = match entry_type {
            EntryType::Received => {
                let drug = match text(&r.drug) {
                    Some(t) => Drug::parse(t).map_err(|e| errors.push(e)).ok(),
                    None => {
                        errors.push(FieldError::new("drug", format!("is required: one of {}", Drug::allowed_list())));
                        None
                    }
                };
                let mg_per_ml = exact_field(&mut errors, "mg_per_ml", &r.mg_per_ml, "the labelled strength, mg/mL");
                let container_ml = exact_field(&mut errors, "container_ml", &r.container_ml, "the volume of one vial, mL");
                let containers = count_field(&mut errors, "containers", &r.containers, "how many vials");
                let expires_on = match required(&mut errors, "expires_on", &r.expires_on, "the expiry date on the label, YYYY-MM-DD") {
                    Some(t) => NaiveDate::parse_from_str(t, "%Y-%m-%d").ok().or_else(|| {
                        errors.push(FieldError::new("expires_on", format!("must be a date YYYY-MM-DD, got {t:?}")));
                        None
                    }),
                    None => None,
                };
                let maker_days = days_field(&mut errors, "maker_discard_after_opening_days", &r.maker_discard_after_opening_days);
                let (Some(drug), Some(mg_per_ml), Some(container_ml), Some(containers), Some(expires_on)) = (drug, mg_per_ml, container_ml, containers, expires_on) else {
                    return Err(ServiceError::Invalid(FieldErrors(errors)));
                };
                let lot = Lot {
                    drug,
                    dosage_form: text(&r.dosage_form).unwrap_or("").to_string(),
                    mg_per_ml,
                    container_ml,
                    containers,
                    lot_number: text(&r.lot_number).unwrap_or("").to_string(),
                    expires_on,
                    supplier: text(&r.supplier).unwrap_or("").to_string(),
                    invoice_number: text(&r.invoice_number).unwrap_or("").to_string(),
                    maker_discard_after_opening_days: maker_days,
                };
                let settings = LedgerSettings { discard_after_opening_days: self.config().ledger.discard_after_opening_days };
                EntryKind::Received(Receipt::new(lot, Self::site_zone(&view.site), &settings))
            }
            EntryType::Withdrawn => {
                let container = count_field(&mut errors, "container", &r.container, "the vial number drawn from");
                let volume_ml = exact_field(&mut errors, "volume_ml", &r.volume_ml, "the stock volume drawn, mL");
                if session.as_ref().is_some_and(|s| matches!(s.status.as_str(), "discharged" | "closed")) {
                    errors.push(FieldError::new("session_id", "the session is closed: nothing more is drawn for it"));
                }
                // Ketamine for an infusion comes from a lot of the strength the order was worked out
                // on: a 100 mg/mL vial where the order says 10 mg/mL is a tenfold error.
                let order = match &session {
                    Some(s) => self.session_order(s).await?,
                    None => None,
                };
                if let (Some(order), Some(lot)) = (order, view.ledger.lot(lot_id).filter(|l| l.receipt.lot.drug == Drug::Ketamine)) {
                    if Exact::parse(&order.stock_mg_per_ml) != Some(lot.receipt.lot.mg_per_ml) {
                        errors.push(FieldError::new(
                            "lot_id",
                            format!(
                                "this lot is {} mg/mL; the order is for {} mg/mL stock: draw from a lot of the ordered strength",
                                lot.receipt.lot.mg_per_ml.to_decimal(),
                                order.stock_mg_per_ml
                            ),
                        ));
                    }
                }
                match (session.as_ref(), container, volume_ml) {
                    (Some(s), Some(container), Some(volume_ml)) if errors.is_empty() => {
                        EntryKind::Withdrawn { session: s.id, patient: s.patient_id, container, volume_ml }
                    }
                    _ => return Err(ServiceError::Invalid(FieldErrors(errors))),
                }
            }
            EntryType::Administered => {
                let Some(s) = session.as_ref().filter(|_| errors.is_empty()) else {
                    return Err(ServiceError::Invalid(FieldErrors(errors)));
                };
                let lot = view.ledger.lot(lot_id).ok_or_else(|| ServiceError::Invalid(FieldErrors::one("lot_id", "this lot has not been received at the site")))?;
                let held = view.ledger.session_held(s.id, lot_id);
                if !held.is_positive() {
                    return Err(ServiceError::Invalid(FieldErrors::one("lot_id", "this session holds nothing of this lot: record the withdrawal first")));
                }
                let (source, volume_ml) = match lot.receipt.lot.drug {
                    Drug::Ketamine => self.ketamine_from_pump(view, s, lot, held, r).await?,
                    Drug::Midazolam => self.medicine_given(s, r, held).await?,
                };
                EntryKind::Administered { session: s.id, pump_record: source, volume_ml }
            }
            EntryType::Wasted => {
                let volume_ml = exact_field(&mut errors, "volume_ml", &r.volume_ml, "the stock volume wasted, mL");
                match (session.as_ref(), volume_ml) {
                    (Some(s), Some(volume_ml)) if errors.is_empty() => EntryKind::Wasted { session: s.id, volume_ml, witness },
                    _ => return Err(ServiceError::Invalid(FieldErrors(errors))),
                }
            }
            EntryType::Returned => {
                let container = count_field(&mut errors, "container", &r.container, "the vial it was drawn from");
                let volume_ml = exact_field(&mut errors, "volume_ml", &r.volume_ml, "the stock volume put back, mL");
                match (session.as_ref(), container, volume_ml) {
                    (Some(s), Some(container), Some(volume_ml)) if errors.is_empty() => EntryKind::Returned { session: s.id, container, volume_ml, witness },
                    _ => return Err(ServiceError::Invalid(FieldErrors(errors))),
                }
            }
            EntryType::Destroyed => {
                let container = count_field(&mut errors, "container", &r.container, "the vial destroyed");
                let volume_ml = exact_field(&mut errors, "volume_ml", &r.volume_ml, "the stock volume destroyed, mL");
                let method = match text(&r.method).map(DestructionMethod::parse) {
                    Some(Ok(m)) => Some(m),
                    Some(Err(e)) => {
                        errors.push(e);
                        None
                    }
                    None => {
                        errors.push(FieldError::new("method", format!("is required: one of {}", DestructionMethod::allowed_list())));
                        None
                    }
                };
                match (container, volume_ml, method) {
                    (Some(container), Some(volume_ml), Some(method)) if errors.is_empty() => EntryKind::Destroyed {
                        container,
                        volume_ml,
                        method,
                        reference: text(&r.reference).map(str::to_string),
                        witness,
                    },
                    _ => return Err(ServiceError::Invalid(FieldErrors(errors))),
                }
            }
            EntryType::Lost => {
                let count = uuid_field(&mut errors, "count_id", &r.count_id, "the count that found the drug missing");
                let container = count_field(&mut errors, "container", &r.container, "the vial short");
                let volume_ml = exact_field(&mut errors, "volume_ml", &r.volume_ml, "the stock volume lost, mL");
                match (count, container, volume_ml) {
                    (Some(count), Some(container), Some(volume_ml)) if errors.is_empty() => EntryKind::Lost { count, container, volume_ml, witness },
                    _ => return Err(ServiceError::Invalid(FieldErrors(errors))),
                }
            }
            EntryType::Count => {
                let counted_ml = exact_field(&mut errors, "counted_ml", &r.counted_ml, "the stock volume on the shelf, mL");
                match counted_ml {
                    Some(counted_ml) if errors.is_empty() => EntryKind::Count { counted_ml, estimated: r.estimated.unwrap_or(false), witness },
                    _ => return Err(ServiceError::Invalid(FieldErrors(errors))),
                }
            }
            EntryType::Correction => {
                let corrects = uuid_field(&mut errors, "corrects", &r.corrects, "the entry that was wrong");
                let reason = required(&mut errors, "reason", &r.reason, "why the entry was wrong");
                match (corrects, reason) {
                    (Some(corrects), Some(reason)) if errors.is_empty() => EntryKind::Correction { corrects, reason: reason.to_string() },
                    _ => return Err(ServiceError::Invalid(FieldErrors(errors))),
                }
            }
        };
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(FieldErrors(errors)));
        }
        // Entries never go back in time: a clock a little behind the last entry's waits for it.
        let last = view.ledger.entries().last().map(|e| e.at);
        let at = match last {
            Some(last) if last > self.now() => last,
            _ => self.now(),
        };
        Ok((Entry { id: Uuid::now_v7(), at, site: view.site.id, actor: principal.user.id, lot: lot_id, kind }, patient))
    }

    /// The ketamine stock volume the pump record shows given and not yet
    /// recorded, from `lot` (at most what the session holds of it), and the
    /// pump entry it is tied to. The figure is the pump's mL × the order's
    /// final concentration ÷ the lot's strength, rounded to 0.0001 mL; a
    /// typed volume that differs is refused, naming the computed one.
    async fn ketamine_from_pump(
        &self,
        view: &SiteLedger,
        session: &InfusionSessionRecord,
        lot: &ledger::LotRecord,
        held: Exact,
        r: &LedgerRequest,
    ) -> Result<(Uuid, Exact), ServiceError> {
        let chart = self.fold_chart(session.clone()).await?;
        if chart.stopped_at.is_none() {
            return Err(ServiceError::Conflict {
                code: "pump_running",
                message: "the administration is recorded from the pump record once the pump is stopped".into(),
            });
        }
        let Some((_, delivered_mg)) = chart.delivered else {
            return Err(ServiceError::Conflict {
                code: "no_pump_record",
                message: "the pump record shows no delivery at the order's concentration; nothing to record".into(),
            });
        };
        if !delivered_mg.is_positive() {
            return Err(ServiceError::Conflict {
                code: "nothing_delivered",
                message: "the pump record shows no ketamine delivered: there is no administration to record; waste or return what was drawn, with a witness".into(),
            });
        }
        let part = Self::session_part(view, session.id, Some(delivered_mg));
        let to_record_mg = part.ketamine_to_record_mg.unwrap_or(Exact::integer(0));
        if !to_record_mg.is_positive() {
            return Err(ServiceError::Conflict {
                code: "already_recorded",
                message: format!("the {} mg the pump delivered is already recorded administered", delivered_mg.to_decimal()),
            });
        }
        let step = Exact::parse(LEDGER_STEP).unwrap_or(Exact::integer(1));
        let exact_ml = to_record_mg.checked_div(lot.receipt.lot.mg_per_ml).unwrap_or(Exact::integer(0));
        let rounded = clinic_domain::order::round_to_step(exact_ml, step).unwrap_or(exact_ml);
        // The bag cannot give more than was drawn into it: the rest of the pump's figure is the rate's rounding.
        let volume_ml = if rounded.cmp_value(held).is_gt() { held } else { rounded };
        if let Some(typed) = text(&r.volume_ml) {
            let typed_value = Exact::parse(typed);
            if typed_value != Some(volume_ml) {
                return Err(ServiceError::Invalid(FieldErrors::one(
                    "volume_ml",
                    format!("the pump record gives {} mL of this lot ({} mg); leave the volume out or send exactly that, got {typed:?}", volume_ml.to_decimal(), volume_ml.times(lot.receipt.lot.mg_per_ml).to_decimal()),
                )));
            }
        }
        let pump_entry = chart
            .entries
            .iter()
            .rev()
            .find(|e| e.kind == "pump" && e.body.contains("\"stop\""))
            .map(|e| e.id)
            .ok_or_else(|| ServiceError::Conflict { code: "no_pump_record", message: "no pump stop is recorded".into() })?;
        if !volume_ml.is_positive() {
            return Err(ServiceError::Conflict { code: "already_recorded", message: "nothing left to record from the pump record".into() });
        }
        Ok((pump_entry, volume_ml))
    }

    /// A medicine other than the infusion (midazolam): tied to the chart's
    /// medication entry, the volume as drawn.
    async fn medicine_given(&self, session: &InfusionSessionRecord, r: &LedgerRequest, held: Exact) -> Result<(Uuid, Exact), ServiceError> {
        let mut errors = Vec::new();
        let entry_id = uuid_field(&mut errors, "medication_entry_id", &r.medication_entry_id, "the chart's medication entry this was given as");
        let volume_ml = exact_field(&mut errors, "volume_ml", &r.volume_ml, "the stock volume given, mL");
        let (Some(entry_id), Some(volume_ml)) = (entry_id, volume_ml) else {
            return Err(ServiceError::Invalid(FieldErrors(errors)));
        };
        let entries = self.store().session_entries(session.id).await?;
        let Some(medication) = entries.iter().find(|e| e.id == entry_id && e.kind == "medication") else {
            return Err(ServiceError::Invalid(FieldErrors::one("medication_entry_id", "is not a medication recorded in this session's chart")));
        };
        if !medication.body.to_ascii_lowercase().contains("midazolam") {
            return Err(ServiceError::Invalid(FieldErrors::one("medication_entry_id", "the medication recorded there is not midazolam")));
        }
        if volume_ml.cmp_value(held).is_gt() {
            return Err(ServiceError::Invalid(FieldErrors::one(
                "volume_ml",
                format!("the session holds {} mL of this lot; {} mL cannot be given from it", held.to_decimal(), volume_ml.to_decimal()),
            )));
        }
        Ok((entry_id, volume_ml))
    }

    /// Open and closed discrepancy alerts: a site's, or every site's.
    pub async fn discrepancies(&self, principal: &Principal, site_id: Option<Uuid>, open_only: bool) -> Result<Vec<DiscrepancyRecord>, ServiceError> {
        self.authorize(principal, Permission::LedgerRead, "read ledger discrepancies").await?;
        Ok(self.store().list_discrepancies(site_id, open_only).await?)
    }

    /// Closes a discrepancy alert with the response taken.
    pub async fn close_discrepancy(&self, principal: &Principal, id: Uuid, expected_version: i64, response: Option<&str>) -> Result<DiscrepancyRecord, ServiceError> {
        self.authorize(principal, Permission::LedgerRecord, "close a ledger discrepancy").await?;
        let response = clinic_domain::alert::parse_response(response)?;
        let audit = self.ledger_audit(principal, AuditAction::LedgerDiscrepancyClose, None, json!({ "discrepancy_id": id }));
        self.store().close_discrepancy(id, expected_version, principal.user.id, &response, self.now(), &audit).await.map_err(|e| match e {
            StoreError::Conflict { .. } => ServiceError::Conflict { code: "closed", message: "this discrepancy is closed already".into() },
            other => ServiceError::from_store("ledger discrepancy", other),
        })
    }

    /// The administration log as CSV: the fields of 21 CFR 1304.22(c)
    /// (clinical.md §6, field list UNVERIFIED) with the patient's name and
    /// address and who administered, by name.
    pub async fn administration_csv(&self, principal: &Principal, site_id: Uuid) -> Result<String, ServiceError> {
        self.authorize(principal, Permission::LedgerRead, "download the administration log").await?;
        let view = self.load_ledger(site_id).await?;
        let rows: Vec<AdministrationRow> = report::administration_log(&view.ledger);
        let users = self.store().list_users().await?;
        let user_name = |id: Uuid| users.iter().find(|u| u.id == id).map_or_else(|| id.to_string(), |u| u.display_name.clone());
        let mut header: Vec<&str> = AdministrationRow::CSV_HEADER.to_vec();
        header.extend(["patient_name", "patient_address", "administered_by_name"]);
        let mut out = Vec::with_capacity(rows.len());
        let mut patients = std::collections::BTreeMap::new();
        for row in &rows {
            if let std::collections::btree_map::Entry::Vacant(slot) = patients.entry(row.patient) {
                slot.insert(self.store().get_patient(row.patient).await?);
            }
            let p = &patients[&row.patient];
            let mut fields = row.csv_fields();
            fields.push(report::text_field(&format!("{} {}", p.details.given_name, p.details.family_name)));
            fields.push(report::text_field(p.details.address.as_deref().unwrap_or("")));
            fields.push(report::text_field(&user_name(row.administered_by)));
            out.push(fields);
        }
        let audit = self.ledger_audit(principal, AuditAction::LedgerReport, None, json!({ "site_id": site_id, "report": "administration", "rows": out.len(), "patients": patients.keys().collect::<Vec<_>>() }));
        self.audit_writer().record(vec![audit]).await?;
        Ok(report::csv(&header, &out))
    }

    /// The inventory as of the end of a site date (the biennial inventory,
    /// 21 CFR 1304.11), as CSV.
    pub async fn inventory_csv(&self, principal: &Principal, site_id: Uuid, as_of: Option<&str>) -> Result<String, ServiceError> {
        self.authorize(principal, Permission::LedgerRead, "download the inventory").await?;
        let view = self.load_ledger(site_id).await?;
        let zone = Self::site_zone(&view.site);
        let at = match as_of.map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) => end_of_day(
                zone,
                NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| ServiceError::Invalid(FieldErrors::one("as_of", format!("must be a date YYYY-MM-DD, got {t:?}"))))?,
            ),
            None => self.now(),
        };
        let rows: Vec<Vec<String>> = report::inventory(&view.ledger, at).iter().map(InventoryRow::csv_fields).collect();
        let audit = self.ledger_audit(principal, AuditAction::LedgerReport, None, json!({ "site_id": site_id, "report": "inventory", "as_of": at }));
        self.audit_writer().record(vec![audit]).await?;
        Ok(report::csv(InventoryRow::CSV_HEADER, &rows))
    }

    /// The theft-or-loss report draft for a count that found drug missing, as CSV.
    pub async fn loss_report_csv(&self, principal: &Principal, site_id: Uuid, count_id: Uuid) -> Result<String, ServiceError> {
        self.authorize(principal, Permission::LedgerRead, "download a loss report draft").await?;
        let view = self.load_ledger(site_id).await?;
        let found = view.ledger.discrepancies().into_iter().find(|d| d.count == count_id).ok_or(ServiceError::NotFound { resource: "count with a discrepancy" })?;
        let draft: LossReportDraft = report::loss_report_draft(&view.ledger, &found).ok_or_else(|| ServiceError::Conflict {
            code: "nothing_missing",
            message: "this count found more than the ledger, not less: investigate the surplus; there is no loss to report".into(),
        })?;
        let audit = self.ledger_audit(principal, AuditAction::LedgerReport, None, json!({ "site_id": site_id, "report": "loss", "count_id": count_id }));
        self.audit_writer().record(vec![audit]).await?;
        Ok(report::csv(LossReportDraft::CSV_HEADER, &draft.csv_rows()))
    }
}

fn session_of(kind: &EntryKind) -> Option<Uuid> {
    match kind {
        EntryKind::Withdrawn { session, .. }
        | EntryKind::Administered { session, .. }
        | EntryKind::Wasted { session, .. }
        | EntryKind::Returned { session, .. } => Some(*session),
        _ => None,
    }
}
