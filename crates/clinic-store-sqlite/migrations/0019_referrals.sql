-- Aftercare (issue 8): referrals (detox, medication for opioid use disorder,
-- mutual help, psychiatry, other) and where each stands. A change of status
-- is a new row naming the referral it updates, so the history is kept.
CREATE TABLE referrals (
    id BLOB PRIMARY KEY NOT NULL,
    patient_id BLOB NOT NULL REFERENCES patients (id),
    referral_id BLOB NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('detox', 'moud', 'mutual_help', 'psychiatry', 'other')),
    to_whom TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('suggested', 'made', 'accepted', 'declined', 'completed')),
    note TEXT,
    recorded_by BLOB NOT NULL REFERENCES users (id),
    recorded_at TEXT NOT NULL
);
CREATE INDEX referrals_patient_idx ON referrals (patient_id, recorded_at);
