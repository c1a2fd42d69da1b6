/* Barcode / QR scanners: keyboard-mode (evdev) and serial-mode decoders. Pure.
 * firmware/doc/hid-scanner.md, firmware/doc/serial-scanner.md. */
#include "scanner.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- what both decoders share: one code being collected ---- */

struct code {
    char *buf;
    size_t *len;
    bool *rejected;
    char *reason;
    size_t reasonlen;
};

static bool known(double t)
{
    return t >= 0; /* false for NaN too */
}

static double gap_of(double gap)
{
    return gap > 0 ? gap : FW_SCAN_GAP_DEFAULT; /* 0, negative and NaN: the default */
}

static double deadline(bool pending, bool timed, double last, double gap)
{
    if (!pending)
        return -1;
    return timed ? last + gap_of(gap) : INFINITY;
}

static void say(char *why, size_t whylen, const char *what)
{
    if (why && whylen)
        snprintf(why, whylen, "%s", what);
}

/* Rejects the current code (the first reason stands) and forgets what it held. */
static void reject(struct code c, const char *what)
{
    if (*c.rejected)
        return;
    *c.rejected = true;
    *c.len = 0;
    snprintf(c.reason, c.reasonlen, "%s", what);
}

static void clear(struct code c)
{
    *c.len = 0;
    *c.rejected = false;
    c.reason[0] = '\0';
}

/* Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF). */
static bool valid_utf8(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char b = p[i];
        size_t more;
        unsigned char lo = 0x80, hi = 0xbf; /* the range of the second byte */
        if (b < 0x80) {
            i++;
            continue;
        } else if (b >= 0xc2 && b <= 0xdf) {
            more = 1;
        } else if (b >= 0xe0 && b <= 0xef) {
            more = 2;
            if (b == 0xe0)
                lo = 0xa0;
            else if (b == 0xed)
                hi = 0x9f;
        } else if (b >= 0xf0 && b <= 0xf4) {
            more = 3;
            if (b == 0xf0)
                lo = 0x90;
            else if (b == 0xf4)
                hi = 0x8f;
        } else {
            return false;
        }
        if (n - i - 1 < more || p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= more; k++)
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
        i += more + 1;
    }
    return true;
}

/* Ends the current code: 1 with it in out, FW_EINVAL with the reason in why, 0 when it was
 * empty. The next code starts clean. utf8: the code must be well-formed UTF-8. */
static int finish(struct code c, bool utf8, char *out, size_t outlen, char *why, size_t whylen)
{
    if (!*c.rejected && utf8 && !valid_utf8((const unsigned char *)c.buf, *c.len))
        reject(c, "not UTF-8 text");
    if (*c.rejected) {
        say(why, whylen, c.reason);
        clear(c);
        return FW_EINVAL;
    }
    size_t n = *c.len;
    if (n == 0)
        return 0;
    if (!out || n >= outlen) {
        if (why && whylen)
            snprintf(why, whylen, "a code of %zu characters does not fit the output (%zu bytes)", n,
                     out ? outlen : 0);
        clear(c);
        return FW_EINVAL;
    }
    memcpy(out, c.buf, n);
    out[n] = '\0';
    clear(c);
    return 1;
}

/* ---- hid-scanner ---- */

/* Key codes of linux/input-event-codes.h that the decoder names (the keymap has the rest). */
enum {
    K_TAB = 15,
    K_ENTER = 28,
    K_LEFTCTRL = 29,
    K_LEFTSHIFT = 42,
    K_RIGHTSHIFT = 54,
    K_LEFTALT = 56,
    K_SPACE = 57,
    K_CAPSLOCK = 58,
    K_NUMLOCK = 69,
    K_SCROLLLOCK = 70,
    K_KPENTER = 96,
    K_RIGHTCTRL = 97,
    K_RIGHTALT = 100,
    K_LEFTMETA = 125,
    K_RIGHTMETA = 126,
    SYN_REPORT = 0,
};

enum {
    M_LSHIFT = 1,
    M_RSHIFT = 2,
    M_LCTRL = 4,
    M_RCTRL = 8,
    M_LALT = 16,
    M_RALT = 32,
    M_LMETA = 64,
    M_RMETA = 128,
    M_SHIFT = M_LSHIFT | M_RSHIFT,
    M_CTRL = M_LCTRL | M_RCTRL,
    M_ALT = M_LALT | M_RALT,
    M_META = M_LMETA | M_RMETA,
};

