-- mokit schema 7: hand-off to the hospital.
-- A campaign names the hospital key its package is encrypted to, and the identifier systems
-- that hospital uses in FHIR (CCCD and BHYT numbers have no official FHIR naming system yet).
-- At the hospital: the kits whose packages it accepts.
ALTER TABLE campaign ADD COLUMN hospital_key TEXT;  -- the hospital-box public key file (JSON)
-- {"cccd": URI, "bhyt": URI, "code": URI}: any left out takes mokit's default (export_fhir.c).
ALTER TABLE campaign ADD COLUMN id_systems TEXT;

CREATE TABLE trusted_kit (
    kit_id TEXT PRIMARY KEY,
    sign_public TEXT NOT NULL UNIQUE,  -- base64 of the 32-byte Ed25519 public key
    fingerprint TEXT NOT NULL,
    label TEXT,                         -- "Team A's kit", for people
    trusted_at TEXT NOT NULL,
    trusted_by TEXT                     -- "cli:<user>"
);
