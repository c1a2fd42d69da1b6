/* mokit firmware: Contec CMS50 pulse oximeters, newer command protocol (CMS50D+ firmware v4.6+,
 * CMS50E/F/I; CP210x bridge at 115200 8N1). Pure: no I/O, no allocation, no globals.
 *
 * Every packet is a type byte with bit 7 clear (the type in its low 5 bits), then a byte of
 * high bits, then up to 7 bytes sent with bit 7 set: bit k of byte 1 is bit 7 of byte k + 2.
 * Packet types, lengths, field layouts and their sources: firmware/doc/cms50.md ("Newer
 * firmware"). Facts marked (verify) there are not confirmed by two sources or a recording. */
#pragma once

#include "fw_device.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- commands (host to device): 7D, high bits, command, six argument bytes ---- */

#define FW_CMS50F_CMD_LEN 9

enum fw_cms50f_command {
    FW_CMS50F_CMD_VERSION = 0xa0,          /* reply 0x06 (protocol version) */
    FW_CMS50F_CMD_LIVE_START = 0xa1,       /* live data: 0x01 packets, 60 a second */
    FW_CMS50F_CMD_LIVE_STOP = 0xa2,        /* reply 0x0c */
    FW_CMS50F_CMD_SESSION_COUNT = 0xa3,    /* reply 0x0a */
    FW_CMS50F_CMD_SESSION_DURATION = 0xa4, /* argument: session; reply 0x08 */
    FW_CMS50F_CMD_SESSION_TIME = 0xa5,     /* argument: session; replies 0x07 and 0x12 */
    FW_CMS50F_CMD_SESSION_DATA = 0xa6,     /* argument: session; 0x0f (or 0x09) packets */
    FW_CMS50F_CMD_STORED_STOP = 0xa7,      /* reply 0x0c */
    FW_CMS50F_CMD_MODEL = 0xa8,            /* reply 0x02, one or two packets */
    FW_CMS50F_CMD_VENDOR = 0xa9,           /* reply 0x03 */
    FW_CMS50F_CMD_DEVICE_ID = 0xaa,        /* reply 0x04 */
    FW_CMS50F_CMD_USER_INFO = 0xab,        /* reply 0x05 */
    FW_CMS50F_CMD_PI_SUPPORT = 0xac,       /* reply 0x0e (verify) */
    FW_CMS50F_CMD_USER_COUNT = 0xad,       /* reply 0x10 */
    FW_CMS50F_CMD_SESSION_ERASE = 0xae,    /* arguments: user, session; reply 0x0b */
    FW_CMS50F_CMD_KEEP_ALIVE = 0xaf,       /* "still connected", every 5 s while streaming */
    FW_CMS50F_CMD_INFO = 0xb0,             /* reply 0x11 */
    FW_CMS50F_CMD_SET_TIME = 0xb1,         /* arguments: hour, minute, second; reply 0x0b */
    FW_CMS50F_CMD_SET_DATE = 0xb2,         /* arguments: century, year, month, day, weekday; 0x0b */
};

/* A command with no arguments (they are sent as 0x80): out gets 9 bytes, the number written;
 * 0 for a cmd without bit 7 set (no command is). */
size_t fw_cms50f_command(uint8_t cmd, uint8_t out[FW_CMS50F_CMD_LEN]);
/* A command with arguments (bytes 3-8; args[0] is the user for erase, args[1] the session for
 * duration, time, data and erase). */
size_t fw_cms50f_command_args(uint8_t cmd, const uint8_t args[6], uint8_t out[FW_CMS50F_CMD_LEN]);
/* Reads back a command the host sent (a capture's "> 7D ..." line, or what the driver is told
 * it sent): 9 with *cmd and args (may be NULL) set, FW_EINVAL when p does not start with one. */
int fw_cms50f_command_parse(const uint8_t *p, size_t n, uint8_t *cmd, uint8_t args[6]);
/* Builds a packet the way the device sends one: type (bit 7 clear) then the high-bit byte then
 * payload[0..n-1] with bit 7 set. n at most 7; the packet length (n + 2) or 0 when it does not
 * fit in cap or the type has bit 7 set. Tests and capture tools use it. */
