//! Treatment outcomes: self-reported use (timeline follow-back and the
//! patient diary), urine drug screens and breath alcohol with expected
//! positives, derived outcomes per window, protocol-defined relapse with time
//! to relapse, and the ketamine-misuse watch. Pure: dates and times are passed
//! in (site-local wall-clock), nothing reads a clock or a store.
//!
//! Semantics.
//!
//! - **Days are yes, no or unknown** (`tlfb`). An unknown day, or a day no
//!   source recorded, is never an abstinent day: it is left out of every
//!   denominator and counted separately. When the TLFB calendar and the diary
//!   disagree on a day, use wins (a yes from either source makes it a use day,
//!   with the larger amount) and the disagreement is listed as a conflict.
//! - **Tests** (`toxicology`) are positive, negative or invalid. A positive
//!   that a clinic infusion, MOUD, a prescription or a rescue dose explains is
//!   *expected*, with every reason (clinical.md §11.5); only *unexplained*
//!   positives count toward lapse, relapse or misuse. Detection windows come
//!   only from the clinic: clinical.md §4.1 gives ranges or no number and
//!   §11.6 chooses no default, so every window ships unset and a positive that
//!   only a window could explain is *undetermined* ("needs clinic setting"),
//!   never quietly expected or counted. Invalid results count for nothing
//!   (imputing missing samples as positive is UNVERIFIED practice, §4.2).
//!   A positive the self-report contradicts is returned as a conflict.
//! - **Derived outcomes** (`measure`) each carry the `OutcomeDefinition` that
//!   produced them: the measure, the window, the thresholds and their
//!   original source. PDA and heavy drinking days are self-reported (as in
//!   KARE); the §4.3 rule that a positive test overrides a self-reported
//!   abstinent day is a clinic rule not applied here: the conflicts list shows
//!   those days instead.
//! - **Relapse** (`relapse`): a protocol's definition (what counts, whether
//!   dropout counts, the index date, the end of follow-up) comes from the
//!   protocol file where the reference gives it and otherwise from a clinic
//!   setting; with any part unset, evaluation refuses ("needs clinic setting:
//!   …"). The evaluator only *proposes* lapse, relapse and dropout events, with
//!   their evidence, never before the index date and never from an expected
//!   positive. Time to relapse comes only from events a clinician confirmed,
//!   as the whole days and event flag the survival engine takes.
//! - **Misuse watch** (`misuse`): flags with evidence for the physician;
//!   only confirmed flags are counted.

pub mod measure;
pub mod misuse;
pub mod relapse;
pub mod tlfb;
pub mod toxicology;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

use chrono::NaiveDate;

use crate::protocol::definition::{Anchor, IndexDate};

wire_enum!(
    /// A clinician's review of a proposed event or flag.
    Verdict, "verdict" {
        Confirmed => "confirmed",
        Rejected => "rejected",
    }
);

/// A value the reference gives (with its source) or the clinic must set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting<T> {
    /// Set, with where it comes from: the original source for a reference
    /// value, or who set it for a clinic value.
    Set { value: T, source: String },
    /// Not set: `name` is the setting, `reason` why it is missing.
    Unset { name: String, reason: String },
}

impl<T> Setting<T> {
    /// The value, or the refusal naming the setting.
    pub fn require(&self) -> Result<&T, NeedsClinicSetting> {
        match self {
            Setting::Set { value, .. } => Ok(value),
            Setting::Unset { name, reason } => Err(NeedsClinicSetting {
                name: name.clone(),
                reason: reason.clone(),
            }),
        }
    }

    pub fn is_set(&self) -> bool {
        matches!(self, Setting::Set { .. })
    }
}

/// A setting the clinic has not made yet, so the rule that needs it refuses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, thiserror::Error)]
#[error("needs clinic setting: {name} ({reason})")]
pub struct NeedsClinicSetting {
    pub name: String,
    pub reason: String,
}

/// Days `first..=last`, both included; never empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DayWindow {
    first: NaiveDate,
    last: NaiveDate,
}

impl DayWindow {
    /// `None` when `last` is before `first`.
    pub fn new(first: NaiveDate, last: NaiveDate) -> Option<DayWindow> {
        (first <= last).then_some(DayWindow { first, last })
    }

    pub fn first(self) -> NaiveDate {
        self.first
    }

    pub fn last(self) -> NaiveDate {
        self.last
    }

    pub fn contains(self, date: NaiveDate) -> bool {
        self.first <= date && date <= self.last
    }

    /// Every day of the window, in order.
    pub fn days(self) -> impl Iterator<Item = NaiveDate> {
        self.first.iter_days().take_while(move |d| *d <= self.last)
    }

    /// How many days the window holds (at least 1).
    pub fn len_days(self) -> u32 {
        whole_days(self.first, self.last).saturating_add(1)
    }
}

/// The dates of one patient's course that windows and index dates count
/// from, as they happened (not as planned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CourseDates {
    /// Day 0 of the protocol.
    pub start: NaiveDate,
    pub first_infusion: Option<NaiveDate>,
    pub last_infusion: Option<NaiveDate>,
    /// The last inpatient day, for protocols with a stay.
    pub inpatient_discharge: Option<NaiveDate>,
    /// The course's last day (day `course_days - 1`).
    pub course_end: NaiveDate,
    /// The protocol's follow-up contact, when it has one.
    pub protocol_follow_up: Option<NaiveDate>,
}

impl CourseDates {
    /// The date a protocol window's anchor names.
    pub fn anchor(&self, anchor: Anchor) -> Result<NaiveDate, MissingCourseDate> {
        match anchor {
            Anchor::Start => Ok(self.start),
            Anchor::FirstInfusion => self
                .first_infusion
                .ok_or(MissingCourseDate("first_infusion")),
            Anchor::LastInfusion => self.last_infusion.ok_or(MissingCourseDate("last_infusion")),
            Anchor::CourseEnd => Ok(self.course_end),
        }
    }

    /// The date an index date names (clinical.md §4.4: infusion date, quit
    /// date or discharge — chosen per protocol and stored).
    pub fn index(&self, index: IndexDate) -> Result<NaiveDate, MissingCourseDate> {
        match index {
            IndexDate::Start => Ok(self.start),
            IndexDate::FirstInfusion => self
                .first_infusion
                .ok_or(MissingCourseDate("first_infusion")),
            IndexDate::LastInfusion => self.last_infusion.ok_or(MissingCourseDate("last_infusion")),
            IndexDate::InpatientDischarge => self
                .inpatient_discharge
                .ok_or(MissingCourseDate("inpatient_discharge")),
            IndexDate::CourseEnd => Ok(self.course_end),
        }
    }
}

wire_enum!(
    /// Where a patient's follow-up stands: still being seen or called,
    /// finished the course and its follow-up, or stopped coming before the
    /// end (the clinician records it).
    ContactStatus, "contact_status" {
        InFollowUp => "in_follow_up",
        Completed => "completed",
        DroppedOut => "dropped_out",
    }
);

/// The last time the clinic heard from the patient, and where follow-up stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowUpContact {
    pub last_contact: NaiveDate,
    pub status: ContactStatus,
}

/// A course date a rule needs but the patient does not have yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}: the patient has no such date yet")]
pub struct MissingCourseDate(pub &'static str);

/// Whole days from `from` to `to` (0 when `to` is not after `from`).
/// A `NaiveDate` spans fewer than 2^32 days, so the count always fits.
pub(crate) fn whole_days(from: NaiveDate, to: NaiveDate) -> u32 {
    u32::try_from((to - from).num_days().max(0)).unwrap_or(u32::MAX)
}
