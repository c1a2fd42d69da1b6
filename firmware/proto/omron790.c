/* Omron HEM-790IT family blood-pressure monitors (USB HID 0590:0028): commands and their
 * output reports, replies gathered from input reports, records, and the driver that downloads
 * the memory when the monitor is opened (or on the "download" action). Pure. Facts and
 * sources: firmware/doc/omron-hem790.md. */
#include "omron790.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

uint8_t fw_omron790_xor(const uint8_t *p, size_t n)
{
    uint8_t x = 0;
    for (size_t i = 0; i < n; i++)
        x ^= p[i];
    return x;
}

/* ---- commands ---- */

#define CLEAR_BYTES 30 /* Omron's software: four reports of 7 zero bytes and one of 2 */

static const struct {
    enum fw_omron790_cmd cmd;
    char name[4];
    size_t len; /* the whole command, checksum included */
} names[] = {
    {FW_OMRON790_VER, "VER", 5}, {FW_OMRON790_PRF, "PRF", 5}, {FW_OMRON790_SRL, "SRL", 5},
    {FW_OMRON790_GCL, "GCL", 5}, {FW_OMRON790_END, "END", 5}, {FW_OMRON790_GDC, "GDC", 8},
    {FW_OMRON790_GME, "GME", 8}, {FW_OMRON790_GMA, "GMA", 9}, {FW_OMRON790_GEA, "GEA", 9},
};

size_t fw_omron790_command(const struct fw_omron790_command *c, uint8_t *out, size_t cap)
{
    if (!c || !out || c->bank < 0 || c->bank > 255 || c->index < 0 || c->index > 255)
        return 0;
    if (c->cmd == FW_OMRON790_CLEAR) {
        if (cap < CLEAR_BYTES)
            return 0;
        memset(out, 0, CLEAR_BYTES);
        return CLEAR_BYTES;
    }
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        if (names[k].cmd != c->cmd)
            continue;
        size_t n = names[k].len;
        if (cap < n)
            return 0;
        uint8_t b[9] = {0};
        memcpy(b, names[k].name, 3);
        uint8_t bank = (uint8_t)c->bank, index = (uint8_t)c->index;
        switch (c->cmd) {
        case FW_OMRON790_END: /* "END" FF, whose checksum is FF */
            b[3] = 0xff;
            break;
        case FW_OMRON790_GDC: /* 0 bank 0 0 */
            b[4] = bank;
            break;
        case FW_OMRON790_GME: /* 0 bank 0 index */
            b[4] = bank;
            b[6] = index;
            break;
        case FW_OMRON790_GMA: /* 0 bank index 0 0 */
        case FW_OMRON790_GEA:
            b[4] = bank;
            b[5] = index;
            break;
        default: /* the information commands take the ASCII argument "0" */
            b[3] = '0';
            break;
        }
        b[n - 1] = fw_omron790_xor(b + 3, n - 4);
        memcpy(out, b, n);
        return n;
    }
    return 0;
}

size_t fw_omron790_frame(const uint8_t *bytes, size_t n, uint8_t *out, size_t cap)
{
    size_t reports = (n + FW_OMRON790_PAYLOAD - 1) / FW_OMRON790_PAYLOAD;
    if (!bytes || !out || n == 0 || reports * FW_OMRON790_REPORT > cap)
        return 0;
    for (size_t r = 0; r < reports; r++) {
        size_t k = n - r * FW_OMRON790_PAYLOAD;
        if (k > FW_OMRON790_PAYLOAD)
            k = FW_OMRON790_PAYLOAD;
        uint8_t *o = out + r * FW_OMRON790_REPORT;
        memset(o, 0, FW_OMRON790_REPORT);
        o[0] = (uint8_t)k;
        memcpy(o + 1, bytes + r * FW_OMRON790_PAYLOAD, k);
    }
    return reports * FW_OMRON790_REPORT;
}

size_t fw_omron790_command_reports(const struct fw_omron790_command *c, uint8_t *out, size_t cap)
{
    uint8_t b[CLEAR_BYTES];
    size_t n = fw_omron790_command(c, b, sizeof b);
    return n ? fw_omron790_frame(b, n, out, cap) : 0;
}

