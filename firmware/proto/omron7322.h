/* mokit firmware: Omron HEM-7322U (M6 Comfort IT, M500 IT) and HEM-7131U (M3 IT, M400 IT)
 * blood-pressure monitors, USB HID 0590:0090. Pure: no I/O, no clock, no globals, no allocation.
 *
 * The host reads the monitor's memory map: START, reads of 40-byte blocks, END. Every report,
 * both ways, is byte 0 (02 in commands) then a packet
 *     [length][type: 2 bytes][address: 2 bytes, big-endian][size][size data bytes][00][check]
 * whose bytes, length to check, XOR to 0. Records are 14 bytes, 100 a user, two users. The
 * layouts, the record's bit fields and the source of each fact: firmware/doc/omron-hem7322.md.
 * Facts marked (verify) there come from one source, or only from the Bluetooth sibling
 * (HEM-7322T), which has the same memory map. */
#pragma once

#include "fw_device.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FW_OMRON7322_REPORT     64 /* bytes in an input report */
#define FW_OMRON7322_CMD_LEN    9  /* a command: 02, then an 8-byte packet */
#define FW_OMRON7322_MAX_READ   55 /* the most a read can ask: 1 + 8 + 55 = one 64-byte report */
#define FW_OMRON7322_BLOCK      40 /* what a read asks for (obpm, bloodp) */
#define FW_OMRON7322_RECORD_LEN 14
#define FW_OMRON7322_SETTINGS   0x0260 /* ring cursors and the clock (verify) */
#define FW_OMRON7322_CLOCK_END  0x1e   /* the settings bytes the clock needs */

/* ---- commands (host to monitor, through the interrupt OUT endpoint) ---- */

enum fw_omron7322_kind {
    FW_OMRON7322_NONE = 0,
    FW_OMRON7322_START, /* type 00 00, size 10: the monitor answers 80 00 and takes reads */
    FW_OMRON7322_READ,  /* type 01 00, address, size: the answer 81 00 holds the bytes */
    FW_OMRON7322_END,   /* type 0F 00: answered 8F 00 with a status byte */
    FW_OMRON7322_ABORT, /* 0F 0F 0F 0F: obpm's end of an import that was cancelled */
};

struct fw_omron7322_command {
    enum fw_omron7322_kind kind;
    unsigned address, size; /* READ */
};

/* The 9 bytes of a command in out; 0 for an unknown kind or a READ of 0 or more than
 * FW_OMRON7322_MAX_READ bytes or past address 0xFFFF. */
size_t fw_omron7322_command(const struct fw_omron7322_command *c,
                            uint8_t out[FW_OMRON7322_CMD_LEN]);
/* Reads back a command the host sent: FW_OMRON7322_CMD_LEN with *out, FW_EINVAL when p does
 * not start with one (byte 0 not 02, length not 08, a wrong checksum or an unknown type). */
int fw_omron7322_command_parse(const uint8_t *p, size_t n, struct fw_omron7322_command *out);

/* ---- replies (monitor to host: input reports) ---- */

enum fw_omron7322_reply_type {
    FW_OMRON7322_R_START = 0x80,
    FW_OMRON7322_R_READ = 0x81,
    FW_OMRON7322_R_END = 0x8f,
};

struct fw_omron7322_reply {
    enum fw_omron7322_reply_type type;
    unsigned address, size;
    const uint8_t *data; /* size bytes inside the report */
    int status;          /* END: the byte after the header (0: content, verify) */
};

/* Parses one input report (9 to 64 bytes: what follows the packet is ignored; byte 0 is not
 * looked at, no source gives it). 1: a reply. 0: a reply whose checksum is wrong (the fields
 * are set, why says so). FW_EINVAL: not a reply of this monitor (too short or long, a length
 * byte that does not fit the report or the size, an unknown type), why says what. why may be
 * NULL. */
int fw_omron7322_reply_parse(const uint8_t *p, size_t n, struct fw_omron7322_reply *out, char *why,
                             size_t whylen);

/* ---- records ---- */

struct fw_omron7322_record {
    int systolic, diastolic, pulse; /* mmHg, mmHg, /min */
    int year, month, day, hour, minute, second;
    bool irregular; /* irregular heartbeat (verify) */
    bool movement;  /* body movement during the measurement (verify) */
    long long time; /* the monitor's wall clock read as if UTC, unix seconds */
};

/* Decodes a 14-byte record: 1 with *out; 0 for an empty slot (bytes 0-7 all FF); FW_EINVAL
 * with why (may be NULL) for one that is not a measurement: a date or time that does not
 * exist, systolic outside 40-300 mmHg, diastolic below 20 or not below the systolic. Seconds
 * 60-63 are read as 59 (omblepy saw them). */
