-- The patient's daily diary in the portal (issue 8): the use answer goes to
-- use_reports (source 'diary', in the same transaction); the craving rating
-- (0–10) and the note are kept here. Rows are never changed.
CREATE TABLE diary_entries (
    id UUID PRIMARY KEY,
    patient_id UUID NOT NULL REFERENCES patients (id),
    use_report_id UUID NOT NULL REFERENCES use_reports (id),
    day TEXT NOT NULL,
    substance TEXT NOT NULL,
    craving BIGINT CHECK (craving BETWEEN 0 AND 10),
    note TEXT,
    recorded_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX diary_entries_patient_idx ON diary_entries (patient_id, day);
