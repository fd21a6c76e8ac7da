//! Hand-worked ledger sequences (amounts worked on paper in the comments),
//! every refusal with the state left unchanged, corrections restoring the
//! balances exactly, dates at the site's day boundary, counts and their
//! discrepancies, and the reports with their CSV.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

use crate::dose::Exact;
use crate::ledger::entry::{DestructionMethod, Entry, EntryKind, Lot, Receipt, Witness};
use crate::ledger::error::{Holder, LedgerError, Shortage};
use crate::ledger::report::{
    administration_log, csv, inventory, loss_report_draft, AdministrationRow, InventoryRow,
    LossReportDraft, LOSS_NOTICE,
};
use crate::ledger::*;

const NY: Tz = chrono_tz::America::New_York;

const SITE: u128 = 0x51;
const OTHER_SITE: u128 = 0x52;
const LOT: u128 = 0x10;
const OTHER_LOT: u128 = 0x11;
const SESSION: u128 = 0x5e;
const OTHER_SESSION: u128 = 0x5f;
const PATIENT: u128 = 0xa1;
const OTHER_PATIENT: u128 = 0xa2;
const PUMP: u128 = 0x9f;
const PHARMACIST: u128 = 0x01;
const NURSE: u128 = 0x02;
const SECOND_NURSE: u128 = 0x03;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn ml(text: &str) -> Exact {
    Exact::parse(text).unwrap()
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// A New York wall-clock time as a real instant.
fn ny(text: &str) -> DateTime<Utc> {
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
    NY.from_local_datetime(&local)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn witness(user: u128) -> Option<Witness> {
    Some(Witness {
        user: id(user),
        authenticated: true,
    })
}

/// Ketamine 10 mg/mL in ten 20 mL multi-dose vials (clinical.md §6 gives
/// 10 mg/mL in 20 mL vials), expiring 2027-06-30.
fn ketamine_lot() -> Lot {
    Lot {
        drug: Drug::Ketamine,
        dosage_form: "injection".into(),
        mg_per_ml: ml("10"),
        container_ml: ml("20"),
        containers: 10,
        lot_number: "KX-2291".into(),
        expires_on: date("2027-06-30"),
        supplier: "Example Wholesale".into(),
        invoice_number: "INV-88".into(),
        maker_discard_after_opening_days: None,
    }
}

/// Test data only (no clinical claim): a midazolam lot of two 10 mL vials.
fn midazolam_lot() -> Lot {
    Lot {
        drug: Drug::Midazolam,
        mg_per_ml: ml("5"),
        container_ml: ml("10"),
        containers: 2,
        lot_number: "MZ-7".into(),
        ..ketamine_lot()
    }
}

/// A ledger being written, with entry ids numbered in order.
struct Book {
    ledger: Ledger,
    next: u128,
}

impl Book {
    fn empty() -> Book {
        Book {
            ledger: Ledger::empty(),
            next: 0xe000,
        }
    }

    /// The ketamine lot received at the site on 2 March 2026, 09:00.
    fn new() -> Book {
        let mut book = Book::empty();
        book.ok_lot(
            LOT,
            "2026-03-02 09:00",
            PHARMACIST,
            EntryKind::Received(Receipt::new(ketamine_lot(), NY, &LedgerSettings::shipped())),
        );
        book
    }

    fn entry(&mut self, lot: u128, at: &str, actor: u128, kind: EntryKind) -> Entry {
        self.next += 1;
        Entry {
            id: id(self.next),
            at: ny(at),
            site: id(SITE),
            actor: id(actor),
            lot: id(lot),
            kind,
        }
    }

    fn ok_lot(
        &mut self,
        lot: u128,
        at: &str,
        actor: u128,
        kind: EntryKind,
    ) -> (Uuid, Option<Discrepancy>) {
        let entry = self.entry(lot, at, actor, kind);
        let entry_id = entry.id;
        let found = self
            .ledger
            .record(entry.clone())
            .unwrap_or_else(|e| panic!("refused {entry:?}: {e}"));
        (entry_id, found)
    }

    fn ok(&mut self, at: &str, actor: u128, kind: EntryKind) -> Uuid {
        self.ok_lot(LOT, at, actor, kind).0
    }

    /// Records an entry that must be refused, and checks the refusal left
    /// the ledger exactly as it was (and that `apply` agrees).
    fn refused_entry(&mut self, entry: Entry) -> LedgerError {
        let before = self.ledger.clone();
        let by_apply = apply(&self.ledger, entry.clone()).unwrap_err();
        let err = self.ledger.record(entry).unwrap_err();
        assert_eq!(self.ledger, before, "a refused entry changes nothing");
        assert_eq!(by_apply, err);
        err
    }

    fn refused(&mut self, at: &str, actor: u128, kind: EntryKind) -> LedgerError {
        let entry = self.entry(LOT, at, actor, kind);
        self.refused_entry(entry)
    }

    fn lot_ml(&self) -> String {
        self.ledger.lot_balance(id(LOT)).unwrap().ml.to_decimal()
    }

    fn lot_mg(&self) -> String {
        self.ledger.lot_balance(id(LOT)).unwrap().mg.to_decimal()
    }

    fn held(&self, session: u128) -> String {
        self.ledger.session_held(id(session), id(LOT)).to_decimal()
    }

    fn remaining(&self, container: u32) -> String {
        self.ledger
            .container(id(LOT), container)
            .unwrap()
            .remaining_ml
            .to_decimal()
    }
}

fn withdraw(container: u32, volume: &str) -> EntryKind {
    EntryKind::Withdrawn {
        session: id(SESSION),
        patient: id(PATIENT),
        container,
        volume_ml: ml(volume),
    }
}

fn administer(volume: &str) -> EntryKind {
    EntryKind::Administered {
        session: id(SESSION),
        pump_record: id(PUMP),
        volume_ml: ml(volume),
    }
}

fn waste(volume: &str, by: Option<Witness>) -> EntryKind {
    EntryKind::Wasted {
        session: id(SESSION),
        volume_ml: ml(volume),
        witness: by,
    }
}

fn give_back(container: u32, volume: &str) -> EntryKind {
    EntryKind::Returned {
        session: id(SESSION),
        container,
        volume_ml: ml(volume),
        witness: witness(SECOND_NURSE),
    }
}

fn correct(entry: Uuid, reason: &str) -> EntryKind {
    EntryKind::Correction {
        corrects: entry,
        reason: reason.into(),
    }
}

fn count(counted: &str, estimated: bool) -> EntryKind {
    EntryKind::Count {
        counted_ml: ml(counted),
        estimated,
        witness: witness(SECOND_NURSE),
    }
}

fn shortage(err: &LedgerError) -> &Shortage {
    match err {
        LedgerError::Insufficient(shortage) => shortage,
        other => panic!("expected a shortage, got {other:?}"),
    }
}

#[track_caller]
fn check_shortage(
    err: &LedgerError,
    field: &str,
    holder: Holder,
    available: &str,
    requested: &str,
) {
    let s = shortage(err);
    assert_eq!(
        (s.field, s.lot, s.holder),
        (field, id(LOT), holder),
        "{err}"
    );
    assert_eq!(
        (s.available_ml.to_decimal(), s.requested_ml.to_decimal()),
        (available.to_string(), requested.to_string()),
        "{err}"
    );
    assert_eq!(err.field(), field);
}

#[test]
fn the_worked_sequence_accounts_for_every_drop() {
    let mut book = Book::new();
    // 10 vials × 20 mL = 200 mL; × 10 mg/mL = 2000 mg.
    assert_eq!(
        (book.lot_ml(), book.lot_mg()),
        ("200".into(), "2000".into())
    );
    assert!(
        book.ledger.session_accounted(id(SESSION)),
        "a session that withdrew nothing holds nothing"
    );

    book.ok("2026-03-02 10:00", NURSE, withdraw(1, "5.1475"));
    // 200 − 5.1475 = 194.8525 mL = 1948.525 mg; vial 1: 20 − 5.1475 = 14.8525 mL.
    assert_eq!(
        (book.lot_ml(), book.lot_mg()),
        ("194.8525".into(), "1948.525".into())
    );
    assert_eq!(book.remaining(1), "14.8525");
    assert_eq!(book.remaining(2), "20");
    assert_eq!(book.held(SESSION), "5.1475");
    assert!(!book.ledger.session_accounted(id(SESSION)));
    let custody = book.ledger.session_custody(id(SESSION));
    assert_eq!(custody.len(), 1);
    assert_eq!(
        (
            custody[0].held.ml.to_decimal(),
            custody[0].held.mg.to_decimal()
        ),
        ("5.1475".into(), "51.475".into())
    );

    book.ok("2026-03-02 11:00", NURSE, administer("5.0"));
    // 5.1475 − 5 = 0.1475 mL still held.
    assert_eq!(book.held(SESSION), "0.1475");
    assert!(!book.ledger.session_accounted(id(SESSION)));

    book.ok(
        "2026-03-02 11:05",
        NURSE,
        waste("0.1475", witness(SECOND_NURSE)),
    );
    assert_eq!(book.held(SESSION), "0");
    assert!(book.ledger.session_accounted(id(SESSION)));
    assert!(book.ledger.session_custody(id(SESSION)).is_empty());

    // The shelf still holds 194.8525 mL: 194.8525 + 5 + 0.1475 = 200.
    assert_eq!(
        (book.lot_ml(), book.lot_mg()),
        ("194.8525".into(), "1948.525".into())
    );
    let moved = book.ledger.movements(id(LOT));
    let texts: Vec<String> = [
        moved.received,
        moved.withdrawn,
        moved.administered,
        moved.wasted,
        moved.returned,
        moved.destroyed,
        moved.lost,
    ]
    .iter()
    .map(|m| m.to_decimal())
    .collect();
    assert_eq!(texts, ["200", "5.1475", "5", "0.1475", "0", "0", "0"]);
    let session = book.ledger.session_movements(id(SESSION), id(LOT));
    assert_eq!(
        (
            session.withdrawn.to_decimal(),
            session.administered.to_decimal(),
            session.wasted.to_decimal()
        ),
        ("5.1475".into(), "5".into(), "0.1475".into())
    );
    assert_eq!(
        book.ledger.session(id(SESSION)),
        Some(&SessionRecord {
            patient: id(PATIENT),
            site: id(SITE)
        })
    );

    let site = book.ledger.site_balance(id(SITE), Drug::Ketamine);
    assert_eq!(
        (site.ml.to_decimal(), site.mg.to_decimal()),
        ("194.8525".into(), "1948.525".into())
    );
    assert_eq!(
        book.ledger.site_balance(id(SITE), Drug::Midazolam),
        Quantity::zero()
    );
    assert_eq!(
        book.ledger.site_balance(id(OTHER_SITE), Drug::Ketamine),
        Quantity::zero()
    );

    // Vial 1 was first punctured on 2 March (New York): discard by 2 + 28 = 30 March.
    let vial = book.ledger.container(id(LOT), 1).unwrap();
    assert_eq!(vial.first_puncture, Some(ny("2026-03-02 10:00")));
    assert_eq!(vial.discard_by, Some(date("2026-03-30")));
    let unopened = book.ledger.container(id(LOT), 2).unwrap();
    assert_eq!((unopened.first_puncture, unopened.discard_by), (None, None));
    assert_eq!(book.ledger.container(id(LOT), 11), None);
    assert_eq!(book.ledger.entries().len(), 4);

    // Folding the same entries again gives the same ledger.
    assert_eq!(fold(book.ledger.entries().to_vec()).unwrap(), book.ledger);
}

#[test]
fn drug_schedules_and_wire_names() {
    assert_eq!(Drug::Ketamine.schedule(), Schedule::III);
    assert_eq!(Drug::Midazolam.schedule(), Schedule::IV);
    assert_eq!(Drug::parse("midazolam").unwrap(), Drug::Midazolam);
    assert_eq!(Drug::parse("diazepam").unwrap_err().field, "drug");
    assert_eq!(Schedule::III.as_str(), "III");
    assert_eq!(
        LedgerSettings::shipped().discard_after_opening_days,
        Some(28)
    );
    assert_eq!(
        entry::DestructionMethod::parse("dea_form_41").unwrap(),
        DestructionMethod::DeaForm41
    );
    assert_eq!(entry::EntryType::ALL.len(), 9);
}

#[test]
fn no_balance_goes_negative() {
    let mut book = Book::new();
    // A 20 mL vial cannot give 20.0001 mL.
    let err = book.refused("2026-03-02 10:00", NURSE, withdraw(1, "20.0001"));
    check_shortage(&err, "volume_ml", Holder::Container(1), "20", "20.0001");
    assert!(
        err.to_string()
            .contains("container 1 holds 20 mL; this entry needs 20.0001 mL"),
        "{err}"
    );
    book.ok("2026-03-02 10:00", NURSE, withdraw(1, "20"));
    let err = book.refused("2026-03-02 10:01", NURSE, withdraw(1, "0.0001"));
    check_shortage(&err, "volume_ml", Holder::Container(1), "0", "0.0001");

    // Administering more than the session holds.
    let err = book.refused("2026-03-02 10:02", NURSE, administer("20.0001"));
    check_shortage(
        &err,
        "volume_ml",
        Holder::Session(id(SESSION)),
        "20",
        "20.0001",
    );
    book.ok("2026-03-02 10:03", NURSE, administer("15"));
    let err = book.refused(
        "2026-03-02 10:04",
        NURSE,
        waste("5.0001", witness(SECOND_NURSE)),
    );
    check_shortage(
        &err,
        "volume_ml",
        Holder::Session(id(SESSION)),
        "5",
        "5.0001",
    );
    let err = book.refused("2026-03-02 10:04", NURSE, give_back(1, "5.0001"));
    check_shortage(
        &err,
        "volume_ml",
        Holder::Session(id(SESSION)),
        "5",
        "5.0001",
    );

    // A session that withdrew nothing from the lot holds nothing of it.
    let other = EntryKind::Administered {
        session: id(OTHER_SESSION),
        pump_record: id(PUMP),
        volume_ml: ml("1"),
    };
    let err = book.refused("2026-03-02 10:05", NURSE, other);
    assert_eq!(
        err,
        LedgerError::NotWithdrawn {
            session: id(OTHER_SESSION),
            lot: id(LOT)
        }
    );
    assert_eq!(err.field(), "session");
    let other_waste = EntryKind::Wasted {
        session: id(OTHER_SESSION),
        volume_ml: ml("1"),
        witness: witness(SECOND_NURSE),
    };
    assert_eq!(
        book.refused("2026-03-02 10:05", NURSE, other_waste),
        LedgerError::NotWithdrawn {
            session: id(OTHER_SESSION),
            lot: id(LOT)
        }
    );

    // Destroying more than a vial holds.
    let destroy = |volume: &str| EntryKind::Destroyed {
        container: 2,
        volume_ml: ml(volume),
        method: DestructionMethod::ReverseDistributor,
        reference: None,
        witness: witness(SECOND_NURSE),
    };
    check_shortage(
        &book.refused("2026-03-02 10:06", PHARMACIST, destroy("20.5")),
        "volume_ml",
        Holder::Container(2),
        "20",
        "20.5",
    );
    book.ok("2026-03-02 10:06", PHARMACIST, destroy("20"));
    // 200 − 20 withdrawn − 20 destroyed = 160 mL on the shelf.
    assert_eq!(book.lot_ml(), "160");

    // The receipt cannot be corrected once stock has left the shelf: 160 of 200 mL.
    let receipt = book.ledger.entries()[0].id;
    let err = book.refused(
        "2026-03-02 10:07",
        PHARMACIST,
        correct(receipt, "wrong lot keyed"),
    );
    check_shortage(&err, "corrects", Holder::Lot, "160", "200");
}

#[test]
fn returns_go_back_to_the_container_they_came_from() {
    let mut book = Book::new();
    book.ok("2026-03-02 10:00", NURSE, withdraw(3, "5"));
    // Nothing was drawn from vial 4 by this session.
    let err = book.refused("2026-03-02 10:01", NURSE, give_back(4, "2"));
    check_shortage(
        &err,
        "volume_ml",
        Holder::SessionContainer(id(SESSION), 4),
        "0",
        "2",
    );
    book.ok("2026-03-02 10:02", NURSE, give_back(3, "2"));
    // Vial 3: 20 − 5 + 2 = 17 mL; the session holds 3; the shelf 200 − 3 = 197.
    assert_eq!(
        (book.remaining(3), book.held(SESSION), book.lot_ml()),
        ("17".into(), "3".into(), "197".into())
    );
    // The vial stays opened after a return.
    assert_eq!(
        book.ledger.container(id(LOT), 3).unwrap().discard_by,
        Some(date("2026-03-30"))
    );
    book.ok("2026-03-02 10:03", NURSE, administer("1"));
    // Held 2 now; drawn from vial 3 (not returned) still 3: the custody binds.
    let err = book.refused("2026-03-02 10:04", NURSE, give_back(3, "2.5"));
    check_shortage(&err, "volume_ml", Holder::Session(id(SESSION)), "2", "2.5");
    book.ok("2026-03-02 10:05", NURSE, give_back(3, "2"));
    assert!(book.ledger.session_accounted(id(SESSION)));
    assert_eq!(
        (book.remaining(3), book.lot_ml()),
        ("19".into(), "199".into())
    );
}

#[test]
fn witnesses_are_someone_else_who_signed_in() {
    let mut book = Book::new();
    book.ok("2026-03-02 10:00", NURSE, withdraw(1, "5"));
    let fields = |err: LedgerError| match err {
        LedgerError::Invalid(errors) => errors
            .0
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect::<Vec<_>>(),
        other => panic!("expected invalid input, got {other:?}"),
    };
    let none = fields(book.refused("2026-03-02 10:01", NURSE, waste("1", None)));
    assert_eq!(none.len(), 1);
    assert_eq!(none[0].0, "witness");
    assert!(none[0].1.starts_with("is required"), "{}", none[0].1);
    let same = fields(book.refused("2026-03-02 10:01", NURSE, waste("1", witness(NURSE))));
    assert_eq!(same[0].0, "witness");
    assert!(
        same[0].1.contains("someone other than the actor"),
        "{}",
        same[0].1
    );
    let unsigned = Some(Witness {
        user: id(SECOND_NURSE),
        authenticated: false,
    });
    let err = book.refused("2026-03-02 10:01", NURSE, waste("1", unsigned));
    assert_eq!(err.field(), "witness_authenticated");
    assert!(err.to_string().contains("own credentials"), "{err}");
    // Every field at once: a zero volume and no witness.
    let both = fields(book.refused("2026-03-02 10:01", NURSE, waste("0", None)));
    assert_eq!(
        both.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(),
        ["volume_ml", "witness"]
    );
    // Returns, destruction, losses and counts need one too.
    let no_witness_return = EntryKind::Returned {
        session: id(SESSION),
        container: 1,
        volume_ml: ml("1"),
        witness: None,
    };
    assert_eq!(
        book.refused("2026-03-02 10:01", NURSE, no_witness_return)
            .field(),
        "witness"
    );
    let no_witness_destroy = EntryKind::Destroyed {
        container: 2,
        volume_ml: ml("1"),
        method: DestructionMethod::DeaForm41,
        reference: Some("Form 41 #12".into()),
        witness: witness(PHARMACIST),
    };
    assert_eq!(
        book.refused("2026-03-02 10:01", PHARMACIST, no_witness_destroy)
            .field(),
        "witness"
    );
    let count_alone = EntryKind::Count {
        counted_ml: ml("195"),
        estimated: false,
        witness: None,
    };
    assert_eq!(
        book.refused("2026-03-02 10:01", NURSE, count_alone).field(),
        "witness"
    );
    book.ok("2026-03-02 10:01", NURSE, waste("5", witness(SECOND_NURSE)));
}

#[test]
fn input_that_is_not_a_measurable_volume_is_refused() {
    let mut book = Book::new();
    let one_third = Exact::integer(1).checked_div(Exact::integer(3)).unwrap();
    let err = book.refused(
        "2026-03-02 10:00",
        NURSE,
        EntryKind::Withdrawn {
            session: id(SESSION),
            patient: id(PATIENT),
            container: 1,
            volume_ml: one_third,
        },
    );
    assert_eq!(err.field(), "volume_ml");
    assert!(err.to_string().contains("at most 4 places"), "{err}");
    assert_eq!(
        book.refused("2026-03-02 10:00", NURSE, withdraw(1, "-1"))
            .field(),
        "volume_ml"
    );
    assert_eq!(
        book.refused("2026-03-02 10:00", NURSE, withdraw(1, "0"))
            .field(),
        "volume_ml"
    );
    // A receipt names every missing field.
    let bad = Lot {
        dosage_form: " ".into(),
        mg_per_ml: ml("0"),
        containers: 0,
        lot_number: String::new(),
        supplier: String::new(),
        invoice_number: String::new(),
        maker_discard_after_opening_days: Some(-1),
        ..ketamine_lot()
    };
    let entry = book.entry(
        OTHER_LOT,
        "2026-03-02 10:00",
        PHARMACIST,
        EntryKind::Received(Receipt {
            lot: bad,
            site_zone: NY,
            discard_after_opening_days: Some(-2),
        }),
    );
    let LedgerError::Invalid(errors) = book.refused_entry(entry) else {
        panic!("expected invalid input")
    };
    let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "dosage_form",
            "mg_per_ml",
            "containers",
            "lot_number",
            "supplier",
            "invoice_number",
            "maker_discard_after_opening_days",
            "discard_after_opening_days"
        ]
    );
    // Volumes beyond exact arithmetic's comfort are typing errors.
    let huge = Lot {
        containers: 100_000_000,
        ..ketamine_lot()
    };
    let entry = book.entry(
        OTHER_LOT,
        "2026-03-02 10:00",
        PHARMACIST,
        EntryKind::Received(Receipt::new(huge, NY, &LedgerSettings::shipped())),
    );
    assert_eq!(book.refused_entry(entry).field(), "containers");
}

