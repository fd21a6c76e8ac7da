//! Reports from the ledger, as rows: the administration log, the inventory
//! as of an instant, and a theft-or-loss report draft; `csv` writes any of
//! them as RFC 4180 text (the edge serves the download). Patients appear as
//! ids: the caller maps them to name and address where it may.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use crate::dose::Exact;
use crate::ledger::entry::EntryKind;
use crate::ledger::{Discrepancy, Drug, Ledger, LotRecord, Quantity, Schedule};

/// RFC 4180: fields joined by commas, records ended by CRLF; a field with a
/// comma, quote, CR or LF is quoted, its quotes doubled.
pub fn csv(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    let mut line = |fields: &mut dyn Iterator<Item = &str>| {
        let quoted: Vec<String> = fields
            .map(|f| {
                if f.contains([',', '"', '\r', '\n']) {
                    format!("\"{}\"", f.replace('"', "\"\""))
                } else {
                    f.to_string()
                }
            })
            .collect();
        out.push_str(&quoted.join(","));
        out.push_str("\r\n");
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// Free text as a CSV field that a spreadsheet will not run as a formula
/// (a leading `=`, `+`, `-` or `@` gets a `'`). Numbers are not passed here.
pub fn text_field(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

fn utc_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn local_text(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

/// One administration, with the fields 21 CFR 1304.22(c) asks for
/// (clinical.md §6, field list UNVERIFIED): drug, dosage form and strength,
/// amount (mg and mL), date and time, patient (id), who administered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdministrationRow {
    pub entry: Uuid,
    pub at: DateTime<Utc>,
    pub site_zone: Tz,
    pub site: Uuid,
    pub drug: Drug,
    pub schedule: Schedule,
    pub dosage_form: String,
    pub mg_per_ml: Exact,
    pub amount: Quantity,
    pub patient: Uuid,
    pub session: Uuid,
    pub administered_by: Uuid,
    pub lot: Uuid,
    pub lot_number: String,
    pub pump_record: Uuid,
    /// The correction that reversed this administration, if any: the row
    /// stays in the log, as the entry stays in the ledger.
    pub corrected_by: Option<Uuid>,
}

impl AdministrationRow {
    pub const CSV_HEADER: &'static [&'static str] = &[
        "entry",
        "at_utc",
        "at_site",
        "site",
        "drug",
        "schedule",
        "dosage_form",
        "strength_mg_per_ml",
        "amount_mg",
        "amount_ml",
        "patient",
        "session",
        "administered_by",
        "lot",
        "lot_number",
        "pump_record",
        "corrected_by",
    ];

    pub fn csv_fields(&self) -> Vec<String> {
        vec![
            self.entry.to_string(),
            utc_text(self.at),
            local_text(self.at, self.site_zone),
            self.site.to_string(),
            self.drug.as_str().to_string(),
            self.schedule.as_str().to_string(),
            text_field(&self.dosage_form),
            self.mg_per_ml.to_decimal(),
            self.amount.mg.to_decimal(),
            self.amount.ml.to_decimal(),
            self.patient.to_string(),
            self.session.to_string(),
            self.administered_by.to_string(),
            self.lot.to_string(),
            text_field(&self.lot_number),
            self.pump_record.to_string(),
            self.corrected_by.map(|c| c.to_string()).unwrap_or_default(),
        ]
    }
}

/// Every administration in the order recorded, corrected ones included
/// (marked).
pub fn administration_log(ledger: &Ledger) -> Vec<AdministrationRow> {
    ledger
        .entries()
        .iter()
        .filter_map(|entry| {
            let EntryKind::Administered {
                session,
                pump_record,
                volume_ml,
            } = &entry.kind
            else {
                return None;
            };
            let record = ledger.lot(entry.lot)?;
            let lot = &record.receipt.lot;
            let patient = ledger.session(*session)?.patient;
            Some(AdministrationRow {
                entry: entry.id,
                at: entry.at,
                site_zone: record.receipt.site_zone,
                site: entry.site,
                drug: lot.drug,
                schedule: lot.drug.schedule(),
                dosage_form: lot.dosage_form.clone(),
                mg_per_ml: lot.mg_per_ml,
                amount: Quantity::of(*volume_ml, lot.mg_per_ml),
                patient,
                session: *session,
                administered_by: entry.actor,
                lot: entry.lot,
                lot_number: lot.lot_number.clone(),
                pump_record: *pump_record,
                corrected_by: ledger.corrected_by(entry.id),
            })
        })
        .collect()
}

/// One lot at one site in an inventory. For the biennial inventory
/// (21 CFR 1304.11, clinical.md §6) the drug in opened Schedule III
/// containers may be an estimated measure; unopened containers are counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryRow {
    pub site: Uuid,
    pub drug: Drug,
    pub schedule: Schedule,
    pub lot: Uuid,
    pub lot_number: String,
    pub dosage_form: String,
    pub mg_per_ml: Exact,
    pub container_ml: Exact,
    pub expires_on: NaiveDate,
    pub unopened_containers: u32,
    /// Opened containers that still hold drug.
    pub opened_containers: u32,
    /// In opened containers.
    pub opened_ml: Exact,
    /// On the shelf: unopened and opened containers.
    pub on_hand: Quantity,
    /// Drawn for sessions and not yet administered, wasted or returned.
    pub in_custody: Quantity,
}

impl InventoryRow {
    pub const CSV_HEADER: &'static [&'static str] = &[
        "site",
        "drug",
        "schedule",
        "lot",
        "lot_number",
        "dosage_form",
        "strength_mg_per_ml",
        "container_ml",
        "expires_on",
        "unopened_containers",
        "opened_containers",
        "opened_ml",
        "on_hand_ml",
        "on_hand_mg",
        "in_custody_ml",
        "in_custody_mg",
    ];

    pub fn csv_fields(&self) -> Vec<String> {
        vec![
            self.site.to_string(),
            self.drug.as_str().to_string(),
            self.schedule.as_str().to_string(),
            self.lot.to_string(),
            text_field(&self.lot_number),
            text_field(&self.dosage_form),
            self.mg_per_ml.to_decimal(),
            self.container_ml.to_decimal(),
            self.expires_on.to_string(),
            self.unopened_containers.to_string(),
            self.opened_containers.to_string(),
            self.opened_ml.to_decimal(),
            self.on_hand.ml.to_decimal(),
            self.on_hand.mg.to_decimal(),
            self.in_custody.ml.to_decimal(),
            self.in_custody.mg.to_decimal(),
        ]
    }
}

