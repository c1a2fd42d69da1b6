/* Bayer / Ascensia Contour glucometers: USB HID reports ("ABC" + length + data) carrying ASTM
 * E1381 frames carrying ASTM E1394 records. The pure decoder and the driver "contour".
 * Protocol, quirks and sources: firmware/doc/contour.md. */
#include "contour.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define GLUCOSE_MIN 0.5 /* mmol/L: outside this a value is not believed */
#define GLUCOSE_MAX 50.0

/* ---- HID reports ---- */

int fw_contour_report_parse(const uint8_t *r, size_t n, const uint8_t **data, size_t *len,
                            char *why, size_t whylen)
{
    const char *what = NULL;
    if (n < 4)
        what = "shorter than its 4-byte head";
    else if (n > FW_CONTOUR_REPORT)
        what = "longer than 64 bytes";
    else if (memcmp(r, "ABC", 3) != 0)
        what = "it does not start with \"ABC\"";
    else if (r[3] > FW_CONTOUR_PAYLOAD)
        what = "its length byte is above 60";
    else if ((size_t)r[3] + 4 > n)
        what = "shorter than its length byte says";
    if (what) {
        if (why && whylen) {
            char head[16] = "";
            for (size_t i = 0, k = 0; i < n && i < 4; i++)
                k += (size_t)snprintf(head + k, sizeof head - k, "%s%02x", i ? " " : "", r[i]);
            snprintf(why, whylen,
                     "not a Contour report (\"ABC\", a length 0-60, the data): %s (%zu bytes%s%s)",
                     what, n, n ? ", starting " : "", head);
        }
        return FW_EINVAL;
    }
    *data = r + 4;
    *len = r[3];
    return FW_OK;
}

size_t fw_contour_report_make(const uint8_t *data, size_t n, uint8_t *out, size_t cap)
{
    if (n > FW_CONTOUR_PAYLOAD || cap < FW_CONTOUR_REPORT)
        return 0;
    memset(out, 0, FW_CONTOUR_REPORT);
    memcpy(out, "ABC", 3);
    out[3] = (uint8_t)n;
    if (n)
        memcpy(out + 4, data, n);
    return FW_CONTOUR_REPORT;
}

/* ---- ASTM E1381 frames ---- */

uint8_t fw_contour_checksum(const uint8_t *p, size_t n)
{
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += p[i];
    return (uint8_t)sum;
}

static const char hexdigits[] = "0123456789ABCDEF";

