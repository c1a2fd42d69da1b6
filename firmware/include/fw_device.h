/* mokit firmware: vital-sign devices (public contract, first part: readings, captures and the
 * pure protocol decoders). The device manager, transports and driver table come next; they
 * feed these decoders the bytes of real devices, and replayed captures feed them in tests.
 *
 * Sources per protocol: firmware/doc/hidpos-scale.md, firmware/doc/cms50.md,
 * firmware/doc/captures.md. */
#pragma once

#include "fw_print.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One measurement as a device gave it, in the kind's UCUM unit (the observation kinds of the
 * app: "weight" kg, "spo2" %, "pulse" /min). */
struct fw_reading {
    const char *kind;
    const char *unit;
    double value;
};

/* ---- captures (firmware/doc/captures.md) ---- */

#define FW_CAPTURE_MAX_FRAME 4096

struct fw_frame {
    bool to_device; /* "> HEX" host to device; "< HEX" device to host */
    double at;      /* seconds from the start ("@SECONDS"), -1 when not given */
    size_t len;
    uint8_t *data;
};

struct fw_capture {
    char device[64], model[64], transport[32]; /* from the header ("" when absent) */
    struct fw_frame *frames;
    size_t nframes;
};

/* Parses a capture file's text. FW_EINVAL with "line N: what" in err for a malformed line (a
 * bad hex pair, a frame longer than FW_CAPTURE_MAX_FRAME, times going backwards, an unknown
 * line); FW_ENOMEM. The caller frees with fw_capture_free(). */
int fw_capture_parse(const char *text, size_t n, struct fw_capture *out, char *err, size_t errlen);
void fw_capture_free(struct fw_capture *c);

/* ---- HID point-of-sale scales (usage page 0x8D) ---- */

enum fw_scale_status {
    FW_SCALE_FAULT = 1,
    FW_SCALE_ZERO = 2, /* stable at zero */
    FW_SCALE_MOTION = 3,
    FW_SCALE_STABLE = 4,
    FW_SCALE_UNDER = 5, /* under zero */
    FW_SCALE_OVER = 6,  /* over the scale's capacity */
    FW_SCALE_CALIBRATE = 7,
    FW_SCALE_REZERO = 8,
};

struct fw_scale_report {
    enum fw_scale_status status;
    int unit;     /* 2 g, 3 kg, 11 oz, 12 lb */
    int exponent; /* the weight is raw x 10^exponent units */
    unsigned raw; /* little-endian 16-bit weight */
    double kg;    /* the weight in kilograms */
};

/* Input report 3: [03][status][unit][int8 exponent][LE16 weight]. FW_EINVAL for another
 * report, a short one, an unknown status or unit. */
int fw_hidpos_parse(const uint8_t *r, size_t n, struct fw_scale_report *out);

/* The scale's driver logic over a stream of reports: the first report after opening is
 * ignored (it can be stale); a weight is a reading once, when the scale settles on it
 * (status stable, and not the weight already given until the scale has been emptied or has
 * moved); zero, motion, under and over give none. Zero-initialise. */
struct fw_scale {
    int reports;
    bool given; /* a reading was given for the current load */
    unsigned given_raw;
};
/* 1 with *out set when the report completes a reading, 0 when not, FW_EINVAL for a report
 * that is not one (it changes nothing). *status (may be NULL) gets the report's status. */
int fw_hidpos_feed(struct fw_scale *s, const uint8_t *r, size_t n, struct fw_reading *out,
                   enum fw_scale_status *status);

/* ---- Contec CMS50 pulse oximeters, older protocol (19200 8O1 live packets) ---- */

struct fw_cms50_packet {
    int signal; /* 0-15 */
    bool finger_out, searching, probe_error, beep, dropping;
    int pleth; /* waveform 0-127 */
    int bar;   /* 0-15 */
    int pulse; /* /min; 255 while searching */
    int spo2;  /* %; 127 while searching */
};

/* The stream decoder: packets are 5 bytes, only the first with bit 7 set, so a lost byte
 * costs one packet and the decoder finds the next start. It gives a reading of SpO2 and of
 * pulse once the values have held (SpO2 within 1 %, pulse within 3 /min) for
 * FW_CMS50_STABLE_PACKETS valid packets (60 a second: 3 s), then none until the finger has
 * been out. Packets with the finger out, searching, a probe error or values outside
 * 35-100 % / 25-250 /min are not readings. Zero-initialise. */
#define FW_CMS50_STABLE_PACKETS 180
struct fw_cms50 {
    uint8_t buf[5];
    int have;
    long packets, dropped; /* packets decoded; bytes skipped to find a start */
    int run;               /* valid packets in a row within tolerance */
    int run_spo2, run_pulse;
    bool given; /* readings given for this finger */
};
/* Feeds one byte. Returns the number of readings written to out[0..1] (0 or 2: SpO2 then
 * pulse); *packet (may be NULL) gets a decoded packet when the byte completed one
 * (*complete set). */
int fw_cms50_feed(struct fw_cms50 *s, uint8_t byte, struct fw_reading out[2],
                  struct fw_cms50_packet *packet, bool *complete);
/* Decodes one 5-byte packet. FW_EINVAL when the sync bits are wrong. */
int fw_cms50_parse(const uint8_t p[5], struct fw_cms50_packet *out);

/* ---- drivers ---- */

#define FW_MAX_READINGS 4

struct fw_usb_id {
    uint16_t vid, pid;
};

/* A driver: what it is, which devices it serves, and how it turns their frames into
 * readings. The device manager will add open/close/probe; decoding is pure, so the same
 * entry serves real devices, replays (fw_replay) and `mokit device decode`. */
struct fw_driver {
    const char *name;        /* "hidpos-scale", "cms50": used in config and on the command line */
    const char *description; /* for people */
    const char *transport;   /* "usb-hid", "serial" */
    const struct fw_usb_id *usb_ids; /* ends with {0, 0} */
    size_t state_size;               /* zeroed before the first frame */
    /* One frame from the device (a HID report; a chunk of a serial stream): up to max
     * readings into out, the number written; FW_EINVAL with err for a frame that is not this
     * device's (the state is unchanged). */
    int (*decode)(void *state, const uint8_t *data, size_t n, struct fw_reading *out, size_t max,
                  char *err, size_t errlen);
};

extern const struct fw_driver fw_drivers[];
extern const size_t fw_drivers_count;
const struct fw_driver *fw_driver_find(const char *name);

/* Plays the device-to-host frames of a capture through a driver's decoder; cb gets every
 * reading with the time of the frame that completed it (-1 when the capture has none). A frame
 * the driver refuses stops the replay: FW_EINVAL with "frame N: ..." in err. FW_ENOMEM. */
int fw_replay(const struct fw_driver *d, const struct fw_capture *c,
              void (*cb)(void *ctx, double at, const struct fw_reading *r), void *ctx, char *err,
              size_t errlen);