#[test]
fn entries_must_fit_the_lot_the_site_the_session_and_the_clock() {
    let mut book = Book::new();
    let withdrawal = book.ok("2026-03-02 10:00", NURSE, withdraw(1, "5"));
    // Time never goes back.
    let err = book.refused("2026-03-02 09:59", NURSE, administer("1"));
    assert_eq!(
        err,
        LedgerError::OutOfOrder {
            at: ny("2026-03-02 09:59"),
            last: ny("2026-03-02 10:00")
        }
    );
    // The same id twice.
    let mut again = book.entry(LOT, "2026-03-02 10:01", NURSE, administer("1"));
    again.id = withdrawal;
    assert_eq!(
        book.refused_entry(again),
        LedgerError::DuplicateEntry { entry: withdrawal }
    );
    // A lot never received, a lot received twice, another site.
    let unknown = book.entry(OTHER_LOT, "2026-03-02 10:01", NURSE, withdraw(1, "1"));
    assert_eq!(
        book.refused_entry(unknown),
        LedgerError::UnknownLot { lot: id(OTHER_LOT) }
    );
    let twice = book.entry(
        LOT,
        "2026-03-02 10:01",
        PHARMACIST,
        EntryKind::Received(Receipt::new(ketamine_lot(), NY, &LedgerSettings::shipped())),
    );
    assert_eq!(
        book.refused_entry(twice),
        LedgerError::DuplicateLot {
            lot: id(LOT),
            receipt: book.ledger.entries()[0].id
        }
    );
    let mut elsewhere = book.entry(LOT, "2026-03-02 10:01", NURSE, withdraw(2, "1"));
    elsewhere.site = id(OTHER_SITE);
    let err = book.refused_entry(elsewhere);
    assert_eq!(
        err,
        LedgerError::WrongSite {
            lot: id(LOT),
            lot_site: id(SITE),
            site: id(OTHER_SITE)
        }
    );
    assert_eq!(err.field(), "site");
    // Containers are numbered 1 to 10.
    assert_eq!(
        book.refused("2026-03-02 10:01", NURSE, withdraw(0, "1")),
        LedgerError::NoSuchContainer {
            lot: id(LOT),
            container: 0,
            containers: 10
        }
    );
    assert_eq!(
        book.refused("2026-03-02 10:01", NURSE, withdraw(11, "1"))
            .field(),
        "container"
    );
    // A session is one patient's.
    let other_patient = EntryKind::Withdrawn {
        session: id(SESSION),
        patient: id(OTHER_PATIENT),
        container: 1,
        volume_ml: ml("1"),
    };
    let err = book.refused("2026-03-02 10:01", NURSE, other_patient);
    assert_eq!(
        err,
        LedgerError::PatientMismatch {
            session: id(SESSION),
            patient: id(PATIENT),
            got: id(OTHER_PATIENT)
        }
    );
    assert_eq!(err.field(), "patient");
    // ... at one site.
    let other_site_lot = book.entry(
        OTHER_LOT,
        "2026-03-02 10:02",
        PHARMACIST,
        EntryKind::Received(Receipt::new(
            midazolam_lot(),
            NY,
            &LedgerSettings::shipped(),
        )),
    );
    let other_site_lot = Entry {
        site: id(OTHER_SITE),
        ..other_site_lot
    };
    book.ledger.record(other_site_lot).unwrap();
    let there = book.entry(OTHER_LOT, "2026-03-02 10:03", NURSE, withdraw(1, "1"));
    let err = book.refused_entry(Entry {
        site: id(OTHER_SITE),
        ..there
    });
    assert_eq!(
        err,
        LedgerError::SessionSite {
            session: id(SESSION),
            session_site: id(SITE),
            site: id(OTHER_SITE)
        }
    );
}

