//! Staff rules: enough nurses for the running chairs at every instant, a
//! physician on site through every infusion, and a free clinician for
//! therapy and integration sessions.

use std::collections::BTreeSet;

use uuid::Uuid;

use crate::protocol::EventKind;
use crate::schedule::conflict::{Conflict, ConflictCode};
use crate::schedule::hours::span_text;
use crate::schedule::occupancy::Bookings;
use crate::schedule::span::{any_contains, failing_pieces, Span};
use crate::schedule::{booking_text, NurseRatio, Request, ResourceKind, SiteSchedule};
use crate::user::Role;

/// Rule 3: over the new infusion's occupied span, at every instant, the
/// nurses on site are at least ceil(running chairs × nurses ÷ chairs),
/// counting the new chair and every active infusion (with its recovery) on
/// one of the site's chairs.
pub(crate) fn nurse_conflicts(
    schedule: &SiteSchedule,
    bookings: &Bookings<'_>,
    request: &Request,
    occupied: Span,
    ratio: NurseRatio,
) -> Vec<Conflict> {
    let chairs: BTreeSet<Uuid> = schedule
        .resources
        .iter()
        .filter(|r| r.kind == ResourceKind::Chair)
        .map(|r| r.id)
        .collect();
    let running: Vec<Span> = bookings
        .near(occupied, request.replaces)
        .filter(|(b, held)| {
            b.kind == EventKind::Infusion
                && b.resource_id.is_some_and(|id| chairs.contains(&id))
                && held.span.overlaps(occupied)
        })
        .map(|(_, held)| held.span)
        .collect();
    let nurses: Vec<&[Span]> = schedule
        .staff
        .iter()
        .filter(|s| s.role == Role::Nurse)
        .map(|s| s.on_site.as_slice())
        .collect();
    let edges = running
        .iter()
        .copied()
        .chain(nurses.iter().flat_map(|spans| spans.iter().copied()));
    let pieces = failing_pieces(occupied, edges, |at| {
        let chairs_running = 1 + running.iter().filter(|span| span.contains(at)).count();
        let on_site = nurses
            .iter()
            .filter(|spans| any_contains(spans, at))
            .count();
        let needed = ratio.nurses_needed(chairs_running)?;
        let enough = u128::try_from(on_site).is_ok_and(|on_site| on_site >= needed);
        (!enough).then_some((chairs_running, needed, on_site))
    });
    let zone = schedule.rules.zone;
    pieces
        .into_iter()
        .map(|(span, (chairs_running, needed, on_site))| {
            Conflict::new(
                ConflictCode::NurseCapacity,
                "start",
                format!(
                    "from {} {chairs_running} chairs would be running, which needs {needed} nurses at {} per {} chairs; {on_site} on site",
                    span_text(zone, span),
                    ratio.nurses,
                    ratio.chairs
                ),
            )
        })
        .collect()
}

/// Rule 4: some physician is on site at every instant of the infusion
/// itself (a handover between two physicians is fine).
pub(crate) fn physician_conflicts(schedule: &SiteSchedule, own: Span) -> Vec<Conflict> {
    let physicians: Vec<&[Span]> = schedule
        .staff
        .iter()
        .filter(|s| s.role == Role::Physician)
        .map(|s| s.on_site.as_slice())
        .collect();
    let edges = physicians.iter().flat_map(|spans| spans.iter().copied());
    let zone = schedule.rules.zone;
    failing_pieces(own, edges, |at| {
        (!physicians.iter().any(|spans| any_contains(spans, at))).then_some(())
    })
    .into_iter()
    .map(|(span, ())| {
        Conflict::new(
            ConflictCode::NoPhysician,
            "start",
            format!(
                "no physician is on site from {} (the infusion runs {})",
                span_text(zone, span),
                span_text(zone, own)
            ),
        )
    })
    .collect()
}

/// Rule 5: the clinician named (or, for therapy and integration, the first
/// counselor in the site's order who can) is on site for the whole event
/// and has no other active booking over it.
pub(crate) fn choose_clinician(
    schedule: &SiteSchedule,
    bookings: &Bookings<'_>,
    request: &Request,
    own: Span,
) -> Result<Option<Uuid>, Vec<Conflict>> {
    let needs_one = matches!(request.kind, EventKind::Therapy | EventKind::Integration);
    match request.clinician_id {
        Some(clinician_id) => {
            let found = clinician_problems(schedule, bookings, request, own, clinician_id);
            if found.is_empty() {
                Ok(Some(clinician_id))
            } else {
                Err(found)
            }
        }
        None if needs_one => schedule
            .staff
            .iter()
            .filter(|s| s.role == Role::Counselor)
            .find(|s| clinician_problems(schedule, bookings, request, own, s.user_id).is_empty())
            .map(|s| Some(s.user_id))
            .ok_or_else(|| {
                vec![Conflict::new(
                    ConflictCode::NoFreeClinician,
                    "clinician_id",
                    format!(
                        "no counselor is on site and free from {}",
                        span_text(schedule.rules.zone, own)
                    ),
                )]
            }),
        None => Ok(None),
    }
}

fn clinician_problems(
    schedule: &SiteSchedule,
    bookings: &Bookings<'_>,
    request: &Request,
    own: Span,
    clinician_id: Uuid,
) -> Vec<Conflict> {
    let zone = schedule.rules.zone;
    let Some(staff) = schedule.staff.iter().find(|s| s.user_id == clinician_id) else {
        return vec![Conflict::new(
            ConflictCode::ClinicianUnavailable,
            "clinician_id",
            format!("{clinician_id} has no hours on site at this site"),
        )];
    };
    let mut found: Vec<Conflict> = failing_pieces(own, staff.on_site.iter().copied(), |at| {
        (!any_contains(&staff.on_site, at)).then_some(())
    })
    .into_iter()
    .map(|(span, ())| {
        Conflict::new(
            ConflictCode::ClinicianUnavailable,
            "clinician_id",
            format!(
                "{clinician_id} is not on site from {}",
                span_text(zone, span)
            ),
        )
    })
    .collect();
    for (booking, _) in bookings.near(own, request.replaces) {
        let Some(booking_own) = crate::schedule::occupancy::held(booking, Some(0)).map(|h| h.span)
        else {
            continue;
        };
        if booking.clinician_id == Some(clinician_id) && booking_own.overlaps(own) {
            found.push(Conflict::new(
                ConflictCode::ClinicianBusy,
                "clinician_id",
                format!(
                    "{clinician_id} already has {}",
                    booking_text(zone, booking, booking_own)
                ),
            ));
        }
    }
    found
}
