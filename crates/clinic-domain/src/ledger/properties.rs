//! Property tests over long random sequences of entries (hundreds, four
//! lots of both drugs at two sites in two zones, five sessions, four users,
//! some entries deliberately wrong). A separate, simple model written here
//! keeps only the list of accepted entries and recomputes every balance from
//! the entries still in effect (not corrected); it decides independently
//! whether each entry is allowed. Checked: the ledger accepts exactly what
//! the model allows; no accepted sequence has a negative balance; the
//! balances equal received − withdrawn + returned − destroyed − lost on the
//! shelf and received − administered − wasted − destroyed − lost in all;
//! every administration is tied to a session that withdrew from its lot;
//! a refused entry leaves the state unchanged; folding the entries again
//! gives the same state; an entry followed by its correction gives back the
//! balances before it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use uuid::Uuid;

use crate::dose::Exact;
use crate::ledger::entry::{DestructionMethod, Entry, EntryKind, Lot, Receipt, Witness};
use crate::ledger::*;

const SITE_A: u128 = 0x5a;
const SITE_B: u128 = 0x5b;
const SESSIONS: u128 = 3;
const USERS: usize = 4;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn dec(n: i128) -> Exact {
    Exact::integer(n)
        .checked_div(Exact::integer(10_000))
        .unwrap_or(Exact::integer(0))
}