#[test]
fn nothing_is_drawn_past_the_discard_by_date_or_the_expiry() {
    let mut book = Book::new();
    // First puncture of vial 1 on 2 March (New York): discard by 30 March, the last day of use.
    book.ok("2026-03-02 10:00", NURSE, withdraw(1, "1"));
    // 30 March 23:30 in New York is already 31 March in UTC; still the site's 30 March.
    book.ok("2026-03-30 23:30", NURSE, withdraw(1, "1"));
    let err = book.refused("2026-03-31 00:30", NURSE, withdraw(1, "1"));
    assert_eq!(
        err,
        LedgerError::PastDiscardBy {
            lot: id(LOT),
            container: 1,
            first_puncture: date("2026-03-02"),
            discard_by: date("2026-03-30"),
            on: date("2026-03-31")
        }
    );
    assert_eq!(err.field(), "container");
    assert!(err.to_string().contains("discarded by 2026-03-30"), "{err}");
    // An unopened vial is fine; its own clock starts now.
    book.ok("2026-03-31 00:30", NURSE, withdraw(2, "1"));
    assert_eq!(
        book.ledger.container(id(LOT), 2).unwrap().discard_by,
        Some(date("2026-04-28"))
    );
    // What is left in vial 1 is destroyed, with a witness.
    let destroy = EntryKind::Destroyed {
        container: 1,
        volume_ml: ml("18"),
        method: DestructionMethod::DeaForm41,
        reference: Some("Form 41, 2026-03-31".into()),
        witness: witness(SECOND_NURSE),
    };
    book.ok("2026-03-31 09:00", PHARMACIST, destroy);
    assert_eq!(book.remaining(1), "0");

    // Expiry: the lot's last day of use, at the site.
    let mut short = Book::empty();
    let lot = Lot {
        expires_on: date("2026-04-30"),
        ..ketamine_lot()
    };
    short.ok(
        "2026-04-01 09:00",
        PHARMACIST,
        EntryKind::Received(Receipt::new(lot, NY, &LedgerSettings::shipped())),
    );
    short.ok("2026-04-30 23:00", NURSE, withdraw(1, "1"));
    let err = short.refused("2026-05-01 00:10", NURSE, withdraw(2, "1"));
    assert_eq!(
        err,
        LedgerError::Expired {
            lot: id(LOT),
            expires_on: date("2026-04-30"),
            on: date("2026-05-01")
        }
    );
    assert_eq!(err.field(), "at");
    // Custody drawn before expiry can still be accounted for.
    short.ok("2026-05-01 00:20", NURSE, waste("1", witness(SECOND_NURSE)));
}

