/* mokit firmware: Bayer / Ascensia Contour glucometers with a USB plug (Contour USB, Contour
 * Next USB and the other Contour Next meters that speak the same protocol). Pure: no I/O, no
 * clock, no allocation, no globals.
 *
 * Three layers, each its own function here:
 * - USB HID reports of 64 bytes: "ABC", a length byte (0-60), then that many bytes; a message
 *   goes on in the next report while the length is 60;
 * - ASTM E1381 link layer: the meter asks with ENQ, sends frames
 *   STX FN text ETB|ETX C1 C2 CR LF (FN '0'-'7', C1 C2 the sum of FN..ETB/ETX mod 256 in
 *   hex), waits for ACK (NAK: it sends the frame again), ends with EOT;
 * - ASTM E1394 records, one per frame on these meters: H (header: model, serial, the
 *   meter's clock), P (patient), O (order), R (result), L (terminator).
 * Sources and what each fact rests on: firmware/doc/contour.md. */
#pragma once

#include "fw_device.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- HID reports ---- */

#define FW_CONTOUR_REPORT  64 /* bytes in a report, both ways */
#define FW_CONTOUR_PAYLOAD 60 /* bytes of data a report carries at most */

/* One input report: "ABC", a length 0-60, the data. FW_OK with *data and *len (into r);
 * FW_EINVAL with why (may be NULL) saying what is wrong: shorter than its length says, longer
 * than 64 bytes, no "ABC", or a length above 60. Padding after the data is not looked at. */
int fw_contour_report_parse(const uint8_t *r, size_t n, const uint8_t **data, size_t *len,
                            char *why, size_t whylen);
/* An output report: "ABC", n, data, zero padding to 64 bytes. 64, or 0 when n > 60 or cap is
 * below 64. */
size_t fw_contour_report_make(const uint8_t *data, size_t n, uint8_t *out, size_t cap);

/* ---- ASTM E1381 frames ---- */

#define FW_CONTOUR_STX 0x02
#define FW_CONTOUR_ETX 0x03
#define FW_CONTOUR_EOT 0x04
#define FW_CONTOUR_ENQ 0x05
#define FW_CONTOUR_ACK 0x06
#define FW_CONTOUR_NAK 0x15
#define FW_CONTOUR_ETB 0x17

#define FW_CONTOUR_TEXT_MAX   240  /* text characters in one frame (E1381: 247 a frame) */
#define FW_CONTOUR_RECORD_MAX 1024 /* one record joined from its frames */

/* The frame checksum: the sum of the bytes mod 256 (from FN to ETB/ETX, both included). */
uint8_t fw_contour_checksum(const uint8_t *p, size_t n);
/* Builds STX FN text ETB|ETX C1 C2 CR LF (fn 0-7, text as given, so a record's own CR
 * belongs in it; last: ETX, else ETB). The length, or 0 when it does not fit in cap, fn is
 * out of range or the text is longer than FW_CONTOUR_TEXT_MAX. Tests and capture tools. */
size_t fw_contour_frame_make(int fn, const char *text, size_t n, bool last, uint8_t *out,
                             size_t cap);

/* ---- ASTM E1394 records ---- */

/* "YYYYMMDDHHMM" or "YYYYMMDDHHMMSS" (the Contour Next One adds seconds): FW_OK with the
 * wall-clock time as unix seconds read as if UTC; FW_EINVAL for another length, a non-digit or
 * a field out of range (month 1-12, day of that month, hour 0-23, minute and second 0-59,
 * year 2000-2099). */
int fw_contour_datetime(const char *s, size_t n, long long *out);

/* The delimiters a header declares (field, repeat, component, escape): "|\^&" on every meter
 * the sources show. */
struct fw_contour_delims {
    char field, repeat, component, escape;
};

struct fw_contour_header {
    struct fw_contour_delims d;
    char product[24];  /* "Bayer7390", "Bayer7410", "Contour7800" (field 5, component 1) */
    char model[32];    /* the product's name ("Contour USB"), "" for a number not known */
    char versions[48]; /* "01.24\01.04\09.02.20" as sent (component 2) */
    char serial[32];   /* "7390-2336773" (component 3) */
    long records;      /* field 7: records the meter says it holds; -1 when not a number */
    long long clock;   /* field 14: the meter's clock now, as if UTC; 0 when absent or bad */
};
/* An H record (without its CR). FW_OK; FW_EINVAL when it is not an H record with delimiters
 * (four distinct printable characters after the H). Fields it cannot read stay empty. */
int fw_contour_header_parse(const char *rec, size_t n, struct fw_contour_header *out);