size_t fw_contour_frame_make(int fn, const char *text, size_t n, bool last, uint8_t *out,
                             size_t cap)
{
    if (fn < 0 || fn > 7 || n > FW_CONTOUR_TEXT_MAX || cap < n + 7)
        return 0;
    size_t k = 0;
    out[k++] = FW_CONTOUR_STX;
    out[k++] = (uint8_t)('0' + fn);
    memcpy(out + k, text, n);
    k += n;
    out[k++] = last ? FW_CONTOUR_ETX : FW_CONTOUR_ETB;
    uint8_t sum = fw_contour_checksum(out + 1, k - 1);
    out[k++] = (uint8_t)hexdigits[sum >> 4];
    out[k++] = (uint8_t)hexdigits[sum & 15];
    out[k++] = '\r';
    out[k++] = '\n';
    return k;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* ---- ASTM E1394 records ---- */

static int digits(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

int fw_contour_datetime(const char *s, size_t n, long long *out)
{
    if (n != 12 && n != 14)
        return FW_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return FW_EINVAL;
    int y = digits(s, 4), mo = digits(s + 4, 2), d = digits(s + 6, 2), h = digits(s + 8, 2),
        mi = digits(s + 10, 2), se = n == 14 ? digits(s + 12, 2) : 0;
    char why[48];
    if (y < 2000 || y > 2099 || fw_civil_check(y, mo, d, h, mi, se, why, sizeof why))
        return FW_EINVAL;
    *out = fw_civil_seconds(y, mo, d, h, mi, se);
    return FW_OK;
}

/* Field k (0: the record type) of a record: its start in *f, its length returned; 0 with *f
 * NULL when the record has fewer fields. */
static size_t field(const char *rec, size_t n, char delim, int k, const char **f)
{
    size_t i = 0;
    for (int at = 0; at < k; at++) {
        while (i < n && rec[i] != delim)
            i++;
        if (i == n) {
            *f = NULL;
            return 0;
        }
        i++;
    }
    size_t j = i;
    while (j < n && rec[j] != delim)
        j++;
    *f = rec + i;
    return j - i;
}

/* Part k of a field split at sep (a component or a marker). */
static size_t part(const char *f, size_t n, char sep, int k, const char **p)
{
    if (!f) {
        *p = NULL;
        return 0;
    }
    return field(f, n, sep, k, p);
}

/* Copies a field into a NUL-terminated string, printable ASCII only (others become '?'). */
static void copy(char *dst, size_t cap, const char *src, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; src && i < n && k + 1 < cap; i++)
        dst[k++] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
    dst[k] = '\0';
}

static bool all_digits(const char *s, size_t n)
{
    if (!s || n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static long number(const char *s, size_t n)
{
    if (!all_digits(s, n) || n > 9)
        return -1;
    return digits(s, n);
}

/* The products the header names (digits of "Bayer7390", "Contour7800"): the Tidepool
 * uploader's table. */
static const struct {
    const char *code, *name;
} products[] = {
    {"6200", "Contour Next Link"}, {"6210", "Contour Next Link 2.4"}, {"6300", "Contour Next Link"},
    {"7150", "Contour"},           {"7160", "Contour Next EZ"},       {"7220", "Contour"},
    {"7350", "Contour Next"},      {"7390", "Contour USB"},           {"7410", "Contour Next USB"},
    {"7600", "Contour Plus"},      {"7800", "Contour Next One"},      {"7900", "Contour Next"},
};

int fw_contour_header_parse(const char *rec, size_t n, struct fw_contour_header *out)
{
    memset(out, 0, sizeof *out);
    out->records = -1;
    if (n < 5 || rec[0] != 'H')
        return FW_EINVAL;
    struct fw_contour_delims d = {rec[1], rec[2], rec[3], rec[4]};
    const char *ds = &d.field;
    for (int i = 0; i < 4; i++) {
        char c = ds[i];
        bool alnum = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
        if (c <= 0x20 || c >= 0x7f || alnum)
            return FW_EINVAL;
        for (int j = 0; j < i; j++)
            if (ds[j] == c)
                return FW_EINVAL;
    }
    if (n > 5 && rec[5] != d.field)
        return FW_EINVAL;
    out->d = d;

    const char *f, *p;
    size_t fl = field(rec, n, d.field, 4, &f), pl;
    pl = part(f, fl, d.component, 0, &p);
    copy(out->product, sizeof out->product, p, pl);
    pl = part(f, fl, d.component, 1, &p);
    copy(out->versions, sizeof out->versions, p, pl);
    pl = part(f, fl, d.component, 2, &p);
    copy(out->serial, sizeof out->serial, p, pl);
    const char *num = out->product;
    while ((*num >= 'A' && *num <= 'Z') || (*num >= 'a' && *num <= 'z'))
        num++;
    for (size_t i = 0; i < sizeof products / sizeof products[0]; i++)
        if (strcmp(num, products[i].code) == 0)
            snprintf(out->model, sizeof out->model, "%s", products[i].name);

    fl = field(rec, n, d.field, 6, &f);
    out->records = number(f, fl);

    fl = field(rec, n, d.field, 13, &f);
    long long clock;
    if (f && fw_contour_datetime(f, fl, &clock) == FW_OK)
        out->clock = clock;
    return FW_OK;
}

/* A decimal number as the meter writes one ("133", "7.9"): no sign, no exponent. */
static int decimal(const char *s, size_t n, double *out)
{
    double v = 0, scale = 1;
    bool dot = false, any = false;
    if (!s || n == 0 || n > 12)
        return FW_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.' && !dot) {
            dot = true;
        } else if (s[i] >= '0' && s[i] <= '9') {
            any = true;
            if (dot) {
                scale /= 10;
                v += (s[i] - '0') * scale;
            } else {
                v = v * 10 + (s[i] - '0');
            }
        } else {
            return FW_EINVAL;
        }
    }
    if (!any)
        return FW_EINVAL;
    *out = v;
    return FW_OK;
}

static bool same_word(const char *s, size_t n, const char *word)
{
    return s && n == strlen(word) && strncasecmp(s, word, n) == 0;
}

int fw_contour_result_parse(const char *rec, size_t n, const struct fw_contour_delims *d,
                            struct fw_contour_result *out)
{
    memset(out, 0, sizeof *out);
    out->seq = -1;
    if (n < 2 || rec[0] != 'R' || rec[1] != d->field)
        return FW_EINVAL;
    const char *f, *p;
    size_t fl, pl;

    fl = field(rec, n, d->field, 1, &f);
    out->seq = number(f, fl);
    fl = field(rec, n, d->field, 2, &f); /* universal test id "^^^Glucose" */
    pl = part(f, fl, d->component, 3, &p);
    copy(out->test, sizeof out->test, p, pl);
    fl = field(rec, n, d->field, 6, &f);
    copy(out->markers, sizeof out->markers, f, fl);
    const char *mk = f;
    size_t mkl = fl;
    fl = field(rec, n, d->field, 8, &f);
    if (f)
        fw_contour_datetime(f, fl, &out->time); /* stays 0 when bad */

    if (strcmp(out->test, "Glucose") != 0) {
        out->kind = FW_CONTOUR_NOT_GLUCOSE;
        return FW_OK;
    }
    /* Markers are separated by '/' (not the repeat delimiter): "A/Z8", "B/X". */
    bool control = false, low = false, high = false;
    for (int k = 0; (pl = part(mk, mkl, '/', k, &p)) > 0 || p; k++) {
        control |= pl == 1 && p[0] == 'C';
        low |= pl == 1 && p[0] == '<';
        high |= pl == 1 && p[0] == '>';
    }
    if (control) {
        out->kind = FW_CONTOUR_CONTROL;
        return FW_OK;
    }
    if (low || high) {
        out->kind = low ? FW_CONTOUR_LOW : FW_CONTOUR_HIGH;
        return FW_OK;
    }
    out->kind = FW_CONTOUR_BAD;
    fl = field(rec, n, d->field, 3, &f);
    if (decimal(f, fl, &out->value) != FW_OK) {
        snprintf(out->why, sizeof out->why, "no value");
        return FW_OK;
    }
    fl = field(rec, n, d->field, 4, &f);
    pl = part(f, fl, d->component, 0, &p);
    copy(out->unit, sizeof out->unit, p, pl);
    double mmol;
    if (same_word(p, pl, "mg/dL")) {
        mmol = out->value / FW_GLUCOSE_MGDL_PER_MMOLL;
    } else if (same_word(p, pl, "mmol/L")) {
        mmol = out->value;
    } else {
        snprintf(out->why, sizeof out->why, "unknown unit \"%s\"", out->unit);
        return FW_OK;
    }
    if (!out->time) {
        snprintf(out->why, sizeof out->why, "no date and time");
        return FW_OK;
    }
    if (mmol < GLUCOSE_MIN || mmol > GLUCOSE_MAX) {
        snprintf(out->why, sizeof out->why, "%.1f mmol/L is outside 0.5-50", mmol);
        return FW_OK;
    }
    out->value_mmol = round(mmol * 100) / 100;
    out->kind = FW_CONTOUR_GLUCOSE;
    return FW_OK;
}

/* ---- the conversation ---- */

enum { F_NONE, F_FN, F_TEXT, F_C1, F_C2, F_CR, F_LF };

static const struct fw_contour_delims default_delims = {'|', '\\', '^', '&'};

static bool known(double t)
{
    return isfinite(t) && t >= 0;
}

static void say(struct fw_contour *s, struct fw_decoded *out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct fw_contour *s, struct fw_decoded *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->status, sizeof s->status, fmt, ap);
    va_end(ap);
    out->status = s->status;
}