#[test]
fn the_in_use_period_is_the_clinics_or_the_makers_whichever_is_shorter() {
    let discard_by = |clinic: Option<i64>, maker: Option<i64>| {
        let mut book = Book::empty();
        let lot = Lot {
            maker_discard_after_opening_days: maker,
            ..ketamine_lot()
        };
        book.ok(
            "2026-03-02 09:00",
            PHARMACIST,
            EntryKind::Received(Receipt::new(
                lot,
                NY,
                &LedgerSettings {
                    discard_after_opening_days: clinic,
                },
            )),
        );
        book.ok("2026-03-02 10:00", NURSE, withdraw(1, "1"));
        book.ledger.container(id(LOT), 1).unwrap().discard_by
    };
    assert_eq!(discard_by(Some(28), None), Some(date("2026-03-30")));
    assert_eq!(discard_by(Some(28), Some(7)), Some(date("2026-03-09")));
    assert_eq!(discard_by(Some(5), Some(7)), Some(date("2026-03-07")));
    assert_eq!(discard_by(None, Some(0)), Some(date("2026-03-02")));
    assert_eq!(discard_by(None, None), None);

    // Same day only (maker's 0 days): the next day is refused.
    let mut book = Book::empty();
    let lot = Lot {
        maker_discard_after_opening_days: Some(0),
        ..ketamine_lot()
    };
    book.ok(
        "2026-03-02 09:00",
        PHARMACIST,
        EntryKind::Received(Receipt::new(lot, NY, &LedgerSettings::shipped())),
    );
    book.ok("2026-03-02 10:00", NURSE, withdraw(1, "1"));
    book.ok("2026-03-02 23:59", NURSE, withdraw(1, "1"));
    assert_eq!(
        book.refused("2026-03-03 00:00", NURSE, withdraw(1, "1"))
            .field(),
        "container"
    );

    // The setting travels with the receipt: a ledger folded later dates the same way.
    let refolded = fold(book.ledger.entries().to_vec()).unwrap();
    assert_eq!(
        refolded.container(id(LOT), 1).unwrap().discard_by,
        Some(date("2026-03-02"))
    );
}

