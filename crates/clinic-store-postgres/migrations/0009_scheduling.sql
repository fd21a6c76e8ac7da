-- Scheduling (issue 5): each site's booking rules, opening hours, closures,
-- chairs and rooms; staff time on site; bookings with their history; and
-- revocable calendar feeds. Times are TIMESTAMPTZ, local times HH:MM TEXT.

-- A site's rules. NULL is unset ("needs clinic setting": clinical.md §11.6
-- gives no chair recovery time, nurse ratio or physician rule). `version` is
-- raised by every booking change at the site, so two bookings decided on the
-- same view of the site cannot both commit.
CREATE TABLE site_schedule (
    site_id UUID PRIMARY KEY REFERENCES sites (id),
    recovery_minutes BIGINT CHECK (recovery_minutes BETWEEN 0 AND 1440),
    ratio_nurses BIGINT CHECK (ratio_nurses >= 1),
    ratio_chairs BIGINT CHECK (ratio_chairs >= 1),
    physician_on_site BOOLEAN,
    version BIGINT NOT NULL
);

-- Weekly opening hours in the site's zone; weekday 0 is Monday.
CREATE TABLE site_opening_hours (
    site_id UUID NOT NULL REFERENCES sites (id),
    weekday BIGINT NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    opens TEXT NOT NULL,
    closes TEXT NOT NULL,
    PRIMARY KEY (site_id, weekday, opens)
);

CREATE TABLE site_closures (
    site_id UUID NOT NULL REFERENCES sites (id),
    date DATE NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (site_id, date)
);

CREATE TABLE site_resources (
    id UUID PRIMARY KEY,
    site_id UUID NOT NULL REFERENCES sites (id),
    kind TEXT NOT NULL CHECK (kind IN ('chair', 'room')),
    name TEXT NOT NULL,
    position BIGINT NOT NULL,
    UNIQUE (site_id, name)
);

CREATE TABLE staff_availability (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id),
    site_id UUID NOT NULL REFERENCES sites (id),
    starts_at TIMESTAMPTZ NOT NULL,
    ends_at TIMESTAMPTZ NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX staff_availability_site_idx ON staff_availability (site_id, starts_at);

-- A booking is never deleted: a cancelled, missed or moved one keeps its row
-- (status, who, when and why); a move points from the new booking to the old.
CREATE TABLE bookings (
    id UUID PRIMARY KEY,
    site_id UUID NOT NULL REFERENCES sites (id),
    patient_id UUID NOT NULL REFERENCES patients (id),
    plan_event_id UUID REFERENCES plan_events (id),
    kind TEXT NOT NULL CHECK (kind IN ('inpatient', 'infusion', 'therapy', 'integration', 'assessment', 'follow_up')),
    resource_id UUID REFERENCES site_resources (id),
    clinician_id UUID REFERENCES users (id),
    starts_at TIMESTAMPTZ NOT NULL,
    minutes BIGINT NOT NULL CHECK (minutes > 0),
    occupied_until TIMESTAMPTZ NOT NULL,
    escort_name TEXT,
    status TEXT NOT NULL CHECK (status IN ('booked', 'attended', 'cancelled', 'no_show', 'rescheduled')),
    replaces UUID REFERENCES bookings (id),
    reason TEXT,
    created_by UUID NOT NULL REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL,
    updated_by UUID REFERENCES users (id),
    updated_at TIMESTAMPTZ,
    -- When the day-before reminder went to the outbox (once).
    reminder_queued_at TIMESTAMPTZ,
    version BIGINT NOT NULL
);
CREATE INDEX bookings_site_idx ON bookings (site_id, starts_at);
CREATE INDEX bookings_patient_idx ON bookings (patient_id, starts_at);
CREATE INDEX bookings_clinician_idx ON bookings (clinician_id, starts_at);
CREATE INDEX bookings_event_idx ON bookings (plan_event_id);

-- A clinician's iCalendar feed: only the secret token's hash is kept.
CREATE TABLE calendar_feeds (
    token_hash TEXT PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX calendar_feeds_user_idx ON calendar_feeds (user_id);