int fw_omron790_command_parse(const uint8_t *p, size_t n, struct fw_omron790_command *out)
{
    if (!p || !out || n == 0)
        return FW_EINVAL;
    *out = (struct fw_omron790_command){.cmd = FW_OMRON790_CLEAR};
    bool zero = true;
    for (size_t i = 0; i < n && zero; i++)
        zero = p[i] == 0;
    if (zero)
        return FW_OK;
    if (n < 3)
        return FW_EINVAL;
    out->cmd = FW_OMRON790_OTHER;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        if (memcmp(p, names[k].name, 3) != 0)
            continue;
        if (n != names[k].len || fw_omron790_xor(p + 3, n - 3) != 0)
            return FW_OK; /* a known name, but not as this driver knows it */
        out->cmd = names[k].cmd;
        if (out->cmd == FW_OMRON790_GDC || out->cmd == FW_OMRON790_GME) {
            out->bank = p[4];
            out->index = out->cmd == FW_OMRON790_GME ? p[6] : 0;
        } else if (out->cmd == FW_OMRON790_GMA || out->cmd == FW_OMRON790_GEA) {
            out->bank = p[4];
            out->index = p[5];
        }
        return FW_OK;
    }
    return FW_OK;
}

static bool same_command(const struct fw_omron790_command *a, const struct fw_omron790_command *b)
{
    return a->cmd == b->cmd && a->bank == b->bank && a->index == b->index;
}

static const char *command_name(const struct fw_omron790_command *c, char *buf, size_t len)
{
    switch (c->cmd) {
    case FW_OMRON790_CLEAR:
        return "the clear block";
    case FW_OMRON790_VER:
        return "VER00";
    case FW_OMRON790_GCL:
        return "GCL00";
    case FW_OMRON790_GDC:
        snprintf(buf, len, "GDC (bank %d)", c->bank);
        return buf;
    case FW_OMRON790_GME:
        snprintf(buf, len, "GME (record %d)", c->index);
        return buf;
    case FW_OMRON790_END:
        return "END";
    default:
        return "the host's command";
    }
}

/* ---- replies ---- */

static bool starts(const uint8_t *p, size_t n, const char *s)
{
    size_t k = strlen(s);
    return n >= k && memcmp(p, s, k) == 0;
}

/* A reply begins with "OK", "NO" or "OFF"; anything else was garbled from its start. */
static bool garbled_start(const struct fw_omron790_rx *rx)
{
    if (rx->bad)
        return true;
    if (rx->len == 0)
        return false;
    if (rx->len == 1)
        return rx->buf[0] != 'O' && rx->buf[0] != 'N';
    return !starts(rx->buf, rx->len, "OK") && !starts(rx->buf, rx->len, "NO") &&
           !starts(rx->buf, rx->len, "OF");
}

enum fw_omron790_rx_result fw_omron790_rx_feed(struct fw_omron790_rx *rx,
                                               const uint8_t r[FW_OMRON790_REPORT], size_t expect,
                                               char *why, size_t whylen)
{
    unsigned count = r[0];
    if (count > FW_OMRON790_PAYLOAD) {
        rx->bad = true;
        if (why)
            snprintf(why, whylen, "input report with count byte %u (at most 7): reply dropped",
                     count);
        return FW_OMRON790_RX_DONE;
    }
    if (count == 0) /* seen while the clear block goes out: nothing in it */
        return FW_OMRON790_RX_MORE;
    const uint8_t *d = r + 1;
    if (garbled_start(rx) &&
        (starts(d, count, "OK") || starts(d, count, "NO") || starts(d, count, "OFF"))) {
        rx->len = 0; /* a reply starts here: what came before it was not one */
        rx->bad = false;
    }
    if (rx->len + count > sizeof rx->buf) {
        rx->bad = true;
        if (why)
            snprintf(why, whylen, "reply longer than %d bytes: dropped", FW_OMRON790_MAX_REPLY);
    } else if (!rx->bad) {
        memcpy(rx->buf + rx->len, d, count);
        rx->len += count;
    }
    if (count < FW_OMRON790_PAYLOAD || (expect && rx->len >= expect && !rx->bad))
        return FW_OMRON790_RX_DONE;
    return FW_OMRON790_RX_MORE;
}

