/* Omron HEM-7322U / HEM-7131U blood-pressure monitors (USB HID 0590:0090): commands, replies,
 * records, the settings block, the order of the reads, and the driver that downloads the memory
 * when the monitor is opened (or on the "download" action). Pure. Facts and sources:
 * firmware/doc/omron-hem7322.md. */
#include "omron7322.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CMD_HEAD 0x02 /* byte 0 of every command in obpm, bloodp and the other USB hosts */
#define PACKET   0x08 /* a command's packet: length, type, address, size, 00, check */

static uint8_t xor_bytes(const uint8_t *p, size_t n)
{
    uint8_t x = 0;
    for (size_t i = 0; i < n; i++)
        x ^= p[i];
    return x;
}

static void say(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t len, const char *fmt, ...)
{
    if (!why || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

/* ---- commands ---- */

size_t fw_omron7322_command(const struct fw_omron7322_command *c, uint8_t out[FW_OMRON7322_CMD_LEN])
{
    if (!c || !out)
        return 0;
    uint8_t b[FW_OMRON7322_CMD_LEN] = {CMD_HEAD, PACKET};
    switch (c->kind) {
    case FW_OMRON7322_START: /* 00 00, address 0, size 10 (the monitor's 16-byte answer) */
        b[6] = 0x10;
        break;
    case FW_OMRON7322_READ:
        if (c->size == 0 || c->size > FW_OMRON7322_MAX_READ || c->address > 0xffff)
            return 0;
        b[2] = 0x01;
        b[4] = (uint8_t)(c->address >> 8);
        b[5] = (uint8_t)c->address;
        b[6] = (uint8_t)c->size;
        break;
    case FW_OMRON7322_END:
        b[2] = 0x0f;
        break;
    case FW_OMRON7322_ABORT:
        b[2] = b[3] = b[4] = b[5] = 0x0f;
        break;
    default:
        return 0;
    }
    b[8] = xor_bytes(b + 1, 7); /* the packet's bytes XOR to 0 */
    memcpy(out, b, sizeof b);
    return sizeof b;
}

int fw_omron7322_command_parse(const uint8_t *p, size_t n, struct fw_omron7322_command *out)
{
    if (!p || !out || n < FW_OMRON7322_CMD_LEN || p[0] != CMD_HEAD || p[1] != PACKET ||
        xor_bytes(p + 1, PACKET) != 0)
        return FW_EINVAL;
    struct fw_omron7322_command c = {0};
    unsigned address = (unsigned)(p[4] << 8 | p[5]);
    if (p[2] == 0x00 && p[3] == 0x00) {
        c.kind = FW_OMRON7322_START;
    } else if (p[2] == 0x01 && p[3] == 0x00) {
        c.kind = FW_OMRON7322_READ;
        c.address = address;
        c.size = p[6];
    } else if (p[2] == 0x0f && p[3] == 0x00) {
        c.kind = FW_OMRON7322_END;
    } else if (p[2] == 0x0f && p[3] == 0x0f) {
        c.kind = FW_OMRON7322_ABORT;
    } else {
        return FW_EINVAL;
    }
    *out = c;
    return FW_OMRON7322_CMD_LEN;
}

static bool same_command(const struct fw_omron7322_command *a, const struct fw_omron7322_command *b)
{
    return a->kind == b->kind &&
           (a->kind != FW_OMRON7322_READ || (a->address == b->address && a->size == b->size));
}

/* ---- replies ---- */

int fw_omron7322_reply_parse(const uint8_t *p, size_t n, struct fw_omron7322_reply *out, char *why,
                             size_t whylen)
{
    if (!p || !out)
        return FW_EINVAL;
    if (n < 1 + PACKET || n > FW_OMRON7322_REPORT) {
        say(why, whylen,
            "not an Omron HEM-7322U report: %zu bytes (a reply is 9 to 64: byte 0, then a "
            "packet of 8 or more)",
            n);
        return FW_EINVAL;
    }
    unsigned len = p[1];
    if (len < PACKET || 1 + (size_t)len > n) {
        say(why, whylen,
            "not an Omron HEM-7322U reply: its length byte %u does not fit a %zu-byte report", len,
            n);
        return FW_EINVAL;
    }
    if ((p[2] != FW_OMRON7322_R_START && p[2] != FW_OMRON7322_R_READ &&
         p[2] != FW_OMRON7322_R_END) ||
        p[3] != 0x00) {
        say(why, whylen,
            "not an Omron HEM-7322U reply: type %02X %02X (80 00, 81 00 or 8F 00 expected)", p[2],
            p[3]);
        return FW_EINVAL;
    }
    unsigned size = p[6];
    if (len != size + PACKET) {
        say(why, whylen,
            "not an Omron HEM-7322U reply: it says %u data bytes, its length byte %u (size + 8 "
            "expected)",
            size, len);
        return FW_EINVAL;
    }
    *out = (struct fw_omron7322_reply){
        .type = (enum fw_omron7322_reply_type)p[2],
        .address = (unsigned)(p[4] << 8 | p[5]),
        .size = size,
        .data = p + 7,
        .status = p[2] == FW_OMRON7322_R_END ? p[7 + size] : 0,
    };
    uint8_t x = xor_bytes(p + 1, len);
    if (x) {
        say(why, whylen, "reply %02X at %04X: checksum wrong (its bytes XOR to %02X, 00 expected)",
            p[2], out->address, x);
        return 0;
    }
    return 1;
}

/* ---- time ---- */

/* ---- records ---- */

int fw_omron7322_record_parse(const uint8_t rec[FW_OMRON7322_RECORD_LEN],
                              struct fw_omron7322_record *out, char *why, size_t whylen)
{
    if (!rec || !out)
        return FW_EINVAL;
    bool empty = true;
    for (int i = 0; i < 8 && empty; i++)
        empty = rec[i] == 0xff;
    if (empty)
        return 0;
    /* Bytes 4-7 as one big-endian word: bit 31 movement, 30 irregular heartbeat, 29-26 month,
     * 25-21 day, 20-16 hour, 15-12 not known, 11-6 minute, 5-0 second. */
    uint32_t w = (uint32_t)rec[4] << 24 | (uint32_t)rec[5] << 16 | (uint32_t)rec[6] << 8 | rec[7];
    struct fw_omron7322_record r = {
        .diastolic = rec[0],
        .systolic = rec[1] + 25,
        .year = 2000 + rec[2],
        .pulse = rec[3],
        .movement = w >> 31 & 1,
        .irregular = w >> 30 & 1,
        .month = (int)(w >> 26 & 0x0f),
        .day = (int)(w >> 21 & 0x1f),
        .hour = (int)(w >> 16 & 0x1f),
        .minute = (int)(w >> 6 & 0x3f),
        .second = (int)(w & 0x3f),
    };
    if (r.second > 59)
        r.second = 59;
    char what[64];
    const char *bad =
        fw_civil_check(r.year, r.month, r.day, r.hour, r.minute, r.second, what, sizeof what);
    if (!bad && (r.systolic < 40 || r.systolic > 300)) {
        snprintf(what, sizeof what, "systolic %d mmHg", r.systolic);
        bad = what;
    }
    if (!bad && (r.diastolic < 20 || r.diastolic >= r.systolic)) {
        snprintf(what, sizeof what, "diastolic %d mmHg (systolic %d)", r.diastolic, r.systolic);
        bad = what;
    }
    if (bad) {
        say(why, whylen, "%s: not a measurement (record %02X %02X %02X %02X %02X %02X %02X %02X)",
            bad, rec[0], rec[1], rec[2], rec[3], rec[4], rec[5], rec[6], rec[7]);
        return FW_EINVAL;
    }
    r.time = fw_civil_seconds(r.year, r.month, r.day, r.hour, r.minute, r.second);
    *out = r;
    return 1;
}

size_t fw_omron7322_readings(const struct fw_omron7322_record *r, struct fw_reading out[2])
{
    out[0] = (struct fw_reading){.kind = "bp",
                                 .unit = "mm[Hg]",
                                 .value = r->systolic,
                                 .value2 = r->diastolic,
                                 .value3 = NAN,
                                 .device_time = r->time,
                                 .stored = true,
                                 .clock_local = true};
    if (r->pulse < 25 || r->pulse > 250)
        return 1;
    out[1] = (struct fw_reading){.kind = "pulse",
                                 .unit = "/min",
                                 .value = r->pulse,
                                 .value2 = NAN,
                                 .value3 = NAN,
                                 .device_time = r->time,
                                 .stored = true,
                                 .clock_local = true};
    return 2;
}

/* ---- the settings block ---- */

int fw_omron7322_settings_parse(const uint8_t *data, size_t n, int slots,
                                struct fw_omron7322_settings *out)
{
    if (!data || !out || n < 4)
        return FW_EINVAL;
    *out = (struct fw_omron7322_settings){.cursor = {-1, -1}};
    /* Per user a big-endian word whose low byte is the slot the next record goes to; the high
     * byte holds flags (40, 80 seen) (verify). */
    for (int u = 0; u < 2; u++)
        out->cursor[u] = data[2 * u + 1] < slots ? data[2 * u + 1] : -1;
    if (n < FW_OMRON7322_CLOCK_END)
        return FW_OK;
    /* 0x14-0x1D: two bytes not known, month, year, hour, day, second, minute, a byte not
     * known, and the sum of the eight bytes from 0x14 (low 8 bits). */
    const uint8_t *c = data + 0x14;
    uint8_t sum = 0;
    for (int i = 0; i < 8; i++)
        sum = (uint8_t)(sum + c[i]);
    out->month = c[2];
    out->year = 2000 + c[3];
    out->hour = c[4];
    out->day = c[5];
    out->second = c[6];
    out->minute = c[7];
    char what[48];
    if (sum != c[9] || fw_civil_check(out->year, out->month, out->day, out->hour, out->minute,
                                      out->second, what, sizeof what))
        return FW_OK;
    out->clock_ok = true;
    out->clock =
        fw_civil_seconds(out->year, out->month, out->day, out->hour, out->minute, out->second);
    return FW_OK;
}

/* ---- the memory map and the order of the reads ---- */

const struct fw_omron7322_layout fw_omron7322_m6 = {
    .model = "HEM-7322U", .users = 2, .slots = 100, .base = {0x02ac, 0x0824}};
const struct fw_omron7322_layout fw_omron7322_m3 = {
    .model = "HEM-7131U", .users = 2, .slots = 60, .base = {0x02ac, 0x05f4}};

static int user_blocks(const struct fw_omron7322_layout *l)
{
    return l->slots * FW_OMRON7322_RECORD_LEN / FW_OMRON7322_BLOCK;
}

/* The block holding the first byte of user u's oldest record. */
static int first_block(const struct fw_omron7322_layout *l, const int cursor[2], int u)
{
    int c = cursor && cursor[u] >= 0 && cursor[u] < l->slots ? cursor[u] : 0;
    return c * FW_OMRON7322_RECORD_LEN / FW_OMRON7322_BLOCK;
}

int fw_omron7322_next_read(const struct fw_omron7322_layout *l, const int cursor[2], unsigned after)
{
    if (!l || l->users < 1 || l->users > 2)
        return FW_EINVAL;
    int nb = user_blocks(l);
    if (after == FW_OMRON7322_SETTINGS)
        return (int)l->base[0] + first_block(l, cursor, 0) * FW_OMRON7322_BLOCK;
    for (int u = 0; u < l->users; u++) {
        if (after < l->base[u] || after >= l->base[u] + (unsigned)nb * FW_OMRON7322_BLOCK ||
            (after - l->base[u]) % FW_OMRON7322_BLOCK)
            continue;
        int j = (int)(after - l->base[u]) / FW_OMRON7322_BLOCK, k0 = first_block(l, cursor, u);
        if ((j - k0 + nb) % nb + 1 < nb) /* not the user's last block yet */
            return (int)l->base[u] + (j + 1) % nb * FW_OMRON7322_BLOCK;
        if (u + 1 < l->users)
            return (int)l->base[u + 1] + first_block(l, cursor, u + 1) * FW_OMRON7322_BLOCK;
        return 0;
    }
    return FW_EINVAL;
}

/* ---- the driver: a download led from start(), action() and the replies ---- */

static const struct fw_omron7322_layout *layout_of(const struct fw_omron7322 *s)
{
    return s->layout ? s->layout : &fw_omron7322_m6;
}

/* A new download: what the last one found is forgotten. */
static void begin(struct fw_omron7322 *s)
{
    const struct fw_omron7322_layout *l = s->layout;
    memset(s, 0, sizeof *s);
    s->layout = l;
    s->cursor[0] = s->cursor[1] = -1;
}

static enum fw_omron7322_phase phase_of(const struct fw_omron7322_command *c)
{
    switch (c->kind) {
    case FW_OMRON7322_START:
        return FW_OMRON7322_STARTING;
    case FW_OMRON7322_READ:
        return c->address == FW_OMRON7322_SETTINGS ? FW_OMRON7322_SETTINGS_READ
                                                   : FW_OMRON7322_RECORDS;
    case FW_OMRON7322_END:
        return FW_OMRON7322_ENDING;
    case FW_OMRON7322_ABORT:
        return FW_OMRON7322_ABORTING;
    default:
        return FW_OMRON7322_IDLE;
    }
}

/* A command going out, whoever sent it: it waits for its answer (the same one again is one
 * more try). START begins a download. */
static void follow(struct fw_omron7322 *s, const struct fw_omron7322_command *c, double t)
{
    if (c->kind == FW_OMRON7322_START && s->phase != FW_OMRON7322_STARTING)
        begin(s);
    if (s->phase != FW_OMRON7322_IDLE && same_command(&s->pending, c)) {
        s->tries++;
    } else {
        s->pending = *c;
        s->tries = 1;
    }
    s->phase = phase_of(c);
    s->since = t;
}

/* The driver asks: the command goes into out->reply, and the host's sent() of the same bytes
 * that follows is not counted again. */
static void ask(struct fw_omron7322 *s, const struct fw_omron7322_command *c, double t,
                struct fw_decoded *out)
{
    size_t n = fw_omron7322_command(c, out->reply);
    out->reply_len = n;
    if (!n)
        return;
    follow(s, c, t);
    s->echo = true;
}

static void ask_read(struct fw_omron7322 *s, unsigned address, double t, struct fw_decoded *out)
{
    struct fw_omron7322_command c = {
        .kind = FW_OMRON7322_READ, .address = address, .size = FW_OMRON7322_BLOCK};
    ask(s, &c, t, out);
}

static void tell(struct fw_omron7322 *s, struct fw_decoded *out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void tell(struct fw_omron7322 *s, struct fw_decoded *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->status, sizeof s->status, fmt, ap);
    va_end(ap);
    out->status = s->status;
}

static int max_tries(const struct fw_omron7322 *s)
{
    return s->phase == FW_OMRON7322_STARTING ? FW_OMRON7322_START_TRIES : FW_OMRON7322_TRIES;
}

/* Bytes of the memory as a read brought them, kept by address. */
static void take_block(struct fw_omron7322 *s, const struct fw_omron7322_reply *r)
{
    const struct fw_omron7322_layout *l = layout_of(s);
    unsigned span = (unsigned)l->slots * FW_OMRON7322_RECORD_LEN;
    for (int u = 0; u < l->users; u++) {
        unsigned lo = r->address > l->base[u] ? r->address : l->base[u];
        unsigned end = l->base[u] + span,
                 hi = r->address + r->size < end ? r->address + r->size : end;
        for (unsigned a = lo; a < hi; a++) {
            unsigned off = a - l->base[u];
            s->image[u][off] = r->data[a - r->address];
            s->have[u][off / 8] |= (uint8_t)(1u << (off % 8));
            s->records_seen = true;
        }
    }
}

/* The slot at user u's ring position p: the cursor's slot is the oldest record. */
static int ring_slot(const struct fw_omron7322 *s, int u, int p)
{
    const struct fw_omron7322_layout *l = layout_of(s);
    int c = s->cursor[u] >= 0 && s->cursor[u] < l->slots ? s->cursor[u] : 0;
    return (c + p) % l->slots;
}

static bool complete(const struct fw_omron7322 *s, int u, int slot)
{
    for (int i = 0; i < FW_OMRON7322_RECORD_LEN; i++) {
        int off = slot * FW_OMRON7322_RECORD_LEN + i;
        if (!(s->have[u][off / 8] >> (off % 8) & 1))
            return false;
    }
    return true;
}

/* Whether a record (or, flushing, a hole) is waiting to be given. */
static bool to_give(const struct fw_omron7322 *s)
{
    const struct fw_omron7322_layout *l = layout_of(s);
    for (int u = 0; u < l->users; u++)
        if (s->next[u] < l->slots && (s->flush || complete(s, u, ring_slot(s, u, s->next[u]))))
            return true;
    return false;
}

/* Gives records in ring order, two at most (FW_MAX_READINGS): empty slots and refused records
 * take no room. */
static void give(struct fw_omron7322 *s, struct fw_decoded *out)
{
    const struct fw_omron7322_layout *l = layout_of(s);
    for (int u = 0; u < l->users; u++) {
        while (s->next[u] < l->slots && out->nreadings + 2 <= FW_MAX_READINGS) {
            int slot = ring_slot(s, u, s->next[u]);
            if (!complete(s, u, slot)) {
                if (!s->flush)
                    break;
                s->skipped++;
                s->next[u]++;
                continue;
            }
            s->next[u]++;
            struct fw_omron7322_record r;
            char why[sizeof s->refused_why];
            int rc = fw_omron7322_record_parse(s->image[u] + slot * FW_OMRON7322_RECORD_LEN, &r,
                                               why, sizeof why);
            if (rc == 1) {
                out->nreadings += fw_omron7322_readings(&r, out->readings + out->nreadings);
                s->records[u]++;
            } else if (rc == 0) {
                s->empty++;
            } else {
                s->refused++;
                snprintf(s->refused_why, sizeof s->refused_why, "user %d slot %d: %.70s", u + 1,
                         slot, why);
            }
        }
    }
}

/* Once END was answered (or given up on) and every record given: the download's summary. */
static void finish(struct fw_omron7322 *s, struct fw_decoded *out)
{
    if (!s->finishing || to_give(s))
        return;
    s->finishing = false;
    s->flush = false;
    int n = s->records[0] + s->records[1];
    int k =
        snprintf(s->status, sizeof s->status, "download done: %d record%s (user 1: %d, user 2: %d)",
                 n, n == 1 ? "" : "s", s->records[0], s->records[1]);
    if (s->refused && k > 0 && (size_t)k < sizeof s->status)
        k += snprintf(s->status + k, sizeof s->status - (size_t)k, "; %ld refused, last: %s",
                      s->refused, s->refused_why);
    if (!s->end_confirmed && k > 0 && (size_t)k < sizeof s->status)
        snprintf(s->status + k, sizeof s->status - (size_t)k, "; the monitor did not answer END");
    else if (s->end_status && k > 0 && (size_t)k < sizeof s->status)
        snprintf(s->status + k, sizeof s->status - (size_t)k, "; the monitor ended with status %d",
                 s->end_status);
    out->status = s->status;
}

/* The download is over (END answered or not, or failed): what was read is given, in order,
 * with the holes skipped. */
static void over(struct fw_omron7322 *s, bool finishing, bool confirmed, int end_status)
{
    s->phase = FW_OMRON7322_IDLE;
    s->flush = true;
    s->finishing = finishing;
    s->end_confirmed = confirmed;
    s->end_status = end_status;
}

/* More records than one call may give: stop one byte in, so that decode() is called again
 * with the rest of the report, and know that rest when it comes. */
static void more(struct fw_omron7322 *s, const uint8_t *data, size_t n, struct fw_decoded *out)
{
    if (!to_give(s) || n < 2) {
        s->cont = false;
        return;
    }
    if (!s->cont) {
        memcpy(s->frame, data, n);
        s->frame_len = n;
        s->frame_off = 0;
        s->cont = true;
    }
    s->frame_off++;
    out->consumed = 1;
}

static bool rest_of_frame(const struct fw_omron7322 *s, const uint8_t *data, size_t n)
{
    return s->cont && s->frame_off < s->frame_len && n == s->frame_len - s->frame_off &&
           memcmp(data, s->frame + s->frame_off, n) == 0;
}

static void read_reply(struct fw_omron7322 *s, const struct fw_omron7322_reply *r, double t,
                       struct fw_decoded *out)
{
    const struct fw_omron7322_layout *l = layout_of(s);
    bool asked = s->phase != FW_OMRON7322_IDLE && s->pending.kind == FW_OMRON7322_READ &&
                 s->pending.address == r->address;
    if (r->address == FW_OMRON7322_SETTINGS) {
        struct fw_omron7322_settings st;
        if (fw_omron7322_settings_parse(r->data, r->size, l->slots, &st) != FW_OK)
            return;
        if (st.clock_ok) {
            out->device_clock = st.clock;
            out->device_clock_local = true;
        }
        if (!s->records_seen) { /* the ring's start, fixed before its records come */
            s->cursor[0] = st.cursor[0];
            s->cursor[1] = st.cursor[1];
        }
        if (asked)
            ask_read(s, (unsigned)fw_omron7322_next_read(l, s->cursor, r->address), t, out);
        return;
    }
    take_block(s, r);
    if (!asked || s->phase != FW_OMRON7322_RECORDS)
        return;
    int next = fw_omron7322_next_read(l, s->cursor, r->address);
    if (next > 0) {
        ask_read(s, (unsigned)next, t, out);
    } else { /* the memory is read (or the host read outside the driver's order: stop) */
        struct fw_omron7322_command end = {.kind = FW_OMRON7322_END};
        ask(s, &end, t, out);
    }
}

static int hem_decode(void *state, const uint8_t *data, size_t n, double t, struct fw_decoded *out)
{
    struct fw_omron7322 *s = state;
    if (rest_of_frame(s, data, n)) { /* the records of the report before it, continued */
        give(s, out);
        finish(s, out);
        more(s, data, n, out);
        return FW_OK;
    }
    struct fw_omron7322_reply r;
    char why[sizeof out->why];
    int rc = fw_omron7322_reply_parse(data, n, &r, why, sizeof why);
    if (rc == FW_EINVAL) {
        snprintf(out->why, sizeof out->why, "%s", why);
        return FW_EINVAL;
    }
    s->cont = false;
    if (s->since < 0 && t >= 0)
        s->since = t; /* START from start(), and no one said when */
    if (rc == 0) {    /* garbled on the way: ask again at once, if that is still allowed */
        if (s->phase >= FW_OMRON7322_STARTING && s->phase <= FW_OMRON7322_RECORDS &&
            s->tries < max_tries(s)) {
            struct fw_omron7322_command again = s->pending;
            tell(s, out, "%s: asking again", why);
            ask(s, &again, t, out);
        }
    } else if (r.type == FW_OMRON7322_R_START) {
        if (s->phase == FW_OMRON7322_STARTING)
            ask_read(s, FW_OMRON7322_SETTINGS, t, out);
    } else if (r.type == FW_OMRON7322_R_READ) {
        read_reply(s, &r, t, out);
    } else if (s->phase == FW_OMRON7322_ENDING) {
        over(s, true, true, r.status);
    } else if (s->phase == FW_OMRON7322_ABORTING) {
        over(s, false, false, 0);
    }
    give(s, out);
    finish(s, out);
    more(s, data, n, out);
    return FW_OK;
}

static double hem_deadline(const void *state)
{
    const struct fw_omron7322 *s = state;
    if (s->since < 0)
        return -1;
    if (s->phase != FW_OMRON7322_IDLE)
        return s->since + FW_OMRON7322_ANSWER;
    return s->flush && (to_give(s) || s->finishing) ? s->since : -1; /* records still to give */
}

static int hem_timeout(void *state, double now, struct fw_decoded *out)
{
    struct fw_omron7322 *s = state;
    const struct fw_omron7322_layout *l = layout_of(s);
    struct fw_omron7322_command c = s->pending;
    switch (s->phase) {
    case FW_OMRON7322_IDLE:
        break;
    case FW_OMRON7322_ENDING: /* the records are in: the download stands */
        over(s, true, false, 0);
        break;
    case FW_OMRON7322_ABORTING:
        over(s, false, false, 0);
        break;
    case FW_OMRON7322_STARTING:
        if (s->tries < FW_OMRON7322_START_TRIES) {
            tell(s, out, "no answer from the monitor yet: press its START/STOP button");
            ask(s, &c, now, out);
        } else {
            s->phase = FW_OMRON7322_IDLE;
            tell(s, out,
                 "download failed: the monitor did not answer (press its START/STOP button, "
                 "then download again)");
        }
        return FW_OK;
    case FW_OMRON7322_SETTINGS_READ:
        if (s->tries < FW_OMRON7322_TRIES) {
            ask(s, &c, now, out);
        } else { /* the records do without it: in memory order, and no clock */
            s->cursor[0] = s->cursor[1] = -1;
            tell(s, out,
                 "the monitor did not give its settings (%04X): reading its records in memory "
                 "order, without its clock",
                 FW_OMRON7322_SETTINGS);
            ask_read(s, (unsigned)fw_omron7322_next_read(l, s->cursor, FW_OMRON7322_SETTINGS), now,
                     out);
        }
        return FW_OK;
    case FW_OMRON7322_RECORDS:
        if (s->tries < FW_OMRON7322_TRIES) {
            tell(s, out, "no answer to the read at %04X: asking again", c.address);
            ask(s, &c, now, out);
            return FW_OK;
        }
        tell(s, out,
             "download failed: no answer to the read at %04X after %d tries; the records read "
             "before it are given",
             c.address, s->tries);
        struct fw_omron7322_command abort = {.kind = FW_OMRON7322_ABORT};
        ask(s, &abort, now, out);
        s->flush = true;
        break;
    }
    if (s->phase == FW_OMRON7322_IDLE && !s->flush)
        return FW_OK;
    give(s, out);
    finish(s, out);
    if (s->phase == FW_OMRON7322_IDLE && !to_give(s))
        s->flush = false;
    else if (s->phase == FW_OMRON7322_IDLE)
        s->since = now; /* more to give: due again at once */
    return FW_OK;
}

static int hem_action(void *state, const char *name, double now, struct fw_decoded *out)
{
    struct fw_omron7322 *s = state;
    if (strcmp(name, "download") != 0) {
        snprintf(out->why, sizeof out->why, "an Omron HEM-7322U can do: download");
        return FW_EINVAL;
    }
    if (s->phase != FW_OMRON7322_IDLE)
        return FW_EBUSY;
    struct fw_omron7322_command start = {.kind = FW_OMRON7322_START};
    ask(s, &start, now, out);
    tell(s, out, "downloading the memory");
    return FW_OK;
}

/* The monitor is opened: its memory is read at once. */
static size_t hem_start(void *state, uint8_t *out, size_t cap)
{
    struct fw_omron7322 *s = state;
    struct fw_omron7322_command start = {.kind = FW_OMRON7322_START};
    if (s->phase != FW_OMRON7322_IDLE || cap < FW_OMRON7322_CMD_LEN)
        return 0;
    begin(s);
    s->pending = start;
    s->phase = FW_OMRON7322_STARTING;
    s->tries = 1;
    s->echo = true;
    s->since = -1; /* start() is not told the time: sent() or the first frame says it */
    return fw_omron7322_command(&start, out);
}

/* What the host sent: the driver's own commands (already followed), the manager's, or a
 * capture's "> " lines. */
static void hem_sent(void *state, const uint8_t *data, size_t n, double t)
{
    struct fw_omron7322 *s = state;
    struct fw_omron7322_command c;
    if (fw_omron7322_command_parse(data, n, &c) != FW_OMRON7322_CMD_LEN)
        return;
    if (s->echo && s->phase != FW_OMRON7322_IDLE && same_command(&s->pending, &c)) {
        s->echo = false;
        s->since = t;
        return;
    }
    s->echo = false;
    follow(s, &c, t);
}

static const struct fw_usb_id hem7322_ids[] = {
    {0x0590, 0x0090}, /* Omron HEM-7322U (M6 Comfort IT, M500 IT), HEM-7131U (M3 IT, M400 IT) */
    {0, 0},
};

const struct fw_driver fw_drv_omron_hem7322 = {
    .name = "omron-hem7322",
    .description = "Omron HEM-7322U (M6 Comfort IT) blood-pressure monitor (USB HID 0590:0090): "
                   "downloads the memory when opened",
    .transport = "usb-hid",
    .usb_ids = hem7322_ids,
    .state_size = sizeof(struct fw_omron7322),
    .start = hem_start,
    .decode = hem_decode,
    .deadline = hem_deadline,
    .timeout = hem_timeout,
    .actions = "download",
    .action = hem_action,
    .sent = hem_sent,
};

/* The HEM-7131U (M3 IT, M400 IT): the same protocol on the same id, its own memory map
 * (2 x 60). Nothing the monitor says tells the two apart (firmware/doc/omron-hem7322.md), so
 * this driver claims no id by itself: the kit's configuration binds it,
 * "omron-hem7131:usb:0590:0090". Each entry point sets the map first; begin() keeps it. */
static void *m3(void *state)
{
    struct fw_omron7322 *s = state;
    if (!s->layout)
        s->layout = &fw_omron7322_m3;
    return s;
}

static size_t m3_start(void *state, uint8_t *out, size_t cap)
{
    return hem_start(m3(state), out, cap);
}

static int m3_decode(void *state, const uint8_t *data, size_t n, double t, struct fw_decoded *out)
{
    return hem_decode(m3(state), data, n, t, out);
}

static int m3_timeout(void *state, double now, struct fw_decoded *out)
{
    return hem_timeout(m3(state), now, out);
}

static int m3_action(void *state, const char *name, double now, struct fw_decoded *out)
{
    return hem_action(m3(state), name, now, out);
}

static void m3_sent(void *state, const uint8_t *data, size_t n, double t)
{
    hem_sent(m3(state), data, n, t);
}

const struct fw_driver fw_drv_omron_hem7131 = {
    .name = "omron-hem7131",
    .description = "Omron HEM-7131U (M3 IT, M400 IT) blood-pressure monitor (USB HID 0590:0090, "
                   "bound by configuration: omron-hem7131:usb:0590:0090): downloads the memory "
                   "when opened",
    .transport = "usb-hid",
    .state_size = sizeof(struct fw_omron7322),
    .start = m3_start,
    .decode = m3_decode,
    .deadline = hem_deadline,
    .timeout = m3_timeout,
    .actions = "download",
    .action = m3_action,
    .sent = m3_sent,
};