size_t fw_cms50f_encode(uint8_t type, const uint8_t *payload, size_t n, uint8_t *out, size_t cap);

/* ---- replies (device to host) ---- */

enum fw_cms50f_type {
    FW_CMS50F_LIVE = 0x01,             /* live data, 9 bytes */
    FW_CMS50F_MODEL = 0x02,            /* model name segment, 9 */
    FW_CMS50F_VENDOR = 0x03,           /* vendor, 9 */
    FW_CMS50F_DEVICE_ID = 0x04,        /* device id (user-settable label), 9 */
    FW_CMS50F_USER_INFO = 0x05,        /* user index and name, 9 */
    FW_CMS50F_VERSION = 0x06,          /* protocol version, 4 */
    FW_CMS50F_SESSION_DATE = 0x07,     /* session start date, 8 */
    FW_CMS50F_SESSION_DURATION = 0x08, /* session length, 8 */
    FW_CMS50F_STORED_PI = 0x09,        /* stored sample with perfusion index (CMS50I), 6 */
    FW_CMS50F_SESSION_COUNT = 0x0a,    /* user and number of sessions, 4 */
    FW_CMS50F_SET_ACK = 0x0b,          /* clock set / session erased, 4 */
    FW_CMS50F_STOP_ACK = 0x0c,         /* reply to the stop commands (A2, A7), 2 */
    FW_CMS50F_PI_SUPPORT = 0x0e,       /* perfusion index available (0 yes, 1 no), 3 (verify) */
    FW_CMS50F_STORED = 0x0f,           /* three stored samples, 8 */
    FW_CMS50F_USER_COUNT = 0x10,       /* 3 */
    FW_CMS50F_INFO = 0x11,             /* device information, 9 */
    FW_CMS50F_SESSION_TIME = 0x12,     /* session start time of day, 8 */
    FW_CMS50F_UNKNOWN_13 = 0x13,       /* meaning unknown, 9 */
    FW_CMS50F_UNKNOWN_14 = 0x14,       /* meaning unknown, 9 */
};

#define FW_CMS50F_MAX_PACKET 9

/* The length of a packet of this type (low 5 bits of byte 0), 0 for a type not known. */
size_t fw_cms50f_packet_len(uint8_t type_byte);

/* A decoded packet. Only the fields of its type are set; the others are zero. */
struct fw_cms50f_packet {
    int type;   /* enum fw_cms50f_type: byte 0 & 0x1f */
    size_t len; /* bytes on the wire */
    /* The bytes with the high bits put back: raw[0] the type byte, raw[1] the high-bit byte
     * as sent, raw[2..len-1] the full 8-bit values. */
    uint8_t raw[FW_CMS50F_MAX_PACKET];
    struct {
        int signal;       /* 0-15 signal strength */
        bool search_long; /* searching took too long */
        bool dropping;    /* SpO2 dropping (verify) */
        bool beep;        /* pulse beep */
        bool finger_out;  /* probe off the finger */
        int pleth;        /* waveform 0-127 */
        bool searching;   /* searching for a pulse */
        int bar;          /* bar graph 0-15 */
        bool pi_valid;    /* the perfusion index is valid */
        int pulse;        /* /min; 255 not valid */
        int spo2;         /* %; above 100 not valid (127 while searching) */
        int pi;           /* perfusion index, raw LE16 (verify scale and byte order) */
    } live;
    /* MODEL: the segment's 6 characters; VENDOR, DEVICE_ID: 7; USER_INFO: the name. NUL-ended,
     * trailing spaces and NULs removed, characters outside printable ASCII as '?'. */
    char text[8];
    int segment;              /* MODEL: 0 for the first segment, else a continuation (0xff seen) */
    int user;                 /* USER_INFO, SESSION_COUNT */
    int count;                /* SESSION_COUNT: sessions; USER_COUNT: users; PI_SUPPORT: the flag */
    long long duration;       /* SESSION_DURATION: raw LE32 from bytes 4-7 (verify the unit: OSCAR
                                 divides by 2, by 4 for CMS50I/H, to get seconds) */
    int year, month, day;     /* SESSION_DATE (year 0: no clock, e.g. the CMS50D+) */
    int hour, minute, second; /* SESSION_TIME */
    int version;              /* VERSION: bytes 2-3 big-endian (7 seen: "V7.0") */
    int info;                 /* INFO: byte 3 */
    int nsamples;             /* STORED: 3; STORED_PI: 1 */
    struct {
        int spo2, pulse; /* as stored */
        int pi;          /* STORED_PI only, else -1 */
        bool valid;      /* neither 0 nor 255 pulse, SpO2 1-100 */
    } samples[3];
};

