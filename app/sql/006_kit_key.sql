-- mokit schema 6: the kit's signing key (Ed25519, libsodium). The campaign packages that the
-- kit exports are signed with it; the hospital that imports them trusts the kit by its public
-- key (`mokit keys export`). Made on first run, and for a kit that had none, at this upgrade.
ALTER TABLE kit ADD COLUMN sign_public BLOB;    -- 32 bytes
ALTER TABLE kit ADD COLUMN sign_secret BLOB;    -- 64 bytes: libsodium's secret key (seed + public)
