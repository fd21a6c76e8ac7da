//! Why the ledger refuses an entry: each reason names the field and the
//! lot, container, session, dates or amounts involved (ids only, no PHI).

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::dose::Exact;
use crate::field::{FieldError, FieldErrors};
use crate::ledger::Movement;

/// Whose balance an entry would take below zero (or above a container's
/// volume).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// The lot's stock on hand.
    Lot,
    /// One container of the lot.
    Container(u32),
    /// A session's custody of the lot.
    Session(Uuid),
    /// What a session drew from one container and has not returned.
    SessionContainer(Uuid, u32),
    /// What a count found missing and is not yet recorded lost.
    CountShortfall(Uuid),
    /// The lot's running total of one movement.
    Total(Movement),
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Holder::Lot => write!(f, "the lot's stock holds"),
            Holder::Container(n) => write!(f, "container {n} holds"),
            Holder::Session(s) => write!(f, "session {s} holds"),
            Holder::SessionContainer(s, n) => {
                write!(f, "session {s} drew from container {n}, not yet returned,")
            }
            Holder::CountShortfall(c) => {
                write!(f, "count {c} found missing, not yet recorded lost,")
            }
            Holder::Total(m) => write!(f, "the lot's {} total is", m.as_str()),
        }
    }
}

/// An entry would take a balance below zero.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: lot {lot}: {holder} {} mL; this entry needs {} mL", .available_ml.to_decimal(), .requested_ml.to_decimal())]
pub struct Shortage {
    pub field: &'static str,
    pub lot: Uuid,
    pub holder: Holder,
    pub available_ml: Exact,
    pub requested_ml: Exact,
}

/// An entry would put more into a container than it holds when full.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: lot {lot}: container {container} holds {} mL of its {} mL; putting back {} mL would overfill it", .holds_ml.to_decimal(), .capacity_ml.to_decimal(), .adding_ml.to_decimal())]
pub struct Overfill {
    pub field: &'static str,
    pub lot: Uuid,
    pub container: u32,
    pub holds_ml: Exact,
    pub capacity_ml: Exact,
    pub adding_ml: Exact,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Invalid(#[from] FieldErrors),
    #[error("id: entry {entry} is already in the ledger")]
    DuplicateEntry { entry: Uuid },
    #[error("at: {at} is before the last entry's time {last}; entries never go back in time")]
    OutOfOrder {
        at: DateTime<Utc>,
        last: DateTime<Utc>,
    },
    #[error(
        "lot: lot {lot} was already received (entry {receipt}); a new delivery is a new lot record"
    )]
    DuplicateLot { lot: Uuid, receipt: Uuid },
    #[error("lot: lot {lot} has not been received")]
    UnknownLot { lot: Uuid },
    #[error(
        "lot: the receipt of lot {lot} was corrected (entry {correction}); the lot holds nothing"
    )]
    LotVoided { lot: Uuid, correction: Uuid },
    #[error("site: lot {lot} is kept at site {lot_site}, not site {site}")]
    WrongSite {
        lot: Uuid,
        lot_site: Uuid,
        site: Uuid,
    },
    #[error("container: lot {lot} has containers 1 to {containers}, not {container}")]
    NoSuchContainer {
        lot: Uuid,
        container: u32,
        containers: u32,
    },
    #[error("at: lot {lot} expired on {expires_on}; nothing may be drawn from it on {on}")]
    Expired {
        lot: Uuid,
        expires_on: NaiveDate,
        on: NaiveDate,
    },
    #[error("container: container {container} of lot {lot}, first punctured {first_puncture}, was to be discarded by {discard_by}; nothing may be drawn from it on {on}")]
    PastDiscardBy {
        lot: Uuid,
        container: u32,
        first_puncture: NaiveDate,
        discard_by: NaiveDate,
        on: NaiveDate,
    },
    #[error("patient: session {session} is for patient {patient}, not {got}")]
    PatientMismatch {
        session: Uuid,
        patient: Uuid,
        got: Uuid,
    },
    #[error("site: session {session} takes place at site {session_site}, not site {site}")]
    SessionSite {
        session: Uuid,
        session_site: Uuid,
        site: Uuid,
    },
    #[error("session: session {session} has withdrawn nothing from lot {lot}")]
    NotWithdrawn { session: Uuid, lot: Uuid },
    #[error(transparent)]
    Insufficient(Box<Shortage>),
    #[error(transparent)]
    Overfill(Box<Overfill>),
    #[error("estimated: lot {lot} is {drug} (Schedule {schedule}) with {reason}; an estimated measure is allowed only for opened Schedule III containers (21 CFR 1304.11): count exactly")]
    EstimateNotAllowed {
        lot: Uuid,
        drug: &'static str,
        schedule: &'static str,
        reason: &'static str,
    },
    #[error("count: entry {count} is not a count of lot {lot}")]
    NotACount { count: Uuid, lot: Uuid },
    #[error("count: count {count} was corrected (entry {correction}); nothing may be recorded lost against it")]
    CountCorrected { count: Uuid, correction: Uuid },
    #[error("corrects: entry {entry} is not in the ledger")]
    UnknownEntry { entry: Uuid },
    #[error("corrects: entry {entry} is of lot {entry_lot}, not lot {lot}")]
    CorrectionOtherLot {
        entry: Uuid,
        entry_lot: Uuid,
        lot: Uuid,
    },
    #[error("corrects: entry {entry} is itself a correction; a correction is never corrected: record the right entry again")]
    CorrectsCorrection { entry: Uuid },
    #[error("corrects: entry {entry} was already corrected by entry {correction}")]
    AlreadyCorrected { entry: Uuid, correction: Uuid },
}