fn zero() -> Exact {
    Exact::integer(0)
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn lt(a: Exact, b: Exact) -> bool {
    a.cmp_value(b).is_lt()
}

struct LotSpec {
    id: Uuid,
    site: Uuid,
    zone: Tz,
    lot: Lot,
    clinic_days: Option<i64>,
}

/// Test data, not clinical claims: strengths, sizes and dates chosen so
/// that expiry and both in-use periods fall inside the runs.
fn lots() -> Vec<LotSpec> {
    let lot = |drug, mg: i128, container: i128, containers, expires: &str, maker| Lot {
        drug,
        dosage_form: "injection".into(),
        mg_per_ml: Exact::integer(mg),
        container_ml: Exact::integer(container),
        containers,
        lot_number: format!("L-{mg}-{container}"),
        expires_on: date(expires),
        supplier: "Supplier".into(),
        invoice_number: "INV".into(),
        maker_discard_after_opening_days: maker,
    };
    vec![
        LotSpec {
            id: id(0x10),
            site: id(SITE_A),
            zone: chrono_tz::America::New_York,
            lot: lot(Drug::Ketamine, 10, 20, 8, "2026-03-25", None),
            clinic_days: Some(28),
        },
        LotSpec {
            id: id(0x11),
            site: id(SITE_A),
            zone: chrono_tz::America::New_York,
            lot: lot(Drug::Ketamine, 50, 10, 4, "2026-12-31", Some(7)),
            clinic_days: Some(28),
        },
        LotSpec {
            id: id(0x12),
            site: id(SITE_B),
            zone: chrono_tz::Australia::Lord_Howe,
            lot: lot(Drug::Midazolam, 5, 2, 6, "2026-08-01", None),
            clinic_days: None,
        },
        LotSpec {
            id: id(0x13),
            site: id(SITE_B),
            zone: chrono_tz::Australia::Lord_Howe,
            lot: lot(Drug::Ketamine, 100, 5, 3, "2026-03-12", Some(3)),
            clinic_days: Some(28),
        },
    ]
}

fn spec_of(specs: &[LotSpec], lot: Uuid) -> Option<&LotSpec> {
    specs.iter().find(|s| s.id == lot)
}

fn patient_of(session: Uuid) -> Uuid {
    id(session.as_u128() + 0xa00)
}

// ---------------------------------------------------------------- the model

/// Balances recomputed from the entries in effect.
#[derive(Default)]
struct Sums {
    stock: BTreeMap<Uuid, Exact>,
    out: BTreeMap<(Uuid, u32), Exact>,
    custody: BTreeMap<(Uuid, Uuid), Exact>,
    drawn: BTreeMap<(Uuid, Uuid, u32), Exact>,
    lost_against: BTreeMap<Uuid, Exact>,
    moved: BTreeMap<(Uuid, &'static str), Exact>,
    punctured: BTreeMap<(Uuid, u32), DateTime<Utc>>,
    withdrew: BTreeSet<(Uuid, Uuid)>,
    received: BTreeSet<Uuid>,
    active_counts: BTreeSet<Uuid>,
}

fn bump<K: Ord>(map: &mut BTreeMap<K, Exact>, key: K, by: Exact) {
    let now = map.get(&key).copied().unwrap_or_else(zero).plus(by);
    map.insert(key, now);
}

fn get<K: Ord>(map: &BTreeMap<K, Exact>, key: &K) -> Exact {
    map.get(key).copied().unwrap_or_else(zero)
}

#[derive(Default)]
struct Model {
    accepted: Vec<Entry>,
    /// Per count: expected stock when it was taken.
    expected: BTreeMap<Uuid, Exact>,
}

impl Model {
    fn corrected(entries: &[Entry]) -> BTreeSet<Uuid> {
        entries
            .iter()
            .filter_map(|e| match e.kind {
                EntryKind::Correction { corrects, .. } => Some(corrects),
                _ => None,
            })
            .collect()
    }

    fn sums(specs: &[LotSpec], entries: &[Entry]) -> Sums {
        let corrected = Model::corrected(entries);
        let mut s = Sums::default();
        for e in entries.iter().filter(|e| !corrected.contains(&e.id)) {
            let lot = e.lot;
            match &e.kind {
                EntryKind::Received(r) => {
                    let total = r
                        .lot
                        .container_ml
                        .times(Exact::integer(i128::from(r.lot.containers)));
                    bump(&mut s.stock, lot, total);
                    bump(&mut s.moved, (lot, "received"), total);
                    s.received.insert(lot);
                }
                EntryKind::Withdrawn {
                    session,
                    container,
                    volume_ml: v,
                    ..
                } => {
                    bump(&mut s.stock, lot, zero().minus(*v));
                    bump(&mut s.out, (lot, *container), *v);
                    bump(&mut s.custody, (*session, lot), *v);
                    bump(&mut s.drawn, (*session, lot, *container), *v);
                    bump(&mut s.moved, (lot, "withdrawn"), *v);
                    let first = s.punctured.entry((lot, *container)).or_insert(e.at);
                    *first = (*first).min(e.at);
                    s.withdrew.insert((*session, lot));
                }
                EntryKind::Administered {
                    session,
                    volume_ml: v,
                    ..
                } => {
                    bump(&mut s.custody, (*session, lot), zero().minus(*v));
                    bump(&mut s.moved, (lot, "administered"), *v);
                }
                EntryKind::Wasted {
                    session,
                    volume_ml: v,
                    ..
                } => {
                    bump(&mut s.custody, (*session, lot), zero().minus(*v));
                    bump(&mut s.moved, (lot, "wasted"), *v);
                }
                EntryKind::Returned {
                    session,
                    container,
                    volume_ml: v,
                    ..
                } => {
                    bump(&mut s.custody, (*session, lot), zero().minus(*v));
                    bump(&mut s.drawn, (*session, lot, *container), zero().minus(*v));
                    bump(&mut s.out, (lot, *container), zero().minus(*v));
                    bump(&mut s.stock, lot, *v);
                    bump(&mut s.moved, (lot, "returned"), *v);
                }
                EntryKind::Destroyed {
                    container,
                    volume_ml: v,
                    ..
                } => {
                    bump(&mut s.out, (lot, *container), *v);
                    bump(&mut s.stock, lot, zero().minus(*v));
                    bump(&mut s.moved, (lot, "destroyed"), *v);
                }
                EntryKind::Lost {
                    count,
                    container,
                    volume_ml: v,
                    ..
                } => {
                    bump(&mut s.out, (lot, *container), *v);
                    bump(&mut s.stock, lot, zero().minus(*v));
                    bump(&mut s.lost_against, *count, *v);
                    bump(&mut s.moved, (lot, "lost"), *v);
                }
                EntryKind::Count { .. } => {
                    s.active_counts.insert(e.id);
                }
                EntryKind::Correction { .. } => {}
            }
        }
        let _ = specs;
        s
    }

    /// Every balance within bounds.
    fn sums_ok(&self, specs: &[LotSpec], s: &Sums, counted: &BTreeMap<Uuid, Exact>) -> bool {
        let stock_ok = s.stock.values().all(|v| !lt(*v, zero()));
        let out_ok = s.out.iter().all(|((lot, _), v)| {
            spec_of(specs, *lot).is_some_and(|sp| !lt(*v, zero()) && !lt(sp.lot.container_ml, *v))
        });
        let custody_ok = s
            .custody
            .values()
            .chain(s.drawn.values())
            .all(|v| !lt(*v, zero()));
        let lost_ok = s.lost_against.iter().all(|(count, used)| {
            if *used == zero() {
                return true;
            }
            let shortfall = get(&self.expected, count).minus(get(counted, count));
            s.active_counts.contains(count) && !lt(shortfall, *used)
        });
        stock_ok && out_ok && custody_ok && lost_ok
    }

    fn counted(entries: &[Entry]) -> BTreeMap<Uuid, Exact> {
        entries
            .iter()
            .filter_map(|e| match e.kind {
                EntryKind::Count { counted_ml, .. } => Some((e.id, counted_ml)),
                _ => None,
            })
            .collect()
    }

    fn witness_ok(actor: Uuid, witness: Option<Witness>) -> bool {
        witness.is_some_and(|w| w.user != actor && w.authenticated)
    }

    /// Whether the ledger should accept `e` after the accepted entries.
    fn allows(&self, specs: &[LotSpec], e: &Entry) -> bool {
        if self.accepted.iter().any(|a| a.id == e.id)
            || self.accepted.last().is_some_and(|last| e.at < last.at)
        {
            return false;
        }
        let statics = match &e.kind {
            EntryKind::Received(_) => true,
            EntryKind::Withdrawn { volume_ml, .. } | EntryKind::Administered { volume_ml, .. } => {
                volume_ml.is_positive()
            }
            EntryKind::Wasted {
                volume_ml, witness, ..
            }
            | EntryKind::Returned {
                volume_ml, witness, ..
            }
            | EntryKind::Destroyed {
                volume_ml, witness, ..
            }
            | EntryKind::Lost {
                volume_ml, witness, ..
            } => volume_ml.is_positive() && Model::witness_ok(e.actor, *witness),
            EntryKind::Count { witness, .. } => Model::witness_ok(e.actor, *witness),
            EntryKind::Correction { reason, .. } => !reason.trim().is_empty(),
        };
        if !statics {
            return false;
        }
        let receipt = self
            .accepted
            .iter()
            .find(|a| a.lot == e.lot && matches!(a.kind, EntryKind::Received(_)));
        let now = Model::sums(specs, &self.accepted);
        let Some(spec) = spec_of(specs, e.lot) else {
            return false;
        };
        if let EntryKind::Received(_) = e.kind {
            return receipt.is_none();
        }
        let Some(receipt) = receipt else { return false };
        if Model::corrected(&self.accepted).contains(&receipt.id) || receipt.site != e.site {
            return false;
        }
        let in_range = |c: u32| (1..=spec.lot.containers).contains(&c);
        let rules = match &e.kind {
            EntryKind::Withdrawn {
                session,
                patient,
                container,
                ..
            } => {
                let first = self.accepted.iter().find(
                    |a| matches!(a.kind, EntryKind::Withdrawn { session: s, .. } if s == *session),
                );
                let bound_ok = first.is_none_or(|f| f.site == e.site && matches!(f.kind, EntryKind::Withdrawn { patient: p, .. } if p == *patient));
                let on = e.at.with_timezone(&spec.zone).date_naive();
                let days = match (spec.clinic_days, spec.lot.maker_discard_after_opening_days) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                let discard_ok = match (now.punctured.get(&(e.lot, *container)), days) {
                    (Some(first), Some(days)) => {
                        let opened = first.with_timezone(&spec.zone).date_naive();
                        on <= opened + Days::new(u64::try_from(days).unwrap_or(0))
                    }
                    _ => true,
                };
                in_range(*container) && bound_ok && on <= spec.lot.expires_on && discard_ok
            }
            EntryKind::Administered { session, .. } | EntryKind::Wasted { session, .. } => {
                now.withdrew.contains(&(*session, e.lot))
            }
            EntryKind::Returned {
                session, container, ..
            } => in_range(*container) && now.withdrew.contains(&(*session, e.lot)),
            EntryKind::Destroyed { container, .. } => in_range(*container),
            EntryKind::Lost {
                count, container, ..
            } => {
                let is_count = self.accepted.iter().any(|a| {
                    a.id == *count && a.lot == e.lot && matches!(a.kind, EntryKind::Count { .. })
                });
                in_range(*container)
                    && is_count
                    && !Model::corrected(&self.accepted).contains(count)
            }
            EntryKind::Count { estimated, .. } => {
                let opened_with_stock = (1..=spec.lot.containers).any(|c| {
                    let out = get(&now.out, &(e.lot, c));
                    (now.punctured.contains_key(&(e.lot, c)) || out.is_positive())
                        && spec.lot.container_ml.minus(out).is_positive()
                });
                !*estimated || (spec.lot.drug == Drug::Ketamine && opened_with_stock)
            }
            EntryKind::Correction { corrects, .. } => {
                match self.accepted.iter().find(|a| a.id == *corrects) {
                    None => false,
                    Some(target) => {
                        target.lot == e.lot
                            && !matches!(target.kind, EntryKind::Correction { .. })
                            && !Model::corrected(&self.accepted).contains(corrects)
                    }
                }
            }
            EntryKind::Received(_) => false,
        };
        if !rules {
            return false;
        }
        let mut with = self.accepted.clone();
        with.push(e.clone());
        let mut expected = self.expected.clone();
        if let EntryKind::Count { .. } = e.kind {
            expected.insert(e.id, get(&now.stock, &e.lot));
        }
        let next = Model {
            accepted: with,
            expected,
        };
        let sums = Model::sums(specs, &next.accepted);
        next.sums_ok(specs, &sums, &Model::counted(&next.accepted))
    }

    fn accept(&mut self, specs: &[LotSpec], e: Entry) {
        if let EntryKind::Count { .. } = e.kind {
            let stock = get(&Model::sums(specs, &self.accepted).stock, &e.lot);
            self.expected.insert(e.id, stock);
        }
        self.accepted.push(e);
    }
}

// ------------------------------------------------------- generated entries

#[derive(Debug, Clone, Copy)]
enum Kind {
    Receive,
    Withdraw,
    Administer,
    Waste,
    Return,
    Destroy,
    Lose,
    Count,
    Correct,
}

#[derive(Debug, Clone, Copy)]
enum Amount {
    /// Percent of what the holder has (rounded down to 0.0001 mL, at least 0.0001).
    Share(u8),
    /// Ten-thousandths of a mL, whatever the holder has.
    Raw(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Twist {
    None,
    OtherSite,
    OtherPatient,
    Earlier,
    SameId,
    BlankReason,
    ForeignSession,
}

#[derive(Debug, Clone)]
struct Op {
    kind: Kind,
    lot: usize,
    session: u128,
    container: u32,
    amount: Amount,
    actor: usize,
    witness: Option<usize>,
    authenticated: bool,
    minutes: i64,
    target: usize,
    latest: bool,
    estimated: bool,
    twist: Twist,
}

fn op() -> impl Strategy<Value = Op> {
    let kind = prop_oneof![
        1 => Just(Kind::Receive),
        6 => Just(Kind::Withdraw),
        5 => Just(Kind::Administer),
        3 => Just(Kind::Waste),
        2 => Just(Kind::Return),
        1 => Just(Kind::Destroy),
        1 => Just(Kind::Lose),
        2 => Just(Kind::Count),
        3 => Just(Kind::Correct),
    ];
    let amount = prop_oneof![6 => (1u8..=100).prop_map(Amount::Share), 1 => (1u32..=250_000).prop_map(Amount::Raw)];
    let twist = prop_oneof![
        40 => Just(Twist::None),
        1 => Just(Twist::OtherSite),
        1 => Just(Twist::OtherPatient),
        1 => Just(Twist::Earlier),
        1 => Just(Twist::SameId),
        1 => Just(Twist::BlankReason),
        1 => Just(Twist::ForeignSession),
    ];
    // The witness as an offset from the actor: 0 is the actor themself.
    let witness = prop_oneof![1 => Just(None), 1 => Just(Some(0)), 16 => (1..USERS).prop_map(Some)];
    let container = prop_oneof![16 => 1u32..=8, 1 => Just(0u32), 1 => Just(9u32)];
    let authenticated = prop_oneof![12 => Just(true), 1 => Just(false)];
    let minutes = prop_oneof![20 => 0i64..=60, 1 => 0i64..=2880];
    (
        (kind, 0usize..4, 0..SESSIONS, container, amount),
        (0..USERS, witness, authenticated, minutes),
        (any::<usize>(), any::<bool>(), any::<bool>(), twist),
    )
        .prop_map(
            |(
                (kind, lot, session, container, amount),
                (actor, witness, authenticated, minutes),
                (target, latest, estimated, twist),
            )| Op {
                kind,
                lot,
                session,
                container,
                amount,
                actor,
                witness,
                authenticated,
                minutes,
                target,
                latest,
                estimated,
                twist,
            },
        )
}

/// `held` × percent, rounded down to 0.0001 mL, at least 0.0001 mL.
fn share(held: Exact, percent: u8) -> Exact {
    let (num, den) = held.times(Exact::integer(i128::from(percent))).fraction();
    let tenths_of_thousandths = (num * 100).div_euclid(den);
    dec(tenths_of_thousandths.max(1))
}

fn amount(held: Exact, amount: Amount) -> Exact {
    match amount {
        Amount::Share(p) => share(held, p),
        Amount::Raw(n) => dec(i128::from(n)),
    }
}

fn user(n: usize) -> Uuid {
    id(0x100 + u128::try_from(n).unwrap_or(0))
}

struct Run {
    specs: Vec<LotSpec>,
    ledger: Ledger,
    model: Model,
    clock: DateTime<Utc>,
    next: u128,
}

impl Run {
    fn entry(&mut self, op: &Op) -> Entry {
        let spec = &self.specs[op.lot];
        let site_sessions = if (spec.site == id(SITE_A)) == (op.twist == Twist::ForeignSession) {
            SESSIONS
        } else {
            0
        };
        let session = id(0x5e00 + site_sessions + op.session);
        let lot = spec.id;
        let at = if op.twist == Twist::Earlier {
            self.clock - TimeDelta::minutes(1)
        } else {
            self.clock += TimeDelta::minutes(op.minutes);
            self.clock
        };
        let witness = op.witness.map(|offset| Witness {
            user: user((op.actor + offset) % USERS),
            authenticated: op.authenticated,
        });
        let held = self.ledger.session_held(session, lot);
        let remaining = self
            .ledger
            .container(lot, op.container)
            .map_or_else(zero, |c| c.remaining_ml);
        let pick = |list: Vec<&Entry>| -> Option<Uuid> {
            if list.is_empty() {
                None
            } else if op.latest {
                list.last().map(|e| e.id)
            } else {
                list.get(op.target % list.len()).map(|e| e.id)
            }
        };
        let kind = match op.kind {
            Kind::Receive => EntryKind::Received(Receipt {
                lot: spec.lot.clone(),
                site_zone: spec.zone,
                discard_after_opening_days: spec.clinic_days,
            }),
            Kind::Withdraw => {
                let patient = if op.twist == Twist::OtherPatient {
                    id(0xbad)
                } else {
                    patient_of(session)
                };
                EntryKind::Withdrawn {
                    session,
                    patient,
                    container: op.container,
                    volume_ml: amount(remaining, op.amount),
                }
            }
            Kind::Administer => EntryKind::Administered {
                session,
                pump_record: id(0x9000 + self.next),
                volume_ml: amount(held, op.amount),
            },
            Kind::Waste => EntryKind::Wasted {
                session,
                volume_ml: amount(held, op.amount),
                witness,
            },
            Kind::Return => EntryKind::Returned {
                session,
                container: op.container,
                volume_ml: amount(held, op.amount),
                witness,
            },
            Kind::Destroy => EntryKind::Destroyed {
                container: op.container,
                volume_ml: amount(remaining, op.amount),
                method: DestructionMethod::DeaForm41,
                reference: None,
                witness,
            },
            Kind::Lose => {
                let counts: Vec<&Entry> = self
                    .model
                    .accepted
                    .iter()
                    .filter(|e| e.lot == lot && matches!(e.kind, EntryKind::Count { .. }))
                    .collect();
                let count = pick(counts).unwrap_or(id(0xc0c0));
                let found = self
                    .ledger
                    .reconciliations()
                    .into_iter()
                    .find(|c| c.count == count)
                    .map_or_else(zero, |c| c.expected.ml.minus(c.counted.ml));
                let missing = if found.is_positive() { found } else { zero() };
                EntryKind::Lost {
                    count,
                    container: op.container,
                    volume_ml: amount(missing, op.amount),
                    witness,
                }
            }
            Kind::Count => {
                let stock = self.ledger.lot_balance(lot).map_or_else(zero, |q| q.ml);
                let counted = match op.amount {
                    Amount::Share(p) if p >= 90 => stock,
                    Amount::Share(p) => {
                        let (num, den) = stock.times(Exact::integer(i128::from(p))).fraction();
                        dec((num * 100).div_euclid(den))
                    }
                    Amount::Raw(n) => stock.plus(dec(i128::from(n))),
                };
                EntryKind::Count {
                    counted_ml: counted,
                    estimated: op.estimated && op.latest,
                    witness,
                }
            }
            Kind::Correct => {
                // A receipt is corrected rarely: it voids the lot for the rest of the run.
                let receipts_too = op.target.is_multiple_of(8);
                let targets: Vec<&Entry> = self
                    .model
                    .accepted
                    .iter()
                    .filter(|e| {
                        e.lot == lot && (receipts_too || !matches!(e.kind, EntryKind::Received(_)))
                    })
                    .collect();
                let corrects = pick(targets).unwrap_or(id(0xdead));
                let reason = if op.twist == Twist::BlankReason {
                    " ".to_string()
                } else {
                    "keyed wrong".to_string()
                };
                EntryKind::Correction { corrects, reason }
            }
        };
        self.next += 1;
        let entry_id = match (op.twist, self.model.accepted.first()) {
            (Twist::SameId, Some(first)) => first.id,
            _ => id(0xe0_0000 + self.next),
        };
        let site = if op.twist == Twist::OtherSite {
            if spec.site == id(SITE_A) {
                id(SITE_B)
            } else {
                id(SITE_A)
            }
        } else {
            spec.site
        };
        Entry {
            id: entry_id,
            at,
            site,
            actor: user(op.actor),
            lot,
            kind,
        }
    }
}

/// The ledger's balances against the model's, and every bound.
fn check_balances(run: &Run) -> Result<(), TestCaseError> {
    let sums = Model::sums(&run.specs, &run.model.accepted);
    for spec in &run.specs {
        let lot = spec.id;
        let Some(on_hand) = run.ledger.lot_balance(lot) else {
            prop_assert!(!sums.received.contains(&lot) && !sums.stock.contains_key(&lot));
            continue;
        };
        let stock = get(&sums.stock, &lot);
        prop_assert_eq!(on_hand.ml, stock, "lot {} stock", lot);
        prop_assert_eq!(on_hand.mg, stock.times(spec.lot.mg_per_ml));
        prop_assert!(!lt(on_hand.ml, zero()), "negative stock in lot {}", lot);
        let moved = |what: &'static str| get(&sums.moved, &(lot, what));
        // On the shelf: received − withdrawn + returned − destroyed − lost.
        prop_assert_eq!(
            stock,
            moved("received")
                .minus(moved("withdrawn"))
                .plus(moved("returned"))
                .minus(moved("destroyed"))
                .minus(moved("lost"))
        );
        let m = run.ledger.movements(lot);
        prop_assert_eq!(
            [
                m.received,
                m.withdrawn,
                m.administered,
                m.wasted,
                m.returned,
                m.destroyed,
                m.lost
            ],
            [
                "received",
                "withdrawn",
                "administered",
                "wasted",
                "returned",
                "destroyed",
                "lost"
            ]
            .map(moved)
        );
        // In all (shelf and sessions): received − administered − wasted − destroyed − lost.
        let mut custody_total = zero();
        for session in 0..2 * SESSIONS {
            let session = id(0x5e00 + session);
            let held = run.ledger.session_held(session, lot);
            prop_assert!(!lt(held, zero()), "negative custody");
            prop_assert_eq!(held, get(&sums.custody, &(session, lot)));
            custody_total = custody_total.plus(held);
        }
        prop_assert_eq!(
            on_hand.ml.plus(custody_total),
            moved("received")
                .minus(moved("administered"))
                .minus(moved("wasted"))
                .minus(moved("destroyed"))
                .minus(moved("lost"))
        );
        for c in 1..=spec.lot.containers {
            let view = run
                .ledger
                .container(lot, c)
                .ok_or_else(|| TestCaseError::fail("container"))?;
            prop_assert_eq!(
                view.remaining_ml,
                spec.lot.container_ml.minus(get(&sums.out, &(lot, c)))
            );
            prop_assert!(
                !lt(view.remaining_ml, zero()) && !lt(spec.lot.container_ml, view.remaining_ml)
            );
            prop_assert_eq!(view.first_puncture, sums.punctured.get(&(lot, c)).copied());
        }
    }
    for session in 0..2 * SESSIONS {
        let session = id(0x5e00 + session);
        let held_any = run
            .specs
            .iter()
            .any(|s| get(&sums.custody, &(session, s.id)).is_positive());
        prop_assert_eq!(run.ledger.session_accounted(session), !held_any);
    }
    Ok(())
}

fn run_ops(ops: &[Op]) -> Result<(Run, usize), TestCaseError> {
    let start = DateTime::parse_from_rfc3339("2026-03-02T14:00:00Z")
        .map_err(|e| TestCaseError::fail(e.to_string()))?
        .with_timezone(&Utc);
    let mut run = Run {
        specs: lots(),
        ledger: Ledger::empty(),
        model: Model::default(),
        clock: start,
        next: 0,
    };
    // Two lots are on the shelf from the start; the others arrive by random receipts.
    let mut all = vec![
        Op {
            kind: Kind::Receive,
            lot: 0,
            session: 0,
            container: 1,
            amount: Amount::Share(1),
            actor: 0,
            witness: None,
            authenticated: true,
            minutes: 0,
            target: 0,
            latest: true,
            estimated: false,
            twist: Twist::None,
        },
        Op {
            kind: Kind::Receive,
            lot: 2,
            session: 0,
            container: 1,
            amount: Amount::Share(1),
            actor: 0,
            witness: None,
            authenticated: true,
            minutes: 0,
            target: 0,
            latest: true,
            estimated: false,
            twist: Twist::None,
        },
    ];
    all.extend_from_slice(ops);
    let mut accepted = 0;
    for op in &all {
        let entry = run.entry(op);
        let allowed = run.model.allows(&run.specs, &entry);
        let before = run.ledger.clone();
        match run.ledger.record(entry.clone()) {
            Ok(found) => {
                prop_assert!(allowed, "accepted what the model refuses: {:?}", entry);
                accepted += 1;
                if let EntryKind::Count { counted_ml, .. } = entry.kind {
                    let expected = before.lot_balance(entry.lot).map_or_else(zero, |q| q.ml);
                    let difference = counted_ml.minus(expected);
                    prop_assert_eq!(
                        found.map(|d| d.difference_ml),
                        (difference != zero()).then_some(difference)
                    );
                } else {
                    prop_assert_eq!(found, None);
                }
                // An entry followed at once by its correction gives back the balances before it.
                if !matches!(entry.kind, EntryKind::Correction { .. }) {
                    let fix = Entry {
                        id: id(0xf0_0000 + run.next),
                        at: entry.at,
                        site: entry.site,
                        actor: entry.actor,
                        lot: entry.lot,
                        kind: EntryKind::Correction {
                            corrects: entry.id,
                            reason: "undo".into(),
                        },
                    };
                    let undone = apply(&run.ledger, fix).map_err(|e| {
                        TestCaseError::fail(format!("correcting {entry:?} at once refused: {e}"))
                    })?;
                    prop_assert_eq!(&undone.ledger.accounts, &before.accounts);
                    prop_assert_eq!(&undone.ledger.punctures, &before.punctures);
                }
                run.model.accept(&run.specs, entry);
                check_balances(&run)?;
            }
            Err(err) => {
                prop_assert!(
                    !allowed,
                    "refused what the model allows: {:?}: {}",
                    entry,
                    err
                );
                prop_assert_eq!(&run.ledger, &before, "a refused entry changed the ledger");
                prop_assert!(!err.field().is_empty());
            }
        }
    }
    Ok((run, accepted))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn long_random_sequences_keep_every_invariant(ops in proptest::collection::vec(op(), 150..400)) {
        let (run, accepted) = run_ops(&ops)?;
        prop_assert!(accepted >= 2);
        // Every administration in effect is tied to a session that withdrew from its lot.
        let corrected = Model::corrected(&run.model.accepted);
        for e in run.ledger.entries().iter().filter(|e| !corrected.contains(&e.id)) {
            if let EntryKind::Administered { session, .. } = e.kind {
                let withdrew = run.ledger.entries().iter().any(|w| !corrected.contains(&w.id) && w.lot == e.lot && matches!(w.kind, EntryKind::Withdrawn { session: s, .. } if s == session));
                prop_assert!(withdrew, "administration {} has no withdrawal", e.id);
                let first = run.model.accepted.iter().find_map(|w| match w.kind {
                    EntryKind::Withdrawn { session: s, patient, .. } if s == session => Some(patient),
                    _ => None,
                });
                prop_assert_eq!(run.ledger.session(session).map(|s| s.patient), first);
            }
        }
        for row in report::administration_log(&run.ledger).iter().filter(|r| r.corrected_by.is_none()) {
            prop_assert!(run.ledger.session_movements(row.session, row.lot).withdrawn.is_positive());
        }
        // Folding the same entries (twice) gives the same state.
        let again = fold(run.ledger.entries().to_vec()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&again, &run.ledger);
        prop_assert_eq!(fold(run.ledger.entries().to_vec()).ok(), Some(again));
        // The ledger as of its last entry is itself; as of any instant, a prefix.
        if let Some(last) = run.ledger.entries().last() {
            prop_assert_eq!(&run.ledger.as_of(last.at), &run.ledger);
        }
        let middle = run.ledger.entries().get(run.ledger.entries().len() / 2).map(|e| e.at);
        if let Some(middle) = middle {
            let then = run.ledger.as_of(middle);
            let prefix: Vec<Entry> = run.ledger.entries().iter().take_while(|e| e.at <= middle).cloned().collect();
            prop_assert_eq!(then.entries(), prefix.as_slice());
            prop_assert_eq!(report::inventory(&run.ledger, middle), report::inventory(&then, middle));
        }
    }
}