/* What a result record is to mokit. */
enum fw_contour_kind {
    FW_CONTOUR_GLUCOSE = 0,     /* a patient's glucose reading: value_mmol and time are set */
    FW_CONTOUR_CONTROL = 1,     /* control solution (marker C): a check of the meter, skipped */
    FW_CONTOUR_LOW = 2,         /* below the meter's range (marker <, "LO"): no value */
    FW_CONTOUR_HIGH = 3,        /* above the meter's range (marker >, "HI"): no value */
    FW_CONTOUR_NOT_GLUCOSE = 4, /* insulin, carbohydrates and other entries: not a reading */
    FW_CONTOUR_BAD = 5,         /* a glucose result that cannot be read (why says what) */
};

struct fw_contour_result {
    enum fw_contour_kind kind;
    long seq;          /* field 2 */
    char test[16];     /* field 3, fourth component: "Glucose", "Insulin", "Carb" */
    double value;      /* field 4 as sent */
    char unit[12];     /* field 5, first component: "mg/dL", "mmol/L" */
    char markers[40];  /* field 7 as sent: "B", "A/Z8", "C", ">" ("/" between markers) */
    double value_mmol; /* GLUCOSE: the value in mmol/L, rounded to 0.01 */
    long long time;    /* field 9: when the meter took it, as if UTC; 0 when not read */
    char why[80];      /* BAD: what is wrong */
};
/* An R record (without its CR) with the header's delimiters: FW_OK with out->kind saying what
 * it is; FW_EINVAL when it is not an R record at all. A glucose value outside 0.5-50 mmol/L
 * or with an unknown unit or time is FW_CONTOUR_BAD. mg/dL are divided by 18.016. */
int fw_contour_result_parse(const char *rec, size_t n, const struct fw_contour_delims *d,
                            struct fw_contour_result *out);

/* ---- the conversation (the driver "contour") ---- */

#define FW_CONTOUR_QUEUE 8

/* Transfer phases. */
enum {
    FW_CONTOUR_IDLE = 0, /* nothing asked yet, or a transfer ended */
    FW_CONTOUR_ASKED,    /* the host spoke: the meter's ENQ (or its header) is due */
    FW_CONTOUR_DATA,     /* ENQ answered or frames coming: the meter sends its records */
};

/* Zero-initialise (the device manager zeroes state_size bytes at each open). */
struct fw_contour {
    int phase;
    double active; /* when the host last spoke or the meter last sent bytes */
    /* the message: reports joined while their length is 60 */
    bool more;         /* the last report was full: the message goes on */
    double more_since; /* when that full report came */
    uint8_t pending;   /* the answer due when the message ends: ACK, NAK or 0 */
    bool noise;        /* bytes outside a frame that mean nothing */
    /* the frame being received */
    int fstep; /* 0 between frames, then FN, text, C1, C2, CR, LF */
    uint8_t fn, end, c1, c2, sum;
    char text[FW_CONTOUR_TEXT_MAX];
    size_t tlen;
    int due;         /* the frame number due next, plus 1; 0: any (at the start, after ENQ) */
    long frames;     /* frames taken in this transfer */
    long bad_frames; /* frames refused (NAK) since the device was opened */
    /* the record being joined from frames (ETB without the record's CR: it goes on) */
    char rec[FW_CONTOUR_RECORD_MAX];
    size_t rlen;
    bool rec_overflow;
    /* what the header said and what came */
    struct fw_contour_delims d;
    bool have_header;
    char model[96];
    bool control_order; /* the last O record asked for a control test (report type Q) */
    char term;          /* the L record's termination code ('N': normal), 0 before one */
    long glucose, control, low, high, not_glucose, bad;
    long long last_out_of_range; /* time of the last LO/HI result */
    /* readings beyond FW_MAX_READINGS from one report, given at the next call */
    struct fw_reading queue[FW_CONTOUR_QUEUE];
    size_t nqueue;
    char status[224];
};

/* Seconds the decoder waits for the rest of a message whose last report was full before it
 * answers anyway, and the silence after which a transfer is given up (E1381's receiver
 * timeout). */
#define FW_CONTOUR_HOLD    0.5
#define FW_CONTOUR_SILENCE 30.0

/* One input report received at t: fills out (zeroed by the caller) with the readings of the
 * results it completed (kind "glucose", mmol/L, stored, clock_local), the meter's clock from a
 * header (device_clock), the answer when the message ended (out->reply: an output report
 * with ACK or NAK) and news for the staff (status). FW_EINVAL with out->why for a report that
 * is not the meter's (the state is unchanged). */
int fw_contour_decode(struct fw_contour *s, const uint8_t *r, size_t n, double t,
                      struct fw_decoded *out);
/* When fw_contour_timeout() is due, or -1. */
double fw_contour_deadline(const struct fw_contour *s);
/* An answer held for a full report, queued readings, or a transfer that fell silent. */
int fw_contour_timeout(struct fw_contour *s, double now, struct fw_decoded *out);
/* What the host sent (an output report): a transfer is asked for. */
void fw_contour_sent(struct fw_contour *s, const uint8_t *r, size_t n, double t);
