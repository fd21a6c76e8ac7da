-- Questionnaire responses, clinical safety alerts, the patient portal's links
-- and sessions, and the outbox of messages to patients (issue 4).

-- One scored questionnaire. `answers` is what the form recorded, comma-joined
-- in item order; `result` is the full score as JSON (items, subscales, rules).
CREATE TABLE questionnaire_responses (
    id BLOB PRIMARY KEY NOT NULL,
    patient_id BLOB NOT NULL REFERENCES patients (id),
    instrument_id TEXT NOT NULL,
    instrument_version INTEGER NOT NULL,
    answers TEXT NOT NULL,
    total INTEGER,
    band TEXT,
    flags TEXT NOT NULL,
    result TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('staff', 'portal')),
    entered_by BLOB REFERENCES users (id),
    created_at TEXT NOT NULL
);
CREATE INDEX questionnaire_responses_patient_idx ON questionnaire_responses (patient_id, created_at);

-- A safety alert: open until a clinician records the response taken.
CREATE TABLE clinical_alerts (
    id BLOB PRIMARY KEY NOT NULL,
    patient_id BLOB NOT NULL REFERENCES patients (id),
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    source_id BLOB,
    routed_to TEXT NOT NULL,
    raised_at TEXT NOT NULL,
    closed_at TEXT,
    closed_by BLOB REFERENCES users (id),
    response TEXT,
    version INTEGER NOT NULL
);
CREATE INDEX clinical_alerts_open_idx ON clinical_alerts (closed_at, raised_at);
CREATE INDEX clinical_alerts_patient_idx ON clinical_alerts (patient_id, raised_at);

-- A link sent to a patient: only its SHA-256 is kept. Sign-in links can be
-- opened until they expire; questionnaire links are used up when answered.
CREATE TABLE portal_links (
    id BLOB PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    patient_id BLOB NOT NULL REFERENCES patients (id),
    purpose TEXT NOT NULL CHECK (purpose IN ('signin', 'questionnaire')),
    instrument_id TEXT,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    created_by BLOB REFERENCES users (id),
    created_at TEXT NOT NULL
);
CREATE INDEX portal_links_patient_idx ON portal_links (patient_id, created_at);

CREATE TABLE portal_sessions (
    token_hash TEXT PRIMARY KEY NOT NULL,
    patient_id BLOB NOT NULL REFERENCES patients (id),
    link_id BLOB NOT NULL REFERENCES portal_links (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- Messages to patients (and pages to staff), written in the same transaction
-- as what caused them; an adapter delivers them and sets sent_at.
CREATE TABLE outbox (
    id BLOB PRIMARY KEY NOT NULL,
    patient_id BLOB REFERENCES patients (id),
    channel TEXT NOT NULL CHECK (channel IN ('phone', 'sms', 'email')),
    address TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX outbox_unsent_idx ON outbox (sent_at, created_at);
