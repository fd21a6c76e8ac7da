-- Outcome data (issue 8): the timeline follow-back and the patient's diary,
-- one row per day, substance and source as reported (yes, no or unknown —
-- an unknown day is never a day without use), and test results, one row per
-- analyte of a specimen. Rows are never changed: a week entered again adds
-- rows, and the newest row of a (day, substance, source) is the answer.
CREATE TABLE use_reports (
    id UUID PRIMARY KEY,
    patient_id UUID NOT NULL REFERENCES patients (id),
    day TEXT NOT NULL,
    substance TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('tlfb', 'diary')),
    answer TEXT NOT NULL CHECK (answer IN ('yes', 'no', 'unknown')),
    amount TEXT,
    recorded_by UUID REFERENCES users (id),
    recorded_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX use_reports_patient_idx ON use_reports (patient_id, day);

CREATE TABLE lab_tests (
    id UUID PRIMARY KEY,
    patient_id UUID NOT NULL REFERENCES patients (id),
    -- The site's local date and time the specimen was collected, YYYY-MM-DDTHH:MM:SS.
    collected_at TEXT NOT NULL,
    analyte TEXT NOT NULL,
    result TEXT NOT NULL CHECK (result IN ('positive', 'negative', 'invalid')),
    recorded_by UUID NOT NULL REFERENCES users (id),
    recorded_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX lab_tests_patient_idx ON lab_tests (patient_id, collected_at);