fn inventory_row(ledger: &Ledger, record: &LotRecord) -> Option<InventoryRow> {
    let lot = &record.receipt.lot;
    let on_hand = ledger.lot_balance(record.id)?;
    let held = ledger.sessions.keys().fold(Exact::integer(0), |sum, s| {
        sum.plus(ledger.session_held(*s, record.id))
    });
    if !on_hand.ml.is_positive() && !held.is_positive() {
        return None;
    }
    let touched = ledger.touched_containers(record.id);
    let opened = ledger.opened_with_stock(record.id);
    let opened_ml = opened
        .iter()
        .filter_map(|c| ledger.container(record.id, *c))
        .fold(Exact::integer(0), |sum, c| sum.plus(c.remaining_ml));
    let touched_count = u32::try_from(touched.len()).unwrap_or(u32::MAX);
    Some(InventoryRow {
        site: record.site,
        drug: lot.drug,
        schedule: lot.drug.schedule(),
        lot: record.id,
        lot_number: lot.lot_number.clone(),
        dosage_form: lot.dosage_form.clone(),
        mg_per_ml: lot.mg_per_ml,
        container_ml: lot.container_ml,
        expires_on: lot.expires_on,
        unopened_containers: lot.containers.saturating_sub(touched_count),
        opened_containers: u32::try_from(opened.len()).unwrap_or(u32::MAX),
        opened_ml,
        on_hand,
        in_custody: Quantity::of(held, lot.mg_per_ml),
    })
}

/// What the ledger says was on hand at `as_of`, per lot, by site, drug and
/// lot number; lots holding nothing (on the shelf or in custody) are left
/// out. The physical inventory is taken with counts against these rows.
pub fn inventory(ledger: &Ledger, as_of: DateTime<Utc>) -> Vec<InventoryRow> {
    let then = ledger.as_of(as_of);
    let mut rows: Vec<InventoryRow> = then
        .lots
        .values()
        .filter(|l| !then.lot_voided(l.id))
        .filter_map(|l| inventory_row(&then, l))
        .collect();
    rows.sort_by(|a, b| {
        (a.site, a.drug, &a.lot_number, a.lot).cmp(&(b.site, b.drug, &b.lot_number, b.lot))
    });
    rows
}

