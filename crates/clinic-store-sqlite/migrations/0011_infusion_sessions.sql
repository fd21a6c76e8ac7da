-- The infusion under close medical care (issue 7): one session per infusion
-- at a chair, and its chart as an append-only list of timestamped entries
-- (identifiers checked, checklist, pump events, vital-sign sets, alerts and
-- the responses that closed them, ratings, medicines, adverse events, the
-- note and its addenda, the discharge, an emergency), each kept whole as
-- JSON with who entered it. Nothing in a session's chart is edited.
CREATE TABLE infusion_sessions (
    id BLOB PRIMARY KEY NOT NULL,
    patient_id BLOB NOT NULL REFERENCES patients (id),
    site_id BLOB NOT NULL REFERENCES sites (id),
    booking_id BLOB REFERENCES bookings (id),
    plan_event_id BLOB REFERENCES plan_events (id),
    order_id BLOB REFERENCES infusion_orders (id),
    resource_id BLOB REFERENCES site_resources (id),
    status TEXT NOT NULL CHECK (status IN ('pre_check', 'infusing', 'recovery', 'discharged', 'closed')),
    opened_by BLOB NOT NULL REFERENCES users (id),
    opened_at TEXT NOT NULL,
    closed_at TEXT,
    version INTEGER NOT NULL
);
-- One open session per booking.
CREATE UNIQUE INDEX infusion_sessions_booking_id_key ON infusion_sessions (booking_id) WHERE status NOT IN ('discharged', 'closed');
CREATE INDEX infusion_sessions_site_idx ON infusion_sessions (site_id, status);
CREATE INDEX infusion_sessions_patient_idx ON infusion_sessions (patient_id, opened_at);

CREATE TABLE session_entries (
    id BLOB PRIMARY KEY NOT NULL,
    session_id BLOB NOT NULL REFERENCES infusion_sessions (id),
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    recorded_by BLOB NOT NULL REFERENCES users (id),
    body TEXT NOT NULL,
    UNIQUE (session_id, seq)
);