#[test]
fn corrections_reverse_exactly_and_only_once() {
    let mut book = Book::new();
    let received = book.ledger.clone();
    let withdrawal = book.ok("2026-03-02 10:00", NURSE, withdraw(1, "5.1475"));
    let administration = book.ok("2026-03-02 11:00", NURSE, administer("5.0"));
    let wasted = book.ok(
        "2026-03-02 11:05",
        NURSE,
        waste("0.1475", witness(SECOND_NURSE)),
    );

    // A withdrawal cannot be undone while what it drew is accounted for elsewhere.
    let err = book.refused("2026-03-02 12:00", NURSE, correct(withdrawal, "wrong vial"));
    check_shortage(
        &err,
        "corrects",
        Holder::Session(id(SESSION)),
        "0",
        "5.1475",
    );

    // Correcting the waste gives the custody back exactly.
    let waste_fix = book.ok(
        "2026-03-02 12:00",
        NURSE,
        correct(wasted, "waste keyed for the wrong session"),
    );
    assert_eq!(book.held(SESSION), "0.1475");
    assert_eq!(book.ledger.corrected_by(wasted), Some(waste_fix));
    // Only once; a correction is never corrected; a reason is required.
    assert_eq!(
        book.refused("2026-03-02 12:01", NURSE, correct(wasted, "again")),
        LedgerError::AlreadyCorrected {
            entry: wasted,
            correction: waste_fix
        }
    );
    assert_eq!(
        book.refused("2026-03-02 12:01", NURSE, correct(waste_fix, "undo")),
        LedgerError::CorrectsCorrection { entry: waste_fix }
    );
    let err = book.refused("2026-03-02 12:01", NURSE, correct(administration, "   "));
    assert_eq!(err.field(), "reason");
    assert_eq!(
        book.refused("2026-03-02 12:01", NURSE, correct(id(0xdead), "typo")),
        LedgerError::UnknownEntry { entry: id(0xdead) }
    );
    let err = book.refused("2026-03-02 12:01", NURSE, correct(id(0xdead), ""));
    assert_eq!(
        err.field(),
        "reason",
        "the reason is checked before the ledger is read"
    );

    // Then the administration, then the withdrawal: back to the receipt's balances, puncture and all.
    book.ok(
        "2026-03-02 12:02",
        NURSE,
        correct(administration, "pump record belonged to another chair"),
    );
    assert_eq!(book.held(SESSION), "5.1475");
    book.ok(
        "2026-03-02 12:03",
        NURSE,
        correct(withdrawal, "no drug was drawn"),
    );
    assert_eq!(
        (book.lot_ml(), book.held(SESSION), book.remaining(1)),
        ("200".into(), "0".into(), "20".into())
    );
    assert_eq!(
        book.ledger.container(id(LOT), 1).unwrap().first_puncture,
        None
    );
    assert_eq!(book.ledger.accounts, received.accounts);
    assert_eq!(book.ledger.punctures, received.punctures);
    let moved = book.ledger.movements(id(LOT));
    assert_eq!(
        (moved.withdrawn, moved.administered, moved.wasted),
        (Exact::integer(0), Exact::integer(0), Exact::integer(0))
    );
    assert!(book.ledger.session_accounted(id(SESSION)));
    assert_eq!(book.ledger.entries().len(), 7, "nothing was deleted");

    // With everything back on the shelf, the receipt itself can be corrected: the lot is void.
    let receipt = book.ledger.entries()[0].id;
    let void = book.ok(
        "2026-03-02 12:04",
        PHARMACIST,
        correct(receipt, "delivery belonged to another site"),
    );
    assert!(book.ledger.lot_voided(id(LOT)));
    assert_eq!(book.lot_ml(), "0");
    assert_eq!(
        book.refused("2026-03-02 12:05", NURSE, withdraw(1, "1")),
        LedgerError::LotVoided {
            lot: id(LOT),
            correction: void
        }
    );
    assert!(inventory(&book.ledger, ny("2026-03-03 00:00")).is_empty());
}

