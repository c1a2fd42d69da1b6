/* mokit firmware: Omron HEM-790IT family blood-pressure monitors (USB HID 0590:0028), the
 * download protocol of libomron's notes and logs. Pure: no I/O, no clock, no globals, no
 * allocation.
 *
 * Every report, both ways, is 8 bytes: byte 0 says how many of the next 7 bytes are valid.
 * Commands are 3 ASCII letters, data bytes and an XOR checksum of the data bytes, cut into
 * output reports of at most 7 bytes each; replies start with "OK" (then a 0 byte, data and a
 * checksum that makes the XOR of everything after "OK" zero) or are "NO" (ask again). A reply
 * ends with a report that carries fewer than 7 bytes. Facts, sources and what is (verify):
 * firmware/doc/omron-hem790.md. */
#pragma once

#include "fw_device.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FW_OMRON790_REPORT  8 /* bytes in every input and output report */
#define FW_OMRON790_PAYLOAD 7 /* valid bytes a report can carry after its count byte */

/* The 2-byte feature report (report ID 0, SET_REPORT on the control endpoint) the host sets
 * before the clear block: libomron's "daily data" mode. Omron's own software was logged
 * sending other values (01 01, 25 2C, A0 12), so the value may not matter (verify). The
 * driver cannot send it: the device manager does, when it opens the monitor. */
#define FW_OMRON790_FEATURE_HI 0x74
#define FW_OMRON790_FEATURE_LO 0xbc

enum fw_omron790_cmd {
    FW_OMRON790_NONE = 0,
    FW_OMRON790_CLEAR, /* the clear block: 30 zero bytes; answered "OK" (else sent again) */
    FW_OMRON790_VER,   /* "VER00": "OK", 0, 11 ASCII characters (the model), checksum */
    FW_OMRON790_PRF,   /* "PRF00": followed only (meaning unknown) */
    FW_OMRON790_SRL,   /* "SRL00": followed only (meaning unknown) */
    FW_OMRON790_GCL,   /* "GCL00": the monitor's clock, from the HEM-7301 family (verify) */
    FW_OMRON790_GDC,   /* "GDC" 0 bank 0 0 sum: how many records the bank holds */
    FW_OMRON790_GME,   /* "GME" 0 bank 0 index sum: one record, index 0 the newest */
    FW_OMRON790_GMA,   /* "GMA" 0 bank index 0 0 sum: a weekly morning average (followed) */
    FW_OMRON790_GEA,   /* "GEA" ...: a weekly evening average (followed) */
    FW_OMRON790_END,   /* "END" FF FF: "OK", then "OFF\r\n"; the monitor turns off */
    FW_OMRON790_OTHER, /* a command this driver does not know */
};

struct fw_omron790_command {
    enum fw_omron790_cmd cmd;
    int bank;  /* GDC, GME, GMA, GEA: 0 on the HEM-790IT (the bank Omron's software reads) */
    int index; /* GME, GMA, GEA */
};

/* XOR of n bytes. */
uint8_t fw_omron790_xor(const uint8_t *p, size_t n);

/* A command's bytes, unframed: the number written (5 for VER/PRF/SRL/GCL/END, 8 for GDC and
 * GME, 9 for GMA/GEA, 30 for the clear block), 0 for NONE/OTHER, a bank or index outside
 * 0-255, or no room in cap. */
size_t fw_omron790_command(const struct fw_omron790_command *c, uint8_t *out, size_t cap);
/* Cuts bytes into output reports (count byte, up to 7 bytes, zero padding): the bytes written
 * (a multiple of 8), 0 when n is 0 or they do not fit in cap. */
size_t fw_omron790_frame(const uint8_t *bytes, size_t n, uint8_t *out, size_t cap);
/* Both: the output reports of a command (at most 40 bytes: the clear block). */
size_t fw_omron790_command_reports(const struct fw_omron790_command *c, uint8_t *out, size_t cap);
/* Reads back a command's unframed bytes (what the host sent): FW_OK with *out (CLEAR for zero
 * bytes only; OTHER for a command of another name, or a known name whose length or checksum is
 * wrong); FW_EINVAL for nothing, or fewer than 3 bytes that are not all zero. */
int fw_omron790_command_parse(const uint8_t *p, size_t n, struct fw_omron790_command *out);

/* ---- replies (device to host) ---- */

#define FW_OMRON790_MAX_REPLY 32 /* the longest reply kept (a record is 17 bytes) */

/* Gathers the input reports of one reply. Zero-initialise. */
struct fw_omron790_rx {
    uint8_t buf[FW_OMRON790_MAX_REPLY];
    size_t len;
    bool bad; /* a report in it had a bad count byte, or it grew past MAX_REPLY */
};
enum fw_omron790_rx_result {
    FW_OMRON790_RX_MORE = 0, /* the reply goes on (or the report carried nothing: count 0) */
    FW_OMRON790_RX_DONE = 1, /* a reply ended: rx->buf[0..len-1], or rx->bad */
};
/* Feeds one 8-byte input report. DONE when the report carries fewer than 7 bytes, or the reply
 * has reached expect bytes (0: not known). A count byte above 7 marks the reply bad (why says
 * so; why may be NULL) and ends it. A report that starts "OK", "NO" or "OFF" after a reply
 * that is already garbled starts the reply afresh (the stream finds its way back). Clear
 * rx->len and rx->bad after each DONE. */
