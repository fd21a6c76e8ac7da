//! The witnessed controlled-substance ledger for ketamine (DEA Schedule III)
//! and midazolam (Schedule IV): an append-only list of entries and the
//! balances folded from them. Pure: times and ids are passed in.
//!
//! Semantics.
//!
//! - **Append-only.** An entry is never edited or deleted. A mistake is
//!   fixed by a `Correction` that names the entry and gives a reason; it
//!   reverses exactly that entry's effect on every balance (and, for a
//!   withdrawal, its puncture of the container). A correction is never
//!   corrected and an entry is corrected at most once: to redo, record the
//!   right entry again. A correction is a compensating entry: it takes
//!   effect when it is recorded, and the balances must stay within bounds
//!   from then on (so a withdrawal whose drug was since administered is
//!   corrected only after the administration is). Correcting a lot's
//!   receipt voids the lot, which is possible only while all its stock is
//!   back on the shelf.
//! - **A fold.** The state is the entries applied in order
//!   (`fold`, `apply`, `Ledger::record`): the same entries give the same
//!   state. An entry is checked whole against the state before it; a
//!   refused entry changes nothing. Nothing is clamped or rounded.
//! - **Time.** `at` is when the entry is recorded; entries never go back in
//!   time, so the ledger as of an instant is a prefix (`Ledger::as_of`).
//!   Dates (expiry, discard-by) are the site's dates, in the zone given at
//!   receipt.
//! - **Lots and containers.** A lot is received once, at one site, in
//!   `containers` containers of `container_ml`, numbered 1 to `containers`.
//!   Every entry names the lot and must be at the lot's site. Volumes are mL
//!   of the lot's stock strength, decimals of at most 4 places; mg is
//!   mL × mg/mL, exact.
//! - **Movements.** `Withdrawn` draws from one container into an infusion
//!   session's custody (the session is bound to one patient and one site by
//!   its first withdrawal). `Administered` (tied to the pump record),
//!   `Wasted` and `Returned` account for custody; `Returned` puts the drug
//!   back into the container it came from. `Destroyed` and `Lost` take stock
//!   off the shelf; a loss is recorded only against a count that found it
//!   missing. Waste, returns, destruction, losses and counts need a
//!   witness: someone other than the actor, who signed with their own
//!   credentials (the caller asserts it). Federal rules require waste to be
//!   recorded; the second signature is state-board and institutional
//!   practice (clinical.md §6, UNVERIFIED), captured for every such entry.
//! - **Balances never go negative**: a container holds between 0 and its
//!   volume, a lot's stock and a session's custody are at least 0, a session
//!   returns to a container at most what it drew from it. An entry that
//!   would break one is refused naming the lot, the holder and the amounts.
//!   So every administration, waste or return is tied to a session that
//!   withdrew from that lot, and a session is accounted for
//!   (`session_accounted`) when it holds nothing.
//! - **Opened containers.** The first withdrawal from a container is its
//!   first puncture; it must be discarded by the puncture's date plus the
//!   in-use period: the clinic's setting when the lot arrived
//!   (`LedgerSettings`, shipped as 28 days: clinical.md §6, UNVERIFIED
//!   CDC/USP practice) or the maker's, whichever is shorter. Drawing from a
//!   container after its discard-by date, or from a lot after its expiry
//!   date, is refused naming the date; both dates are the last day of use.
//!   A container once punctured stays opened, even if drug is returned to it.
//! - **Counts.** A count is of the lot's stock on the shelf (not drug in a
//!   session's custody). It is kept whatever it finds and changes no
//!   balance; when counted differs from expected it yields a `Discrepancy`
//!   for the physician in charge (the caller raises the alert). Drug found
//!   missing is taken off the books only by `Lost` entries against that
//!   count, at most what it found missing; a surplus is investigated (a
//!   missing or wrong entry is recorded or corrected), never added. An
//!   estimated measure is accepted only for a Schedule III lot with an
//!   opened container holding stock (21 CFR 1304.11; clinical.md §6).
//!
//! Reports (administration log, inventory as of an instant, a theft-or-loss
//! report draft, CSV) are in `report`.

