//! The entries of the controlled-substance ledger: what each one records,
//! and the checks that need no ledger state (every failing field at once).

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use crate::dose::{Exact, MAX_DECIMALS};
use crate::field::{FieldError, FieldErrors};
use crate::ledger::{Drug, LedgerSettings};

wire_enum!(
    /// How stock leaves the registrant for destruction: transferred to a
    /// reverse distributor, or destroyed and recorded on DEA Form 41
    /// (21 CFR 1317; clinical.md §6, detail UNVERIFIED).
    DestructionMethod, "method" {
        ReverseDistributor => "reverse_distributor",
        DeaForm41 => "dea_form_41",
    }
);

wire_enum!(
    /// The kind of an entry, as stored and reported.
    EntryType, "type" {
        Received => "received",
        Withdrawn => "withdrawn",
        Administered => "administered",
        Wasted => "wasted",
        Returned => "returned",
        Destroyed => "destroyed",
        Lost => "lost",
        Count => "count",
        Correction => "correction",
    }
);

/// A lot as its label and invoice give it (clinical.md §6, receipt records
/// per 21 CFR 1304.21–1304.22, field list UNVERIFIED).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lot {
    pub drug: Drug,
    /// As labelled, e.g. "injection".
    pub dosage_form: String,
    pub mg_per_ml: Exact,
    /// The volume of one container (vial), mL.
    pub container_ml: Exact,
    /// How many containers were received; they are numbered 1..=containers.
    pub containers: u32,
    pub lot_number: String,
    /// The last day the lot may be used, in the site's zone (a label giving
    /// only a month means its last day: the caller converts).
    pub expires_on: NaiveDate,
    pub supplier: String,
    pub invoice_number: String,
    /// The maker's in-use period after first puncture, when the label gives
    /// one; it applies when shorter than the clinic's.
    pub maker_discard_after_opening_days: Option<i64>,
}

/// A receipt: the lot and what the ledger needs to date it, kept with the
/// entry so that a later change of a setting never changes the past.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub lot: Lot,
    /// The receiving site's time zone: expiry and discard-by are its dates.
    pub site_zone: Tz,
    /// The clinic's in-use period after first puncture when the lot arrived
    /// (`LedgerSettings::discard_after_opening_days`).
    pub discard_after_opening_days: Option<i64>,
}

impl Receipt {
    pub fn new(lot: Lot, site_zone: Tz, settings: &LedgerSettings) -> Receipt {
        Receipt {
            lot,
            site_zone,
            discard_after_opening_days: settings.discard_after_opening_days,
        }
    }
}

/// A second person present for a movement. `authenticated` is the caller's
/// assertion that the witness signed with their own credentials at the time
/// (not the actor's session); the ledger refuses an entry without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Witness {
    pub user: Uuid,
    pub authenticated: bool,
}

/// What an entry records. Volumes are mL of the lot's stock strength, exact
/// decimals with at most `MAX_DECIMALS` places; mg is always mL × mg/mL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// Stock received at the entry's site by the actor; the lot id is new.
    Received(Receipt),
    /// Drawn from one container into an infusion session's custody; the
    /// first draw from a container is its first puncture.
    Withdrawn {
        session: Uuid,
        patient: Uuid,
        container: u32,
        volume_ml: Exact,
    },
    /// Given to the session's patient by the actor, as the pump record shows
    /// (the stock volume that reached the patient).
    Administered {
        session: Uuid,
        pump_record: Uuid,
        volume_ml: Exact,
    },
    /// The rest of a withdrawal, rendered non-retrievable before a witness.
    Wasted {
        session: Uuid,
        volume_ml: Exact,
        witness: Option<Witness>,
    },
    /// Unused drug put back into the container it was drawn from.
    Returned {
        session: Uuid,
        container: u32,
        volume_ml: Exact,
        witness: Option<Witness>,
    },
    /// Expired, past discard-by or damaged stock destroyed or handed to a
    /// reverse distributor.
    Destroyed {
        container: u32,
        volume_ml: Exact,
        method: DestructionMethod,
        reference: Option<String>,
        witness: Option<Witness>,
    },
    /// Stock found missing by a count and recorded lost against it (after
    /// the theft-or-loss report), so the ledger matches the shelf again.
    Lost {
        count: Uuid,
        container: u32,
        volume_ml: Exact,
        witness: Option<Witness>,
    },
    /// A physical count of the lot's stock (containers on the shelf, not
    /// drug in sessions' custody) by the actor.
    Count {
        counted_ml: Exact,
        estimated: bool,
        witness: Option<Witness>,
    },
    /// Reverses the effect of an earlier entry of the same lot.
    Correction { corrects: Uuid, reason: String },
}

