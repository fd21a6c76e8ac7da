-- Inquiries, their substances and their call log (issue 3: the front door).

CREATE TABLE inquiries (
    id BLOB PRIMARY KEY NOT NULL,
    site_id BLOB NOT NULL REFERENCES sites (id),
    name TEXT NOT NULL,
    phone TEXT,
    email TEXT,
    preferred_contact_time TEXT,
    contact_channel TEXT NOT NULL CHECK (contact_channel IN ('phone', 'sms', 'email')),
    message TEXT,
    status TEXT NOT NULL CHECK (status IN ('new', 'contacted', 'screening_booked', 'converted', 'closed')),
    close_reason TEXT CHECK (close_reason IN ('not_interested', 'unreachable', 'not_eligible', 'referred_elsewhere', 'duplicate', 'spam', 'other')),
    assigned_to BLOB REFERENCES users (id),
    patient_id BLOB REFERENCES patients (id),
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_contact_at TEXT,
    search_name TEXT NOT NULL
);
CREATE INDEX inquiries_status_idx ON inquiries (status, id);

CREATE TABLE inquiry_substances (
    inquiry_id BLOB NOT NULL REFERENCES inquiries (id),
    substance TEXT NOT NULL CHECK (substance IN ('alcohol', 'cocaine', 'opioids', 'stimulants', 'cannabis', 'sedatives', 'other')),
    PRIMARY KEY (inquiry_id, substance)
);

CREATE TABLE inquiry_calls (
    id BLOB PRIMARY KEY NOT NULL,
    inquiry_id BLOB NOT NULL REFERENCES inquiries (id),
    called_at TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    outcome TEXT NOT NULL CHECK (outcome IN ('reached', 'left_message', 'no_answer', 'wrong_number', 'screening_booked')),
    note TEXT,
    user_id BLOB REFERENCES users (id)
);
CREATE INDEX inquiry_calls_inquiry_idx ON inquiry_calls (inquiry_id, called_at);
