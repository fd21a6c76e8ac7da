//! Why a booking is refused: a stable machine code, the field to change and
//! a plain-English message naming the times and ids involved.

use crate::field::FieldError;

wire_enum!(
    /// The reason a booking is refused, as the API and the UI name it:
    /// `outside_hours` (not within one opening interval of its local day,
    /// recovery included), `closed` (a closure date), `chair_busy` /
    /// `room_busy` (the one asked for is booked), `no_free_resource`,
    /// `nurse_capacity` (too few nurses for the chairs running at some
    /// instant), `no_physician` (none on site at some instant of the
    /// infusion), `clinician_busy` (another booking), `clinician_unavailable`
    /// (not on site for the whole event), `no_free_clinician`,
    /// `patient_double_booked`, `spacing_too_close` / `spacing_too_far`
    /// (days between infusions of the plan), `outside_window` (outside the
    /// dates the event may move within), `too_early` (before the earliest
    /// start a search allows, i.e. now), `escort_missing`,
    /// `needs_clinic_setting` (a site setting the reference gives no number
    /// for is unset) and `invalid` (input that contradicts itself or is out
    /// of range).
    ConflictCode, "code" {
        OutsideHours => "outside_hours",
        Closed => "closed",
        ChairBusy => "chair_busy",
        RoomBusy => "room_busy",
        NoFreeResource => "no_free_resource",
        NurseCapacity => "nurse_capacity",
        NoPhysician => "no_physician",
        ClinicianBusy => "clinician_busy",
        ClinicianUnavailable => "clinician_unavailable",
        NoFreeClinician => "no_free_clinician",
        PatientDoubleBooked => "patient_double_booked",
        SpacingTooClose => "spacing_too_close",
        SpacingTooFar => "spacing_too_far",
        OutsideWindow => "outside_window",
        TooEarly => "too_early",
        EscortMissing => "escort_missing",
        NeedsClinicSetting => "needs_clinic_setting",
        Invalid => "invalid",
    }
);

/// One reason a booking is refused. `field` is the wire name of what to
/// change (`start`, `resource_id`, `escort_name`, `site.recovery_minutes`,
/// `staff[<id>].on_site[0]`, …). Messages carry ids and times, never names
/// of patients or escorts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub code: ConflictCode,
    pub field: String,
    pub message: String,
}

impl Conflict {
    pub fn new(
        code: ConflictCode,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Conflict {
        Conflict {
            code,
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Conflict {
        Conflict::new(ConflictCode::Invalid, field, message)
    }

    /// The conflict as the field error every layer reports (the code is
    /// reported beside it, as the problem's `code`).
    pub fn field_error(&self) -> FieldError {
        FieldError::new(self.field.clone(), self.message.clone())
    }
}