int fw_omron7322_record_parse(const uint8_t rec[FW_OMRON7322_RECORD_LEN],
                              struct fw_omron7322_record *out, char *why, size_t whylen);
/* The readings of a decoded record, stored, timed by the monitor's clock (clock_local): "bp"
 * (systolic, diastolic, no mean) then "pulse"; the pulse is left out when outside 25-250 /min.
 * Returns how many (1 or 2). */
size_t fw_omron7322_readings(const struct fw_omron7322_record *r, struct fw_reading out[2]);

/* ---- the settings block: where each user's ring goes on, the monitor's clock ---- */

struct fw_omron7322_settings {
    int cursor[2]; /* the slot each user's next record goes to: the oldest one once the ring is
                      full; -1 when outside the ring */
    bool clock_ok; /* the clock's bytes were there, their sum right, the date real */
    int year, month, day, hour, minute, second;
    long long clock; /* as if UTC, unix seconds */
};

/* Decodes the bytes read at FW_OMRON7322_SETTINGS (n of them: the cursors need 4, the clock
 * FW_OMRON7322_CLOCK_END), for rings of `slots` records. FW_EINVAL when n < 4. */
int fw_omron7322_settings_parse(const uint8_t *data, size_t n, int slots,
                                struct fw_omron7322_settings *out);

/* ---- the memory map and the order of the reads ---- */

struct fw_omron7322_layout {
    const char *model;
    int users, slots; /* records per user */
    unsigned base[2]; /* each user's first record */
};
extern const struct fw_omron7322_layout fw_omron7322_m6; /* HEM-7322U: 2 x 100 */
extern const struct fw_omron7322_layout fw_omron7322_m3; /* HEM-7131U: 2 x 60 (verify) */

/* The reads of a download after the settings: each user's memory in FW_OMRON7322_BLOCK-byte
 * blocks from its first address (the blocks obpm reads), starting with the block that holds
 * the oldest record (cursor[u]; -1: the first block) and wrapping round, so that the records
 * complete oldest first. Returns the address to read after `after` (FW_OMRON7322_SETTINGS: the
 * first block), 0 when the memory has been read, FW_EINVAL when `after` is not a read of this
 * order. */
int fw_omron7322_next_read(const struct fw_omron7322_layout *l, const int cursor[2],
                           unsigned after);

/* ---- the driver's state (firmware/proto/omron7322.c): zero-initialised ---- */

#define FW_OMRON7322_ANSWER      1.0 /* seconds an answer may take (obpm, bloodp: 1000 ms) */
#define FW_OMRON7322_TRIES       3   /* sends of a read before the download fails */
#define FW_OMRON7322_START_TRIES 10  /* sends of START: time to press START/STOP */
#define FW_OMRON7322_MAX_SLOTS   100

enum fw_omron7322_phase {
    FW_OMRON7322_IDLE = 0,
    FW_OMRON7322_STARTING, /* START sent */
    FW_OMRON7322_SETTINGS_READ,
    FW_OMRON7322_RECORDS,
    FW_OMRON7322_ENDING,   /* END sent after the memory */
    FW_OMRON7322_ABORTING, /* ABORT sent after a failure */
};

struct fw_omron7322 {
    const struct fw_omron7322_layout *layout; /* NULL: the M6 (HEM-7322U) */
    enum fw_omron7322_phase phase;
    struct fw_omron7322_command pending; /* the command waiting for its answer */
    int tries;
    double since;  /* when it went out; < 0 not known yet (start() is not told the time) */
    bool echo;     /* the driver asked for it: the host's sent() of it is no new try */
    int cursor[2]; /* from the settings; -1 not known */
    /* The memory as read, by address, and which bytes came. */
    uint8_t image[2][FW_OMRON7322_MAX_SLOTS * FW_OMRON7322_RECORD_LEN];
    uint8_t have[2][FW_OMRON7322_MAX_SLOTS * FW_OMRON7322_RECORD_LEN / 8 + 1];
    bool records_seen; /* a block of records came: the ring's start is fixed */
    /* Records are given in ring order, oldest first, whatever order the blocks come in: the
     * next ring position of each user (0 is the slot at its cursor), at most 2 records a call
     * (FW_MAX_READINGS); a record not complete holds the ones after it back, unless flushing
     * (the download ended: what is there is given, the holes skipped). */
    int next[2];
    bool flush;
    bool finishing; /* END answered or given up on: the status is told once all is given */
    bool end_confirmed;
    int end_status;
    /* The report whose records are still being given, to know its rest when it comes back. */
    uint8_t frame[FW_OMRON7322_REPORT];
    size_t frame_len, frame_off;
    bool cont;
    int records[2]; /* records given as readings, per user */
    long refused, empty, skipped;
    char refused_why[96];
    char status[224];
};