enum fw_omron790_reply fw_omron790_reply_kind(const uint8_t *p, size_t n)
{
    if (!p)
        return FW_OMRON790_R_GARBLED;
    if (starts(p, n, "NO"))
        return FW_OMRON790_R_NO;
    if (starts(p, n, "OFF"))
        return FW_OMRON790_R_OFF;
    if (!starts(p, n, "OK"))
        return FW_OMRON790_R_GARBLED;
    if (n == 2 || (n == 3 && p[2] == 0))
        return FW_OMRON790_R_OK;
    return fw_omron790_xor(p + 2, n - 2) == 0 ? FW_OMRON790_R_DATA : FW_OMRON790_R_BADSUM;
}

const char *fw_omron790_reply_name(enum fw_omron790_reply k)
{
    switch (k) {
    case FW_OMRON790_R_OK:
        return "OK";
    case FW_OMRON790_R_DATA:
        return "OK with data";
    case FW_OMRON790_R_BADSUM:
        return "a wrong checksum";
    case FW_OMRON790_R_NO:
        return "NO";
    case FW_OMRON790_R_OFF:
        return "OFF";
    default:
        return "a garbled reply";
    }
}

/* ---- time ---- */

/* ---- records and other answers ---- */

static void say(char *why, size_t len, const char *what)
{
    if (why && len)
        snprintf(why, len, "%s", what);
}

int fw_omron790_record_parse(const uint8_t *p, size_t n, struct fw_omron790_record *out, char *why,
                             size_t whylen)
{
    char buf[96];
    if (!p || !out)
        return FW_EINVAL;
    if (n != FW_OMRON790_RECORD_REPLY || !starts(p, n, "OK")) {
        snprintf(buf, sizeof buf, "not a record: %zu bytes%s (17 starting \"OK\" expected)", n,
                 starts(p, n, "OK") ? "" : " not starting \"OK\"");
        say(why, whylen, buf);
        return FW_EINVAL;
    }
    uint8_t x = fw_omron790_xor(p + 2, n - 2);
    if (x) {
        snprintf(buf, sizeof buf, "record checksum wrong (XOR after \"OK\" is %02X, 00 expected)",
                 x);
        say(why, whylen, buf);
        return FW_EINVAL;
    }
    const uint8_t *b = p + 3; /* after "OK" and its 0 byte */
    struct fw_omron790_record r = {
        .year = 2000 + b[0],
        .month = b[1],
        .day = b[2],
        .hour = b[3],
        .minute = b[4],
        .second = b[5],
        .unit = b[6],
        .sys = b[7] << 8 | b[8],
        .dia = b[9],
        .pulse = b[10],
        .flags = (unsigned)(b[11] << 8 | b[12]),
    };
    r.irregular = r.flags & 0x01;
    r.movement = r.flags & 0x02;
    r.truread = (int)(r.flags >> 4 & 3);
    char what[48];
    const char *bad = NULL;
    if (b[0] > 99) {
        snprintf(what, sizeof what, "year byte %d", b[0]);
        bad = what;
    } else {
        bad = fw_civil_check(r.year, r.month, r.day, r.hour, r.minute, r.second, what, sizeof what);
    }
    if (!bad && (r.sys < 40 || r.sys > 300)) {
        snprintf(what, sizeof what, "systolic %d mmHg", r.sys);
        bad = what;
    }
    if (!bad && (r.dia < 20 || r.dia >= r.sys)) {
        snprintf(what, sizeof what, "diastolic %d mmHg (systolic %d)", r.dia, r.sys);
        bad = what;
    }
    if (!bad && (r.pulse < 25 || r.pulse > 250)) {
        snprintf(what, sizeof what, "pulse %d /min", r.pulse);
        bad = what;
    }
    if (bad) {
        snprintf(buf, sizeof buf, "record out of range: %s", bad);
        say(why, whylen, buf);
        return FW_EINVAL;
    }
    *out = r;
    return FW_OK;
}

int fw_omron790_readings(const struct fw_omron790_record *r, struct fw_reading out[2])
{
    long long when = fw_civil_seconds(r->year, r->month, r->day, r->hour, r->minute, r->second);
    out[0] = (struct fw_reading){.kind = "bp",
                                 .unit = "mm[Hg]",
                                 .value = r->sys,
                                 .value2 = r->dia,
                                 .value3 = NAN,
                                 .device_time = when,
                                 .stored = true,
                                 .clock_local = true};
    out[1] = (struct fw_reading){.kind = "pulse",
                                 .unit = "/min",
                                 .value = r->pulse,
                                 .value2 = NAN,
                                 .value3 = NAN,
                                 .device_time = when,
                                 .stored = true,
                                 .clock_local = true};
    return 2;
}

