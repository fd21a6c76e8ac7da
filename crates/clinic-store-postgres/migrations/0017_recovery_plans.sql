-- The recovery plan (issue 8): built in integration sessions, one row per
-- version (who wrote it, when, which parts changed); never changed, the
-- highest version is the current one, which the patient sees in the portal.
CREATE TABLE recovery_plans (
    id UUID PRIMARY KEY,
    patient_id UUID NOT NULL REFERENCES patients (id),
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    changed TEXT NOT NULL,
    written_by UUID NOT NULL REFERENCES users (id),
    written_at TIMESTAMPTZ NOT NULL,
    UNIQUE (patient_id, version)
);