#[test]
fn a_correction_stays_within_its_lot() {
    let mut book = Book::new();
    book.ok_lot(
        OTHER_LOT,
        "2026-03-02 09:30",
        PHARMACIST,
        EntryKind::Received(Receipt::new(
            midazolam_lot(),
            NY,
            &LedgerSettings::shipped(),
        )),
    );
    let withdrawal = book.ok("2026-03-02 10:00", NURSE, withdraw(1, "1"));
    let wrong_lot = book.entry(
        OTHER_LOT,
        "2026-03-02 10:01",
        NURSE,
        correct(withdrawal, "wrong lot"),
    );
    assert_eq!(
        book.refused_entry(wrong_lot),
        LedgerError::CorrectionOtherLot {
            entry: withdrawal,
            entry_lot: id(LOT),
            lot: id(OTHER_LOT)
        }
    );
}

#[test]
fn counts_reconcile_and_losses_are_recorded_against_them() {
    let mut book = Book::new();
    book.ok("2026-03-02 10:00", NURSE, withdraw(1, "5.1475"));
    book.ok("2026-03-02 11:00", NURSE, administer("5"));
    // A count that matches: no discrepancy.
    let (_, found) = book.ok_lot(LOT, "2026-03-02 18:00", NURSE, count("194.8525", false));
    assert_eq!(found, None);
    // The custody (0.1475 mL in a syringe) is not on the shelf and not counted.
    assert_eq!(book.held(SESSION), "0.1475");

    // Missing: counted 190 of 194.8525 mL → −4.8525 mL = −48.525 mg.
    let (counted, found) = book.ok_lot(LOT, "2026-03-03 18:00", NURSE, count("190", false));
    let d = found.unwrap();
    assert_eq!(
        (d.count, d.lot, d.site, d.estimated),
        (counted, id(LOT), id(SITE), false)
    );
    assert_eq!(
        (d.expected.ml.to_decimal(), d.expected.mg.to_decimal()),
        ("194.8525".into(), "1948.525".into())
    );
    assert_eq!(
        (d.counted.ml.to_decimal(), d.counted.mg.to_decimal()),
        ("190".into(), "1900".into())
    );
    assert_eq!(
        (d.difference_ml.to_decimal(), d.difference_mg.to_decimal()),
        ("-4.8525".into(), "-48.525".into())
    );
    assert_eq!(book.ledger.discrepancies(), vec![d]);
    // The count is kept; the ledger is not adjusted by it.
    assert_eq!(book.lot_ml(), "194.8525");

    // A loss is recorded against the count, at most what it found missing.
    let lose = |count: Uuid, container: u32, volume: &str| EntryKind::Lost {
        count,
        container,
        volume_ml: ml(volume),
        witness: witness(SECOND_NURSE),
    };
    let err = book.refused("2026-03-03 19:00", PHARMACIST, lose(counted, 2, "4.8526"));
    check_shortage(
        &err,
        "volume_ml",
        Holder::CountShortfall(counted),
        "4.8525",
        "4.8526",
    );
    let first_count = book.ledger.entries()[3].id;
    check_shortage(
        &book.refused("2026-03-03 19:00", PHARMACIST, lose(first_count, 2, "1")),
        "volume_ml",
        Holder::CountShortfall(first_count),
        "0",
        "1",
    );
    let not_a_count = book.ledger.entries()[1].id;
    assert_eq!(
        book.refused("2026-03-03 19:00", PHARMACIST, lose(not_a_count, 2, "1")),
        LedgerError::NotACount {
            count: not_a_count,
            lot: id(LOT)
        }
    );
    let lost = book.ok("2026-03-03 19:00", PHARMACIST, lose(counted, 2, "4.8525"));
    assert_eq!(
        (book.lot_ml(), book.remaining(2)),
        ("190".into(), "15.1475".into())
    );
    // A recount now matches.
    assert_eq!(
        book.ok_lot(LOT, "2026-03-03 19:30", NURSE, count("190", false))
            .1,
        None
    );
    // The count cannot be corrected while a loss stands against it.
    let err = book.refused("2026-03-03 20:00", NURSE, correct(counted, "miscounted"));
    check_shortage(
        &err,
        "corrects",
        Holder::CountShortfall(counted),
        "0",
        "4.8525",
    );
    book.ok(
        "2026-03-03 20:00",
        PHARMACIST,
        correct(lost, "vial 2 was found"),
    );
    book.ok(
        "2026-03-03 20:01",
        NURSE,
        correct(counted, "vial 2 was in the other drawer"),
    );
    assert_eq!(
        book.refused("2026-03-03 20:02", PHARMACIST, lose(counted, 2, "1"))
            .field(),
        "count"
    );
    assert!(
        book.ledger.discrepancies().is_empty(),
        "a corrected count raises nothing"
    );
    assert_eq!(book.ledger.reconciliations().len(), 3);

    // More than expected is a discrepancy too (investigated, never added to stock).
    let (_, found) = book.ok_lot(LOT, "2026-03-04 18:00", NURSE, count("195", false));
    assert_eq!(found.unwrap().difference_ml.to_decimal(), "0.1475");
    assert_eq!(book.lot_ml(), "194.8525");
}

