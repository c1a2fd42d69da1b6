-- mokit schema 1: kit, campaigns, staff, sessions, patients, visits, observations, audit.
-- Every id is a UUID (version 7: time-ordered, 74 random bits) made by the kit, so rows from
-- many kits merge without collisions. Times are UTC ISO 8601 strings ("2026-11-22T07:15:02.123Z").

CREATE TABLE kit (
    id TEXT PRIMARY KEY,            -- random kit id made on first run
    secret BLOB NOT NULL,           -- 32 random bytes: keys the PIN lookup tag
    created_at TEXT NOT NULL
);

CREATE TABLE campaign (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    province TEXT, district TEXT, commune TEXT, village TEXT,
    start_date TEXT, end_date TEXT,
    hospital TEXT,                  -- organising hospital
    created_at TEXT NOT NULL,
    created_by TEXT                 -- staff id, or NULL when made from the command line
);

CREATE TABLE staff (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('registrar', 'nurse', 'doctor', 'pharmacist', 'lead')),
    specialty TEXT,
    pin_hash TEXT NOT NULL,         -- libsodium crypto_pwhash_str (argon2id)
    pin_tag INTEGER NOT NULL,       -- 16 bits of a keyed hash: narrows login to ~1 candidate
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    created_by TEXT
);
CREATE INDEX staff_pin_tag ON staff(pin_tag) WHERE active;

CREATE TABLE session (
    token_hash TEXT PRIMARY KEY,    -- BLAKE2b of the bearer token; the token itself is not kept
    staff_id TEXT NOT NULL REFERENCES staff(id),
    created_at TEXT NOT NULL,
    expires_at INTEGER NOT NULL     -- unix seconds
);

CREATE TABLE patient (
    pid INTEGER PRIMARY KEY,        -- local row number (full-text index key only)
    id TEXT NOT NULL UNIQUE,
    code TEXT NOT NULL UNIQUE,      -- what the wristband QR carries
    name TEXT NOT NULL,             -- NFC
    name_fold TEXT NOT NULL,        -- search key: no accents, lower case, đ -> d
    sex TEXT NOT NULL CHECK (sex IN ('male', 'female')),
    birth_date TEXT,                -- YYYY-MM-DD, NULL when only the year is known
    birth_year INTEGER NOT NULL,
    ethnicity TEXT,                 -- GSO code 01..54
    province TEXT, district TEXT, commune TEXT, village TEXT, address TEXT,
    commune_fold TEXT, village_fold TEXT,
    cccd TEXT,                      -- 12-digit citizen ID number (unique: index below)
    bhyt TEXT,                      -- health insurance number as on the card (compact)
    bhyt_ssn TEXT,                  -- its 10-digit social insurance number: the person's key
    phone TEXT,                     -- digits only, +84 written as 0
    consent_at TEXT, consent_by TEXT REFERENCES staff(id),
    campaign_id TEXT REFERENCES campaign(id),  -- where first registered
    created_at TEXT NOT NULL,
    created_by TEXT REFERENCES staff(id)
);
-- Partial indexes: most residents have no BHYT card or phone, and a NULL costs no index page
-- (each page written is an fsync'd WAL page at every registration). "x = ?" uses them.
CREATE INDEX patient_name ON patient(name_fold, birth_year);
CREATE UNIQUE INDEX patient_cccd ON patient(cccd) WHERE cccd IS NOT NULL;
CREATE UNIQUE INDEX patient_bhyt ON patient(bhyt_ssn) WHERE bhyt_ssn IS NOT NULL;
CREATE INDEX patient_phone ON patient(phone) WHERE phone IS NOT NULL;
-- No index on village_fold: the village filter matches a substring, which no index serves.

-- Word-prefix search over the folded name. The text is folded by mokit before it gets here.
-- Only AND-ed prefix terms are asked of it (no phrases, no ranking), so it keeps neither token
-- positions (detail=none) nor column sizes: fewer pages written per registration.
CREATE VIRTUAL TABLE patient_fts USING fts5(
    name_fold, content='patient', content_rowid='pid', detail=none, columnsize=0,
    tokenize='unicode61 remove_diacritics 0', prefix='1 2 3');
CREATE TRIGGER patient_fts_ai AFTER INSERT ON patient BEGIN
    INSERT INTO patient_fts(rowid, name_fold) VALUES (new.pid, new.name_fold);
END;
CREATE TRIGGER patient_fts_ad AFTER DELETE ON patient BEGIN
    INSERT INTO patient_fts(patient_fts, rowid, name_fold) VALUES ('delete', old.pid, old.name_fold);
END;
CREATE TRIGGER patient_fts_au AFTER UPDATE OF name_fold ON patient BEGIN
    INSERT INTO patient_fts(patient_fts, rowid, name_fold) VALUES ('delete', old.pid, old.name_fold);
    INSERT INTO patient_fts(rowid, name_fold) VALUES (new.pid, new.name_fold);
END;

CREATE TABLE visit (
    id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL REFERENCES patient(id),
    campaign_id TEXT NOT NULL REFERENCES campaign(id),
    day TEXT NOT NULL,              -- the kit's local date, YYYY-MM-DD
    queue_number INTEGER NOT NULL,  -- 1, 2, ... per campaign and day
    created_at TEXT NOT NULL,
    created_by TEXT REFERENCES staff(id),
    UNIQUE (campaign_id, day, queue_number)
);
CREATE INDEX visit_patient ON visit(patient_id);

CREATE TABLE observation (
    id TEXT PRIMARY KEY,
    visit_id TEXT NOT NULL REFERENCES visit(id),
    code TEXT NOT NULL,             -- bp, pulse, spo2, weight, height, temp, glucose, waist
    value REAL NOT NULL,            -- first component (systolic for bp)
    value2 REAL,                    -- second (diastolic)
    value3 REAL,                    -- third (mean arterial pressure)
    unit TEXT NOT NULL,             -- UCUM
    source TEXT NOT NULL CHECK (source IN ('manual', 'device')),
    device TEXT,                    -- driver/model/serial when source = 'device'
    taken_at TEXT NOT NULL,
    taken_by TEXT REFERENCES staff(id),
    note TEXT
);
CREATE INDEX observation_visit ON observation(visit_id);

-- Rows are never deleted, so seq (the rowid) only grows; AUTOINCREMENT would add a write to
-- sqlite_sequence at every change.
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    staff_id TEXT REFERENCES staff(id),  -- NULL for the command line or the system
    actor TEXT NOT NULL,            -- "staff:<id>", "cli:<user>", "system"
    action TEXT NOT NULL,           -- create, update, login, ...
    entity TEXT NOT NULL,           -- table name
    entity_id TEXT,
    before TEXT,                    -- JSON, for edits
    after TEXT                      -- JSON
);
-- No index on (entity, entity_id) yet: every index is one more fsync'd page per change, and
-- nothing reads an entity's history yet. The migration that adds such a view adds the index.