static void give(struct fw_contour *s, const struct fw_reading *r, struct fw_decoded *out)
{
    if (out->nreadings < FW_MAX_READINGS)
        out->readings[out->nreadings++] = *r;
    else if (s->nqueue < FW_CONTOUR_QUEUE)
        s->queue[s->nqueue++] = *r;
    else
        s->bad++; /* only a forged stream gets here: a report completes 7 results at most */
}

static void drain(struct fw_contour *s, struct fw_decoded *out)
{
    size_t k = 0;
    while (k < s->nqueue && out->nreadings < FW_MAX_READINGS)
        out->readings[out->nreadings++] = s->queue[k++];
    memmove(s->queue, s->queue + k, (s->nqueue - k) * sizeof s->queue[0]);
    s->nqueue -= k;
}

static void forget_record(struct fw_contour *s)
{
    s->rlen = 0;
    s->rec_overflow = false;
}

static void when(long long t, char *buf, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!t || !gmtime_r(&tt, &tm) || strftime(buf, n, "%Y-%m-%d %H:%M", &tm) == 0)
        snprintf(buf, n, "unknown time");
}

static void on_header(struct fw_contour *s, const char *rec, size_t n, struct fw_decoded *out)
{
    struct fw_contour_header h;
    if (fw_contour_header_parse(rec, n, &h) != FW_OK) {
        say(s, out, "a header record without delimiters: skipped");
        return;
    }
    s->d = h.d;
    s->have_header = true;
    s->control_order = false;
    s->glucose = s->control = s->low = s->high = s->not_glucose = s->bad = 0;
    s->last_out_of_range = 0;
    s->term = 0;
    snprintf(s->model, sizeof s->model, "%s%s%s%s%s", h.model[0] ? h.model : "Contour meter",
             h.product[0] ? " (" : "", h.product, h.product[0] ? ")" : "",
             h.serial[0] ? ", serial " : "");
    if (h.serial[0])
        snprintf(s->model + strlen(s->model), sizeof s->model - strlen(s->model), "%s", h.serial);
    if (h.records >= 0)
        say(s, out, "reading the memory of a %s: %ld records", s->model, h.records);
    else
        say(s, out, "reading the memory of a %s", s->model);
    if (h.clock) {
        out->device_clock = h.clock;
        out->device_clock_local = true;
    }
}

