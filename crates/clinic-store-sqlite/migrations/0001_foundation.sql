-- Foundation schema: sites, accounts, sessions, tokens, patients, consents, audit.
-- SQLite types: UUIDs are 16-byte BLOBs, times are RFC 3339 UTC TEXT, dates are
-- YYYY-MM-DD TEXT, booleans are 0/1 INTEGER (docs/DATABASE.md).

CREATE TABLE sites (
    id BLOB PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    phone TEXT,
    address TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE users (
    id BLOB PRIMARY KEY NOT NULL,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'director', 'physician', 'nurse', 'counselor', 'frontdesk', 'patient')),
    disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE credentials (
    user_id BLOB PRIMARY KEY NOT NULL REFERENCES users (id),
    password_hash TEXT NOT NULL,
    changed_at TEXT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id BLOB NOT NULL REFERENCES users (id),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    client_addr TEXT
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- One-time tokens (portal links, password resets): only their hash is kept.
CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    purpose TEXT NOT NULL,
    user_id BLOB REFERENCES users (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);

CREATE TABLE counters (
    name TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('mrn', 0);

CREATE TABLE patients (
    id BLOB PRIMARY KEY NOT NULL,
    site_id BLOB NOT NULL REFERENCES sites (id),
    mrn TEXT NOT NULL UNIQUE,
    given_name TEXT NOT NULL,
    family_name TEXT NOT NULL,
    date_of_birth TEXT NOT NULL,
    sex_at_birth TEXT NOT NULL CHECK (sex_at_birth IN ('female', 'male', 'intersex', 'unknown')),
    gender_identity TEXT,
    phone TEXT,
    email TEXT,
    address TEXT,
    status TEXT NOT NULL CHECK (status IN ('inquiry', 'screening', 'eligible', 'not_eligible', 'in_treatment', 'follow_up', 'discharged')),
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    sort_key TEXT NOT NULL,
    search_name TEXT NOT NULL
);
CREATE INDEX patients_sort_idx ON patients (sort_key, id);
CREATE INDEX patients_date_of_birth_idx ON patients (date_of_birth);
CREATE INDEX patients_phone_idx ON patients (phone);

CREATE TABLE patient_substances (
    patient_id BLOB NOT NULL REFERENCES patients (id),
    substance TEXT NOT NULL CHECK (substance IN ('alcohol', 'cocaine', 'opioids', 'stimulants', 'cannabis', 'sedatives', 'other')),
    PRIMARY KEY (patient_id, substance)
);

CREATE TABLE patient_contacts (
    id BLOB PRIMARY KEY NOT NULL,
    patient_id BLOB NOT NULL REFERENCES patients (id),
    kind TEXT NOT NULL CHECK (kind IN ('escort', 'emergency')),
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    relationship TEXT,
    phone TEXT
);
CREATE INDEX patient_contacts_patient_idx ON patient_contacts (patient_id, position);

-- 42 CFR 2.31 consents; filled by later issues.
CREATE TABLE consents (
    id BLOB PRIMARY KEY NOT NULL,
    patient_id BLOB NOT NULL REFERENCES patients (id),
    kind TEXT NOT NULL,
    recipient TEXT,
    purpose TEXT,
    signed_at TEXT,
    expires_at TEXT,
    revoked_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX consents_patient_idx ON consents (patient_id);

CREATE TABLE audit_events (
    id BLOB PRIMARY KEY NOT NULL,
    occurred_at TEXT NOT NULL,
    actor_user_id BLOB,
    actor TEXT NOT NULL,
    actor_role TEXT,
    action TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT,
    patient_id BLOB,
    outcome TEXT NOT NULL,
    client_addr TEXT,
    detail TEXT
);
CREATE INDEX audit_events_patient_idx ON audit_events (patient_id, id);
CREATE INDEX audit_events_actor_idx ON audit_events (actor, id);
CREATE INDEX audit_events_action_idx ON audit_events (action, id);
CREATE INDEX audit_events_occurred_idx ON audit_events (occurred_at);

-- Committed events waiting for the sealer.
CREATE TABLE audit_pending (
    event_id BLOB PRIMARY KEY NOT NULL REFERENCES audit_events (id)
);

CREATE TABLE audit_chain (
    seq INTEGER PRIMARY KEY NOT NULL,
    event_id BLOB NOT NULL UNIQUE REFERENCES audit_events (id),
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL,
    sealed_at TEXT NOT NULL
);

CREATE TABLE audit_chain_head (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash BLOB NOT NULL
);
INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

-- The audit trail is append-only.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_chain_no_update BEFORE UPDATE ON audit_chain
BEGIN SELECT RAISE(ABORT, 'audit_chain is append-only'); END;
CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain
BEGIN SELECT RAISE(ABORT, 'audit_chain is append-only'); END;
