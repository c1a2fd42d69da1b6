-- mokit's hospital store in PostgreSQL, schema 1: the records that campaign packages carry
-- (app/export/records.h), the imports, and what the hospital does with them. The same tables
-- and ideas as the kit's SQLite store (app/sql/): ids are the kits' UUIDs, so packages from
-- many kits merge without collisions; times are timestamptz. `mokit import --pg` applies it
-- when the database has no mokit tables yet (schema_version).

CREATE TABLE campaign (
    id uuid PRIMARY KEY,
    code text NOT NULL UNIQUE,      -- as the kit named it, or with "-K<kit>" when it clashed
    name text NOT NULL,
    province text, district text, commune text, village text,
    start_date date, end_date date,
    hospital text,
    id_systems jsonb,
    created_at timestamptz NOT NULL,
    created_by uuid
);

-- The kits' staff, for who did what. Never a PIN: nobody logs in here.
CREATE TABLE staff (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    role text NOT NULL CHECK (role IN ('registrar', 'nurse', 'doctor', 'pharmacist', 'lead')),
    specialty text,
    created_at timestamptz NOT NULL
);

CREATE TABLE patient (
    id uuid PRIMARY KEY,
    code text NOT NULL UNIQUE,      -- the wristband's (patient_alias keeps other kits' codes)
    name text NOT NULL,
    name_fold text NOT NULL,        -- folded by mokit (app/domain/text.h), not by the database
    sex text NOT NULL CHECK (sex IN ('male', 'female')),
    birth_date date,
    birth_year integer NOT NULL,
    ethnicity text,
    province text, district text, commune text, village text, address text,
    commune_fold text, village_fold text,
    cccd text,
    bhyt text,
    bhyt_ssn text,
    phone text,
    consent_at timestamptz, consent_by uuid REFERENCES staff(id),
    campaign_id uuid REFERENCES campaign(id),
    created_at timestamptz NOT NULL,
    created_by uuid REFERENCES staff(id)
);
CREATE UNIQUE INDEX patient_cccd ON patient(cccd) WHERE cccd IS NOT NULL;
CREATE UNIQUE INDEX patient_bhyt ON patient(bhyt_ssn) WHERE bhyt_ssn IS NOT NULL;
CREATE INDEX patient_name ON patient(name_fold, birth_year);

CREATE TABLE visit (
    id uuid PRIMARY KEY,
    patient_id uuid NOT NULL REFERENCES patient(id),
    campaign_id uuid NOT NULL REFERENCES campaign(id),
    day date NOT NULL,
    queue_number integer NOT NULL,
    created_at timestamptz NOT NULL,
    created_by uuid REFERENCES staff(id),
    symptoms jsonb,
    advice text,
    UNIQUE (campaign_id, day, queue_number)
);
CREATE INDEX visit_patient ON visit(patient_id);

CREATE TABLE observation (
    id uuid PRIMARY KEY,
    visit_id uuid NOT NULL REFERENCES visit(id),
    code text NOT NULL,
    value double precision NOT NULL,
    value2 double precision,
    value3 double precision,
    unit text NOT NULL,
    source text NOT NULL CHECK (source IN ('manual', 'device')),
    device text,
    taken_at timestamptz NOT NULL,
    taken_by uuid REFERENCES staff(id),
    note text,
    fasting boolean
);
CREATE INDEX observation_visit ON observation(visit_id);

-- The device readings behind observations (provenance).
CREATE TABLE device_reading (
    id uuid PRIMARY KEY,
    device_id text NOT NULL,
    device text NOT NULL,
    code text NOT NULL,
    value double precision NOT NULL, value2 double precision, value3 double precision,
    unit text NOT NULL,
    device_time timestamptz,
    received_at timestamptz NOT NULL,
    raw text,
    state text NOT NULL CHECK (state IN ('attached', 'unassigned', 'implausible')),
    note text,
    visit_id uuid REFERENCES visit(id),
    observation_id uuid REFERENCES observation(id),
    assigned_at timestamptz,
    assigned_by uuid REFERENCES staff(id)
);
CREATE INDEX device_reading_visit ON device_reading(visit_id);

