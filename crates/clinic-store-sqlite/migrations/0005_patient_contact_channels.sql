-- The channels a patient agreed to be contacted on, as a comma-separated list
-- of `phone`, `sms`, `email` (empty: no consent recorded, nothing may be
-- sent), and the preferred one among them. Validated in the domain.
ALTER TABLE patients ADD COLUMN contact_channels TEXT NOT NULL DEFAULT '';
ALTER TABLE patients ADD COLUMN preferred_contact_channel TEXT;
