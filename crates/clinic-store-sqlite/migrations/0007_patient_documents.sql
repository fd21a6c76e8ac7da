-- Clinical documents kept whole as JSON, each with its inputs: medical
-- screenings, signed consents, and eligibility proposals with the physician's
-- decision (issue 4). A signed document is never edited: `closed_at` marks a
-- consent revoked or a proposal decided, once, and `version` guards updates.
CREATE TABLE patient_documents (
    id BLOB PRIMARY KEY NOT NULL,
    patient_id BLOB NOT NULL REFERENCES patients (id),
    kind TEXT NOT NULL CHECK (kind IN ('medical_screening', 'consent', 'eligibility')),
    -- The consent kind, or the proposal's outcome.
    subtype TEXT NOT NULL,
    body TEXT NOT NULL,
    created_by BLOB REFERENCES users (id),
    created_at TEXT NOT NULL,
    closed_at TEXT,
    closed_by BLOB REFERENCES users (id),
    version INTEGER NOT NULL
);
CREATE INDEX patient_documents_patient_idx ON patient_documents (patient_id, kind, created_at);
CREATE INDEX patient_documents_open_idx ON patient_documents (kind, closed_at);
