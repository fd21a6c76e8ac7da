-- Derived outcomes (issues 8 and 9): one summary per patient with a signed
-- plan, computed from the records with the definition of each figure and
-- kept whole as JSON, so program analytics reads one row per patient. This
-- is derived data, not a record: it is replaced whenever it is recomputed.
-- It is stale when it was computed on an earlier clinic day, or when an
-- audited change to the patient's record has an event id (UUIDv7, time
-- ordered) after `mark`.
CREATE TABLE outcome_snapshots (
    patient_id BLOB PRIMARY KEY NOT NULL REFERENCES patients (id),
    plan_id BLOB NOT NULL REFERENCES plans (id),
    protocol_id TEXT NOT NULL,
    site_id BLOB REFERENCES sites (id),
    start_date TEXT NOT NULL,
    mark BLOB NOT NULL,
    computed_on TEXT NOT NULL,
    computed_at TEXT NOT NULL,
    summary TEXT NOT NULL
);
CREATE INDEX outcome_snapshots_protocol_idx ON outcome_snapshots (protocol_id, start_date);
