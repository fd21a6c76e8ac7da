-- Treatment plans (issue 5): a protocol expanded for one patient into dated
-- events, and the history of every change (who, when, what, why). A patient
-- has at most one plan that has not ended. Dates are DATE.
CREATE TABLE plans (
    id UUID PRIMARY KEY,
    patient_id UUID NOT NULL REFERENCES patients (id),
    protocol_id TEXT NOT NULL,
    protocol_version BIGINT NOT NULL,
    start_date DATE NOT NULL,
    created_by UUID NOT NULL REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL,
    signed_by UUID REFERENCES users (id),
    signed_at TIMESTAMPTZ,
    signed_version BIGINT,
    ended_by UUID REFERENCES users (id),
    ended_at TIMESTAMPTZ,
    end_reason TEXT,
    version BIGINT NOT NULL
);
-- Named so a violation reads `plans_patient_id_key` on both databases.
CREATE UNIQUE INDEX plans_patient_id_key ON plans (patient_id) WHERE ended_at IS NULL;

CREATE TABLE plan_events (
    id UUID PRIMARY KEY,
    plan_id UUID NOT NULL REFERENCES plans (id),
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('inpatient', 'infusion', 'therapy', 'integration', 'assessment', 'follow_up')),
    status TEXT NOT NULL CHECK (status IN ('planned', 'skipped', 'booked', 'completed', 'no_show')),
    origin TEXT NOT NULL CHECK (origin IN ('protocol', 'added')),
    protocol_date DATE,
    date DATE NOT NULL,
    infusion_number BIGINT,
    -- Infusion phases as `dose_mg_per_kg@minutes` joined by `;` (exact decimals).
    phases TEXT NOT NULL,
    window_start DATE,
    window_end DATE,
    modality TEXT,
    instrument TEXT,
    -- Acknowledged deviations, one per line.
    deviations TEXT NOT NULL,
    UNIQUE (plan_id, seq)
);
CREATE INDEX plan_events_date_idx ON plan_events (date, kind);

CREATE TABLE plan_changes (
    id UUID PRIMARY KEY,
    plan_id UUID NOT NULL REFERENCES plans (id),
    version BIGINT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('create', 'move', 'skip', 'restore', 'add', 'dose', 'sign', 'end')),
    event_id UUID REFERENCES plan_events (id),
    summary TEXT NOT NULL,
    reason TEXT,
    deviations TEXT NOT NULL,
    changed_by UUID NOT NULL REFERENCES users (id),
    changed_at TIMESTAMPTZ NOT NULL,
    UNIQUE (plan_id, version)
);
