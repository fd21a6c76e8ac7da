-- Questionnaire responses, clinical safety alerts, the patient portal's links
-- and sessions, and the outbox of messages to patients (issue 4).

-- One scored questionnaire. `answers` is what the form recorded, comma-joined
-- in item order; `result` is the full score as JSON (items, subscales, rules).
CREATE TABLE questionnaire_responses (
    id UUID PRIMARY KEY,
    patient_id UUID NOT NULL REFERENCES patients (id),
    instrument_id TEXT NOT NULL,
    instrument_version BIGINT NOT NULL,
    answers TEXT NOT NULL,
    total BIGINT,
    band TEXT,
    flags TEXT NOT NULL,
    result TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('staff', 'portal')),
    entered_by UUID REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX questionnaire_responses_patient_idx ON questionnaire_responses (patient_id, created_at);

-- A safety alert: open until a clinician records the response taken.
CREATE TABLE clinical_alerts (
    id UUID PRIMARY KEY,
    patient_id UUID NOT NULL REFERENCES patients (id),
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    source_id UUID,
    routed_to TEXT NOT NULL,
    raised_at TIMESTAMPTZ NOT NULL,
    closed_at TIMESTAMPTZ,
    closed_by UUID REFERENCES users (id),
    response TEXT,
    version BIGINT NOT NULL
);
CREATE INDEX clinical_alerts_open_idx ON clinical_alerts (closed_at, raised_at);
CREATE INDEX clinical_alerts_patient_idx ON clinical_alerts (patient_id, raised_at);

-- A link sent to a patient: only its SHA-256 is kept. Sign-in links can be
-- opened until they expire; questionnaire links are used up when answered.
CREATE TABLE portal_links (
    id UUID PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    patient_id UUID NOT NULL REFERENCES patients (id),
    purpose TEXT NOT NULL CHECK (purpose IN ('signin', 'questionnaire')),
    instrument_id TEXT,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ,
    created_by UUID REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX portal_links_patient_idx ON portal_links (patient_id, created_at);

CREATE TABLE portal_sessions (
    token_hash TEXT PRIMARY KEY,
    patient_id UUID NOT NULL REFERENCES patients (id),
    link_id UUID NOT NULL REFERENCES portal_links (id),
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

-- Messages to patients (and pages to staff), written in the same transaction
-- as what caused them; an adapter delivers them and sets sent_at.
CREATE TABLE outbox (
    id UUID PRIMARY KEY,
    patient_id UUID REFERENCES patients (id),
    channel TEXT NOT NULL CHECK (channel IN ('phone', 'sms', 'email')),
    address TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    sent_at TIMESTAMPTZ
);
CREATE INDEX outbox_unsent_idx ON outbox (sent_at, created_at);
