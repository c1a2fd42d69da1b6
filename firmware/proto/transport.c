/* Pure parts of the printer transports: URIs, status answers, resynchronisation bytes and the
 * printer timing model. No I/O. */
#include "fw_printer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *fw_printer_state_name(enum fw_printer_state s)
{
    switch (s) {
    case FW_PRINTER_READY:
        return "ready";
    case FW_PRINTER_UNKNOWN:
        return "unknown";
    case FW_PRINTER_PAPER_OUT:
        return "paper_out";
    case FW_PRINTER_OFFLINE:
        return "offline";
    }
    return "unknown";
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return FW_EINVAL;
}

/* A decimal number lo..hi, the whole of s[0..n). */
static int number(const char *s, size_t n, long lo, long hi, long *out)
{
    char tmp[24];
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (tmp[i] < '0' || tmp[i] > '9')
            return -1;
    long v = strtol(tmp, NULL, 10);
    if (v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int hex16(const char *s, size_t n, uint16_t *out)
{
    unsigned v = 0;
    if (n == 0 || n > 4)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + (unsigned)d;
    }
    *out = (uint16_t)v;
    return 0;
}

static int copy(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

static bool has_nul_or_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20)
            return true;
    return false;
}

/* name=value pairs after '?', separated by '&'. */
static int parse_params(const char *q, struct fw_uri *u, char *err, size_t errlen)
{
    while (*q) {
        size_t len = strcspn(q, "&");
        const char *eq = memchr(q, '=', len);
        if (!eq)
            return fail(err, errlen, "printer URI parameter without a value");
        size_t klen = (size_t)(eq - q), vlen = len - klen - 1;
        const char *v = eq + 1;
        long num;
        if (u->kind == FW_URI_SERIAL && klen == 4 && !memcmp(q, "baud", 4)) {
            static const long standard[] = {1200,  2400,   4800,   9600,   19200, 38400,
                                            57600, 115200, 230400, 460800, 921600};
            bool ok = number(v, vlen, 1200, 921600, &num) == 0;
            size_t i = 0;
            while (ok && i < sizeof standard / sizeof standard[0] && standard[i] != num)
                i++;
            if (!ok || i == sizeof standard / sizeof standard[0])
                return fail(err, errlen,
                            "baud must be a standard speed: 1200, 2400, 4800, 9600, "
                            "19200, 38400, 57600, 115200, 230400, 460800, 921600");
            u->baud = (int)num;
        } else if (u->kind == FW_URI_SERIAL && klen == 4 && !memcmp(q, "busy", 4)) {
            const char *colon = memchr(v, ':', vlen);
            if (!colon || colon == v ||
                copy(u->gpio_chip, sizeof u->gpio_chip, v, (size_t)(colon - v)) != 0 ||
                number(colon + 1, vlen - (size_t)(colon - v) - 1, 0, 1023, &num) != 0)
                return fail(err, errlen, "busy must be CHIP:LINE, as gpiochip0:17");
            u->gpio_line = (int)num;
        } else if (u->kind == FW_URI_SIM && klen == 3 && !memcmp(q, "bps", 3)) {
            if (number(v, vlen, 1, 100000000, &num) != 0)
                return fail(err, errlen, "bps must be 1-100000000");
            u->bps = num;
        } else {
            return fail(err, errlen, "unknown printer URI parameter \"%.*s\"", (int)klen, q);
        }
        q += len;
        if (*q == '&')
            q++;
    }
    return FW_OK;
}

