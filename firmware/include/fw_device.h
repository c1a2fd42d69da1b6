/* mokit firmware: vital-sign devices, the public contract: readings, captures, the pure
 * protocol decoders, the driver table, and the device manager that finds devices and feeds
 * the drivers their bytes (replayed captures feed the same drivers in tests).
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
    double value2, value3; /* blood pressure: diastolic and mean (NaN when not given) */
    long long device_time; /* unix seconds by the device's clock for a reading from its memory;
                              0 for a live reading (taken now) or when the device has no clock */
    bool stored;           /* from the device's memory (a download), not taken now */
    bool clock_local;      /* device_time is the device's wall clock read as if UTC (it has no
                              zone): the device manager turns it into unix seconds by the kit's
                              time zone before it reports the reading */
};

/* A device's wall-clock time as unix seconds read as if it were UTC (fw_reading.clock_local):
 * the fields are not checked (the decoders check their ranges first). */
long long fw_civil_seconds(int year, int month, int day, int hour, int minute, int second);
/* NULL when the fields make a real date and time (Gregorian leap years), else what is wrong
 * ("month 13", "day 29 of month 2 in 2027", "hour 24"...) written into buf. */
const char *fw_civil_check(int year, int month, int day, int hour, int minute, int second,
                           char *buf, size_t len);

/* Glucose: mg/dL per mmol/L (the molar mass of glucose, 180.16 g/mol, over 10). */
#define FW_GLUCOSE_MGDL_PER_MMOLL 18.016

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
#define FW_SCAN_MAX     1024 /* the longest code a scanner may send */

struct fw_usb_id {
    uint16_t vid, pid;
};

/* What one frame (or a timeout) gave: readings, a scanned code, or a rejected scan; and the
 * bytes the driver wants sent to the device (a command, an answer). */
struct fw_decoded {
    struct fw_reading readings[FW_MAX_READINGS];
    size_t nreadings;
    int scanned; /* 1: scan holds a complete code; -1: a rejected scan (why says why) */
    char scan[FW_SCAN_MAX + 1];
    char why[160];      /* a rejected scan, or a frame that is not this device's (FW_EINVAL) */
    const char *status; /* what the device says of itself when that is news for the staff
                           ("over capacity", "under zero", "zero", "in motion", "downloaded
                           session 1 of 2"); NULL. Told once until it changes. */
    uint8_t reply[64];
    size_t reply_len;
    size_t consumed; /* the driver stopped after a result at this many bytes: call decode again
                        with the rest (0: it took the whole frame) */
    /* The device's own clock as this frame tells it ("now" by the device: a header's time, an
     * answer to a clock query), unix seconds; 0 when the frame does not tell it. With
     * device_clock_local it is the device's wall clock read as if UTC (as fw_reading). The
     * manager records device clock minus kit clock for the connection (fw_identity). */
    long long device_clock;
    bool device_clock_local;
};

/* A driver: what it is, which devices it serves, and how it turns their frames into readings
 * or scans. Decoding is pure, so the same entry serves real devices (the device manager),
 * replays (fw_replay, the replay transport) and `mokit device decode`.
 * Adding one: firmware/doc/adding-a-driver.md. */