static void on_result(struct fw_contour *s, const char *rec, size_t n, struct fw_decoded *out)
{
    struct fw_contour_result r;
    if (fw_contour_result_parse(rec, n, s->have_header ? &s->d : &default_delims, &r) != FW_OK)
        return;
    if (r.kind == FW_CONTOUR_GLUCOSE && s->control_order)
        r.kind = FW_CONTOUR_CONTROL;
    switch (r.kind) {
    case FW_CONTOUR_GLUCOSE: {
        struct fw_reading g = {.kind = "glucose",
                               .unit = "mmol/L",
                               .value = r.value_mmol,
                               .value2 = NAN,
                               .value3 = NAN,
                               .device_time = r.time,
                               .stored = true,
                               .clock_local = true};
        give(s, &g, out);
        s->glucose++;
        break;
    }
    case FW_CONTOUR_CONTROL:
        s->control++;
        break;
    case FW_CONTOUR_LOW:
    case FW_CONTOUR_HIGH:
        if (r.kind == FW_CONTOUR_LOW)
            s->low++;
        else
            s->high++;
        if (r.time > s->last_out_of_range)
            s->last_out_of_range = r.time;
        break;
    case FW_CONTOUR_NOT_GLUCOSE:
        s->not_glucose++;
        break;
    case FW_CONTOUR_BAD:
        s->bad++;
        say(s, out, "result %ld: %s: skipped", r.seq, r.why);
        break;
    }
}

static void on_record(struct fw_contour *s, const char *rec, size_t n, struct fw_decoded *out)
{
    const struct fw_contour_delims *d = s->have_header ? &s->d : &default_delims;
    const char *f;
    size_t fl;
    if (n == 0)
        return;
    switch (rec[0]) {
    case 'H':
        on_header(s, rec, n, out);
        break;
    case 'P':
        s->control_order = false;
        break;
    case 'O': /* an order whose report type (field 12) is Q asked for quality control */
        fl = field(rec, n, d->field, 11, &f);
        s->control_order = fl == 1 && f[0] == 'Q';
        break;
    case 'R':
        on_result(s, rec, n, out);
        break;
    case 'L': /* termination code (field 4): N is a normal end */
        fl = field(rec, n, d->field, 3, &f);
        s->term = fl == 1 && f[0] > 0x20 && f[0] < 0x7f ? f[0] : '?';
        s->control_order = false;
        break;
    default: /* comments (C), manufacturer records (M), queries (Q): nothing to take */
        break;
    }
}