#[test]
fn estimates_only_for_opened_schedule_three_containers() {
    let mut book = Book::new();
    // Nothing opened yet: count exactly.
    let err = book.refused("2026-03-02 09:30", NURSE, count("200", true));
    assert!(
        matches!(
            err,
            LedgerError::EstimateNotAllowed {
                reason: "no opened container holding stock",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.field(), "estimated");
    book.ok("2026-03-02 10:00", NURSE, withdraw(1, "5"));
    let (_, found) = book.ok_lot(LOT, "2026-03-02 18:00", NURSE, count("195", true));
    assert_eq!(found, None);
    assert!(book.ledger.reconciliations()[0].estimated);

    // Midazolam is Schedule IV: the reference gives no estimate rule for it.
    book.ok_lot(
        OTHER_LOT,
        "2026-03-02 18:10",
        PHARMACIST,
        EntryKind::Received(Receipt::new(
            midazolam_lot(),
            NY,
            &LedgerSettings::shipped(),
        )),
    );
    let draw = book.entry(OTHER_LOT, "2026-03-02 18:20", NURSE, withdraw(1, "1"));
    book.ledger.record(draw).unwrap();
    let estimate = book.entry(OTHER_LOT, "2026-03-02 18:30", NURSE, count("19", true));
    let err = book.refused_entry(estimate);
    assert!(
        matches!(err, LedgerError::EstimateNotAllowed { schedule: "IV", .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("Schedule IV"), "{err}");
}

#[test]
fn the_administration_log_and_its_csv() {
    let mut book = Book::new();
    book.ok("2026-03-02 10:00", NURSE, withdraw(1, "5.1475"));
    let given = book.ok("2026-03-02 11:00", NURSE, administer("5.0"));
    book.ok(
        "2026-03-02 11:05",
        NURSE,
        waste("0.1475", witness(SECOND_NURSE)),
    );
    let fix = book.ok("2026-03-02 11:10", NURSE, correct(given, "keyed twice"));
    let log = administration_log(&book.ledger);
    assert_eq!(
        log.len(),
        1,
        "only administrations; the corrected one stays, marked"
    );
    let row = &log[0];
    assert_eq!(
        (
            row.entry,
            row.patient,
            row.session,
            row.administered_by,
            row.pump_record,
            row.corrected_by
        ),
        (
            given,
            id(PATIENT),
            id(SESSION),
            id(NURSE),
            id(PUMP),
            Some(fix)
        )
    );
    assert_eq!(
        (
            row.amount.ml.to_decimal(),
            row.amount.mg.to_decimal(),
            row.mg_per_ml.to_decimal()
        ),
        ("5".into(), "50".into(), "10".into())
    );
    let rows: Vec<Vec<String>> = log.iter().map(AdministrationRow::csv_fields).collect();
    let text = csv(AdministrationRow::CSV_HEADER, &rows);
    let expected = format!(
        "entry,at_utc,at_site,site,drug,schedule,dosage_form,strength_mg_per_ml,amount_mg,amount_ml,patient,session,administered_by,lot,lot_number,pump_record,corrected_by\r\n\
         {given},2026-03-02T16:00:00Z,2026-03-02 11:00 EST,{site},ketamine,III,injection,10,50,5,{patient},{session},{nurse},{lot},KX-2291,{pump},{fix}\r\n",
        site = id(SITE),
        patient = id(PATIENT),
        session = id(SESSION),
        nurse = id(NURSE),
        lot = id(LOT),
        pump = id(PUMP),
    );
    assert_eq!(text, expected);
}

#[test]
fn csv_quotes_as_rfc_4180_says() {
    let rows = vec![vec![
        "a,b".to_string(),
        "say \"hi\"".to_string(),
        "two\r\nlines".to_string(),
        "-2.5".to_string(),
        report::text_field("=SUM(A1)"),
    ]];
    assert_eq!(
        csv(&["x", "y", "z", "n", "t"], &rows),
        "x,y,z,n,t\r\n\"a,b\",\"say \"\"hi\"\"\",\"two\r\nlines\",-2.5,'=SUM(A1)\r\n"
    );
    assert_eq!(csv(&["only"], &[]), "only\r\n");
}

#[test]
fn the_inventory_at_an_instant() {
    let mut book = Book::new();
    book.ok_lot(
        OTHER_LOT,
        "2026-03-02 09:30",
        PHARMACIST,
        EntryKind::Received(Receipt::new(
            midazolam_lot(),
            NY,
            &LedgerSettings::shipped(),
        )),
    );
    book.ok("2026-03-02 10:00", NURSE, withdraw(1, "5.1475"));
    book.ok("2026-03-02 10:30", NURSE, withdraw(2, "20"));
    book.ok("2026-03-02 11:00", NURSE, administer("5"));

    // Before anything was drawn: both lots whole, ketamine first.
    let before = inventory(&book.ledger, ny("2026-03-02 09:45"));
    assert_eq!(before.len(), 2);
    assert_eq!(
        (
            before[0].drug,
            before[0].unopened_containers,
            before[0].opened_containers
        ),
        (Drug::Ketamine, 10, 0)
    );
    assert_eq!(
        (
            before[0].on_hand.ml.to_decimal(),
            before[0].on_hand.mg.to_decimal()
        ),
        ("200".into(), "2000".into())
    );
    assert_eq!(
        (
            before[1].drug,
            before[1].schedule,
            before[1].on_hand.mg.to_decimal()
        ),
        (Drug::Midazolam, Schedule::IV, "100".into())
    );
    // Before the midazolam arrived: one lot.
    assert_eq!(inventory(&book.ledger, ny("2026-03-02 09:15")).len(), 1);
    assert!(inventory(&book.ledger, ny("2026-03-02 08:00")).is_empty());

    // Now: vial 1 opened with 14.8525 mL, vial 2 emptied, 8 unopened (160 mL);
    // shelf 174.8525 mL; the session holds 5.1475 + 20 − 5 = 20.1475 mL = 201.475 mg.
    let now = inventory(&book.ledger, ny("2026-03-02 12:00"));
    let ketamine = &now[0];
    assert_eq!(
        (
            ketamine.unopened_containers,
            ketamine.opened_containers,
            ketamine.opened_ml.to_decimal()
        ),
        (8, 1, "14.8525".into())
    );
    assert_eq!(
        (
            ketamine.on_hand.ml.to_decimal(),
            ketamine.on_hand.mg.to_decimal()
        ),
        ("174.8525".into(), "1748.525".into())
    );
    assert_eq!(
        (
            ketamine.in_custody.ml.to_decimal(),
            ketamine.in_custody.mg.to_decimal()
        ),
        ("20.1475".into(), "201.475".into())
    );
    let text = csv(InventoryRow::CSV_HEADER, &[ketamine.csv_fields()]);
    assert!(text.ends_with(&format!("{},ketamine,III,{},KX-2291,injection,10,20,2027-06-30,8,1,14.8525,174.8525,1748.525,20.1475,201.475\r\n", id(SITE), id(LOT))), "{text}");

    // A lot that holds nothing is left out.
    book.ok(
        "2026-03-02 12:30",
        NURSE,
        waste("20.1475", witness(SECOND_NURSE)),
    );
    for container in 3..=10 {
        let destroy = EntryKind::Destroyed {
            container,
            volume_ml: ml("20"),
            method: DestructionMethod::ReverseDistributor,
            reference: None,
            witness: witness(SECOND_NURSE),
        };
        book.ok("2026-03-02 13:00", PHARMACIST, destroy);
    }
    let destroy = EntryKind::Destroyed {
        container: 1,
        volume_ml: ml("14.8525"),
        method: DestructionMethod::ReverseDistributor,
        reference: None,
        witness: witness(SECOND_NURSE),
    };
    book.ok("2026-03-02 13:00", PHARMACIST, destroy);
    let empty = inventory(&book.ledger, ny("2026-03-02 14:00"));
    assert_eq!(
        empty.iter().map(|r| r.drug).collect::<Vec<_>>(),
        [Drug::Midazolam]
    );
    // The ledger as of an instant is the prefix of entries.
    assert_eq!(book.ledger.as_of(ny("2026-03-02 10:00")).entries().len(), 3);
}

#[test]
fn a_theft_or_loss_report_draft() {
    let mut book = Book::new();
    book.ok("2026-03-02 10:00", NURSE, withdraw(1, "5"));
    // 21:30 in New York on 2 March is 3 March in UTC: discovered on the site's 2 March.
    let (counted, found) = book.ok_lot(LOT, "2026-03-02 21:30", NURSE, count("175", true));
    let d = found.unwrap();
    let draft: LossReportDraft = loss_report_draft(&book.ledger, &d).unwrap();
    assert_eq!(
        (
            draft.drug,
            draft.schedule,
            draft.lot_number.as_str(),
            draft.count,
            draft.site
        ),
        (Drug::Ketamine, Schedule::III, "KX-2291", counted, id(SITE))
    );
    assert_eq!(draft.discovered_on, date("2026-03-02"));
    assert_eq!(
        (draft.counted_by, draft.witness, draft.estimated),
        (id(NURSE), id(SECOND_NURSE), true)
    );
    // 195 − 175 = 20 mL = 200 mg missing.
    assert_eq!(
        (draft.lost.ml.to_decimal(), draft.lost.mg.to_decimal()),
        ("20".into(), "200".into())
    );
    assert!(
        draft.notice.contains("21 CFR 1301.76(b)")
            && draft.notice.contains("1 business day")
            && draft.notice.contains("DEA Form 106")
    );
    assert!(draft.notice.contains("not legal advice"));
    let rows = draft.csv_rows();
    assert_eq!(rows[17], vec!["lost_ml".to_string(), "20".to_string()]);
    assert_eq!(rows.last().unwrap()[1], LOSS_NOTICE);
    assert!(csv(LossReportDraft::CSV_HEADER, &rows).starts_with("field,value\r\nsite,"));
    // A surplus is not a loss.
    let (_, surplus) = book.ok_lot(LOT, "2026-03-02 22:00", NURSE, count("196", true));
    assert_eq!(loss_report_draft(&book.ledger, &surplus.unwrap()), None);
}

#[test]
fn errors_name_their_field_for_the_wire() {
    let mut book = Book::new();
    let err = book.refused("2026-03-02 10:00", NURSE, withdraw(1, "25"));
    let wire = err.field_error();
    assert_eq!(wire.field, "volume_ml");
    assert_eq!(
        wire.message,
        format!(
            "lot {}: container 1 holds 20 mL; this entry needs 25 mL",
            id(LOT)
        )
    );
    let invalid = book.refused("2026-03-02 10:00", NURSE, waste("0", None));
    assert_eq!(invalid.field_errors().0.len(), 2);
    assert_eq!(invalid.field(), "volume_ml");
}