struct fw_driver {
    const char *name;                /* "hidpos-scale", "cms50", ...: config and command line */
    const char *description;         /* for people */
    const char *transport;           /* "usb-hid", "usb-bulk", "serial", "evdev", "demo" */
    const struct fw_usb_id *usb_ids; /* claimed by id (ends with {0, 0}); NULL: by config */
    int baud;                        /* serial: speed; parity 'N', 'O' or 'E' */
    char parity;
    size_t state_size; /* zeroed before the device's first frame */
    /* A device on a shared USB id (the CMS50's CP210x bridge) is asked what it is before it
     * is claimed: each step sets the port's speed and parity, sends its bytes and listens up
     * to `listen` seconds; verdict(state, bytes heard so far, model[96]) is 1 when the device
     * is this driver's (the state is set up for it), 0 while undecided. No step: by id. */
    const struct fw_probe_step {
        int baud;
        char parity;
        uint8_t send[16];
        size_t send_len;
        double listen;
        int (*verdict)(void *state, const uint8_t *heard, size_t n, char *model);
    } * probe;
    size_t nprobe;
    double keepalive; /* seconds between two start() sends while online; 0 once only */
    /* Bytes to send when the device is opened (after any probe): starts live data. 0 none. */
    size_t (*start)(void *state, uint8_t *out, size_t cap);
    /* One frame from the device (a HID report, a chunk of a serial stream, an 8-byte evdev
     * record) received at t (seconds): fills out (zeroed by the caller). FW_OK, or FW_EINVAL
     * with out->why for a frame that is not this device's (the state is unchanged). */
    int (*decode)(void *state, const uint8_t *data, size_t n, double t, struct fw_decoded *out);
    /* When the driver wants timeout() called (a scanner's gap), or < 0 for never. */
    double (*deadline)(const void *state);
    int (*timeout)(void *state, double now, struct fw_decoded *out);
    /* What a person can ask of the device beyond live data, space-separated ("download": the
     * readings in its memory); NULL for nothing. action() starts one at time now: FW_OK with
     * the first command in out->reply; FW_EINVAL with out->why when the device cannot do it
     * (its protocol has no such thing); FW_EBUSY while one is running. The rest of the
     * conversation is driven by decode() and timeout() replies; results come as readings
     * (stored set) and statuses. */
    const char *actions;
    int (*action)(void *state, const char *name, double now, struct fw_decoded *out);
    /* usb-hid: the size of the device's output reports. A reply longer than one is sent as
     * one transfer per report (0: the whole reply in one transfer). */
    size_t hid_report;
    /* usb-hid: a feature report (SET_REPORT, report id 0) sent when the device is opened,
     * before start(), and before each action; hid_feature_len 0: none. */
    uint8_t hid_feature[8];
    size_t hid_feature_len;
    /* Told of the bytes the host sent the device (the manager after each write; fw_replay for
     * a capture's "> HEX" lines), so that a driver follows a conversation whoever led it. */
    void (*sent)(void *state, const uint8_t *data, size_t n, double t);
};

/* The table (firmware/proto/drivers.c); each driver is a `const struct fw_driver` of its own. */
extern const struct fw_driver *const fw_drivers[];
extern const size_t fw_drivers_count;
const struct fw_driver *fw_driver_find(const char *name);
/* The driver that claims a USB id for a transport ("usb-hid", "serial"); NULL when none. */
const struct fw_driver *fw_driver_for_usb(uint16_t vid, uint16_t pid, const char *transport);

/* Plays the device-to-host frames of a capture through a driver; cb gets what each frame gave
 * (readings, scans, the device telling its clock) with the frame's time (-1 when the capture has
 * none), and what a gap timeout gave after the frame. A frame the driver refuses stops the replay:
 * FW_EINVAL with "frame N: ..." in err. FW_ENOMEM. */
int fw_replay(const struct fw_driver *d, const struct fw_capture *c,
              void (*cb)(void *ctx, double at, const struct fw_decoded *r), void *ctx, char *err,
              size_t errlen);

/* ---- the device manager (firmware/core/devices.c) ----
 *
 * One thread and one poll() loop for every device: USB through libusb (hotplug where the
 * platform has it, else a rescan each second), serial ports (USB-serial bridges found under a
 * USB device, and configured paths), evdev nodes of scanners, replayed captures and the demo
 * devices. A device fault marks that device offline; nothing stops the loop. Callbacks run on
 * the manager's thread, one at a time. */

enum fw_dev_state {
    FW_DEV_PROBING,   /* asking a shared-id device what it is */
    FW_DEV_ONLINE,    /* open, frames decoded */
    FW_DEV_OFFLINE,   /* a fault: will be tried again when it comes back */
    FW_DEV_UNCLAIMED, /* a probe said it is not the driver's device (or it has no usable
                         interface); asked again when it is plugged in again */
    FW_DEV_GONE,      /* unplugged or ended */
};
const char *fw_dev_state_name(enum fw_dev_state s);

