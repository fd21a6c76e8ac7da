-- Foundation schema: sites, accounts, sessions, tokens, patients, consents, audit.
-- The same logical schema as clinic-store-sqlite/migrations/0001_foundation.sql
-- (tests/schema_parity.rs compares them).

CREATE TABLE sites (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    phone TEXT,
    address TEXT,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id UUID PRIMARY KEY,
    username TEXT NOT NULL,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'director', 'physician', 'nurse', 'counselor', 'frontdesk', 'patient')),
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT users_username_key UNIQUE (username)
);

CREATE TABLE credentials (
    user_id UUID PRIMARY KEY REFERENCES users (id),
    password_hash TEXT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id),
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    client_addr TEXT
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,
    user_id UUID REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ
);

CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('mrn', 0);

CREATE TABLE patients (
    id UUID PRIMARY KEY,
    site_id UUID NOT NULL REFERENCES sites (id),
    mrn TEXT NOT NULL,
    given_name TEXT NOT NULL,
    family_name TEXT NOT NULL,
    date_of_birth DATE NOT NULL,
    sex_at_birth TEXT NOT NULL CHECK (sex_at_birth IN ('female', 'male', 'intersex', 'unknown')),
    gender_identity TEXT,
    phone TEXT,
    email TEXT,
    address TEXT,
    status TEXT NOT NULL CHECK (status IN ('inquiry', 'screening', 'eligible', 'not_eligible', 'in_treatment', 'follow_up', 'discharged')),
    version BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    sort_key TEXT COLLATE "C" NOT NULL,
    search_name TEXT NOT NULL,
    CONSTRAINT patients_mrn_key UNIQUE (mrn)
);
CREATE INDEX patients_sort_idx ON patients (sort_key, id);
CREATE INDEX patients_date_of_birth_idx ON patients (date_of_birth);
CREATE INDEX patients_phone_idx ON patients (phone);

CREATE TABLE patient_substances (
    patient_id UUID NOT NULL REFERENCES patients (id),
    substance TEXT NOT NULL CHECK (substance IN ('alcohol', 'cocaine', 'opioids', 'stimulants', 'cannabis', 'sedatives', 'other')),
    PRIMARY KEY (patient_id, substance)
);

CREATE TABLE patient_contacts (
    id UUID PRIMARY KEY,
    patient_id UUID NOT NULL REFERENCES patients (id),
    kind TEXT NOT NULL CHECK (kind IN ('escort', 'emergency')),
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    relationship TEXT,
    phone TEXT
);
CREATE INDEX patient_contacts_patient_idx ON patient_contacts (patient_id, position);

CREATE TABLE consents (
    id UUID PRIMARY KEY,
    patient_id UUID NOT NULL REFERENCES patients (id),
    kind TEXT NOT NULL,
    recipient TEXT,
    purpose TEXT,
    signed_at TIMESTAMPTZ,
    expires_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX consents_patient_idx ON consents (patient_id);

CREATE TABLE audit_events (
    id UUID PRIMARY KEY,
    occurred_at TIMESTAMPTZ NOT NULL,
    actor_user_id UUID,
    actor TEXT NOT NULL,
    actor_role TEXT,
    action TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT,
    patient_id UUID,
    outcome TEXT NOT NULL,
    client_addr TEXT,
    detail TEXT
);
CREATE INDEX audit_events_patient_idx ON audit_events (patient_id, id);
CREATE INDEX audit_events_actor_idx ON audit_events (actor, id);
CREATE INDEX audit_events_action_idx ON audit_events (action, id);
CREATE INDEX audit_events_occurred_idx ON audit_events (occurred_at);

CREATE TABLE audit_pending (
    event_id UUID PRIMARY KEY REFERENCES audit_events (id)
);

CREATE TABLE audit_chain (
    seq BIGINT PRIMARY KEY,
    event_id UUID NOT NULL REFERENCES audit_events (id),
    prev_hash BYTEA NOT NULL,
    hash BYTEA NOT NULL,
    sealed_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT audit_chain_event_id_key UNIQUE (event_id)
);

CREATE TABLE audit_chain_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash BYTEA NOT NULL
);
INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

CREATE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER audit_chain_no_update BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();