enum fw_omron790_rx_result fw_omron790_rx_feed(struct fw_omron790_rx *rx,
                                               const uint8_t r[FW_OMRON790_REPORT], size_t expect,
                                               char *why, size_t whylen);

enum fw_omron790_reply {
    FW_OMRON790_R_GARBLED = 0, /* neither "OK", "NO" nor "OFF\r\n": ask again */
    FW_OMRON790_R_OK,          /* "OK" alone (the clear block, END) */
    FW_OMRON790_R_DATA,        /* "OK", data, checksum right: the XOR after "OK" is zero */
    FW_OMRON790_R_BADSUM,      /* "OK" and data, checksum wrong: ask again */
    FW_OMRON790_R_NO,          /* "NO": ask again */
    FW_OMRON790_R_OFF,         /* "OFF\r\n": the answer to END, no checksum */
};
enum fw_omron790_reply fw_omron790_reply_kind(const uint8_t *p, size_t n);
const char *fw_omron790_reply_name(enum fw_omron790_reply k);

/* One record (the 14 bytes after "OK" 0 in the answer to GME). */
#define FW_OMRON790_RECORD_REPLY 17
struct fw_omron790_record {
    int year, month, day, hour, minute, second; /* the monitor's wall clock; year 2000-2099 */
    int unit;                                   /* byte 6 "unit number" (not used) */
    int sys, dia, pulse;                        /* mmHg, mmHg, /min */
    unsigned flags;                             /* bytes 11-12 big-endian */
    bool irregular;                             /* flags bit 0: irregular heartbeat */
    bool movement;                              /* flags bit 1: body movement */
    int truread;                                /* flags bits 4-5: 0 alone, 1-3 of a TruRead */
};
/* Decodes a GME answer: FW_OK; FW_EINVAL with why for a reply that is not 17 bytes of "OK" 0
 * and data, a wrong checksum, or a field out of range (month 1-12, day of that month, hour
 * 0-23, minute and second 0-59, systolic 40-300, diastolic 20 to below the systolic, pulse
 * 25-250: mokit's plausibility limits, as the demo monitor's). why may be NULL. */
int fw_omron790_record_parse(const uint8_t *p, size_t n, struct fw_omron790_record *out, char *why,
                             size_t whylen);
/* The record's readings: bp (value systolic, value2 diastolic, value3 NaN) and pulse, both
 * stored, device_time the record's time read as if UTC, clock_local. Returns 2. */
int fw_omron790_readings(const struct fw_omron790_record *r, struct fw_reading out[2]);

/* The answer to GDC ("OK" 0, 4 bytes, checksum): FW_OK with *count (byte 6 of the reply, as
 * libomron reads it); FW_EINVAL with why for another length or a wrong checksum. */
int fw_omron790_count_parse(const uint8_t *p, size_t n, int *count, char *why, size_t whylen);
/* The answer to VER00: FW_OK with the 11-character model and version ("M7080IT 207") in model,
 * trailing spaces removed, '?' for what is not printable; FW_EINVAL for another length or a
 * wrong checksum. */
int fw_omron790_version_parse(const uint8_t *p, size_t n, char *model, size_t modellen);
/* The answer to GCL00 (verify: seen for the HEM-7301 family): "OK" 0, year (from 2000),
 * month, day, hour, minute, second, anything, checksum. FW_OK with *wall (the wall clock as if
 * UTC); FW_EINVAL for a short reply, a wrong checksum or a date out of range. */
int fw_omron790_clock_parse(const uint8_t *p, size_t n, long long *wall);

/* ---- the download, as the driver leads and follows it ---- */

#define FW_OMRON790_ANSWER    2.0 /* seconds a command's answer may take (libomron waits 1 s) */
#define FW_OMRON790_TRIES     5   /* sends of a command before the download fails */
#define FW_OMRON790_OPT_TRIES 2   /* sends of VER00 and GCL00 before the driver goes on */

enum fw_omron790_phase { FW_OMRON790_IDLE = 0, FW_OMRON790_DOWNLOAD };

/* The driver's state (firmware/proto/omron790.c). Zero-initialise. */
struct fw_omron790 {
    struct fw_omron790_rx rx;
    enum fw_omron790_phase phase;
    struct fw_omron790_command pending; /* the command waiting for its answer; NONE when none */
    bool ok_seen;                       /* END: its "OK" came, "OFF" may follow */
    double since;                       /* when pending went out; < 0 not known yet */
    int tries;                          /* sends of pending */
    int count;                          /* records in the bank (GDC), -1 not known */
    long given, refused;                /* records turned into readings / refused this time */
    uint8_t done[32];                   /* record indexes given this download (a bitmap) */
    uint8_t tx[48];                     /* a followed command's bytes, from its output reports */
    size_t txlen;
    char model[16];   /* VER00's answer, "" before it */
    char why[96];     /* the last record refused, for the status */
    char status[200]; /* what out->status points to */
};