/* A frame came whole: checksum, frame number, then its text joins the record. */
static void frame_done(struct fw_contour *s, struct fw_decoded *out)
{
    s->fstep = F_NONE;
    int fn = s->fn - '0';
    int got = hexval(s->c1) << 4 | hexval(s->c2);
    if (got != s->sum) {
        s->bad_frames++;
        s->pending = FW_CONTOUR_NAK;
        say(s, out, "frame %d: checksum %02X, computed %02X: asked again (NAK)", fn, got, s->sum);
        return;
    }
    if (s->due && fn != s->due - 1) {
        s->pending = fn == (s->due + 6) % 8 ? FW_CONTOUR_ACK : FW_CONTOUR_NAK;
        if (s->pending == FW_CONTOUR_NAK) { /* E1381: neither the last frame nor the next */
            s->bad_frames++;
            say(s, out, "frame %d came where %d was due: asked again (NAK)", fn, s->due - 1);
        }
        return; /* a repeat of the last one (our ACK went astray): taken already */
    }
    s->due = (fn + 1) % 8 + 1;
    s->frames++;
    s->pending = FW_CONTOUR_ACK;
    s->phase = FW_CONTOUR_DATA;
    /* A record ends at its CR; ETB with no CR at the end: the record goes on in the next
     * frame; ETX ends the message, and whatever is left with it. */
    for (size_t i = 0; i < s->tlen; i++) {
        char c = s->text[i];
        if (c == '\r') {
            if (!s->rec_overflow)
                on_record(s, s->rec, s->rlen, out);
            else
                say(s, out, "a record longer than %d characters: skipped", FW_CONTOUR_RECORD_MAX);
            forget_record(s);
        } else if (s->rlen < sizeof s->rec) {
            s->rec[s->rlen++] = c;
        } else {
            s->rec_overflow = true;
        }
    }
    if (s->end == FW_CONTOUR_ETX) {
        if (s->rlen && !s->rec_overflow)
            on_record(s, s->rec, s->rlen, out);
        forget_record(s);
    }
}

static void frame_drop(struct fw_contour *s, struct fw_decoded *out, const char *what)
{
    s->fstep = F_NONE;
    s->bad_frames++;
    s->pending = FW_CONTOUR_NAK;
    say(s, out, "a frame %s: asked again (NAK)", what);
}

/* Forgets the transfer: what the meter said, where it was. */
static void reset_transfer(struct fw_contour *s)
{
    s->phase = FW_CONTOUR_IDLE;
    s->fstep = F_NONE;
    s->more = false;
    s->pending = 0;
    s->noise = false;
    s->due = 0;
    s->frames = 0;
    s->have_header = false;
    s->control_order = false;
    s->term = 0;
    s->glucose = s->control = s->low = s->high = s->not_glucose = s->bad = 0;
    s->last_out_of_range = 0;
    forget_record(s);
}

/* EOT: the meter has said all (or gave up). */
static void transfer_end(struct fw_contour *s, struct fw_decoded *out)
{
    if (s->phase == FW_CONTOUR_DATA && s->frames) {
        char *st = s->status;
        size_t cap = sizeof s->status;
        int k = snprintf(st, cap, "download done: %ld glucose reading%s", s->glucose,
                         s->glucose == 1 ? "" : "s");
        const struct {
            long n;
            const char *what;
        } skipped[] = {
            {s->control, "control solution"},
            {s->low, "below the meter's range (LO)"},
            {s->high, "above the meter's range (HI)"},
            {s->not_glucose, "not glucose (insulin, carbohydrates)"},
            {s->bad, "unreadable"},
        };
        const char *sep = "; not readings: ";
        for (size_t i = 0; i < sizeof skipped / sizeof skipped[0]; i++) {
            if (!skipped[i].n || k < 0 || (size_t)k >= cap)
                continue;
            k += snprintf(st + k, cap - (size_t)k, "%s%ld %s", sep, skipped[i].n, skipped[i].what);
            sep = ", ";
        }
        if (s->last_out_of_range && k >= 0 && (size_t)k < cap) {
            char at[32];
            when(s->last_out_of_range, at, sizeof at);
            k += snprintf(st + k, cap - (size_t)k, " (the last LO/HI at %s)", at);
        }
        if (s->term && s->term != 'N' && k >= 0 && (size_t)k < cap)
            snprintf(st + k, cap - (size_t)k, "; the meter ended abnormally (code %c)", s->term);
        out->status = s->status;
    }
    reset_transfer(s);
}

