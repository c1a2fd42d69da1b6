-- mokit schema 9: the device's clock, per connection (Devices II).
-- A monitor that keeps readings in its memory stamps them by its own clock, which nobody sets.
-- Where the protocol tells that clock (a glucometer's header, an IEEE 11073 device's MDS
-- attributes), the kit keeps the difference from its own clock for that connection, and puts
-- a reading's time on the kit's clock before comparing it with the moment the current patient
-- was scanned: only readings taken after that moment are the patient's.

CREATE TABLE device_connection (
    id TEXT PRIMARY KEY,            -- device id and the connection's start: "usb-1-1.2@1790000000.123"
    device_id TEXT NOT NULL,
    device TEXT NOT NULL,           -- driver/model/serial
    connected_at TEXT NOT NULL,     -- by the kit's clock
    clock_offset REAL,              -- the device's clock minus the kit's, seconds; NULL: not told
    clock_read_at TEXT              -- when the device told it
);

ALTER TABLE device_reading ADD COLUMN connection_id TEXT REFERENCES device_connection(id);
-- The offset used for this reading (NULL: the device's clock was taken as the kit's).
ALTER TABLE device_reading ADD COLUMN clock_offset REAL;