/* Decodes the packet that starts at p[0]: its length (> 0; bytes past it are not looked at),
 * or FW_EINVAL when p[0] has bit 7 set or an unknown type, n is shorter than the type's length
 * (a truncated packet), or a following byte has bit 7 clear (the packet was cut short). */
int fw_cms50f_parse(const uint8_t *p, size_t n, struct fw_cms50f_packet *out);

/* ---- live data ---- */

/* The stream decoder, the same contract as fw_cms50_feed(): a byte with bit 7 clear starts a
 * packet (a packet in progress is dropped, cut short), so a lost or garbage byte costs the
 * packet it hit. One SpO2 and one pulse reading once the values of live packets have held
 * (SpO2 within 1 %, pulse within 3 /min) for FW_CMS50F_STABLE_PACKETS valid packets (60 a
 * second: 3 s), then none until the finger has been out. Packets with the finger out,
 * searching, searching too long, or values outside 35-100 % / 25-250 /min are not readings.
 * Other packets (replies to commands) come out in *packet and change nothing. Zero-init. */
#define FW_CMS50F_STABLE_PACKETS 180
struct fw_cms50f {
    uint8_t buf[FW_CMS50F_MAX_PACKET];
    size_t have, need;
    long packets, dropped; /* packets decoded; bytes skipped or lost in cut packets */
    int cut_type;          /* type of the packet the last byte cut short, 0 none */
    int orphans;           /* bytes with bit 7 set skipped in a row (no packet start) */
    int run;               /* valid live packets in a row within tolerance */
    int run_spo2, run_pulse;
    bool given; /* readings given for this finger */
};
/* Feeds one byte: the number of readings written to out (0, or 2: SpO2 then pulse, NaN
 * value2/value3, device_time 0). *packet (may be NULL) gets the packet the byte completed
 * (*complete, may be NULL, set). */
int fw_cms50f_feed(struct fw_cms50f *s, uint8_t byte, struct fw_reading out[2],
                   struct fw_cms50f_packet *packet, bool *complete);

/* ---- protocol detection and probe ---- */

/* Consistent packets in a row needed to decide. */
#define FW_CMS50_DETECT_PACKETS 4
/* Which protocol a stream of bytes from a CMS50 speaks: 1 the older one (5-byte packets, byte 0
 * with bit 7 set, bytes 1-4 with it clear), 2 the newer one (known types with their lengths,
 * following bytes with bit 7 set), 0 undecided (fewer than FW_CMS50_DETECT_PACKETS consistent
 * packets in a row, or as many of both). */
int fw_cms50_detect(const uint8_t *data, size_t n);

/* The bytes received after sending the model command (A8): 1 when they hold a model reply
 * (packets of type 0x02 with printable text; other packets, such as live data, may be mixed
 * in), with the name (segments joined, trimmed; "" when the device sends spaces, as
 * headrotor's CMS50D+ did) in model; 0 when they do not. model may be NULL. */
int fw_cms50f_probe_reply(const uint8_t *data, size_t n, char *model, size_t modellen);

/* ---- stored data ---- */

