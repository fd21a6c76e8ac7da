-- The witnessed controlled-substance ledger (issue 7; clinical.md §6): one
-- append-only list of entries per site, numbered without gaps (two racing
-- writers cannot both take the next number), each kept whole as JSON with
-- who recorded it and who witnessed it. A mistake is fixed by a correction
-- entry, never by an edit: the database refuses UPDATE and DELETE.
CREATE TABLE ledger_entries (
    id BLOB PRIMARY KEY NOT NULL,
    site_id BLOB NOT NULL REFERENCES sites (id),
    seq INTEGER NOT NULL,
    lot_id BLOB NOT NULL,
    entry_type TEXT NOT NULL CHECK (entry_type IN ('received', 'withdrawn', 'administered', 'wasted', 'returned', 'destroyed', 'lost', 'count', 'correction')),
    at TEXT NOT NULL,
    actor_id BLOB NOT NULL REFERENCES users (id),
    witness_id BLOB REFERENCES users (id),
    session_id BLOB REFERENCES infusion_sessions (id),
    patient_id BLOB REFERENCES patients (id),
    body TEXT NOT NULL,
    UNIQUE (site_id, seq)
);
CREATE INDEX ledger_entries_session_idx ON ledger_entries (session_id);
CREATE INDEX ledger_entries_lot_idx ON ledger_entries (lot_id, seq);

CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END;
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only'); END;

-- A count that differs from the ledger raises a discrepancy alert to the
-- physician in charge; it stays open until someone records what was done.
CREATE TABLE ledger_discrepancies (
    id BLOB PRIMARY KEY NOT NULL,
    site_id BLOB NOT NULL REFERENCES sites (id),
    count_entry_id BLOB NOT NULL UNIQUE REFERENCES ledger_entries (id),
    lot_id BLOB NOT NULL,
    message TEXT NOT NULL,
    routed_to TEXT NOT NULL,
    raised_at TEXT NOT NULL,
    closed_at TEXT,
    closed_by BLOB REFERENCES users (id),
    response TEXT,
    version INTEGER NOT NULL
);
CREATE INDEX ledger_discrepancies_site_idx ON ledger_discrepancies (site_id, closed_at);
