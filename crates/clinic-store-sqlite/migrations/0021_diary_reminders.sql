-- The daily diary reminder (issue 8): one row per patient and clinic-local
-- day, written in the same transaction as the outbox message (outbox_id; NULL
-- when the patient has no consented channel and nothing was sent) and its
-- audit event. The key makes the reminder once a day whatever runs it.
-- Rows are never changed.
CREATE TABLE diary_reminders (
    patient_id BLOB NOT NULL REFERENCES patients (id),
    local_date TEXT NOT NULL,
    outbox_id BLOB REFERENCES outbox (id) DEFERRABLE INITIALLY DEFERRED,
    queued_at TEXT NOT NULL,
    PRIMARY KEY (patient_id, local_date)
);
