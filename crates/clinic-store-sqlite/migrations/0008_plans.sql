-- Treatment plans (issue 5): a protocol expanded for one patient into dated
-- events, and the history of every change (who, when, what, why). A patient
-- has at most one plan that has not ended. Dates are YYYY-MM-DD TEXT.
CREATE TABLE plans (
    id BLOB PRIMARY KEY NOT NULL,
    patient_id BLOB NOT NULL REFERENCES patients (id),
    protocol_id TEXT NOT NULL,
    protocol_version INTEGER NOT NULL,
    start_date TEXT NOT NULL,
    created_by BLOB NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    signed_by BLOB REFERENCES users (id),
    signed_at TEXT,
    signed_version INTEGER,
    ended_by BLOB REFERENCES users (id),
    ended_at TEXT,
    end_reason TEXT,
    version INTEGER NOT NULL
);
-- Named so a violation reads `plans_patient_id_key` on both databases.
CREATE UNIQUE INDEX plans_patient_id_key ON plans (patient_id) WHERE ended_at IS NULL;

CREATE TABLE plan_events (
    id BLOB PRIMARY KEY NOT NULL,
    plan_id BLOB NOT NULL REFERENCES plans (id),
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('inpatient', 'infusion', 'therapy', 'integration', 'assessment', 'follow_up')),
    status TEXT NOT NULL CHECK (status IN ('planned', 'skipped', 'booked', 'completed', 'no_show')),
    origin TEXT NOT NULL CHECK (origin IN ('protocol', 'added')),
    protocol_date TEXT,
    date TEXT NOT NULL,
    infusion_number INTEGER,
    -- Infusion phases as `dose_mg_per_kg@minutes` joined by `;` (exact decimals).
    phases TEXT NOT NULL,
    window_start TEXT,
    window_end TEXT,
    modality TEXT,
    instrument TEXT,
    -- Acknowledged deviations, one per line.
    deviations TEXT NOT NULL,
    UNIQUE (plan_id, seq)
);
CREATE INDEX plan_events_date_idx ON plan_events (date, kind);

CREATE TABLE plan_changes (
    id BLOB PRIMARY KEY NOT NULL,
    plan_id BLOB NOT NULL REFERENCES plans (id),
    version INTEGER NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('create', 'move', 'skip', 'restore', 'add', 'dose', 'sign', 'end')),
    event_id BLOB REFERENCES plan_events (id),
    summary TEXT NOT NULL,
    reason TEXT,
    deviations TEXT NOT NULL,
    changed_by BLOB NOT NULL REFERENCES users (id),
    changed_at TEXT NOT NULL,
    UNIQUE (plan_id, version)
);
