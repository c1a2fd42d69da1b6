-- mokit schema 8: campaign packages imported at the hospital (app/export/records.c).
-- The hospital's mokit store holds the records of many kits and campaigns. Each package is
-- imported once, in one transaction; a resident who came to two campaigns is one patient when
-- the CCCD or BHYT number matches, and a likely match (same name, birth year, commune) is kept
-- for a person to review, never merged by the importer.

CREATE TABLE import (
    id TEXT PRIMARY KEY,            -- the package's UUID: a package is imported once
    kit_id TEXT NOT NULL,           -- the kit that made and signed it
    campaign_id TEXT NOT NULL REFERENCES campaign(id),
    campaign_code TEXT NOT NULL,    -- as the kit named it (a clash here adds "-K<kit>")
    imported_at TEXT NOT NULL,
    imported_by TEXT NOT NULL,      -- "cli:<user>"
    counts TEXT NOT NULL,           -- JSON: rows per table, as the manifest says
    result TEXT NOT NULL            -- JSON: patients new, merged, already here; rows added
);

-- An id or code a kit gave a resident who is here under another one: the incoming id and
-- wristband code of a resident merged by CCCD/BHYT, and the kit's code of a resident whose
-- code another resident here already had (two kits drew the same code). A scan of either
-- wristband finds the patient.
CREATE TABLE patient_alias (
    kind TEXT NOT NULL CHECK (kind IN ('id', 'code')),
    alias TEXT NOT NULL,
    patient_id TEXT NOT NULL REFERENCES patient(id),
    import_id TEXT NOT NULL,        -- the package (its import row is written at its end)
    PRIMARY KEY (kind, alias)
);
CREATE INDEX patient_alias_patient ON patient_alias(patient_id);

-- Two residents who may be one person (patient_likely_duplicate): listed for review.
CREATE TABLE likely_match (
    id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL REFERENCES patient(id),  -- the one the import added
    other_id TEXT NOT NULL REFERENCES patient(id),    -- the one already here
    reason TEXT NOT NULL,
    import_id TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'same', 'different')),
    decided_at TEXT,
    decided_by TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (patient_id, other_id)
);
CREATE INDEX likely_match_open ON likely_match(created_at) WHERE state = 'open';

-- The hospital asks for referred residents not yet arrived.
CREATE INDEX referral_open ON referral(status, urgency) WHERE status = 'referred';
