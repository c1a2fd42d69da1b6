-- mokit schema 3: stations, and every reading a device gave.
-- A station is a table of the screening day (registration, vitals, doctor, pharmacy). Its
-- devices (scanners, scales, oximeters) feed it: a scan makes a patient its current one, and
-- readings attach to that patient's visit.

CREATE TABLE station (
    name TEXT PRIMARY KEY,          -- "vitals", "vitals-2": 1-32 of a-z 0-9 - _
    role TEXT NOT NULL CHECK (role IN ('registration', 'vitals', 'doctor', 'pharmacy')),
    -- The devices it takes, comma-separated: a device id ("usb-1-1.2", "demo-scale"), a
    -- driver name ("cms50") or driver:serial ("hidpos-scale:0071234"). A device no station
    -- names goes to the default station.
    devices TEXT NOT NULL DEFAULT '',
    is_default INTEGER NOT NULL DEFAULT 0,
    visit_id TEXT REFERENCES visit(id),  -- the current patient's visit (today's only counts)
    current_since TEXT,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX station_default ON station(is_default) WHERE is_default;

INSERT INTO station(name, role, is_default, created_at) VALUES
    ('registration', 'registration', 0, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    ('vitals', 'vitals', 1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    ('doctor', 'doctor', 0, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    ('pharmacy', 'pharmacy', 0, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));

-- Every reading a device gave is kept, whatever became of it:
--   attached: an observation of a visit (observation_id) with this row as its provenance;
--   unassigned: no current patient when it came: listed for staff to assign, never dropped;
--   implausible: outside the bounds of its kind (a bag on the scale): kept, not observed.
CREATE TABLE device_reading (
    id TEXT PRIMARY KEY,
    station TEXT REFERENCES station(name),
    device_id TEXT NOT NULL,        -- the device manager's id: "usb-1-1.2", "tty-ttyUSB0"
    device TEXT NOT NULL,           -- driver/model/serial
    code TEXT NOT NULL,             -- observation kind: weight, spo2, pulse, bp
    value REAL NOT NULL, value2 REAL, value3 REAL,
    unit TEXT NOT NULL,             -- UCUM
    device_time TEXT,               -- by the device's clock, for a reading from its memory
    received_at TEXT NOT NULL,      -- when the kit got it
    raw TEXT,                       -- hex of the frame that completed it
    -- A reading read again from a device's memory has the same key: stored once.
    dedupe TEXT UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('attached', 'unassigned', 'implausible')),
    note TEXT,
    visit_id TEXT REFERENCES visit(id),
    observation_id TEXT REFERENCES observation(id),
    assigned_at TEXT, assigned_by TEXT REFERENCES staff(id)
);
CREATE INDEX device_reading_waiting ON device_reading(received_at) WHERE state = 'unassigned';
CREATE INDEX device_reading_visit ON device_reading(visit_id) WHERE visit_id IS NOT NULL;