pub mod entry;
pub mod error;
pub mod report;

mod effect;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Days, NaiveDate, Utc};
use uuid::Uuid;

use crate::dose::Exact;
use crate::ledger::effect::{Account, Effect, Puncture};
use crate::ledger::entry::{validate, Entry, EntryKind, Receipt};
use crate::ledger::error::{Holder, LedgerError, Overfill, Shortage};

wire_enum!(
    /// A controlled substance the clinic keeps.
    Drug, "drug" {
        Ketamine => "ketamine",
        Midazolam => "midazolam",
    }
);

wire_enum!(
    /// A DEA schedule.
    Schedule, "schedule" {
        III => "III",
        IV => "IV",
    }
);

impl Drug {
    /// Ketamine is Schedule III (clinical.md §6), midazolam Schedule IV
    /// (clinical.md §11.2).
    pub fn schedule(self) -> Schedule {
        match self {
            Drug::Ketamine => Schedule::III,
            Drug::Midazolam => Schedule::IV,
        }
    }
}

wire_enum!(
    /// A movement of stock, as totalled per lot and per session.
    Movement, "movement" {
        Received => "received",
        Withdrawn => "withdrawn",
        Administered => "administered",
        Wasted => "wasted",
        Returned => "returned",
        Destroyed => "destroyed",
        Lost => "lost",
    }
);

/// The clinic's ledger settings, copied into each receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerSettings {
    /// Days after first puncture by which an opened multi-dose container is
    /// discarded; `None`: the clinic sets no period of its own (the maker's
    /// still applies).
    pub discard_after_opening_days: Option<i64>,
}

impl LedgerSettings {
    /// 28 days: multi-dose vials are "commonly discarded 28 days after first
    /// puncture unless the maker says otherwise" (clinical.md §6,
    /// UNVERIFIED, CDC/USP practice). Confirm with the medical director.
    pub fn shipped() -> LedgerSettings {
        LedgerSettings {
            discard_after_opening_days: Some(28),
        }
    }
}

/// An amount of one lot's drug, both ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    pub ml: Exact,
    pub mg: Exact,
}

impl Quantity {
    pub fn zero() -> Quantity {
        Quantity {
            ml: Exact::integer(0),
            mg: Exact::integer(0),
        }
    }

    pub fn of(ml: Exact, mg_per_ml: Exact) -> Quantity {
        Quantity {
            ml,
            mg: ml.times(mg_per_ml),
        }
    }

    pub fn plus(self, other: Quantity) -> Quantity {
        Quantity {
            ml: self.ml.plus(other.ml),
            mg: self.mg.plus(other.mg),
        }
    }
}

/// Running totals of each movement, mL (net of corrections).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Movements {
    pub received: Exact,
    pub withdrawn: Exact,
    pub administered: Exact,
    pub wasted: Exact,
    pub returned: Exact,
    pub destroyed: Exact,
    pub lost: Exact,
}

/// A lot as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LotRecord {
    pub id: Uuid,
    pub receipt: Receipt,
    pub site: Uuid,
    pub received_at: DateTime<Utc>,
    pub received_by: Uuid,
    /// The `Received` entry.
    pub receipt_entry: Uuid,
}

/// An infusion session as its first withdrawal bound it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRecord {
    pub patient: Uuid,
    pub site: Uuid,
}

/// One container's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerView {
    pub remaining_ml: Exact,
    pub first_puncture: Option<DateTime<Utc>>,
    /// The last day of use after the first puncture (none before it, or
    /// when neither the clinic nor the maker sets an in-use period).
    pub discard_by: Option<NaiveDate>,
}

