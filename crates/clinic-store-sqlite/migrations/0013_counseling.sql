-- Counseling sessions (issue 8): what the counselor records after a therapy
-- or integration session — attendance, minutes, the signed progress note
-- (part of the chart), homework — one record per booking. The counselor's
-- SUD counseling note is kept apart in its own table: by clinic policy only
-- its author reads it, and it leaves in no export or disclosure without the
-- patient's separate consent (42 CFR Part 2, clinical.md §7.1).
CREATE TABLE counseling_records (
    id BLOB PRIMARY KEY NOT NULL,
    patient_id BLOB NOT NULL REFERENCES patients (id),
    booking_id BLOB REFERENCES bookings (id),
    plan_event_id BLOB REFERENCES plan_events (id),
    modality TEXT NOT NULL,
    format TEXT NOT NULL,
    attendance TEXT NOT NULL CHECK (attendance IN ('attended', 'late', 'no_show', 'cancelled_by_patient', 'cancelled_by_clinic')),
    minutes INTEGER,
    progress_note TEXT,
    homework TEXT,
    reason TEXT,
    recorded_by BLOB NOT NULL REFERENCES users (id),
    recorded_at TEXT NOT NULL,
    UNIQUE (booking_id)
);
CREATE INDEX counseling_records_patient_idx ON counseling_records (patient_id, recorded_at);

CREATE TABLE counseling_notes (
    id BLOB PRIMARY KEY NOT NULL,
    record_id BLOB NOT NULL UNIQUE REFERENCES counseling_records (id),
    patient_id BLOB NOT NULL REFERENCES patients (id),
    author_id BLOB NOT NULL REFERENCES users (id),
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
