/* Capture files (firmware/doc/captures.md): a device's conversation as text. Pure. */
#include "fw_device.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bad(char *err, size_t errlen, int line, const char *fmt, ...)
{
    va_list ap;
    int k = snprintf(err, errlen, "line %d: ", line);
    va_start(ap, fmt);
    if (k >= 0 && (size_t)k < errlen)
        vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
    va_end(ap);
    return FW_EINVAL;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static void header(struct fw_capture *c, const char *key, size_t klen, const char *v, size_t vlen)
{
    char *dst = NULL;
    size_t cap = 0;
    if (klen == 6 && !memcmp(key, "device", 6))
        dst = c->device, cap = sizeof c->device;
    else if (klen == 5 && !memcmp(key, "model", 5))
        dst = c->model, cap = sizeof c->model;
    else if (klen == 9 && !memcmp(key, "transport", 9))
        dst = c->transport, cap = sizeof c->transport;
    if (!dst)
        return; /* other keys (who, date, notes, firmware) are for people */
    if (vlen >= cap)
        vlen = cap - 1;
    memcpy(dst, v, vlen);
    dst[vlen] = '\0';
}

/* One frame line after its '<' or '>': "HEX HEX ...". */
static int frame(const char *p, const char *end, struct fw_frame *f, int line, char *err,
                 size_t errlen)
{
    uint8_t tmp[FW_CAPTURE_MAX_FRAME];
    size_t n = 0;
    while (p < end) {
        if (*p == ' ' || *p == '\t') {
            p++;
            continue;
        }
        int hi = hexval(p[0]), lo = p + 1 < end ? hexval(p[1]) : -1;
        if (hi < 0 || lo < 0 || (p + 2 < end && p[2] != ' ' && p[2] != '\t'))
            return bad(err, errlen, line, "expected hex pairs separated by spaces");
        if (n == sizeof tmp)
            return bad(err, errlen, line, "a frame longer than %d bytes", FW_CAPTURE_MAX_FRAME);
        tmp[n++] = (uint8_t)(hi << 4 | lo);
        p += 2;
    }
    if (n == 0)
        return bad(err, errlen, line, "a frame with no bytes");
    f->data = malloc(n);
    if (!f->data)
        return FW_ENOMEM;
    memcpy(f->data, tmp, n);
    f->len = n;
    return FW_OK;
}

int fw_capture_parse(const char *text, size_t n, struct fw_capture *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    size_t cap = 0;
    double last = -1;
    int line = 0, rc = FW_OK;
    for (size_t i = 0; i < n && rc == FW_OK;) {
        const char *p = text + i, *nl = memchr(p, '\n', n - i);
        const char *end = nl ? nl : text + n;
        i = (size_t)(end - text) + (nl ? 1 : 0);
        line++;
        if (end > p && end[-1] == '\r')
            end--;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (memchr(p, '\0', (size_t)(end - p))) {
            rc = bad(err, errlen, line, "a NUL byte: not a text file");
            break;
        }
        if (p == end)
            continue;
        if (*p == '#') { /* "# key: value" header, or a comment */
            const char *k = p + 1;
            while (k < end && *k == ' ')
                k++;
            const char *colon = memchr(k, ':', (size_t)(end - k));
            if (colon) {
                const char *v = colon + 1;
                while (v < end && *v == ' ')
                    v++;
                header(c, k, (size_t)(colon - k), v, (size_t)(end - v));
            }
            continue;
        }
        double at = -1;
        if (*p == '@') {
            char num[32], *stop;
            size_t len = 0;
            while (p + 1 + len < end && p[1 + len] != ' ' && p[1 + len] != '\t')
                len++;
            if (len == 0 || len >= sizeof num) {
                rc = bad(err, errlen, line, "@ needs seconds, as @12.345");
                break;
            }
            memcpy(num, p + 1, len);
            num[len] = '\0';
            at = strtod(num, &stop);
            if (*stop || at < 0 || at > 1e7 || at != at) {
                rc = bad(err, errlen, line, "@ needs seconds, as @12.345");
                break;
            }
            if (at < last) {
                rc = bad(err, errlen, line, "time goes backwards");
                break;
            }
            last = at;
            p += 1 + len;
            while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        }
        if (p == end || (*p != '<' && *p != '>')) {
            rc = bad(err, errlen, line, "a frame starts with < (from the device) or > (to it)");
            break;
        }
        if (c->nframes == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct fw_frame *nf = realloc(c->frames, ncap * sizeof *nf);
            if (!nf) {
                rc = FW_ENOMEM;
                break;
            }
            c->frames = nf;
            cap = ncap;
        }
        struct fw_frame *f = &c->frames[c->nframes];
        memset(f, 0, sizeof *f);
        f->to_device = *p == '>';
        f->at = at;
        rc = frame(p + 1, end, f, line, err, errlen);
        if (rc == FW_OK)
            c->nframes++;
    }
    if (rc != FW_OK)
        fw_capture_free(c);
    return rc;
}

void fw_capture_free(struct fw_capture *c)
{
    for (size_t i = 0; i < c->nframes; i++)
        free(c->frames[i].data);
    free(c->frames);
    c->frames = NULL;
    c->nframes = 0;
}
