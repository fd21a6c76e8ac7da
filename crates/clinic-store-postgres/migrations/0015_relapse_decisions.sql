-- A clinician's review of a proposed lapse, relapse or dropout (issue 8):
-- confirmed or rejected, with a note. Rows are never changed; a later
-- decision on the same event (date, kind, substance) replaces the earlier
-- one, and time to relapse counts only confirmed events.
CREATE TABLE relapse_decisions (
    id UUID PRIMARY KEY,
    patient_id UUID NOT NULL REFERENCES patients (id),
    plan_id UUID NOT NULL REFERENCES plans (id),
    event_date TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('lapse', 'relapse', 'dropout')),
    substance TEXT,
    verdict TEXT NOT NULL CHECK (verdict IN ('confirmed', 'rejected')),
    note TEXT NOT NULL,
    decided_by UUID NOT NULL REFERENCES users (id),
    decided_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX relapse_decisions_patient_idx ON relapse_decisions (patient_id, decided_at);