static unsigned modifier(unsigned code)
{
    switch (code) {
    case K_LEFTSHIFT:
        return M_LSHIFT;
    case K_RIGHTSHIFT:
        return M_RSHIFT;
    case K_LEFTCTRL:
        return M_LCTRL;
    case K_RIGHTCTRL:
        return M_RCTRL;
    case K_LEFTALT:
        return M_LALT;
    case K_RIGHTALT:
        return M_RALT;
    case K_LEFTMETA:
        return M_LMETA;
    case K_RIGHTMETA:
        return M_RMETA;
    default:
        return 0;
    }
}

/* The US keymap: runs of consecutive key codes, unshifted and with Shift. */
static const struct {
    unsigned first;
    const char *plain, *shifted;
} keyrows[] = {
    {2, "1234567890-=", "!@#$%^&*()_+"},   /* KEY_1 .. KEY_EQUAL */
    {16, "qwertyuiop[]", "QWERTYUIOP{}"},  /* KEY_Q .. KEY_RIGHTBRACE */
    {30, "asdfghjkl;'`", "ASDFGHJKL:\"~"}, /* KEY_A .. KEY_GRAVE */
    {43, "\\zxcvbnm,./", "|ZXCVBNM<>?"},   /* KEY_BACKSLASH .. KEY_SLASH */
    {57, " ", " "},                        /* KEY_SPACE */
    /* The keypad, the same with or without Shift and Num Lock: KEY_KP7 .. KEY_KPDOT. */
    {71, "789-456+1230.", "789-456+1230."},
    {55, "*", "*"},  /* KEY_KPASTERISK */
    {98, "/", "/"},  /* KEY_KPSLASH */
    {117, "=", "="}, /* KEY_KPEQUAL */
    {121, ",", ","}, /* KEY_KPCOMMA */
};

/* The character of a key, '\0' for one with no mapping. */
static char keychar(unsigned code, bool shift)
{
    for (size_t i = 0; i < sizeof keyrows / sizeof keyrows[0]; i++) {
        size_t n = strlen(keyrows[i].plain);
        if (code >= keyrows[i].first && code - keyrows[i].first < n)
            return (shift ? keyrows[i].shifted : keyrows[i].plain)[code - keyrows[i].first];
    }
    return '\0';
}

static struct code keycode_of(struct fw_keyscan *s)
{
    return (struct code){s->buf, &s->len, &s->rejected, s->reason, sizeof s->reason};
}

double fw_keyscan_deadline(const struct fw_keyscan *s)
{
    return deadline(s->len > 0 || s->rejected, s->timed, s->last, s->gap);
}

int fw_keyscan_timeout(struct fw_keyscan *s, double now, char *out, size_t outlen, char *why,
                       size_t whylen)
{
    double d = fw_keyscan_deadline(s);
    if (d < 0 || !(now >= d))
        return 0;
    return finish(keycode_of(s), false, out, outlen, why, whylen);
}

static void touch_key(struct fw_keyscan *s, double t)
{
    s->timed = known(t);
    s->last = s->timed ? t : 0;
}

