//! Throttling of repeated failed sign-ins, per account and per client address.
//!
//! A sliding window: after `max_failures` failures within `window`, further
//! attempts are refused until the oldest failure in the window ages out. The
//! numbers are security settings (OWASP authentication guidance), not clinical.

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    pub max_failures: usize,
    pub window: Duration,
}

/// `failures` are the times of recent failed attempts, in any order.
/// Returns `None` when an attempt may proceed, or the time it may be retried.
pub fn retry_after(policy: &ThrottlePolicy, failures: &[DateTime<Utc>], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let mut recent: Vec<DateTime<Utc>> = failures.iter().copied().filter(|at| now - *at < policy.window).collect();
    if recent.len() < policy.max_failures {
        return None;
    }
    recent.sort();
    // The attempt is allowed again once enough failures have left the window.
    let idx = recent.len() - policy.max_failures;
    recent.get(idx).map(|at| *at + policy.window)
}

/// Drops failures that can no longer matter, so the caller's memory stays bounded.
pub fn prune(policy: &ThrottlePolicy, failures: &mut Vec<DateTime<Utc>>, now: DateTime<Utc>) {
    failures.retain(|at| now - *at < policy.window);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(seconds: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn five_failures_lock_until_the_first_ages_out() {
        let policy = ThrottlePolicy { max_failures: 5, window: Duration::minutes(15) };
        let failures: Vec<_> = (0..4).map(|i| t(i * 10)).collect();
        assert_eq!(retry_after(&policy, &failures, t(50)), None);
        let failures: Vec<_> = (0..5).map(|i| t(i * 10)).collect();
        assert_eq!(retry_after(&policy, &failures, t(50)), Some(t(900)));
        assert_eq!(retry_after(&policy, &failures, t(900)), None);
    }

    proptest! {
        #[test]
        fn retry_time_is_in_the_future_and_then_allowed(offsets in proptest::collection::vec(0i64..2000, 0..20), now_offset in 0i64..3000) {
            let policy = ThrottlePolicy { max_failures: 5, window: Duration::minutes(15) };
            let now = t(now_offset);
            let failures: Vec<_> = offsets.iter().map(|o| t(*o)).filter(|at| *at <= now).collect();
            if let Some(retry) = retry_after(&policy, &failures, now) {
                prop_assert!(retry > now);
                prop_assert_eq!(retry_after(&policy, &failures, retry), None);
            }
        }
    }
}
