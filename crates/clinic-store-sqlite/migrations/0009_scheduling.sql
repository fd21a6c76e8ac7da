-- Scheduling (issue 5): each site's booking rules, opening hours, closures,
-- chairs and rooms; staff time on site; bookings with their history; and
-- revocable calendar feeds. Times are RFC 3339 UTC TEXT, local times HH:MM.

-- A site's rules. NULL is unset ("needs clinic setting": clinical.md §11.6
-- gives no chair recovery time, nurse ratio or physician rule). `version` is
-- raised by every booking change at the site, so two bookings decided on the
-- same view of the site cannot both commit.
CREATE TABLE site_schedule (
    site_id BLOB PRIMARY KEY NOT NULL REFERENCES sites (id),
    recovery_minutes INTEGER CHECK (recovery_minutes BETWEEN 0 AND 1440),
    ratio_nurses INTEGER CHECK (ratio_nurses >= 1),
    ratio_chairs INTEGER CHECK (ratio_chairs >= 1),
    physician_on_site INTEGER CHECK (physician_on_site IN (0, 1)),
    version INTEGER NOT NULL
);

-- Weekly opening hours in the site's zone; weekday 0 is Monday.
CREATE TABLE site_opening_hours (
    site_id BLOB NOT NULL REFERENCES sites (id),
    weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    opens TEXT NOT NULL,
    closes TEXT NOT NULL,
    PRIMARY KEY (site_id, weekday, opens)
);

CREATE TABLE site_closures (
    site_id BLOB NOT NULL REFERENCES sites (id),
    date TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (site_id, date)
);

CREATE TABLE site_resources (
    id BLOB PRIMARY KEY NOT NULL,
    site_id BLOB NOT NULL REFERENCES sites (id),
    kind TEXT NOT NULL CHECK (kind IN ('chair', 'room')),
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    UNIQUE (site_id, name)
);

CREATE TABLE staff_availability (
    id BLOB PRIMARY KEY NOT NULL,
    user_id BLOB NOT NULL REFERENCES users (id),
    site_id BLOB NOT NULL REFERENCES sites (id),
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX staff_availability_site_idx ON staff_availability (site_id, starts_at);

-- A booking is never deleted: a cancelled, missed or moved one keeps its row
-- (status, who, when and why); a move points from the new booking to the old.
CREATE TABLE bookings (
    id BLOB PRIMARY KEY NOT NULL,
    site_id BLOB NOT NULL REFERENCES sites (id),
    patient_id BLOB NOT NULL REFERENCES patients (id),
    plan_event_id BLOB REFERENCES plan_events (id),
    kind TEXT NOT NULL CHECK (kind IN ('inpatient', 'infusion', 'therapy', 'integration', 'assessment', 'follow_up')),
    resource_id BLOB REFERENCES site_resources (id),
    clinician_id BLOB REFERENCES users (id),
    starts_at TEXT NOT NULL,
    minutes INTEGER NOT NULL CHECK (minutes > 0),
    occupied_until TEXT NOT NULL,
    escort_name TEXT,
    status TEXT NOT NULL CHECK (status IN ('booked', 'attended', 'cancelled', 'no_show', 'rescheduled')),
    replaces BLOB REFERENCES bookings (id),
    reason TEXT,
    created_by BLOB NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    updated_by BLOB REFERENCES users (id),
    updated_at TEXT,
    -- When the day-before reminder went to the outbox (once).
    reminder_queued_at TEXT,
    version INTEGER NOT NULL
);
CREATE INDEX bookings_site_idx ON bookings (site_id, starts_at);
CREATE INDEX bookings_patient_idx ON bookings (patient_id, starts_at);
CREATE INDEX bookings_clinician_idx ON bookings (clinician_id, starts_at);
CREATE INDEX bookings_event_idx ON bookings (plan_event_id);

-- A clinician's iCalendar feed: only the secret token's hash is kept.
CREATE TABLE calendar_feeds (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id BLOB NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX calendar_feeds_user_idx ON calendar_feeds (user_id);
