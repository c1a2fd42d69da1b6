-- mokit schema 4: the doctor's and the pharmacy's records, and queue calls.
-- Findings (ICD-10), referrals, the campaign's medicine list with its stock, prescriptions and
-- what was dispensed, and the numbers each station called. Sessions end after inactivity.

-- A login also ends when it has not been used for a while (a phone left on a table).
ALTER TABLE session ADD COLUMN last_seen INTEGER;  -- unix seconds, written at most once a minute

-- Symptoms the nurse asked about: a JSON array of keys (chest_pain, breathlessness, ...), "[]"
-- when asked and none, NULL when nobody asked. The urgent blood-pressure rule needs them.
ALTER TABLE visit ADD COLUMN symptoms TEXT;
ALTER TABLE visit ADD COLUMN advice TEXT;         -- the doctor's advice to the resident
-- A glucose reading: 1 fasting, 0 not fasting, NULL not said.
ALTER TABLE observation ADD COLUMN fasting INTEGER CHECK (fasting IN (0, 1));

-- What the doctor found. Never deleted: a finding recorded in error is marked removed.
CREATE TABLE finding (
    id TEXT PRIMARY KEY,
    visit_id TEXT NOT NULL REFERENCES visit(id),
    icd10 TEXT NOT NULL,            -- "I10", "E11.9"
    label TEXT,                     -- the doctor's words for a code not in the kit's list
    known INTEGER NOT NULL DEFAULT 0,  -- 1: a condition the resident already knew of
    note TEXT,
    created_at TEXT NOT NULL,
    created_by TEXT REFERENCES staff(id),
    removed_at TEXT, removed_by TEXT REFERENCES staff(id)
);
CREATE INDEX finding_visit ON finding(visit_id);

CREATE TABLE referral (
    id TEXT PRIMARY KEY,
    visit_id TEXT NOT NULL REFERENCES visit(id),
    destination TEXT NOT NULL,      -- "Bệnh viện Đa khoa tỉnh Lào Cai"
    reason TEXT NOT NULL,
    urgency TEXT NOT NULL CHECK (urgency IN ('routine', 'soon', 'urgent')),
    status TEXT NOT NULL CHECK (status IN ('referred', 'arrived', 'cancelled')),
    status_at TEXT NOT NULL,
    status_by TEXT REFERENCES staff(id),
    job_id TEXT,                    -- the slip's print job, when one was printed
    created_at TEXT NOT NULL,
    created_by TEXT REFERENCES staff(id)
);
CREATE INDEX referral_visit ON referral(visit_id);

-- The campaign's medicine list. stock counts the units handed out (tablets, bottles, tubes):
-- it never goes below zero, and every change is a stock_move.
CREATE TABLE medicine (
    id TEXT PRIMARY KEY,
    campaign_id TEXT NOT NULL REFERENCES campaign(id),
    code TEXT NOT NULL,             -- short, for the pharmacist: "AML5"
    name TEXT NOT NULL,             -- "Amlodipin"
    strength TEXT,                  -- "5 mg"
    form TEXT,                      -- "viên nén"
    unit TEXT NOT NULL,             -- "viên"
    stock INTEGER NOT NULL CHECK (stock >= 0),
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    created_by TEXT REFERENCES staff(id),
    UNIQUE (campaign_id, code)
);

CREATE TABLE prescription (
    id TEXT PRIMARY KEY,
    visit_id TEXT NOT NULL REFERENCES visit(id),
    medicine_id TEXT NOT NULL REFERENCES medicine(id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    dosage TEXT,                    -- "1 viên/ngày, uống buổi sáng"
    state TEXT NOT NULL CHECK (state IN ('prescribed', 'dispensed', 'cancelled')),
    created_at TEXT NOT NULL,
    created_by TEXT REFERENCES staff(id),
    done_at TEXT, done_by TEXT REFERENCES staff(id)
);
CREATE INDEX prescription_visit ON prescription(visit_id);

-- Every change of stock: received, dispensed (with its prescription), counted and corrected.
CREATE TABLE stock_move (
    id TEXT PRIMARY KEY,
    medicine_id TEXT NOT NULL REFERENCES medicine(id),
    change INTEGER NOT NULL,
    reason TEXT NOT NULL CHECK (reason IN ('receive', 'dispense', 'adjust')),
    prescription_id TEXT REFERENCES prescription(id),
    note TEXT,
    at TEXT NOT NULL,
    by TEXT REFERENCES staff(id)
);
CREATE INDEX stock_move_medicine ON stock_move(medicine_id);

-- A queue number called at a station ("now serving 17"), by the UI or a button.
CREATE TABLE queue_call (
    id TEXT PRIMARY KEY,
    station TEXT NOT NULL REFERENCES station(name),
    visit_id TEXT NOT NULL REFERENCES visit(id),
    queue_number INTEGER NOT NULL,
    day TEXT NOT NULL,
    recall INTEGER NOT NULL DEFAULT 0,  -- 1: the same number called again
    called_at TEXT NOT NULL,
    called_by TEXT REFERENCES staff(id)
);
CREATE INDEX queue_call_station ON queue_call(station, day, queue_number);