/* Who a device is, for provenance ("hidpos-scale/DYMO M10/0071234"). */
struct fw_identity {
    char id[64];        /* stable while plugged: "usb-1-1.2", "tty-ttyUSB0", "demo-scale" */
    char driver[32];    /* driver name */
    char model[96];     /* product string or the probe's answer */
    char serial[64];    /* serial number, "" when the device has none */
    char path[128];     /* /dev node, "usb:BUS:ADDR", capture file */
    char transport[16]; /* driver transport */
    uint16_t vid, pid;
    /* This connection (the device as plugged in this time): when it was opened (unix seconds),
     * and, once a frame has told the device's clock (fw_decoded.device_clock), the device's
     * clock minus the kit's in seconds. */
    double connected_at;
    bool clock_known;
    double clock_offset;
};

enum fw_event_type {
    FW_EV_DEVICE,  /* state changed (arrived, probed, offline, gone); message says why */
    FW_EV_READING, /* decoded: readings */
    FW_EV_SCAN,    /* decoded: a code, or a rejected scan */
    FW_EV_FRAME,   /* raw bytes in or out (only when fw_manager_config.frames is set) */
};

struct fw_event {
    enum fw_event_type type;
    const struct fw_identity *dev;
    enum fw_dev_state state;
    double time; /* unix seconds (CLOCK_REALTIME) when the last byte arrived */
    double mono; /* the same moment on CLOCK_MONOTONIC (for latency measurements) */
    const struct fw_decoded *decoded; /* READING, SCAN */
    const uint8_t *raw;               /* the frame that completed it (provenance); FRAME */
    size_t raw_len;
    bool to_device; /* FRAME: host to device */
    const char *message;
};

struct fw_manager_config {
    void (*on_event)(void *ctx, const struct fw_event *ev);
    void *ctx;
    bool usb;   /* find USB devices (libusb) and the serial and input nodes under them */
    bool evdev; /* take scanners' input nodes (grabbed: their keys reach no other program) */
    /* Devices by configuration, comma-separated "DRIVER:PATH", e.g.
     * "cms50:/dev/ttyUSB0,serial-scanner:/dev/ttyACM0,hid-scanner:/dev/input/event3". */
    const char *paths;
    /* A directory watched for capture files (*.cap): each is played as a device, in real time
     * by its @SECONDS (or 50 frames a second without), then the device leaves. Tests, training
     * and benchmarks; NULL for none. The driver is the capture's "# device:" header. */
    const char *replay_dir;
    bool demo;               /* the simulated devices of `make run` (fw_manager_simulate) */
    bool frames;             /* report FW_EV_FRAME (for `mokit device record`) */
    const char *only_driver; /* claim only devices of this driver (record); NULL: all */
};

struct fw_manager;
/* Starts the manager's thread. FW_OK with *out; FW_ENOMEM; FW_EIO with err. A platform
 * without USB access (no libusb, no permission) starts without USB and says so in err. */
int fw_manager_start(const struct fw_manager_config *cfg, struct fw_manager **out, char *err,
                     size_t errlen);
/* Stops the thread, closes every device (giving back kernel drivers), frees. */
void fw_manager_stop(struct fw_manager *m);

struct fw_device_info {
    struct fw_identity id;
    enum fw_dev_state state;
    char message[240]; /* the last error or probe result (a driver status is up to 224) */
    double since;      /* unix seconds of the last state change */
    double last_frame; /* unix seconds, 0 when none yet */
    long frames, readings, scans, errors;
};
/* A snapshot of the devices seen (gone ones for a minute). The caller frees *out. */
int fw_manager_devices(struct fw_manager *m, struct fw_device_info **out, size_t *n);

/* Demo devices: "demo-scanner" scans code (then the demo scale, oximeter and blood-pressure
 * monitor take their readings, as a nurse would); "demo-scale", "demo-oximeter", "demo-bp"
 * take one reading. FW_ENODEV when not in demo mode or no such device; FW_EINVAL for a code
 * with characters a keyboard-mode scanner cannot type. */
int fw_manager_simulate(struct fw_manager *m, const char *device_id, const char *code);

/* Asks a device for one of its driver's actions (fw_driver.actions, e.g. "download"), on the
 * manager's thread; waits for its answer (at most 2 s). FW_OK: started (the results come as
 * events); FW_ENODEV: no such device, or not online; FW_EINVAL with err: the driver has no such
 * action or the device cannot do it; FW_EBUSY: one is running; FW_ETIMEDOUT. */
int fw_manager_action(struct fw_manager *m, const char *device_id, const char *action, char *err,
                      size_t errlen);