int fw_keyscan_feed(struct fw_keyscan *s, unsigned type, unsigned code, int value, double t,
                    char *out, size_t outlen, char *why, size_t whylen)
{
    struct code c = keycode_of(s);
    int rc = 0;
    /* A late event: the pending code ended with its gap, before this event. */
    double d = fw_keyscan_deadline(s);
    if (d >= 0 && known(t) && t >= d)
        rc = finish(c, false, out, outlen, why, whylen);

    if (type == FW_EV_SYN) {
        if (code == FW_SYN_DROPPED) {
            /* The kernel's buffer overflowed: keys of this code (or a whole code) are lost,
             * and so may be the release of a modifier. */
            s->resync = true;
            s->mods = 0;
            reject(c, "events dropped by the kernel (SYN_DROPPED)");
            touch_key(s, t);
        } else if (code == SYN_REPORT) {
            s->resync = false;
        }
        return rc;
    }
    if (type != FW_EV_KEY || s->resync || (value != 0 && value != 1))
        return rc; /* EV_MSC, other types, autorepeat */
    touch_key(s, t);

    unsigned mod = modifier(code);
    if (mod) {
        if (value)
            s->mods |= mod;
        else
            s->mods &= ~mod;
        return rc;
    }
    if (value == 0 || code == K_CAPSLOCK || code == K_NUMLOCK || code == K_SCROLLLOCK)
        return rc; /* releases; lock keys are not trusted, Shift is */
    if (code == K_ENTER || code == K_KPENTER || (code == K_TAB && s->tab_ends)) {
        int end = finish(c, false, out, outlen, why, whylen);
        return rc ? rc : end; /* after a gap ending the new code is empty: end is 0 */
    }
    if (s->rejected)
        return rc;
    char msg[64];
    if (s->mods & (M_CTRL | M_ALT | M_META)) {
        snprintf(msg, sizeof msg, "key %u with %s held", code,
                 s->mods & M_CTRL  ? "Ctrl"
                 : s->mods & M_ALT ? "Alt"
                                   : "Meta");
        reject(c, msg);
        return rc;
    }
    char ch = code == K_TAB ? '\t' : keychar(code, (s->mods & M_SHIFT) != 0);
    if (!ch) {
        snprintf(msg, sizeof msg, "key %u has no mapping", code);
        reject(c, msg);
    } else if (s->len == FW_KEYSCAN_MAX) {
        snprintf(msg, sizeof msg, "longer than %d characters", FW_KEYSCAN_MAX);
        reject(c, msg);
    } else {
        s->buf[s->len++] = ch;
    }
    return rc;
}

int fw_keyscan_feed_frame(struct fw_keyscan *s, const uint8_t frame[FW_KEYSCAN_FRAME], double t,
                          char *out, size_t outlen, char *why, size_t whylen)
{
    unsigned type = (unsigned)frame[0] | (unsigned)frame[1] << 8;
    unsigned code = (unsigned)frame[2] | (unsigned)frame[3] << 8;
    uint32_t u = (uint32_t)frame[4] | (uint32_t)frame[5] << 8 | (uint32_t)frame[6] << 16 |
                 (uint32_t)frame[7] << 24;
    /* Two's complement without relying on an implementation-defined conversion. */
    int32_t value = u <= INT32_MAX ? (int32_t)u : -(int32_t)(~u) - 1;
    return fw_keyscan_feed(s, type, code, value, t, out, outlen, why, whylen);
}

/* ---- serial-scanner ---- */

static struct code linecode_of(struct fw_linescan *s)
{
    return (struct code){s->buf, &s->len, &s->rejected, s->reason, sizeof s->reason};
}

double fw_linescan_deadline(const struct fw_linescan *s)
{
    return deadline(s->len > 0 || s->rejected, s->timed, s->last, s->gap);
}

int fw_linescan_timeout(struct fw_linescan *s, double now, char *out, size_t outlen, char *why,
                        size_t whylen)
{
    double d = fw_linescan_deadline(s);
    if (d < 0 || !(now >= d))
        return 0;
    return finish(linecode_of(s), true, out, outlen, why, whylen);
}

int fw_linescan_feed(struct fw_linescan *s, uint8_t byte, double t, char *out, size_t outlen,
                     char *why, size_t whylen)
{
    struct code c = linecode_of(s);
    int rc = 0;
    double d = fw_linescan_deadline(s);
    if (d >= 0 && known(t) && t >= d)
        rc = finish(c, true, out, outlen, why, whylen);
    s->timed = known(t);
    s->last = s->timed ? t : 0;

    if (byte == '\r' || byte == '\n') {
        int end = finish(c, true, out, outlen, why, whylen);
        return rc ? rc : end; /* CR LF: the LF ends an empty code, ignored */
    }
    if (s->rejected)
        return rc;
    char msg[64];
    if ((byte < 0x20 && byte != '\t') || byte == 0x7f) {
        snprintf(msg, sizeof msg, "control byte 0x%02x", byte);
        reject(c, msg);
    } else if (s->len == FW_LINESCAN_MAX) {
        snprintf(msg, sizeof msg, "longer than %d bytes", FW_LINESCAN_MAX);
        reject(c, msg);
    } else {
        s->buf[s->len++] = (char)byte;
    }
    return rc;
}

bool fw_scan_printable(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}