CREATE TABLE finding (
    id uuid PRIMARY KEY,
    visit_id uuid NOT NULL REFERENCES visit(id),
    icd10 text NOT NULL,
    label text,
    known boolean NOT NULL,
    note text,
    created_at timestamptz NOT NULL,
    created_by uuid REFERENCES staff(id),
    removed_at timestamptz, removed_by uuid REFERENCES staff(id)
);
CREATE INDEX finding_visit ON finding(visit_id);

CREATE TABLE referral (
    id uuid PRIMARY KEY,
    visit_id uuid NOT NULL REFERENCES visit(id),
    destination text NOT NULL,
    reason text NOT NULL,
    urgency text NOT NULL CHECK (urgency IN ('routine', 'soon', 'urgent')),
    status text NOT NULL CHECK (status IN ('referred', 'arrived', 'cancelled')),
    status_at timestamptz NOT NULL,
    status_by uuid REFERENCES staff(id),  -- NULL for a change at the hospital (audit says who)
    created_at timestamptz NOT NULL,
    created_by uuid REFERENCES staff(id)
);
CREATE INDEX referral_visit ON referral(visit_id);
CREATE INDEX referral_open ON referral(urgency) WHERE status = 'referred';

CREATE TABLE medicine (
    id uuid PRIMARY KEY,
    campaign_id uuid NOT NULL REFERENCES campaign(id),
    code text NOT NULL,
    name text NOT NULL,
    strength text,
    form text,
    unit text NOT NULL,
    stock integer NOT NULL CHECK (stock >= 0),
    active boolean NOT NULL,
    created_at timestamptz NOT NULL,
    created_by uuid REFERENCES staff(id),
    UNIQUE (campaign_id, code)
);

CREATE TABLE prescription (
    id uuid PRIMARY KEY,
    visit_id uuid NOT NULL REFERENCES visit(id),
    medicine_id uuid NOT NULL REFERENCES medicine(id),
    quantity integer NOT NULL CHECK (quantity > 0),
    dosage text,
    state text NOT NULL CHECK (state IN ('prescribed', 'dispensed', 'cancelled')),
    created_at timestamptz NOT NULL,
    created_by uuid REFERENCES staff(id),
    done_at timestamptz, done_by uuid REFERENCES staff(id)
);
CREATE INDEX prescription_visit ON prescription(visit_id);

CREATE TABLE stock_move (
    id uuid PRIMARY KEY,
    medicine_id uuid NOT NULL REFERENCES medicine(id),
    change integer NOT NULL,
    reason text NOT NULL CHECK (reason IN ('receive', 'dispense', 'adjust')),
    prescription_id uuid REFERENCES prescription(id),
    note text,
    at timestamptz NOT NULL,
    "by" uuid REFERENCES staff(id)
);
CREATE INDEX stock_move_medicine ON stock_move(medicine_id);

-- Each package imported: once.
CREATE TABLE import (
    id uuid PRIMARY KEY,            -- the package's
    kit_id uuid NOT NULL,
    campaign_id uuid NOT NULL REFERENCES campaign(id),
    campaign_code text NOT NULL,    -- as the kit named it
    imported_at timestamptz NOT NULL DEFAULT now(),
    imported_by text NOT NULL,
    counts jsonb NOT NULL,
    result jsonb NOT NULL
);

-- Ids and codes kits gave a resident who is here under another (merged by CCCD/BHYT, or a
-- code another resident already had).
CREATE TABLE patient_alias (
    kind text NOT NULL CHECK (kind IN ('id', 'code')),
    alias text NOT NULL,
    patient_id uuid NOT NULL REFERENCES patient(id),
    import_id uuid NOT NULL,
    PRIMARY KEY (kind, alias)
);
CREATE INDEX patient_alias_patient ON patient_alias(patient_id);

-- Two residents who may be one person: for a person to review, never merged by the importer.
CREATE TABLE likely_match (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    patient_id uuid NOT NULL REFERENCES patient(id),
    other_id uuid NOT NULL REFERENCES patient(id),
    reason text NOT NULL,
    import_id uuid NOT NULL,
    state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'same', 'different')),
    decided_at timestamptz,
    decided_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (patient_id, other_id)
);
CREATE INDEX likely_match_open ON likely_match(created_at) WHERE state = 'open';

-- Who changed what at the hospital (imports, merges, arrivals).
CREATE TABLE audit (
    seq bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    action text NOT NULL,
    entity text NOT NULL,
    entity_id text,
    before jsonb,
    after jsonb
);