/* The interval between stored samples (OSCAR imports them at 1 s; headrotor's contec_data
 * says "saved every second"; cms50ew assumes 3 s: verify with a recording). */
#define FW_CMS50F_STORED_SECONDS 1

struct fw_cms50f_sample {
    long index;      /* from the start of the session, counting lost packets' samples */
    long seconds;    /* index x FW_CMS50F_STORED_SECONDS */
    int spo2, pulse; /* as stored */
    int pi;          /* perfusion index (0x09 packets), -1 when not sent */
    bool valid;
};

/* What the replies of a download said about the session. */
struct fw_cms50f_session {
    bool have_date, have_time, have_duration, have_count;
    int year, month, day, hour, minute, second; /* start by the device's clock */
    long long duration;                         /* raw, see fw_cms50f_packet.duration */
    int user, sessions;
    int sample_type; /* FW_CMS50F_STORED or FW_CMS50F_STORED_PI, 0 before the first */
    long samples;    /* samples decoded */
    long invalid;    /* of which not valid (finger out) */
    long lost;       /* samples lost in cut packets (their indexes are skipped) */
};

/* The stored-data decoder over the bytes of a download (the replies to A3, A4, A5, then the
 * data after A6): session facts from their replies, samples from 0x0f and 0x09 packets. A
 * sample packet cut short advances the index by its samples so the rest keep their time.
 * Zero-init. */
struct fw_cms50f_stored {
    struct fw_cms50f framer;
    struct fw_cms50f_session session;
    long next_index;
};
/* Feeds one byte: the number of samples (0-3) written to out. */
int fw_cms50f_stored_feed(struct fw_cms50f_stored *s, uint8_t byte, struct fw_cms50f_sample out[3]);
/* The whole download at once: the number of samples found (may be more than max; only the
 * first max are written to out, which may be NULL with max 0), session (may be NULL) filled. */
long fw_cms50f_stored_decode(const uint8_t *data, size_t n, struct fw_cms50f_session *session,
                             struct fw_cms50f_sample *out, size_t max);

/* A stored session in numbers. */
#define FW_CMS50F_STORED_STABLE_SAMPLES 3
struct fw_cms50f_summary {
    long samples, valid; /* valid: the sample's flag and SpO2 35-100 %, pulse 25-250 /min */
    int spo2_min, spo2_max, pulse_min, pulse_max; /* over valid samples; 0 when none */
    double spo2_mean, pulse_mean;
    bool settled; /* a settled pair was found */
    long settled_index;
    int settled_spo2, settled_pulse;
    bool timed; /* the readings carry device_time (the session had a date and a time) */
    /* running state of fw_cms50f_summary_add() */
    double spo2_sum, pulse_sum;
    int run, run_spo2, run_pulse;
    long last;
};
/* Summarises samples. The readings are mokit's rule, not the sources': the first SpO2 and
 * pulse that held (SpO2 within 1 %, pulse within 3 /min) for FW_CMS50F_STORED_STABLE_SAMPLES
 * valid samples in a row (3 s at one sample a second), as a live measurement would give them.
 * Returns 2 with readings[0] SpO2 and [1] pulse (device_time: the session start (session may
 * be NULL) plus the sample's seconds, the device clock taken as UTC; 0 when the session had
 * no date and time, so it is not known when they were taken: see summary->timed), 0 when
 * nothing settled; FW_EINVAL for NULL summary or samples with n > 0. readings may be NULL. */
int fw_cms50f_stored_summary(const struct fw_cms50f_sample *samples, size_t n,
                             const struct fw_cms50f_session *session,
                             struct fw_cms50f_summary *summary, struct fw_reading readings[2]);
/* The same, a sample at a time (a download of hours of samples needs no array): add each
 * sample to a zeroed summary, then end it (the means, timed, the readings: as above). */
void fw_cms50f_summary_add(struct fw_cms50f_summary *summary, const struct fw_cms50f_sample *x);
int fw_cms50f_summary_end(struct fw_cms50f_summary *summary,
                          const struct fw_cms50f_session *session, struct fw_reading readings[2]);
