-- mokit schema 5: answers to requests that carried an Idempotency-Key.
-- A phone that lost the answer to a write (the Wi-Fi dropped after the kit committed it) sends
-- the write again with the same key: it gets the first answer back, and nothing is done twice.
CREATE TABLE request_key (
    key TEXT PRIMARY KEY,           -- 16-64 of A-Z a-z 0-9 - _, made by the phone
    staff_id TEXT NOT NULL REFERENCES staff(id),
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,             -- the answer as sent
    created_at INTEGER NOT NULL     -- unix seconds; kept a day
);
CREATE INDEX request_key_age ON request_key(created_at);
