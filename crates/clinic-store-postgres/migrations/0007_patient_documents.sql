-- Clinical documents kept whole as JSON, each with its inputs: medical
-- screenings, signed consents, and eligibility proposals with the physician's
-- decision (issue 4). A signed document is never edited: `closed_at` marks a
-- consent revoked or a proposal decided, once, and `version` guards updates.
CREATE TABLE patient_documents (
    id UUID PRIMARY KEY,
    patient_id UUID NOT NULL REFERENCES patients (id),
    kind TEXT NOT NULL CHECK (kind IN ('medical_screening', 'consent', 'eligibility')),
    -- The consent kind, or the proposal's outcome.
    subtype TEXT NOT NULL,
    body TEXT NOT NULL,
    created_by UUID REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL,
    closed_at TIMESTAMPTZ,
    closed_by UUID REFERENCES users (id),
    version BIGINT NOT NULL
);
CREATE INDEX patient_documents_patient_idx ON patient_documents (patient_id, kind, created_at);
CREATE INDEX patient_documents_open_idx ON patient_documents (kind, closed_at);
