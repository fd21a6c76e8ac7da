//! What an entry does to the ledger's balances, as signed changes to
//! accounts, so that a correction is exactly the same changes negated.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::dose::Exact;
use crate::ledger::entry::{Entry, EntryKind};
use crate::ledger::Movement;

/// A balance kept per lot. Every account is at least 0; `ContainerOut` is
/// also at most the container's volume. Zero balances are not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Account {
    /// The lot's stock on hand, mL.
    LotStock,
    /// What has left one container (drawn, destroyed, lost, less returned).
    ContainerOut(u32),
    /// A session's custody: withdrawn less administered, wasted, returned.
    Custody(Uuid),
    /// What a session drew from one container, less what it put back.
    Drawn(Uuid, u32),
    /// What a count found missing, less what is recorded lost against it.
    Shortfall(Uuid),
    /// The lot's running total of a movement.
    Moved(Movement),
    /// A session's running total of a movement in the lot.
    SessionMoved(Uuid, Movement),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Delta {
    pub account: Account,
    pub ml: Exact,
}

/// A withdrawal punctures its container; its correction takes that back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Puncture {
    pub container: u32,
    pub withdrawal: Uuid,
    pub at: DateTime<Utc>,
    pub add: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Effect {
    /// In the order they are checked: the most specific holder first, so a
    /// refusal names it.
    pub deltas: Vec<Delta>,
    pub puncture: Option<Puncture>,
}

impl Effect {
    pub fn reversed(self) -> Effect {
        let zero = Exact::integer(0);
        Effect {
            deltas: self
                .deltas
                .into_iter()
                .map(|d| Delta {
                    account: d.account,
                    ml: zero.minus(d.ml),
                })
                .collect(),
            puncture: self.puncture.map(|p| Puncture { add: !p.add, ..p }),
        }
    }
}

fn add(account: Account, ml: Exact) -> Delta {
    Delta { account, ml }
}

fn take(account: Account, ml: Exact) -> Delta {
    Delta {
        account,
        ml: Exact::integer(0).minus(ml),
    }
}

/// The changes an entry makes. A count's are its shortfall (found missing:
/// expected less counted, when positive), which the ledger works out when
/// the count is recorded; a correction's are the corrected entry's negated.
pub(super) fn of(entry: &Entry, count_shortfall_ml: Exact) -> Effect {
    use Account::{ContainerOut, Custody, Drawn, LotStock, Moved, SessionMoved, Shortfall};
    let mut puncture = None;
    let deltas = match &entry.kind {
        EntryKind::Received(receipt) => {
            let total = receipt
                .lot
                .container_ml
                .times(Exact::integer(i128::from(receipt.lot.containers)));
            vec![add(LotStock, total), add(Moved(Movement::Received), total)]
        }
        EntryKind::Withdrawn {
            session,
            container,
            volume_ml: v,
            ..
        } => {
            puncture = Some(Puncture {
                container: *container,
                withdrawal: entry.id,
                at: entry.at,
                add: true,
            });
            vec![
                add(ContainerOut(*container), *v),
                take(LotStock, *v),
                add(Custody(*session), *v),
                add(Drawn(*session, *container), *v),
                add(Moved(Movement::Withdrawn), *v),
                add(SessionMoved(*session, Movement::Withdrawn), *v),
            ]
        }
        EntryKind::Administered {
            session,
            volume_ml: v,
            ..
        } => vec![
            take(Custody(*session), *v),
            add(Moved(Movement::Administered), *v),
            add(SessionMoved(*session, Movement::Administered), *v),
        ],
        EntryKind::Wasted {
            session,
            volume_ml: v,
            ..
        } => vec![
            take(Custody(*session), *v),
            add(Moved(Movement::Wasted), *v),
            add(SessionMoved(*session, Movement::Wasted), *v),
        ],
        EntryKind::Returned {
            session,
            container,
            volume_ml: v,
            ..
        } => vec![
            take(Custody(*session), *v),
            take(Drawn(*session, *container), *v),
            take(ContainerOut(*container), *v),
            add(LotStock, *v),
            add(Moved(Movement::Returned), *v),
            add(SessionMoved(*session, Movement::Returned), *v),
        ],
        EntryKind::Destroyed {
            container,
            volume_ml: v,
            ..
        } => vec![
            add(ContainerOut(*container), *v),
            take(LotStock, *v),
            add(Moved(Movement::Destroyed), *v),
        ],
        EntryKind::Lost {
            count,
            container,
            volume_ml: v,
            ..
        } => vec![
            take(Shortfall(*count), *v),
            add(ContainerOut(*container), *v),
            take(LotStock, *v),
            add(Moved(Movement::Lost), *v),
        ],
        EntryKind::Count { .. } if count_shortfall_ml.is_positive() => {
            vec![add(Shortfall(entry.id), count_shortfall_ml)]
        }
        EntryKind::Count { .. } | EntryKind::Correction { .. } => Vec::new(),
    };
    Effect { deltas, puncture }
}