int fw_omron790_count_parse(const uint8_t *p, size_t n, int *count, char *why, size_t whylen)
{
    char buf[96];
    if (!p || !count)
        return FW_EINVAL;
    if (n != 8 || fw_omron790_reply_kind(p, n) != FW_OMRON790_R_DATA) {
        snprintf(buf, sizeof buf, "not a record count: %zu bytes, %s (8 bytes \"OK\" expected)", n,
                 fw_omron790_reply_name(fw_omron790_reply_kind(p, n)));
        say(why, whylen, buf);
        return FW_EINVAL;
    }
    *count = p[6];
    return FW_OK;
}

int fw_omron790_version_parse(const uint8_t *p, size_t n, char *model, size_t modellen)
{
    if (!p || n != 15 || fw_omron790_reply_kind(p, n) != FW_OMRON790_R_DATA)
        return FW_EINVAL;
    if (model && modellen) {
        size_t k = 0;
        for (size_t i = 3; i < 14 && k + 1 < modellen; i++)
            model[k++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
        while (k > 0 && model[k - 1] == ' ')
            k--;
        model[k] = '\0';
    }
    return FW_OK;
}

int fw_omron790_clock_parse(const uint8_t *p, size_t n, long long *wall)
{
    if (!p || n < 10 || fw_omron790_reply_kind(p, n) != FW_OMRON790_R_DATA || p[3] > 99)
        return FW_EINVAL;
    int y = 2000 + p[3];
    char what[48];
    if (fw_civil_check(y, p[4], p[5], p[6], p[7], p[8], what, sizeof what))
        return FW_EINVAL;
    if (wall)
        *wall = fw_civil_seconds(y, p[4], p[5], p[6], p[7], p[8]);
    return FW_OK;
}

/* ---- the driver: a download led from start(), action() and the replies ---- */

static size_t reply_expect(enum fw_omron790_cmd c)
{
    switch (c) {
    case FW_OMRON790_VER:
        return 15;
    case FW_OMRON790_PRF:
        return 14;
    case FW_OMRON790_SRL:
        return 11;
    case FW_OMRON790_GDC:
        return 8;
    case FW_OMRON790_GME:
        return FW_OMRON790_RECORD_REPLY;
    case FW_OMRON790_GMA:
    case FW_OMRON790_GEA:
        return 12;
    default:
        return 0; /* the clear block, END, GCL00: the last report says where it ends */
    }
}

/* A new download: what the last one found is forgotten. */
static void session_begin(struct fw_omron790 *s)
{
    s->phase = FW_OMRON790_DOWNLOAD;
    s->count = -1;
    s->given = s->refused = 0;
    memset(s->done, 0, sizeof s->done);
    s->model[0] = s->why[0] = '\0';
    s->rx.len = 0;
    s->rx.bad = false;
}

/* Appends a command's reports to out->reply and makes it the one waiting for an answer (the
 * same command again counts one more try). */
static void ask(struct fw_omron790 *s, enum fw_omron790_cmd cmd, int index, double t,
                struct fw_decoded *out)
{
    struct fw_omron790_command c = {.cmd = cmd, .bank = 0, .index = index};
    size_t room = sizeof out->reply - out->reply_len;
    out->reply_len += fw_omron790_command_reports(&c, out->reply + out->reply_len, room);
    if (same_command(&s->pending, &c)) {
        s->tries++;
    } else {
        s->pending = c;
        s->tries = 1;
    }
    s->ok_seen = false;
    s->since = t;
    s->rx.len = 0;
    s->rx.bad = false;
}

static void tell(struct fw_omron790 *s, struct fw_decoded *out)
{
    out->status = s->status;
}

static void finish(struct fw_omron790 *s, struct fw_decoded *out)
{
    bool was = s->phase == FW_OMRON790_DOWNLOAD;
    s->phase = FW_OMRON790_IDLE;
    s->pending = (struct fw_omron790_command){0};
    s->ok_seen = false;
    if (!was)
        return;
    int k = snprintf(s->status, sizeof s->status, "download done: %ld record%s from the memory",
                     s->given, s->given == 1 ? "" : "s");
    if (s->model[0] && k > 0 && (size_t)k < sizeof s->status)
        k += snprintf(s->status + k, sizeof s->status - (size_t)k, " (Omron %s)", s->model);
    if (s->refused && k > 0 && (size_t)k < sizeof s->status)
        snprintf(s->status + k, sizeof s->status - (size_t)k, "; %ld refused, last: %s", s->refused,
                 s->why);
    tell(s, out);
}

static void fail(struct fw_omron790 *s, const char *what, struct fw_decoded *out)
{
    char name[32];
    snprintf(s->status, sizeof s->status,
             "download failed: %s to %s after %d tries (is the monitor on and in its cable? it "
             "turns off after a download)",
             what, command_name(&s->pending, name, sizeof name), s->tries);
    s->phase = FW_OMRON790_IDLE;
    s->pending = (struct fw_omron790_command){0};
    s->ok_seen = false;
    tell(s, out);
}

/* After the records: the next one (counting down to index 0, the newest), or END. */
static void next_record(struct fw_omron790 *s, int index, double t, struct fw_decoded *out)
{
    if (index > 0)
        ask(s, FW_OMRON790_GME, index - 1, t, out);
    else
        ask(s, FW_OMRON790_END, 0, t, out);
}

/* The answer did not do: ask again, or give up (a required step fails the download, an
 * optional one is skipped). */
static void again(struct fw_omron790 *s, const char *what, double t, struct fw_decoded *out)
{
    enum fw_omron790_cmd c = s->pending.cmd;
    bool optional = c == FW_OMRON790_VER || c == FW_OMRON790_GCL;
    if (s->tries < (optional ? FW_OMRON790_OPT_TRIES : FW_OMRON790_TRIES)) {
        ask(s, c, s->pending.index, t, out);
    } else if (c == FW_OMRON790_VER) {
        ask(s, FW_OMRON790_GCL, 0, t, out);
    } else if (c == FW_OMRON790_GCL) { /* no clock: the readings still carry their times */
        ask(s, FW_OMRON790_GDC, 0, t, out);
    } else {
        fail(s, what, out);
    }
}

static void give_record(struct fw_omron790 *s, const struct fw_omron790_record *r, int index,
                        struct fw_decoded *out)
{
    if (index >= 0) {
        if (s->done[index / 8] & (1u << (index % 8)))
            return; /* asked again (the host repeated itself): given already */
        s->done[index / 8] |= (uint8_t)(1u << (index % 8));
    }
    out->nreadings = (size_t)fw_omron790_readings(r, out->readings);
    s->given++;
}

/* A whole reply is in: what it says moves the download on. */
static void answer(struct fw_omron790 *s, double t, struct fw_decoded *out)
{
    const uint8_t *p = s->rx.buf;
    size_t n = s->rx.len;
    enum fw_omron790_reply k = s->rx.bad ? FW_OMRON790_R_GARBLED : fw_omron790_reply_kind(p, n);
    s->rx.len = 0;
    s->rx.bad = false;
    const char *what = fw_omron790_reply_name(k);
    struct fw_omron790_command c = s->pending;
    struct fw_omron790_record r;
    if (k == FW_OMRON790_R_GARBLED && c.cmd != FW_OMRON790_NONE) {
        /* More of it may still be on its way: asking now would bring two answers. The
         * deadline asks again once the line is quiet. */
        char name[32];
        if (!out->why[0])
            snprintf(out->why, sizeof out->why, "garbled answer to %s: asking again after %.0f s",
                     command_name(&c, name, sizeof name), FW_OMRON790_ANSWER);
        return;
    }
    switch (c.cmd) {
    case FW_OMRON790_CLEAR:
        if (k == FW_OMRON790_R_OK || k == FW_OMRON790_R_DATA)
            ask(s, FW_OMRON790_VER, 0, t, out);
        else
            again(s, what, t, out);
        return;
    case FW_OMRON790_VER:
        if (fw_omron790_version_parse(p, n, s->model, sizeof s->model) == FW_OK)
            ask(s, FW_OMRON790_GCL, 0, t, out);
        else
            again(s, what, t, out);
        return;
    case FW_OMRON790_GCL: {
        long long wall;
        if (fw_omron790_clock_parse(p, n, &wall) == FW_OK) {
            out->device_clock = wall;
            out->device_clock_local = true;
            ask(s, FW_OMRON790_GDC, 0, t, out);
        } else {
            again(s, what, t, out);
        }
        return;
    }
    case FW_OMRON790_GDC: {
        int count;
        if (fw_omron790_count_parse(p, n, &count, NULL, 0) != FW_OK) {
            again(s, what, t, out);
            return;
        }
        s->count = count;
        snprintf(s->status, sizeof s->status, "downloading %d record%s from the memory%s%s%s",
                 count, count == 1 ? "" : "s", s->model[0] ? " (Omron " : "", s->model,
                 s->model[0] ? ")" : "");
        tell(s, out);
        if (count > 0)
            ask(s, FW_OMRON790_GME, count - 1, t, out); /* the oldest first */
        else
            ask(s, FW_OMRON790_END, 0, t, out);
        return;
    }
    case FW_OMRON790_GME:
        if (k != FW_OMRON790_R_DATA) {
            again(s, what, t, out);
            return;
        }
        /* A record with its checksum right is what the monitor holds: asking again would
         * give the same, so one out of range is refused and the download goes on. */
        if (fw_omron790_record_parse(p, n, &r, s->why, sizeof s->why) == FW_OK) {
            give_record(s, &r, c.index, out);
        } else {
            s->refused++;
            snprintf(out->why, sizeof out->why, "record %d: %s", c.index, s->why);
        }
        if (s->phase == FW_OMRON790_DOWNLOAD)
            next_record(s, c.index, t, out);
        return;
    case FW_OMRON790_END:
        if (k == FW_OMRON790_R_OK) { /* "OFF\r\n" comes next */
            s->ok_seen = true;
            s->since = t;
            return;
        }
        finish(s, out);
        return;
    default: /* a command the driver followed but does not lead (or none): a record still
              * counts, wherever it came from */
        if (c.cmd == FW_OMRON790_NONE && k == FW_OMRON790_R_DATA &&
            fw_omron790_record_parse(p, n, &r, NULL, 0) == FW_OK)
            give_record(s, &r, -1, out);
        if (c.cmd != FW_OMRON790_NONE)
            s->pending = (struct fw_omron790_command){0};
        return;
    }
}

static int omron790_decode(void *state, const uint8_t *data, size_t n, double t,
                           struct fw_decoded *out)
{
    struct fw_omron790 *s = state;
    if (n == 0 || n % FW_OMRON790_REPORT) {
        snprintf(out->why, sizeof out->why,
                 "not an Omron HEM-790IT report: %zu bytes (8 per report: count, then up to 7)", n);
        return FW_EINVAL;
    }
    if (n > FW_OMRON790_REPORT)
        out->consumed = FW_OMRON790_REPORT; /* one report per call */
    if (s->pending.cmd != FW_OMRON790_NONE && s->since < 0 && t >= 0)
        s->since = t; /* sent by start(), and no one said when */
    if (fw_omron790_rx_feed(&s->rx, data, reply_expect(s->pending.cmd), out->why,
                            sizeof out->why) == FW_OMRON790_RX_DONE)
        answer(s, t, out);
    return FW_OK;
}

static size_t omron790_start(void *state, uint8_t *out, size_t cap)
{
    struct fw_omron790 *s = state;
    if (s->phase == FW_OMRON790_DOWNLOAD)
        return 0;
    session_begin(s);
    s->pending = (struct fw_omron790_command){.cmd = FW_OMRON790_CLEAR};
    s->tries = 1;
    s->ok_seen = false;
    s->since = -1; /* start() is not told the time: sent() or the first frame says it */
    struct fw_omron790_command clear = {.cmd = FW_OMRON790_CLEAR};
    return fw_omron790_command_reports(&clear, out, cap);
}

static int omron790_action(void *state, const char *name, double now, struct fw_decoded *out)
{
    struct fw_omron790 *s = state;
    if (strcmp(name, "download") != 0) {
        snprintf(out->why, sizeof out->why, "an Omron HEM-790IT can do: download");
        return FW_EINVAL;
    }
    if (s->phase == FW_OMRON790_DOWNLOAD)
        return FW_EBUSY;
    session_begin(s);
    s->pending = (struct fw_omron790_command){0};
    ask(s, FW_OMRON790_CLEAR, 0, now, out);
    snprintf(s->status, sizeof s->status, "downloading the memory");
    tell(s, out);
    return FW_OK;
}

static double omron790_deadline(const void *state)
{
    const struct fw_omron790 *s = state;
    if (s->pending.cmd == FW_OMRON790_NONE || s->since < 0)
        return -1;
    return s->since + FW_OMRON790_ANSWER;
}

static int omron790_timeout(void *state, double now, struct fw_decoded *out)
{
    struct fw_omron790 *s = state;
    s->rx.len = 0; /* whatever came of the answer will not be completed */
    s->rx.bad = false;
    switch (s->pending.cmd) {
    case FW_OMRON790_NONE:
        return FW_OK;
    case FW_OMRON790_END: /* its "OFF" did not come (or nothing did): the monitor is off */
        finish(s, out);
        return FW_OK;
    case FW_OMRON790_CLEAR:
    case FW_OMRON790_VER:
    case FW_OMRON790_GCL:
    case FW_OMRON790_GDC:
    case FW_OMRON790_GME:
        if (s->phase == FW_OMRON790_DOWNLOAD) {
            again(s, "no answer", now, out);
            return FW_OK;
        }
        break;
    default:
        break;
    }
    s->pending = (struct fw_omron790_command){0}; /* a followed command: stop waiting */
    return FW_OK;
}

/* A command the host sent (the driver's own, the manager's, or a capture's "> " lines). */
static void follow(struct fw_omron790 *s, const struct fw_omron790_command *c, double t)
{
    if (same_command(&s->pending, c) && !s->ok_seen) {
        s->since = t; /* the driver's own command going out (or the host asking again) */
        return;
    }
    bool download = c->cmd == FW_OMRON790_CLEAR || c->cmd == FW_OMRON790_VER ||
                    c->cmd == FW_OMRON790_GCL || c->cmd == FW_OMRON790_GDC ||
                    c->cmd == FW_OMRON790_GME;
    if (c->cmd == FW_OMRON790_CLEAR || (download && s->phase == FW_OMRON790_IDLE))
        session_begin(s);
    s->pending = *c;
    s->tries = 1;
    s->ok_seen = false;
    s->since = t;
    s->rx.len = 0;
    s->rx.bad = false;
}

static void omron790_sent(void *state, const uint8_t *data, size_t n, double t)
{
    struct fw_omron790 *s = state;
    for (size_t off = 0; off < n; off += FW_OMRON790_REPORT) {
        const uint8_t *r = data + off;
        size_t have = n - off < FW_OMRON790_REPORT ? n - off : FW_OMRON790_REPORT;
        unsigned count = r[0];
        if (count == 0)
            continue;
        if (count > FW_OMRON790_PAYLOAD || count > have - 1 ||
            s->txlen + count > sizeof s->tx) { /* not a report of a command: start again */
            s->txlen = 0;
            continue;
        }
        memcpy(s->tx + s->txlen, r + 1, count);
        s->txlen += count;
        if (count < FW_OMRON790_PAYLOAD) { /* the command's last report */
            struct fw_omron790_command c;
            if (fw_omron790_command_parse(s->tx, s->txlen, &c) == FW_OK)
                follow(s, &c, t);
            s->txlen = 0;
        }
    }
}

static const struct fw_usb_id omron790_ids[] = {
    {0x0590, 0x0028}, /* Omron HEM-790IT and its family (HHX-CABLE-USB1 cable) */
    {0, 0},
};

const struct fw_driver fw_drv_omron_hem790 = {
    .name = "omron-hem790",
    .description = "Omron HEM-790IT family blood-pressure monitor (USB HID 0590:0028): downloads "
                   "the memory when opened",
    .transport = "usb-hid",
    .usb_ids = omron790_ids,
    .state_size = sizeof(struct fw_omron790),
    .start = omron790_start,
    .decode = omron790_decode,
    .deadline = omron790_deadline,
    .timeout = omron790_timeout,
    .actions = "download",
    .action = omron790_action,
    .sent = omron790_sent,
    .hid_report = 8, /* every command is 8-byte reports, one transfer each */
    .hid_feature = {FW_OMRON790_FEATURE_HI, FW_OMRON790_FEATURE_LO},
    .hid_feature_len = 2,
};