int fw_uri_parse(const char *uri, struct fw_uri *u, char *err, size_t errlen)
{
    static const struct {
        const char *scheme;
        enum fw_uri_kind kind;
    } schemes[] = {{"usb", FW_URI_USB},
                   {"lp", FW_URI_LP},
                   {"serial", FW_URI_SERIAL},
                   {"file", FW_URI_FILE},
                   {"sim", FW_URI_SIM}};
    memset(u, 0, sizeof *u);
    if (!uri)
        return fail(err, errlen, "no printer URI");
    if (has_nul_or_control(uri, strlen(uri)))
        return fail(err, errlen, "printer URI with a control character");
    const char *colon = strchr(uri, ':');
    size_t slen = colon ? (size_t)(colon - uri) : strlen(uri);
    size_t i;
    for (i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (strlen(schemes[i].scheme) == slen && !memcmp(uri, schemes[i].scheme, slen))
            break;
    if (i == sizeof schemes / sizeof schemes[0])
        return fail(err, errlen, "printer URI must start with usb:, lp:, serial:, file: or sim:");
    u->kind = schemes[i].kind;
    const char *rest = colon ? colon + 1 : "";

    if (u->kind == FW_URI_USB) {
        if (!*rest)
            return FW_OK;
        size_t n1 = strcspn(rest, ":");
        if (hex16(rest, n1, &u->vid) != 0 || rest[n1] != ':')
            return fail(err, errlen, "usb: takes VID:PID in hexadecimal, as usb:0416:5011");
        const char *p2 = rest + n1 + 1;
        size_t n2 = strcspn(p2, ":");
        if (hex16(p2, n2, &u->pid) != 0)
            return fail(err, errlen, "usb: takes VID:PID in hexadecimal, as usb:0416:5011");
        if (p2[n2] == ':' &&
            (!p2[n2 + 1] || copy(u->serial, sizeof u->serial, p2 + n2 + 1, strlen(p2 + n2 + 1))))
            return fail(err, errlen, "usb: serial number empty or too long");
        if (u->vid == 0 || u->pid == 0)
            return fail(err, errlen, "usb: vendor and product ids are not 0");
        return FW_OK;
    }
    size_t plen = strcspn(rest, "?");
    if (plen == 0)
        return fail(err, errlen, "%s: needs a path", schemes[i].scheme);
    if (copy(u->path, sizeof u->path, rest, plen) != 0)
        return fail(err, errlen, "printer path too long");
    if ((u->kind == FW_URI_LP || u->kind == FW_URI_SERIAL) && u->path[0] != '/')
        return fail(err, errlen, "%s: needs an absolute device path", schemes[i].scheme);
    if (rest[plen] == '?') {
        if (u->kind != FW_URI_SERIAL && u->kind != FW_URI_SIM)
            return fail(err, errlen, "%s: takes no parameters", schemes[i].scheme);
        return parse_params(rest + plen + 1, u, err, errlen);
    }
    return FW_OK;
}

int fw_escpos_paper_status(uint8_t byte, enum fw_printer_state *state)
{
    /* DLE EOT n answers: bit 1 and bit 4 are always 1, bit 0 and bit 7 always 0. */
    if ((byte & 0x93) != 0x12)
        return FW_EINVAL;
    *state = (byte & 0x60) ? FW_PRINTER_PAPER_OUT : FW_PRINTER_READY;
    return FW_OK;
}

int fw_zpl_host_status(const uint8_t *data, size_t n, enum fw_printer_state *state)
{
    /* String 1: STX aaa,b,c,dddd,eee,f,g,h,iii,j,k,l ETX CR LF; b = paper out, c = pause. */
    const uint8_t *stx = memchr(data, 0x02, n);
    if (!stx)
        return FW_EINVAL;
    const uint8_t *etx = memchr(stx, 0x03, n - (size_t)(stx - data));
    if (!etx)
        return FW_EINVAL;
    char field[12][8];
    int nf = 0;
    size_t flen = 0;
    for (const uint8_t *p = stx + 1; p <= etx; p++) {
        if (p == etx || *p == ',') {
            if (nf == 12)
                return FW_EINVAL;
            field[nf][flen] = '\0';
            nf++;
            flen = 0;
            continue;
        }
        if (nf == 12 || flen + 1 >= sizeof field[0] || *p < '0' || *p > '9')
            return FW_EINVAL;
        field[nf][flen++] = (char)*p;
    }
    if (nf != 12 || strlen(field[1]) != 1 || strlen(field[2]) != 1)
        return FW_EINVAL;
    if (field[1][0] == '1')
        *state = FW_PRINTER_PAPER_OUT;
    else if (field[2][0] == '1')
        *state = FW_PRINTER_OFFLINE;
    else
        *state = FW_PRINTER_READY;
    return FW_OK;
}

void fw_status_query(const struct fw_profile *p, struct fw_buf *b)
{
    if (p->language == FW_LANG_ZPL)
        fw_buf_put(b, "~HS", 3);
    else
        fw_buf_put(b, "\x10\x04\x04", 3); /* DLE EOT 4: paper roll sensor */
}

void fw_resync_bytes(const struct fw_profile *p, struct fw_buf *b)
{
    if (p->language == FW_LANG_ZPL) {
        fw_buf_put(b, "~JA^XA^XZ", 9);
        return;
    }
    static const uint8_t zeros[256];
    size_t n = (size_t)(p->dots_per_line + 7) / 8 * FW_ESCPOS_BAND_ROWS;
    for (; n > 0 && !fw_buf_error(b); n -= n < sizeof zeros ? n : sizeof zeros)
        fw_buf_put(b, zeros, n < sizeof zeros ? n : sizeof zeros);
    fw_escpos_init(b);
}

/* ---- timing model ---- */

#define LINE_ROWS 30  /* a text line: 24 dots of characters and 6 of line spacing */
#define QR_ROWS   200 /* a native QR code: the size depends on the data; a generous guess */

/* The length of the command at data[0..n): 0 when it runs past n (a cut-off command). */
static size_t command_len(const uint8_t *d, size_t n)
{
    if (d[0] == 0x1b && n >= 2) { /* ESC */
        switch (d[1]) {
        case '@':
            return 2;
        case 't':
        case 'a':
        case 'E':
        case 'd':
        case 'J':
            return n >= 3 ? 3 : 0;
        }
        return 1;
    }
    if (d[0] == 0x1c && n >= 2 && d[1] == '.') /* FS . */
        return 2;
    if (d[0] == 0x10 && n >= 2 && d[1] == 0x04) /* DLE EOT n */
        return n >= 3 ? 3 : 0;
    if (d[0] == 0x1d && n >= 2) { /* GS */
        switch (d[1]) {
        case '!':
        case 'a':
            return n >= 3 ? 3 : 0;
        case 'V':
            if (n < 3)
                return 0;
            return d[2] >= 65 ? (n >= 4 ? 4 : 0) : 3;
        case 'v': {
            if (n < 8)
                return 0;
            size_t len =
                8 + ((size_t)d[4] | (size_t)d[5] << 8) * ((size_t)d[6] | (size_t)d[7] << 8);
            return len <= n ? len : 0;
        }
        case '(': {
            if (n < 5)
                return 0;
            size_t len = 5 + ((size_t)d[3] | (size_t)d[4] << 8);
            return len <= n ? len : 0;
        }
        }
        return 1;
    }
    if (d[0] == 0x1b || d[0] == 0x1d || d[0] == 0x10) /* a lone prefix at the end */
        return 0;
    return 1;
}

long long fw_pace_cost(const uint8_t *d, size_t n, int baud, bool *pending)
{
    long long byte_us = baud > 0 ? (11LL * 1000000 + baud / 2) / baud : 0;
    long long print_rows = 0, feed_rows = 0;
    bool text = pending ? *pending : false; /* characters wait in the line buffer */
    size_t i = 0;
    while (i < n) {
        size_t len = command_len(d + i, n - i);
        if (len == 0)
            len = n - i; /* cut off: its bytes still cost wire time */
        const uint8_t *c = d + i;
        if (c[0] == '\n') {
            if (text)
                print_rows += FW_PACE_CHAR_ROWS, feed_rows += LINE_ROWS - FW_PACE_CHAR_ROWS;
            else
                feed_rows += LINE_ROWS;
            text = false;
        } else if (c[0] == 0x1b && len == 3 && (c[1] == 'd' || c[1] == 'J')) {
            if (text)
                print_rows += FW_PACE_CHAR_ROWS;
            text = false;
            feed_rows += c[1] == 'd' ? (long long)c[2] * LINE_ROWS : c[2];
        } else if (c[0] == 0x1d && len >= 8 && c[1] == 'v') {
            print_rows += (long long)(c[6] | c[7] << 8);
        } else if (c[0] == 0x1d && len >= 8 && c[1] == '(' && c[5] == 49 && c[6] == 81) {
            print_rows += QR_ROWS;
        } else if (len == 1 && c[0] >= 0x20) {
            text = true;
        }
        i += len;
    }
    if (pending)
        *pending = text;
    return (long long)n * byte_us + print_rows * FW_PACE_DOT_PRINT_US +
           feed_rows * FW_PACE_DOT_FEED_US;
}

size_t fw_pace_split(const uint8_t *d, size_t n, size_t max)
{
    size_t i = 0;
    while (i < n) {
        size_t len = command_len(d + i, n - i);
        if (len == 0)
            len = n - i;
        if (i > 0 && i + len > max)
            break;
        i += len;
        if (i >= max)
            break;
    }
    return i;
}
