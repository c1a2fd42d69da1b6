-- mokit schema 10: the kit's "ready" slip is a print job of its own kind.
-- When a kit boots, `mokit print ready` queues a slip with the kit's addresses and a QR code
-- that joins a phone to the kit's Wi-Fi. It is neither a ticket nor a test page, and the job
-- list says what it is. SQLite cannot change a CHECK constraint in place, so print_job is
-- rebuilt, every row kept as it was (seq, ids, bytes, states).
--
-- This runs inside the migration's transaction, where PRAGMA foreign_keys cannot be switched
-- off. The old table is therefore renamed first (its self-reference reprint_of follows it to
-- print_job_old), the new print_job is filled from it in one statement (foreign keys checked
-- against printer, patient, visit and the new table itself), and the old one dropped: only
-- the old table's own rows referred to it. No other table refers to print_job.
-- With foreign keys on, DROP TABLE first deletes every row, and each deleted row looks for
-- rows whose reprint_of names it: without an index on reprint_of that is a scan of the table
-- per row (on a kit with 200,000 jobs, hours instead of seconds). The index goes with the
-- table.

ALTER TABLE print_job RENAME TO print_job_old;

CREATE TABLE print_job (
    seq INTEGER PRIMARY KEY,        -- jobs print in this order, per printer
    id TEXT NOT NULL UNIQUE,
    printer TEXT NOT NULL REFERENCES printer(name),
    kind TEXT NOT NULL CHECK (kind IN ('ticket', 'wristband', 'slip', 'test', 'ready')),
    patient_id TEXT REFERENCES patient(id),
    visit_id TEXT REFERENCES visit(id),
    data BLOB NOT NULL,             -- the printer bytes
    -- queued: waits; sending: being sent (a restart finds it here when the daemon died mid-job,
    -- and sends it again after resynchronising the printer); done: the printer took every byte;
    -- failed: the printer cannot print it (never retried); cancelled: by staff before it printed.
    state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'done', 'failed', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    reprint_of TEXT REFERENCES print_job(id),
    created_at TEXT NOT NULL,
    created_by TEXT REFERENCES staff(id),
    done_at TEXT
);

INSERT INTO print_job(seq, id, printer, kind, patient_id, visit_id, data, state, attempts,
                      last_error, reprint_of, created_at, created_by, done_at)
    SELECT seq, id, printer, kind, patient_id, visit_id, data, state, attempts, last_error,
           reprint_of, created_at, created_by, done_at
    FROM print_job_old ORDER BY seq;

CREATE INDEX print_job_old_reprint ON print_job_old(reprint_of);
DROP TABLE print_job_old;

CREATE INDEX print_job_pending ON print_job(printer, seq) WHERE state IN ('queued', 'sending');
CREATE INDEX print_job_visit ON print_job(visit_id) WHERE visit_id IS NOT NULL;