impl EntryKind {
    pub fn entry_type(&self) -> EntryType {
        match self {
            EntryKind::Received(_) => EntryType::Received,
            EntryKind::Withdrawn { .. } => EntryType::Withdrawn,
            EntryKind::Administered { .. } => EntryType::Administered,
            EntryKind::Wasted { .. } => EntryType::Wasted,
            EntryKind::Returned { .. } => EntryType::Returned,
            EntryKind::Destroyed { .. } => EntryType::Destroyed,
            EntryKind::Lost { .. } => EntryType::Lost,
            EntryKind::Count { .. } => EntryType::Count,
            EntryKind::Correction { .. } => EntryType::Correction,
        }
    }
}

/// One line of the ledger. `at` is when it was recorded (the caller's
/// clock); entries never go back in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub site: Uuid,
    /// The user who did it: received, withdrew, administered, wasted,
    /// returned, destroyed, recorded the loss, counted or corrected.
    pub actor: Uuid,
    pub lot: Uuid,
    pub kind: EntryKind,
}

/// Quantities stay far below the overflow of exact arithmetic: every mL
/// figure, and a lot's whole receipt, is below 10⁹ mL (an arithmetic
/// bound, not a clinical one).
pub const MAX_ML: i128 = 1_000_000_000;

fn decimal_ok(value: Exact) -> bool {
    let (_, den) = value.fraction();
    10i128.pow(MAX_DECIMALS) % den == 0
}

fn below_max(value: Exact) -> bool {
    value.cmp_value(Exact::integer(MAX_ML)).is_lt()
}

fn positive_ml(errors: &mut Vec<FieldError>, field: &str, unit: &str, value: Exact) {
    if !value.is_positive() {
        errors.push(FieldError::new(
            field,
            format!("must be greater than 0 {unit}, got {}", value.to_decimal()),
        ));
    } else if !decimal_ok(value) {
        errors.push(FieldError::new(
            field,
            format!(
                "must be a decimal with at most {MAX_DECIMALS} places, got {}",
                value.to_decimal()
            ),
        ));
    } else if !below_max(value) {
        errors.push(FieldError::new(
            field,
            format!("must be below {MAX_ML} {unit}, got {}", value.to_decimal()),
        ));
    }
}

fn required_text(errors: &mut Vec<FieldError>, field: &str, what: &str, text: &str) {
    if text.trim().is_empty() {
        errors.push(FieldError::new(field, format!("is required: {what}")));
    }
}

fn days(errors: &mut Vec<FieldError>, field: &str, value: Option<i64>) {
    if let Some(days) = value.filter(|d| *d < 0) {
        errors.push(FieldError::new(
            field,
            format!("must be 0 or more days, got {days}"),
        ));
    }
}

fn witness(errors: &mut Vec<FieldError>, actor: Uuid, witness: Option<Witness>) {
    match witness {
        None => errors.push(FieldError::new("witness", "is required: a second person, not the one recording, who signs with their own credentials")),
        Some(w) if w.user == actor => errors.push(FieldError::new("witness", format!("must be someone other than the actor (user {actor})"))),
        Some(w) if !w.authenticated => errors.push(FieldError::new("witness_authenticated", format!("the witness (user {}) must sign with their own credentials", w.user))),
        Some(_) => {}
    }
}