/// A session's custody of one lot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Custody {
    pub lot: Uuid,
    pub drug: Drug,
    pub held: Quantity,
}

/// A count and what it was reconciled against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountReconciliation {
    pub count: Uuid,
    pub lot: Uuid,
    pub site: Uuid,
    pub at: DateTime<Utc>,
    pub counted_by: Uuid,
    pub witness: Uuid,
    pub estimated: bool,
    pub expected: Quantity,
    pub counted: Quantity,
}

impl CountReconciliation {
    /// The difference when the count does not match the ledger.
    pub fn discrepancy(&self) -> Option<Discrepancy> {
        let difference_ml = self.counted.ml.minus(self.expected.ml);
        (difference_ml != Exact::integer(0)).then(|| Discrepancy {
            count: self.count,
            lot: self.lot,
            site: self.site,
            at: self.at,
            estimated: self.estimated,
            expected: self.expected,
            counted: self.counted,
            difference_ml,
            difference_mg: self.counted.mg.minus(self.expected.mg),
        })
    }
}

/// A count that differs from the ledger: counted − expected (negative:
/// missing). The physician in charge must be alerted; the caller raises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Discrepancy {
    pub count: Uuid,
    pub lot: Uuid,
    pub site: Uuid,
    pub at: DateTime<Utc>,
    pub estimated: bool,
    pub expected: Quantity,
    pub counted: Quantity,
    pub difference_ml: Exact,
    pub difference_mg: Exact,
}

/// The ledger: its entries and the balances folded from them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    entries: Vec<Entry>,
    positions: BTreeMap<Uuid, usize>,
    corrected_by: BTreeMap<Uuid, Uuid>,
    lots: BTreeMap<Uuid, LotRecord>,
    sessions: BTreeMap<Uuid, SessionRecord>,
    accounts: BTreeMap<(Uuid, Account), Exact>,
    /// Per (lot, container): the withdrawals that punctured it and when.
    punctures: BTreeMap<(Uuid, u32), BTreeMap<Uuid, DateTime<Utc>>>,
    counts: BTreeMap<Uuid, CountReconciliation>,
}

/// A new ledger and what a count found, if it differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub ledger: Ledger,
    pub discrepancy: Option<Discrepancy>,
}

/// An entry a fold could not apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry {position} ({entry}): {error}")]
pub struct FoldError {
    pub position: usize,
    pub entry: Uuid,
    pub error: LedgerError,
}

/// What recording an entry changes besides the balances.
enum Change {
    None,
    Lot(LotRecord),
    Session(Uuid, SessionRecord),
    Count(CountReconciliation),
    Correction(Uuid),
}

struct Plan {
    effect: Effect,
    change: Change,
}

/// The ledger with `entry` applied, or why it is refused.
pub fn apply(ledger: &Ledger, entry: Entry) -> Result<Applied, LedgerError> {
    let plan = ledger.plan(&entry)?;
    let mut next = ledger.clone();
    let discrepancy = next.commit(entry, plan);
    Ok(Applied {
        ledger: next,
        discrepancy,
    })
}

/// The ledger of these entries, in order.
pub fn fold(entries: impl IntoIterator<Item = Entry>) -> Result<Ledger, FoldError> {
    let mut ledger = Ledger::empty();
    for (position, entry) in entries.into_iter().enumerate() {
        let id = entry.id;
        ledger.record(entry).map_err(|error| FoldError {
            position,
            entry: id,
            error,
        })?;
    }
    Ok(ledger)
}

fn zero() -> Exact {
    Exact::integer(0)
}

impl Ledger {
    pub fn empty() -> Ledger {
        Ledger {
            entries: Vec::new(),
            positions: BTreeMap::new(),
            corrected_by: BTreeMap::new(),
            lots: BTreeMap::new(),
            sessions: BTreeMap::new(),
            accounts: BTreeMap::new(),
            punctures: BTreeMap::new(),
            counts: BTreeMap::new(),
        }
    }

