//! Sign-in sessions: idle and absolute timeouts (automatic logoff,
//! 45 CFR 164.312(a)(2)(iii); the durations are security settings).

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused for this long ends.
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, however busy.
    pub absolute_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    Active,
    IdleExpired,
    AbsoluteExpired,
}

pub fn session_state(
    policy: &SessionPolicy,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> SessionState {
    if now - created_at >= policy.absolute_timeout {
        SessionState::AbsoluteExpired
    } else if now - last_seen_at >= policy.idle_timeout {
        SessionState::IdleExpired
    } else {
        SessionState::Active
    }
}

/// When the session ends if it is not used again.
pub fn expires_at(policy: &SessionPolicy, created_at: DateTime<Utc>, last_seen_at: DateTime<Utc>) -> DateTime<Utc> {
    std::cmp::min(created_at + policy.absolute_timeout, last_seen_at + policy.idle_timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_and_absolute_timeouts() {
        let policy = SessionPolicy { idle_timeout: Duration::minutes(30), absolute_timeout: Duration::hours(12) };
        let t0 = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        assert_eq!(session_state(&policy, t0, t0, t0 + Duration::minutes(29)), SessionState::Active);
        assert_eq!(session_state(&policy, t0, t0, t0 + Duration::minutes(30)), SessionState::IdleExpired);
        let busy = t0 + Duration::hours(12) - Duration::seconds(1);
        assert_eq!(session_state(&policy, t0, busy, busy), SessionState::Active);
        assert_eq!(session_state(&policy, t0, busy, t0 + Duration::hours(12)), SessionState::AbsoluteExpired);
        assert_eq!(expires_at(&policy, t0, t0), t0 + Duration::minutes(30));
        assert_eq!(expires_at(&policy, t0, busy), t0 + Duration::hours(12));
    }
}
