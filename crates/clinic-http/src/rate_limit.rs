//! The per-client limit on unauthenticated inquiry submissions.
//!
//! DESIGN.md: a person may submit at least 5 inquiries a minute; refused ones
//! get 429. The limit here is 10 a minute and 60 an hour per client address,
//! using the domain's sliding-window rule.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use clinic_domain::throttle::{prune, retry_after, ThrottlePolicy};

pub const PER_MINUTE: ThrottlePolicy = ThrottlePolicy { max_failures: 10, window: Duration::minutes(1) };
pub const PER_HOUR: ThrottlePolicy = ThrottlePolicy { max_failures: 60, window: Duration::hours(1) };

#[derive(Default)]
pub struct SubmissionLimiter {
    seen: Mutex<HashMap<String, Vec<DateTime<Utc>>>>,
}

impl SubmissionLimiter {
    /// Records a submission from `client` and returns `None` when it may
    /// proceed, or when it may be retried.
    pub fn check(&self, client: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let Ok(mut seen) = self.seen.lock() else { return None };
        if seen.len() > 10_000 {
            seen.retain(|_, times| times.iter().any(|t| now - *t < PER_HOUR.window));
        }
        let times = seen.entry(client.to_string()).or_default();
        prune(&PER_HOUR, times, now);
        let refused = retry_after(&PER_MINUTE, times, now).max(retry_after(&PER_HOUR, times, now));
        if refused.is_none() {
            times.push(now);
        }
        refused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_a_minute_then_refused_until_the_window_moves() {
        let limiter = SubmissionLimiter::default();
        let t0 = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        for idx in 0..10 {
            assert_eq!(limiter.check("1.2.3.4", t0 + Duration::seconds(idx)), None, "submission {idx}");
        }
        assert_eq!(limiter.check("1.2.3.4", t0 + Duration::seconds(10)), Some(t0 + Duration::seconds(60)));
        assert_eq!(limiter.check("5.6.7.8", t0 + Duration::seconds(10)), None, "another client is not affected");
        assert_eq!(limiter.check("1.2.3.4", t0 + Duration::seconds(61)), None);
    }
}