/* A byte outside a frame: link-layer control characters. */
static void control(struct fw_contour *s, uint8_t b, struct fw_decoded *out)
{
    switch (b) {
    case FW_CONTOUR_STX:
        s->fstep = F_FN;
        break;
    case FW_CONTOUR_ENQ: /* the meter asks to send: a new message, frames from 1 */
        s->pending = FW_CONTOUR_ACK;
        s->due = 0;
        s->phase = FW_CONTOUR_DATA;
        forget_record(s);
        break;
    case FW_CONTOUR_EOT:
        transfer_end(s, out);
        break;
    case FW_CONTOUR_ACK: /* the meter's answers in its command mode: not ours to answer */
    case FW_CONTOUR_NAK:
        break;
    default:
        s->noise = true;
        break;
    }
}

static void byte(struct fw_contour *s, uint8_t b, struct fw_decoded *out)
{
    switch (s->fstep) {
    case F_NONE:
        control(s, b, out);
        return;
    case F_FN:
        if (b >= '0' && b <= '7') {
            s->fn = b;
            s->sum = b;
            s->tlen = 0;
            s->fstep = F_TEXT;
            return;
        }
        frame_drop(s, out, "without a frame number");
        break;
    case F_TEXT:
        if (b == FW_CONTOUR_ETX || b == FW_CONTOUR_ETB) {
            s->end = b;
            s->sum = (uint8_t)(s->sum + b);
            s->fstep = F_C1;
            return;
        }
        if (b < 0x20 && b != '\r') {
            frame_drop(s, out, "cut short");
            break;
        }
        if (s->tlen == sizeof s->text) {
            frame_drop(s, out, "longer than 240 characters");
            return; /* the rest is noise until the next STX */
        }
        s->text[s->tlen++] = (char)b;
        s->sum = (uint8_t)(s->sum + b);
        return;
    case F_C1:
        if (hexval(b) >= 0) {
            s->c1 = b;
            s->fstep = F_C2;
            return;
        }
        frame_drop(s, out, "without its checksum");
        break;
    case F_C2:
        if (hexval(b) >= 0) {
            s->c2 = b;
            s->fstep = F_CR;
            return;
        }
        frame_drop(s, out, "without its checksum");
        break;
    case F_CR:
        if (b == '\r') {
            s->fstep = F_LF;
            return;
        }
        frame_drop(s, out, "without CR LF");
        break;
    case F_LF:
        if (b == '\n') {
            frame_done(s, out);
            return;
        }
        frame_drop(s, out, "without CR LF");
        break;
    }
    control(s, b, out); /* the byte that broke a frame may start the next (STX, EOT, ENQ) */
}

/* The message is over (a report shorter than 60, or a full one and then nothing): answer. */
static void message_end(struct fw_contour *s, struct fw_decoded *out)
{
    if (s->fstep != F_NONE)
        frame_drop(s, out, "cut short");
    if (!s->pending && s->noise && s->phase == FW_CONTOUR_DATA)
        s->pending = FW_CONTOUR_NAK; /* something we cannot read: the meter sends it again */
    if (s->pending)
        out->reply_len = fw_contour_report_make(&s->pending, 1, out->reply, sizeof out->reply);
    s->pending = 0;
    s->noise = false;
    s->more = false;
}

int fw_contour_decode(struct fw_contour *s, const uint8_t *r, size_t n, double t,
                      struct fw_decoded *out)
{
    const uint8_t *p;
    size_t len;
    if (fw_contour_report_parse(r, n, &p, &len, out->why, sizeof out->why) != FW_OK)
        return FW_EINVAL;
    if (known(t))
        s->active = t;
    drain(s, out);
    for (size_t i = 0; i < len; i++)
        byte(s, p[i], out);
    if (len == FW_CONTOUR_PAYLOAD) {
        s->more = true;
        s->more_since = s->active;
    } else {
        message_end(s, out);
    }
    return FW_OK;
}

double fw_contour_deadline(const struct fw_contour *s)
{
    if (s->nqueue)
        return s->active; /* at once */
    if (s->more)
        return s->more_since + FW_CONTOUR_HOLD;
    if (s->phase != FW_CONTOUR_IDLE)
        return s->active + FW_CONTOUR_SILENCE;
    return -1;
}

int fw_contour_timeout(struct fw_contour *s, double now, struct fw_decoded *out)
{
    if (s->nqueue) {
        drain(s, out);
        return FW_OK;
    }
    if (s->more && !(now < s->more_since + FW_CONTOUR_HOLD)) {
        message_end(s, out);
        return FW_OK;
    }
    if (s->phase != FW_CONTOUR_IDLE && !(now < s->active + FW_CONTOUR_SILENCE)) {
        if (s->phase == FW_CONTOUR_ASKED)
            say(s, out, "the meter did not answer: unplug it and plug it in again");
        else
            say(s, out,
                "download stopped: the meter fell silent (%ld glucose readings so far); "
                "unplug it and plug it in again",
                s->glucose);
        reset_transfer(s);
    }
    return FW_OK;
}

