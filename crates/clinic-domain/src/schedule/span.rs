//! Half-open stretches of real time, and the instants where a count over
//! many of them can change.

use chrono::{DateTime, Utc};

/// A stretch of real time, `[start, end)`: it holds `start` but not `end`, so
/// a booking that ends at 10:00 and one that starts at 10:00 do not overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Span {
    pub fn overlaps(self, other: Span) -> bool {
        self.start < other.end && other.start < self.end
    }

    pub fn contains(self, at: DateTime<Utc>) -> bool {
        self.start <= at && at < self.end
    }

    /// Whether `inner` lies wholly within this span.
    pub fn covers(self, inner: Span) -> bool {
        self.start <= inner.start && inner.end <= self.end
    }
}

/// Whether any of `spans` holds the instant `at`.
pub(crate) fn any_contains(spans: &[Span], at: DateTime<Utc>) -> bool {
    spans.iter().any(|span| span.contains(at))
}

/// The pieces of `window` over which `failure(at)` (evaluated at each
/// piece's start) says something is wrong, with what it says. `edges` are
/// every span whose start or end may change the answer: between two
/// consecutive edges inside the window the answer is constant, so checking
/// at the edges is exact. Neighbouring pieces with the same answer are
/// joined, so each returned piece is as long as it can be.
pub(crate) fn failing_pieces<T: PartialEq>(
    window: Span,
    edges: impl Iterator<Item = Span>,
    failure: impl Fn(DateTime<Utc>) -> Option<T>,
) -> Vec<(Span, T)> {
    let mut points = vec![window.start];
    for span in edges {
        for at in [span.start, span.end] {
            if window.start < at && at < window.end {
                points.push(at);
            }
        }
    }
    points.sort();
    points.dedup();
    let mut pieces: Vec<(Span, T)> = Vec::new();
    for (idx, &at) in points.iter().enumerate() {
        let end = points.get(idx + 1).copied().unwrap_or(window.end);
        let Some(found) = failure(at) else { continue };
        match pieces.last_mut() {
            Some((last, last_found)) if last.end == at && *last_found == found => last.end = end,
            _ => pieces.push((Span { start: at, end }, found)),
        }
    }
    pieces
}