/// The notice printed on every loss report draft.
pub const LOSS_NOTICE: &str = "Draft for the registrant; not legal advice. 21 CFR 1301.76(b) (clinical.md §6): \
a theft or significant loss of a controlled substance is reported in writing to the DEA Field Division within \
1 business day of its discovery, and then on DEA Form 106. Minor discrepancies are noted in the records and not \
reported; recurring small losses count as significant (DEA guidance, 70 FR 47094). Whether this loss is significant \
is the registrant's decision; state rules may add duties.";

/// A theft-or-loss report draft from a count that found drug missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LossReportDraft {
    pub site: Uuid,
    pub drug: Drug,
    pub schedule: Schedule,
    pub dosage_form: String,
    pub mg_per_ml: Exact,
    pub lot: Uuid,
    pub lot_number: String,
    pub count: Uuid,
    pub counted_at: DateTime<Utc>,
    /// The count's date at the site: the day of discovery.
    pub discovered_on: NaiveDate,
    pub counted_by: Uuid,
    pub witness: Uuid,
    pub estimated: bool,
    pub expected: Quantity,
    pub counted: Quantity,
    /// Missing: expected − counted (positive).
    pub lost: Quantity,
    pub notice: &'static str,
}

impl LossReportDraft {
    pub const CSV_HEADER: &'static [&'static str] = &["field", "value"];

    /// One (field, value) row per fact, the notice last.
    pub fn csv_rows(&self) -> Vec<Vec<String>> {
        let rows: Vec<(&str, String)> = vec![
            ("site", self.site.to_string()),
            ("drug", self.drug.as_str().to_string()),
            ("schedule", self.schedule.as_str().to_string()),
            ("dosage_form", text_field(&self.dosage_form)),
            ("strength_mg_per_ml", self.mg_per_ml.to_decimal()),
            ("lot", self.lot.to_string()),
            ("lot_number", text_field(&self.lot_number)),
            ("count", self.count.to_string()),
            ("counted_at_utc", utc_text(self.counted_at)),
            ("discovered_on", self.discovered_on.to_string()),
            ("counted_by", self.counted_by.to_string()),
            ("witness", self.witness.to_string()),
            ("estimated", self.estimated.to_string()),
            ("expected_ml", self.expected.ml.to_decimal()),
            ("expected_mg", self.expected.mg.to_decimal()),
            ("counted_ml", self.counted.ml.to_decimal()),
            ("counted_mg", self.counted.mg.to_decimal()),
            ("lost_ml", self.lost.ml.to_decimal()),
            ("lost_mg", self.lost.mg.to_decimal()),
            ("notice", self.notice.to_string()),
        ];
        rows.into_iter()
            .map(|(field, value)| vec![field.to_string(), value])
            .collect()
    }
}

/// A draft when the count found less than the ledger expected; none when it
/// found as much or more (a surplus is investigated, not reported as a loss).
pub fn loss_report_draft(ledger: &Ledger, discrepancy: &Discrepancy) -> Option<LossReportDraft> {
    if !discrepancy
        .expected
        .ml
        .minus(discrepancy.counted.ml)
        .is_positive()
    {
        return None;
    }
    let record = ledger.lot(discrepancy.lot)?;
    let reconciliation = ledger.counts.get(&discrepancy.count)?;
    let lot = &record.receipt.lot;
    Some(LossReportDraft {
        site: discrepancy.site,
        drug: lot.drug,
        schedule: lot.drug.schedule(),
        dosage_form: lot.dosage_form.clone(),
        mg_per_ml: lot.mg_per_ml,
        lot: discrepancy.lot,
        lot_number: lot.lot_number.clone(),
        count: discrepancy.count,
        counted_at: discrepancy.at,
        discovered_on: discrepancy
            .at
            .with_timezone(&record.receipt.site_zone)
            .date_naive(),
        counted_by: reconciliation.counted_by,
        witness: reconciliation.witness,
        estimated: discrepancy.estimated,
        expected: discrepancy.expected,
        counted: discrepancy.counted,
        lost: Quantity {
            ml: discrepancy.expected.ml.minus(discrepancy.counted.ml),
            mg: discrepancy.expected.mg.minus(discrepancy.counted.mg),
        },
        notice: LOSS_NOTICE,
    })
}