void fw_contour_sent(struct fw_contour *s, const uint8_t *r, size_t n, double t)
{
    /* The host's reports start with "ABC" (glucometerutils, contourtool) or zeros (glucodump,
     * the Tidepool uploader): only the length is looked at. */
    if (n < 5 || r[3] == 0 || r[3] > FW_CONTOUR_PAYLOAD || (size_t)r[3] + 4 > n)
        return;
    if (known(t))
        s->active = t;
    uint8_t b = r[4];
    if (b == FW_CONTOUR_ENQ && r[3] == 1) { /* the host enters the command mode: not a transfer */
        s->phase = FW_CONTOUR_IDLE;
        return;
    }
    if (b == FW_CONTOUR_EOT && r[3] == 1) { /* the host ends (or restarts) a transfer */
        reset_transfer(s);
        s->phase = FW_CONTOUR_ASKED;
        return;
    }
    if (s->phase == FW_CONTOUR_IDLE)
        s->phase = FW_CONTOUR_ASKED;
}

/* ---- the driver ---- */

static int contour_decode(void *state, const uint8_t *data, size_t n, double t,
                          struct fw_decoded *out)
{
    return fw_contour_decode(state, data, n, t, out);
}

static double contour_deadline(const void *state)
{
    return fw_contour_deadline(state);
}

static int contour_timeout(void *state, double now, struct fw_decoded *out)
{
    return fw_contour_timeout(state, now, out);
}

static void contour_sent(void *state, const uint8_t *data, size_t n, double t)
{
    fw_contour_sent(state, data, n, t);
}

/* Any byte in the meter's first phase makes it send its header and ENQ; ACK is what the
 * Tidepool uploader and contour-next send first (glucometerutils sends EOT, contourtool "X"). */
static size_t contour_start(void *state, uint8_t *out, size_t cap)
{
    (void)state;
    uint8_t ack = FW_CONTOUR_ACK;
    return fw_contour_report_make(&ack, 1, out, cap);
}

/* Another transfer without unplugging: EOT, as glucometerutils starts each of its transfers
 * (verify on a meter that has finished one). */
static int contour_action(void *state, const char *name, double now, struct fw_decoded *out)
{
    struct fw_contour *s = state;
    if (strcmp(name, "download") != 0) {
        snprintf(out->why, sizeof out->why, "a Contour meter can do: download");
        return FW_EINVAL;
    }
    if (s->phase != FW_CONTOUR_IDLE)
        return FW_EBUSY;
    uint8_t eot = FW_CONTOUR_EOT;
    out->reply_len = fw_contour_report_make(&eot, 1, out->reply, sizeof out->reply);
    fw_contour_sent(s, out->reply, out->reply_len, now);
    say(s, out, "asking the meter for its memory");
    return FW_OK;
}

static const struct fw_usb_id contour_ids[] = {
    {0x1a79, 0x6002}, /* Contour USB */
    {0x1a79, 0x7410}, /* Contour Next USB */
    {0x1a79, 0x7350}, /* Contour Next (verify) */
    {0x1a79, 0x7800}, /* Contour Next One, Contour Plus One (verify) */
    {0x1a79, 0x7900}, /* Ascensia Contour Next (verify) */
    {0x1a79, 0x6200}, /* Contour Next Link (verify) */
    {0x1a79, 0x6300}, /* Contour Next Link, mmol/L (verify) */
    {0x1a79, 0x6210}, /* Contour Next Link 2.4 (verify) */
    {0, 0},
};

const struct fw_driver fw_drv_contour = {
    .name = "contour",
    .description = "Bayer/Ascensia Contour glucometers (Contour USB, Contour Next USB, ...): "
                   "ASTM records over USB HID, the meter's memory when plugged in",
    .transport = "usb-hid",
    .usb_ids = contour_ids,
    .state_size = sizeof(struct fw_contour),
    .start = contour_start,
    .decode = contour_decode,
    .deadline = contour_deadline,
    .timeout = contour_timeout,
    .actions = "download",
    .action = contour_action,
    .sent = contour_sent,
    .hid_report = 64};
