-- The ketamine-misuse watch (issue 8): what staff record (the patient's
-- report of ketamine craving, a request for an extra or earlier infusion or
-- a higher dose), and a physician's decision on each flag (tests raise
-- flags too, from lab_tests). Rows are never changed; the latest decision on
-- a flag counts, and only confirmed flags count as misuse.
CREATE TABLE misuse_signals (
    id BLOB PRIMARY KEY NOT NULL,
    patient_id BLOB NOT NULL REFERENCES patients (id),
    kind TEXT NOT NULL CHECK (kind IN ('ketamine_craving', 'extra_infusion', 'earlier_infusion', 'higher_dose')),
    reported_on TEXT NOT NULL,
    note TEXT NOT NULL,
    recorded_by BLOB NOT NULL REFERENCES users (id),
    recorded_at TEXT NOT NULL
);
CREATE INDEX misuse_signals_patient_idx ON misuse_signals (patient_id, reported_on);

CREATE TABLE misuse_decisions (
    id BLOB PRIMARY KEY NOT NULL,
    patient_id BLOB NOT NULL REFERENCES patients (id),
    signal TEXT NOT NULL,
    record_id BLOB NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('confirmed', 'rejected')),
    note TEXT NOT NULL,
    decided_by BLOB NOT NULL REFERENCES users (id),
    decided_at TEXT NOT NULL
);
CREATE INDEX misuse_decisions_patient_idx ON misuse_decisions (patient_id, decided_at);
