//! Rule 7: days between an infusion and its neighbours in the plan, and the
//! dates an event may fall on. Dates are local dates in the site's zone, and
//! the gap is counted in calendar days (Monday to the next Monday is 7).

use chrono::NaiveDate;

use crate::schedule::conflict::{Conflict, ConflictCode};
use crate::schedule::Request;

pub(crate) fn spacing_conflicts(request: &Request, date: NaiveDate) -> Vec<Conflict> {
    let mut conflicts = Vec::new();
    if let Some(window) = request.window {
        if date < window.earliest || date > window.latest {
            conflicts.push(Conflict::new(
                ConflictCode::OutsideWindow,
                "start",
                format!(
                    "{date} is outside the dates this event may fall on, {} to {}",
                    window.earliest, window.latest
                ),
            ));
        }
    }
    let Some(spacing) = &request.spacing else {
        return conflicts;
    };
    // Only the nearest infusion on each side matters: the minimum holds for
    // the others if it holds for them, and the maximum is between
    // consecutive infusions.
    let before = spacing
        .other_infusion_dates
        .iter()
        .copied()
        .filter(|d| *d <= date)
        .max();
    let after = spacing
        .other_infusion_dates
        .iter()
        .copied()
        .filter(|d| *d >= date)
        .min();
    let mut neighbours: Vec<NaiveDate> = before.into_iter().chain(after).collect();
    neighbours.dedup();
    for neighbour in neighbours {
        let gap_days = (date - neighbour).num_days().abs();
        if let Some(min) = spacing.min_spacing_days {
            if gap_days < min {
                conflicts.push(Conflict::new(
                    ConflictCode::SpacingTooClose,
                    "start",
                    format!("{date} is {gap_days} days from this plan's infusion on {neighbour}; the protocol needs at least {min}"),
                ));
            }
        }
        if let Some(max) = spacing.max_spacing_days {
            if gap_days > max {
                conflicts.push(Conflict::new(
                    ConflictCode::SpacingTooFar,
                    "start",
                    format!("{date} is {gap_days} days from this plan's infusion on {neighbour}; the protocol allows at most {max}"),
                ));
            }
        }
    }
    conflicts
}
