-- Substance use diagnoses (ICD-10-CM codes, clinical.md §8), allergies and
-- current medications of a patient.

CREATE TABLE patient_diagnoses (
    patient_id BLOB NOT NULL REFERENCES patients (id),
    code TEXT NOT NULL,
    PRIMARY KEY (patient_id, code)
);

-- Allergies (first_text = substance, second_text = reaction) and current
-- medications (first_text = name, second_text = dose), in entry order.
CREATE TABLE patient_list_items (
    id BLOB PRIMARY KEY NOT NULL,
    patient_id BLOB NOT NULL REFERENCES patients (id),
    kind TEXT NOT NULL CHECK (kind IN ('allergy', 'medication')),
    position INTEGER NOT NULL,
    first_text TEXT NOT NULL,
    second_text TEXT
);
CREATE INDEX patient_list_items_patient_idx ON patient_list_items (patient_id, kind, position);
