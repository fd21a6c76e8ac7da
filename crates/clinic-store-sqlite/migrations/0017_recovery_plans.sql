-- The recovery plan (issue 8): built in integration sessions, one row per
-- version (who wrote it, when, which parts changed); never changed, the
-- highest version is the current one, which the patient sees in the portal.
CREATE TABLE recovery_plans (
    id BLOB PRIMARY KEY NOT NULL,
    patient_id BLOB NOT NULL REFERENCES patients (id),
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    changed TEXT NOT NULL,
    written_by BLOB NOT NULL REFERENCES users (id),
    written_at TEXT NOT NULL,
    UNIQUE (patient_id, version)
);
