-- mokit schema 2: printers and the print queue.
-- A job holds the exact printer bytes, laid out when it was asked for: what prints after a
-- restart or a reprint is what was asked for, whatever changed since.

CREATE TABLE printer (
    name TEXT PRIMARY KEY,          -- what the team calls it: "ticket", "band"
    profile TEXT NOT NULL,          -- a printer profile (`mokit printer profiles`)
    uri TEXT NOT NULL,              -- where it is: usb:, lp:, serial:, file:, sim:
    kinds TEXT NOT NULL,            -- what it prints unless a job names a printer: "ticket,slip"
    enabled INTEGER NOT NULL DEFAULT 1,
    state TEXT NOT NULL DEFAULT 'unknown',  -- as the spool last saw it (not audited: machine state)
    last_error TEXT,
    state_at TEXT,
    created_at TEXT NOT NULL,
    created_by TEXT REFERENCES staff(id)
);

CREATE TABLE print_job (
    seq INTEGER PRIMARY KEY,        -- jobs print in this order, per printer
    id TEXT NOT NULL UNIQUE,
    printer TEXT NOT NULL REFERENCES printer(name),
    kind TEXT NOT NULL CHECK (kind IN ('ticket', 'wristband', 'slip', 'test')),
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
CREATE INDEX print_job_pending ON print_job(printer, seq) WHERE state IN ('queued', 'sending');
CREATE INDEX print_job_visit ON print_job(visit_id) WHERE visit_id IS NOT NULL;