/// The checks an entry passes on its own, whatever the ledger holds.
pub(super) fn validate(entry: &Entry) -> Result<(), FieldErrors> {
    let mut errors = Vec::new();
    match &entry.kind {
        EntryKind::Received(receipt) => {
            let lot = &receipt.lot;
            required_text(
                &mut errors,
                "dosage_form",
                "as labelled, e.g. injection",
                &lot.dosage_form,
            );
            positive_ml(&mut errors, "mg_per_ml", "mg/mL", lot.mg_per_ml);
            positive_ml(&mut errors, "container_ml", "mL", lot.container_ml);
            if lot.containers == 0 {
                errors.push(FieldError::new("containers", "must be 1 or more"));
            } else if !below_max(
                lot.container_ml
                    .times(Exact::integer(i128::from(lot.containers))),
            ) {
                errors.push(FieldError::new(
                    "containers",
                    format!("the lot's whole volume must be below {MAX_ML} mL"),
                ));
            }
            required_text(
                &mut errors,
                "lot_number",
                "as on the label",
                &lot.lot_number,
            );
            required_text(
                &mut errors,
                "supplier",
                "the supplier's name",
                &lot.supplier,
            );
            required_text(
                &mut errors,
                "invoice_number",
                "the invoice or packing record",
                &lot.invoice_number,
            );
            days(
                &mut errors,
                "maker_discard_after_opening_days",
                lot.maker_discard_after_opening_days,
            );
            days(
                &mut errors,
                "discard_after_opening_days",
                receipt.discard_after_opening_days,
            );
        }
        EntryKind::Withdrawn { volume_ml, .. } | EntryKind::Administered { volume_ml, .. } => {
            positive_ml(&mut errors, "volume_ml", "mL", *volume_ml);
        }
        EntryKind::Wasted {
            volume_ml,
            witness: w,
            ..
        }
        | EntryKind::Returned {
            volume_ml,
            witness: w,
            ..
        }
        | EntryKind::Lost {
            volume_ml,
            witness: w,
            ..
        } => {
            positive_ml(&mut errors, "volume_ml", "mL", *volume_ml);
            witness(&mut errors, entry.actor, *w);
        }
        EntryKind::Destroyed {
            volume_ml,
            reference,
            witness: w,
            ..
        } => {
            positive_ml(&mut errors, "volume_ml", "mL", *volume_ml);
            if reference.as_deref().is_some_and(|r| r.trim().is_empty()) {
                errors.push(FieldError::new("reference", "must not be blank: leave it out, or name the record (reverse distributor, Form 41)"));
            }
            witness(&mut errors, entry.actor, *w);
        }
        EntryKind::Count {
            counted_ml,
            witness: w,
            ..
        } => {
            if counted_ml.cmp_value(Exact::integer(0)).is_lt() {
                errors.push(FieldError::new(
                    "counted_ml",
                    format!("must be 0 mL or more, got {}", counted_ml.to_decimal()),
                ));
            } else if !decimal_ok(*counted_ml) {
                errors.push(FieldError::new(
                    "counted_ml",
                    format!(
                        "must be a decimal with at most {MAX_DECIMALS} places, got {}",
                        counted_ml.to_decimal()
                    ),
                ));
            } else if !below_max(*counted_ml) {
                errors.push(FieldError::new(
                    "counted_ml",
                    format!("must be below {MAX_ML} mL"),
                ));
            }
            witness(&mut errors, entry.actor, *w);
        }
        EntryKind::Correction { reason, .. } => {
            required_text(
                &mut errors,
                "reason",
                "why the corrected entry was wrong",
                reason,
            );
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(FieldErrors(errors))
    }
}
