-- Infusion orders (issue 6): what the physician signed for one planned
-- infusion (inputs kept as typed exact decimals; the arithmetic is redone
-- from them), and each independent double check. One live (not cancelled)
-- order per planned infusion.
CREATE TABLE infusion_orders (
    id BLOB PRIMARY KEY NOT NULL,
    patient_id BLOB NOT NULL REFERENCES patients (id),
    plan_event_id BLOB NOT NULL REFERENCES plan_events (id),
    weight_kg TEXT NOT NULL,
    weight_measured_on TEXT NOT NULL,
    weight_basis TEXT NOT NULL CHECK (weight_basis IN ('actual', 'adjusted')),
    -- `dose_mg_per_kg@minutes` per phase, joined by `;`.
    phases TEXT NOT NULL,
    stock_mg_per_ml TEXT NOT NULL,
    bag_ml TEXT,
    withdraw_from_bag INTEGER NOT NULL CHECK (withdraw_from_bag IN (0, 1)),
    override_reason TEXT,
    -- Accepted plausibility overrides and acknowledged warnings, one per line.
    warnings TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('awaiting_check', 'verified', 'check_failed', 'cancelled')),
    ordered_by BLOB NOT NULL REFERENCES users (id),
    signed_at TEXT NOT NULL,
    cancelled_by BLOB REFERENCES users (id),
    cancelled_at TEXT,
    cancel_reason TEXT,
    version INTEGER NOT NULL
);
-- Named so a violation reads `infusion_orders_plan_event_id_key` on both databases.
CREATE UNIQUE INDEX infusion_orders_plan_event_id_key ON infusion_orders (plan_event_id) WHERE status <> 'cancelled';
CREATE INDEX infusion_orders_patient_idx ON infusion_orders (patient_id, signed_at);

CREATE TABLE order_checks (
    id BLOB PRIMARY KEY NOT NULL,
    order_id BLOB NOT NULL REFERENCES infusion_orders (id),
    checked_by BLOB NOT NULL REFERENCES users (id),
    -- What the checker typed, as typed.
    weight_kg TEXT NOT NULL,
    phases TEXT NOT NULL,
    matches INTEGER NOT NULL CHECK (matches IN (0, 1)),
    -- Every difference found, one per line.
    differences TEXT NOT NULL,
    checked_at TEXT NOT NULL
);
CREATE INDEX order_checks_order_idx ON order_checks (order_id, checked_at);