    /// Applies `entry` in place; a refused entry changes nothing. Returns
    /// what a count found, if it differs from the ledger.
    pub fn record(&mut self, entry: Entry) -> Result<Option<Discrepancy>, LedgerError> {
        let plan = self.plan(&entry)?;
        Ok(self.commit(entry, plan))
    }

    /// The ledger as it stood at `at` (every entry recorded at or before it).
    pub fn as_of(&self, at: DateTime<Utc>) -> Ledger {
        let mut ledger = Ledger::empty();
        for entry in self.entries.iter().take_while(|e| e.at <= at) {
            let recorded = ledger.record(entry.clone());
            debug_assert!(
                recorded.is_ok(),
                "a prefix of an accepted ledger is accepted"
            );
            if recorded.is_err() {
                break;
            }
        }
        ledger
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn entry(&self, id: Uuid) -> Option<&Entry> {
        self.positions.get(&id).and_then(|p| self.entries.get(*p))
    }

    /// The correction of an entry, if it was corrected.
    pub fn corrected_by(&self, entry: Uuid) -> Option<Uuid> {
        self.corrected_by.get(&entry).copied()
    }

    pub fn lot(&self, lot: Uuid) -> Option<&LotRecord> {
        self.lots.get(&lot)
    }

    pub fn lots(&self) -> impl Iterator<Item = &LotRecord> {
        self.lots.values()
    }

    /// Whether the lot's receipt was corrected (the lot holds nothing).
    pub fn lot_voided(&self, lot: Uuid) -> bool {
        self.lots
            .get(&lot)
            .is_some_and(|l| self.corrected_by.contains_key(&l.receipt_entry))
    }

    /// The lot's stock on hand (on the shelf, not in sessions' custody).
    pub fn lot_balance(&self, lot: Uuid) -> Option<Quantity> {
        let record = self.lots.get(&lot)?;
        Some(Quantity::of(
            self.balance(lot, Account::LotStock),
            record.receipt.lot.mg_per_ml,
        ))
    }

    /// The stock of a drug on hand at a site, over its lots (mL add up
    /// volumes of possibly different strengths; mg is the drug's amount).
    pub fn site_balance(&self, site: Uuid, drug: Drug) -> Quantity {
        self.lots
            .values()
            .filter(|l| l.site == site && l.receipt.lot.drug == drug)
            .fold(Quantity::zero(), |sum, l| {
                sum.plus(Quantity::of(
                    self.balance(l.id, Account::LotStock),
                    l.receipt.lot.mg_per_ml,
                ))
            })
    }

    pub fn movements(&self, lot: Uuid) -> Movements {
        let moved = |m| self.balance(lot, Account::Moved(m));
        Movements {
            received: moved(Movement::Received),
            withdrawn: moved(Movement::Withdrawn),
            administered: moved(Movement::Administered),
            wasted: moved(Movement::Wasted),
            returned: moved(Movement::Returned),
            destroyed: moved(Movement::Destroyed),
            lost: moved(Movement::Lost),
        }
    }

    /// A session's movements in a lot (received, destroyed and lost are 0).
    pub fn session_movements(&self, session: Uuid, lot: Uuid) -> Movements {
        let moved = |m| self.balance(lot, Account::SessionMoved(session, m));
        Movements {
            received: zero(),
            withdrawn: moved(Movement::Withdrawn),
            administered: moved(Movement::Administered),
            wasted: moved(Movement::Wasted),
            returned: moved(Movement::Returned),
            destroyed: zero(),
            lost: zero(),
        }
    }

    pub fn container(&self, lot: Uuid, container: u32) -> Option<ContainerView> {
        let record = self.lots.get(&lot)?;
        if container == 0 || container > record.receipt.lot.containers {
            return None;
        }
        let out = self.balance(lot, Account::ContainerOut(container));
        Some(ContainerView {
            remaining_ml: record.receipt.lot.container_ml.minus(out),
            first_puncture: self.first_puncture(lot, container),
            discard_by: self.discard_by(lot, container).map(|(_, date)| date),
        })
    }

    pub fn session(&self, session: Uuid) -> Option<&SessionRecord> {
        self.sessions.get(&session)
    }

    /// What a session holds of one lot, mL.
    pub fn session_held(&self, session: Uuid, lot: Uuid) -> Exact {
        self.balance(lot, Account::Custody(session))
    }

    /// Every lot a session holds drug of.
    pub fn session_custody(&self, session: Uuid) -> Vec<Custody> {
        self.lots
            .values()
            .filter_map(|l| {
                let held = self.balance(l.id, Account::Custody(session));
                held.is_positive().then(|| Custody {
                    lot: l.id,
                    drug: l.receipt.lot.drug,
                    held: Quantity::of(held, l.receipt.lot.mg_per_ml),
                })
            })
            .collect()
    }

    /// Whether everything the session withdrew is administered, wasted or
    /// returned (a session that withdrew nothing holds nothing).
    pub fn session_accounted(&self, session: Uuid) -> bool {
        self.session_custody(session).is_empty()
    }

    /// Every count, in the order recorded, with what it was reconciled against.
    pub fn reconciliations(&self) -> Vec<&CountReconciliation> {
        self.entries
            .iter()
            .filter_map(|e| self.counts.get(&e.id))
            .collect()
    }

    /// The discrepancies of counts that were not corrected.
    pub fn discrepancies(&self) -> Vec<Discrepancy> {
        self.reconciliations()
            .into_iter()
            .filter(|c| !self.corrected_by.contains_key(&c.count))
            .filter_map(CountReconciliation::discrepancy)
            .collect()
    }

    fn balance(&self, lot: Uuid, account: Account) -> Exact {
        self.accounts
            .get(&(lot, account))
            .copied()
            .unwrap_or_else(zero)
    }

    fn first_puncture(&self, lot: Uuid, container: u32) -> Option<DateTime<Utc>> {
        self.punctures
            .get(&(lot, container))
            .and_then(|p| p.values().min().copied())
    }

    /// The first puncture's date and the discard-by date, in the site's zone.
    fn discard_by(&self, lot: Uuid, container: u32) -> Option<(NaiveDate, NaiveDate)> {
        let record = self.lots.get(&lot)?;
        let first = self
            .first_puncture(lot, container)?
            .with_timezone(&record.receipt.site_zone)
            .date_naive();
        let days = match (
            record.receipt.discard_after_opening_days,
            record.receipt.lot.maker_discard_after_opening_days,
        ) {
            (Some(clinic), Some(maker)) => clinic.min(maker),
            (Some(days), None) | (None, Some(days)) => days,
            (None, None) => return None,
        };
        let days = u64::try_from(days).ok()?;
        Some((
            first,
            first
                .checked_add_days(Days::new(days))
                .unwrap_or(NaiveDate::MAX),
        ))
    }

    /// Containers punctured or with anything taken out.
    fn touched_containers(&self, lot: Uuid) -> BTreeSet<u32> {
        let mut touched: BTreeSet<u32> = self
            .punctures
            .range((lot, 0)..=(lot, u32::MAX))
            .map(|((_, c), _)| *c)
            .collect();
        touched.extend(
            self.accounts
                .range((lot, Account::LotStock)..)
                .take_while(|((l, _), _)| *l == lot)
                .filter_map(|((_, a), _)| match a {
                    Account::ContainerOut(c) => Some(*c),
                    _ => None,
                }),
        );
        touched
    }

    /// Opened containers that still hold drug.
    fn opened_with_stock(&self, lot: Uuid) -> Vec<u32> {
        let Some(record) = self.lots.get(&lot) else {
            return Vec::new();
        };
        self.touched_containers(lot)
            .into_iter()
            .filter(|c| {
                record
                    .receipt
                    .lot
                    .container_ml
                    .minus(self.balance(lot, Account::ContainerOut(*c)))
                    .is_positive()
            })
            .collect()
    }

    /// The lot an entry names, received, not voided, at the entry's site.
    fn live_lot(&self, entry: &Entry) -> Result<&LotRecord, LedgerError> {
        let record = self
            .lots
            .get(&entry.lot)
            .ok_or(LedgerError::UnknownLot { lot: entry.lot })?;
        if let Some(correction) = self.corrected_by.get(&record.receipt_entry) {
            return Err(LedgerError::LotVoided {
                lot: entry.lot,
                correction: *correction,
            });
        }
        if record.site != entry.site {
            return Err(LedgerError::WrongSite {
                lot: entry.lot,
                lot_site: record.site,
                site: entry.site,
            });
        }
        Ok(record)
    }

    fn check_container(record: &LotRecord, container: u32) -> Result<(), LedgerError> {
        if container == 0 || container > record.receipt.lot.containers {
            return Err(LedgerError::NoSuchContainer {
                lot: record.id,
                container,
                containers: record.receipt.lot.containers,
            });
        }
        Ok(())
    }

    fn check_withdrew(&self, session: Uuid, lot: Uuid) -> Result<(), LedgerError> {
        if self
            .balance(lot, Account::SessionMoved(session, Movement::Withdrawn))
            .is_positive()
        {
            Ok(())
        } else {
            Err(LedgerError::NotWithdrawn { session, lot })
        }
    }

    /// Checks an entry against the state and works out what it changes.
    fn plan(&self, entry: &Entry) -> Result<Plan, LedgerError> {
        validate(entry)?;
        if self.positions.contains_key(&entry.id) {
            return Err(LedgerError::DuplicateEntry { entry: entry.id });
        }
        if let Some(last) = self.entries.last().filter(|last| entry.at < last.at) {
            return Err(LedgerError::OutOfOrder {
                at: entry.at,
                last: last.at,
            });
        }
        let (effect, change) = match &entry.kind {
            EntryKind::Received(receipt) => {
                if let Some(existing) = self.lots.get(&entry.lot) {
                    return Err(LedgerError::DuplicateLot {
                        lot: entry.lot,
                        receipt: existing.receipt_entry,
                    });
                }
                let record = LotRecord {
                    id: entry.lot,
                    receipt: receipt.clone(),
                    site: entry.site,
                    received_at: entry.at,
                    received_by: entry.actor,
                    receipt_entry: entry.id,
                };
                (effect::of(entry, zero()), Change::Lot(record))
            }
            EntryKind::Correction { corrects, .. } => self.plan_correction(entry, *corrects)?,
            kind => {
                let record = self.live_lot(entry)?;
                let mut change = Change::None;
                let mut shortfall = zero();
                match kind {
                    EntryKind::Withdrawn {
                        session,
                        patient,
                        container,
                        ..
                    } => {
                        Ledger::check_container(record, *container)?;
                        match self.sessions.get(session) {
                            Some(s) if s.patient != *patient => {
                                return Err(LedgerError::PatientMismatch {
                                    session: *session,
                                    patient: s.patient,
                                    got: *patient,
                                })
                            }
                            Some(s) if s.site != entry.site => {
                                return Err(LedgerError::SessionSite {
                                    session: *session,
                                    session_site: s.site,
                                    site: entry.site,
                                })
                            }
                            Some(_) => {}
                            None => {
                                change = Change::Session(
                                    *session,
                                    SessionRecord {
                                        patient: *patient,
                                        site: entry.site,
                                    },
                                )
                            }
                        }
                        let on = entry
                            .at
                            .with_timezone(&record.receipt.site_zone)
                            .date_naive();
                        if on > record.receipt.lot.expires_on {
                            return Err(LedgerError::Expired {
                                lot: entry.lot,
                                expires_on: record.receipt.lot.expires_on,
                                on,
                            });
                        }
                        if let Some((first_puncture, discard_by)) = self
                            .discard_by(entry.lot, *container)
                            .filter(|(_, by)| on > *by)
                        {
                            return Err(LedgerError::PastDiscardBy {
                                lot: entry.lot,
                                container: *container,
                                first_puncture,
                                discard_by,
                                on,
                            });
                        }
                    }
                    EntryKind::Administered { session, .. } | EntryKind::Wasted { session, .. } => {
                        self.check_withdrew(*session, entry.lot)?
                    }
                    EntryKind::Returned {
                        session, container, ..
                    } => {
                        Ledger::check_container(record, *container)?;
                        self.check_withdrew(*session, entry.lot)?;
                    }
                    EntryKind::Destroyed { container, .. } => {
                        Ledger::check_container(record, *container)?
                    }
                    EntryKind::Lost {
                        count, container, ..
                    } => {
                        Ledger::check_container(record, *container)?;
                        if self.counts.get(count).is_none_or(|c| c.lot != entry.lot) {
                            return Err(LedgerError::NotACount {
                                count: *count,
                                lot: entry.lot,
                            });
                        }
                        if let Some(correction) = self.corrected_by.get(count) {
                            return Err(LedgerError::CountCorrected {
                                count: *count,
                                correction: *correction,
                            });
                        }
                    }
                    EntryKind::Count {
                        counted_ml,
                        estimated,
                        witness,
                    } => {
                        let lot = &record.receipt.lot;
                        if *estimated {
                            let reason = if lot.drug.schedule() != Schedule::III {
                                Some("no estimate rule for its schedule in the reference")
                            } else if self.opened_with_stock(entry.lot).is_empty() {
                                Some("no opened container holding stock")
                            } else {
                                None
                            };
                            if let Some(reason) = reason {
                                return Err(LedgerError::EstimateNotAllowed {
                                    lot: entry.lot,
                                    drug: lot.drug.as_str(),
                                    schedule: lot.drug.schedule().as_str(),
                                    reason,
                                });
                            }
                        }
                        let expected_ml = self.balance(entry.lot, Account::LotStock);
                        let missing = expected_ml.minus(*counted_ml);
                        if missing.is_positive() {
                            shortfall = missing;
                        }
                        change = Change::Count(CountReconciliation {
                            count: entry.id,
                            lot: entry.lot,
                            site: entry.site,
                            at: entry.at,
                            counted_by: entry.actor,
                            witness: witness.map_or(entry.actor, |w| w.user),
                            estimated: *estimated,
                            expected: Quantity::of(expected_ml, lot.mg_per_ml),
                            counted: Quantity::of(*counted_ml, lot.mg_per_ml),
                        });
                    }
                    EntryKind::Received(_) | EntryKind::Correction { .. } => {}
                }
                (effect::of(entry, shortfall), change)
            }
        };
        self.check_bounds(entry, &effect)?;
        Ok(Plan { effect, change })
    }

    fn plan_correction(
        &self,
        entry: &Entry,
        corrects: Uuid,
    ) -> Result<(Effect, Change), LedgerError> {
        let corrected = self
            .entry(corrects)
            .ok_or(LedgerError::UnknownEntry { entry: corrects })?;
        if corrected.lot != entry.lot {
            return Err(LedgerError::CorrectionOtherLot {
                entry: corrects,
                entry_lot: corrected.lot,
                lot: entry.lot,
            });
        }
        self.live_lot(entry)?;
        if matches!(corrected.kind, EntryKind::Correction { .. }) {
            return Err(LedgerError::CorrectsCorrection { entry: corrects });
        }
        if let Some(correction) = self.corrected_by.get(&corrects) {
            return Err(LedgerError::AlreadyCorrected {
                entry: corrects,
                correction: *correction,
            });
        }
        let shortfall = self.counts.get(&corrects).map_or_else(zero, |c| {
            let missing = c.expected.ml.minus(c.counted.ml);
            if missing.is_positive() {
                missing
            } else {
                zero()
            }
        });
        Ok((
            effect::of(corrected, shortfall).reversed(),
            Change::Correction(corrects),
        ))
    }

    /// Refuses an effect that would take any balance below zero, or a
    /// container above its volume.
    fn check_bounds(&self, entry: &Entry, effect: &Effect) -> Result<(), LedgerError> {
        let field = match entry.kind {
            EntryKind::Correction { .. } => "corrects",
            EntryKind::Count { .. } => "counted_ml",
            _ => "volume_ml",
        };
        let lot = entry.lot;
        let capacity = self
            .lots
            .get(&lot)
            .map_or_else(zero, |l| l.receipt.lot.container_ml);
        for delta in &effect.deltas {
            let before = self.balance(lot, delta.account);
            let after = before.plus(delta.ml);
            let requested_ml = zero().minus(delta.ml);
            if let Account::ContainerOut(container) = delta.account {
                if after.cmp_value(capacity).is_gt() {
                    let available_ml = capacity.minus(before);
                    return Err(LedgerError::Insufficient(Box::new(Shortage {
                        field,
                        lot,
                        holder: Holder::Container(container),
                        available_ml,
                        requested_ml: delta.ml,
                    })));
                }
                if after.cmp_value(zero()).is_lt() {
                    return Err(LedgerError::Overfill(Box::new(Overfill {
                        field,
                        lot,
                        container,
                        holds_ml: capacity.minus(before),
                        capacity_ml: capacity,
                        adding_ml: requested_ml,
                    })));
                }
                continue;
            }
            if after.cmp_value(zero()).is_lt() {
                let holder = match delta.account {
                    Account::LotStock | Account::ContainerOut(_) => Holder::Lot,
                    Account::Custody(session) => Holder::Session(session),
                    Account::Drawn(session, container) => {
                        Holder::SessionContainer(session, container)
                    }
                    Account::Shortfall(count) => Holder::CountShortfall(count),
                    Account::Moved(m) | Account::SessionMoved(_, m) => Holder::Total(m),
                };
                return Err(LedgerError::Insufficient(Box::new(Shortage {
                    field,
                    lot,
                    holder,
                    available_ml: before,
                    requested_ml,
                })));
            }
        }
        Ok(())
    }

    fn commit(&mut self, entry: Entry, plan: Plan) -> Option<Discrepancy> {
        let lot = entry.lot;
        for delta in &plan.effect.deltas {
            let after = self.balance(lot, delta.account).plus(delta.ml);
            if after == zero() {
                self.accounts.remove(&(lot, delta.account));
            } else {
                self.accounts.insert((lot, delta.account), after);
            }
        }
        if let Some(Puncture {
            container,
            withdrawal,
            at,
            add,
        }) = plan.effect.puncture
        {
            let key = (lot, container);
            if add {
                self.punctures
                    .entry(key)
                    .or_default()
                    .insert(withdrawal, at);
            } else if let Some(punctures) = self.punctures.get_mut(&key) {
                punctures.remove(&withdrawal);
                if punctures.is_empty() {
                    self.punctures.remove(&key);
                }
            }
        }
        let mut discrepancy = None;
        match plan.change {
            Change::None => {}
            Change::Lot(record) => {
                self.lots.insert(record.id, record);
            }
            Change::Session(session, record) => {
                self.sessions.insert(session, record);
            }
            Change::Count(reconciliation) => {
                discrepancy = reconciliation.discrepancy();
                self.counts.insert(reconciliation.count, reconciliation);
            }
            Change::Correction(corrects) => {
                self.corrected_by.insert(corrects, entry.id);
            }
        }
        self.positions.insert(entry.id, self.entries.len());
        self.entries.push(entry);
        discrepancy
    }
}