impl LedgerError {
    /// The wire name of the field at fault.
    pub fn field(&self) -> &str {
        match self {
            LedgerError::Invalid(errors) => errors.0.first().map_or("entry", |e| e.field.as_str()),
            LedgerError::DuplicateEntry { .. } => "id",
            LedgerError::OutOfOrder { .. } | LedgerError::Expired { .. } => "at",
            LedgerError::DuplicateLot { .. }
            | LedgerError::UnknownLot { .. }
            | LedgerError::LotVoided { .. } => "lot",
            LedgerError::WrongSite { .. } | LedgerError::SessionSite { .. } => "site",
            LedgerError::NoSuchContainer { .. } | LedgerError::PastDiscardBy { .. } => "container",
            LedgerError::PatientMismatch { .. } => "patient",
            LedgerError::NotWithdrawn { .. } => "session",
            LedgerError::Insufficient(shortage) => shortage.field,
            LedgerError::Overfill(overfill) => overfill.field,
            LedgerError::EstimateNotAllowed { .. } => "estimated",
            LedgerError::NotACount { .. } | LedgerError::CountCorrected { .. } => "count",
            LedgerError::UnknownEntry { .. }
            | LedgerError::CorrectionOtherLot { .. }
            | LedgerError::CorrectsCorrection { .. }
            | LedgerError::AlreadyCorrected { .. } => "corrects",
        }
    }

    /// Every failing field, for the wire (`errors: [{field, message}]`).
    pub fn field_errors(&self) -> FieldErrors {
        match self {
            LedgerError::Invalid(errors) => errors.clone(),
            other => {
                let text = other.to_string();
                let prefix = format!("{}: ", other.field());
                let message = text.strip_prefix(&prefix).unwrap_or(&text);
                FieldErrors::one(other.field(), message)
            }
        }
    }

    /// The one-field form, for callers that show a single message.
    pub fn field_error(&self) -> FieldError {
        let errors = self.field_errors();
        errors
            .0
            .into_iter()
            .next()
            .unwrap_or_else(|| FieldError::new("entry", self.to_string()))
    }
}
