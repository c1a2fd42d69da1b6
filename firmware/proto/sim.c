/* The simulated printer: ESC/POS in, the printed paper out as a bitmap (see fw_print.h).
 * Used for `make run` previews and by tests, which read its QR codes back with zbarimg. */
#include "fw_print.h"
#include "paper.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FONT_A_PX    20    /* DejaVu Sans Mono at 20 px: 12 dots a character, like font A */
#define LINE_SPACING 30    /* ESC 2 default, 1/6 inch at 203 dpi, rounded */
#define MAX_HEIGHT   30000 /* about 3.7 m of paper: more is a runaway stream */

struct sim {
    const struct fw_profile *p;
    struct fw_font *font;
    struct fw_bitmap page; /* grows downwards */
    int y;                 /* next free row */
    int align, width_mul, height_mul;
    char line[512];
    size_t line_len;
    /* GS ( k state */
    int qr_module;
    char qr_ecc;
    char *qr_data;
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int fail(struct sim *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (s->err && s->errlen)
        vsnprintf(s->err, s->errlen, fmt, ap);
    va_end(ap);
    return FW_EINVAL;
}

static void reset(struct sim *s)
{
    s->align = 0;
    s->width_mul = s->height_mul = 1;
    s->qr_module = 3;
    s->qr_ecc = 'L';
}

/* Makes room for rows up to y + h. */
static int grow(struct sim *s, int h)
{
    int need = s->y + h;
    if (need > MAX_HEIGHT)
        return fail(s, "more than %d rows of paper", MAX_HEIGHT);
    return fw_paper_reserve(&s->page, need, MAX_HEIGHT);
}

int fw_paper_reserve(struct fw_bitmap *page, int need, int max)
{
    if (need <= page->height)
        return FW_OK;
    int rows = page->height ? page->height : 256;
    while (rows < need)
        rows *= 2;
    if (rows > max)
        rows = max;
    uint8_t *bits = realloc(page->bits, (size_t)rows * (size_t)page->stride);
    if (!bits)
        return FW_ENOMEM;
    memset(bits + (size_t)page->height * (size_t)page->stride, 0,
           (size_t)(rows - page->height) * (size_t)page->stride);
    page->bits = bits;
    page->height = rows;
    return FW_OK;
}

/* Draws bm at the current row, placed by the alignment, scaled by sx, sy. */
static int place(struct sim *s, const struct fw_bitmap *bm, int sx, int sy)
{
    int w = bm->width * sx, h = bm->height * sy;
    int x0 = s->align == 1   ? (s->p->dots_per_line - w) / 2
             : s->align == 2 ? s->p->dots_per_line - w
                             : 0;
    if (x0 < 0)
        x0 = 0;
    int rc = grow(s, h);
    if (rc != FW_OK)
        return rc;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w && x0 + x < s->p->dots_per_line; x++)
            if (fw_bitmap_get(bm, x / sx, y / sy))
                fw_bitmap_set(&s->page, x0 + x, s->y + y);
    s->y += h;
    return FW_OK;
}

/* Prints the line buffer (LF, ESC d): an empty line only advances the paper. */
static int flush_line(struct sim *s)
{
    int height = LINE_SPACING * s->height_mul;
    if (s->line_len == 0) {
        int rc = grow(s, height);
        s->y += height;
        return rc;
    }
    s->line[s->line_len] = '\0';
    s->line_len = 0;
    struct fw_bitmap text;
    bool cut;
    int width = s->p->dots_per_line / s->width_mul;
    int rc = fw_font_render(s->font, s->line, FONT_A_PX, width, &text, &cut);
    if (rc != FW_OK)
        return rc == FW_EINVAL ? fail(s, "text the font cannot draw") : rc;
    if (cut) { /* a layout must fit its lines to the paper */
        fw_bitmap_free(&text);
        return fail(s, "a text line wider than the paper");
    }
    int top = s->y;
    rc = place(s, &text, s->width_mul, s->height_mul);
    fw_bitmap_free(&text);
    if (rc == FW_OK && s->y < top + height) {
        rc = grow(s, top + height - s->y);
        s->y = top + height;
    }
    return rc;
}

static int text_byte(struct sim *s, uint8_t c)
{
    if (s->line_len + 2 >= sizeof s->line)
        return fail(s, "a text line longer than %zu bytes", sizeof s->line - 2);
    s->line[s->line_len++] = c >= 0x80 ? '?' : (char)c;
    return FW_OK;
}

static int raster(struct sim *s, const uint8_t *d, size_t n, size_t *used)
{
    /* GS v 0 m xL xH yL yH */
    if (n < 8)
        return fail(s, "GS v 0 cut short");
    int bytes = d[4] | d[5] << 8, rows = d[6] | d[7] << 8;
    if (d[3] != 0 && d[3] != 48)
        return fail(s, "GS v 0 with mode %d (only normal density is used)", d[3]);
    if (bytes == 0 || rows == 0 || bytes * 8 > s->p->dots_per_line)
        return fail(s, "GS v 0 of %d bytes x %d rows does not fit %d dots", bytes, rows,
                    s->p->dots_per_line);
    size_t size = (size_t)bytes * (size_t)rows;
    if (n - 8 < size)
        return fail(s, "GS v 0 image data cut short");
    struct fw_bitmap bm = {bytes * 8, rows, bytes, (uint8_t *)(d + 8)};
    *used = 8 + size;
    return place(s, &bm, 1, 1);
}

static int qr(struct sim *s, const uint8_t *d, size_t n, size_t *used)
{
    /* GS ( k pL pH cn fn ... */
    if (n < 7)
        return fail(s, "GS ( k cut short");
    size_t len = (size_t)(d[3] | d[4] << 8);
    if (len < 2 || n - 5 < len)
        return fail(s, "GS ( k length %zu does not fit the stream", len);
    if (d[5] != 49)
        return fail(s, "GS ( k for symbol %d (only QR, 49, is used)", d[5]);
    if (!s->p->native_qr) /* the real printer would print nothing, or garbage */
        return fail(s, "%s has no native QR command: send a raster QR", s->p->name);
    const uint8_t *arg = d + 7;
    size_t nargs = len - 2;
    *used = 5 + len;
    switch (d[6]) {
    case 65: /* model */
        if (nargs != 2 || arg[0] != 50)
            return fail(s, "QR model other than 2");
        return FW_OK;
    case 67: /* module size */
        if (nargs != 1 || arg[0] < 1 || arg[0] > 16)
            return fail(s, "QR module size out of 1-16");
        s->qr_module = arg[0];
        return FW_OK;
    case 69: /* error correction */
        if (nargs != 1 || arg[0] < 48 || arg[0] > 51)
            return fail(s, "QR error correction out of 48-51");
        s->qr_ecc = "LMQH"[arg[0] - 48];
        return FW_OK;
    case 80: /* store */
        if (nargs < 2 || arg[0] != 48)
            return fail(s, "QR store without data");
        free(s->qr_data);
        s->qr_data = malloc(nargs);
        if (!s->qr_data)
            return FW_ENOMEM;
        memcpy(s->qr_data, arg + 1, nargs - 1);
        s->qr_data[nargs - 1] = '\0';
        if (strlen(s->qr_data) != nargs - 1)
            return fail(s, "QR data with a NUL byte");
        return FW_OK;
    case 81: { /* print */
        if (!s->qr_data)
            return fail(s, "QR print with nothing stored");
        struct fw_bitmap bm;
        int rc = fw_qr_bitmap(s->qr_data, s->qr_module, s->qr_ecc, &bm);
        if (rc != FW_OK)
            return rc == FW_EINVAL ? fail(s, "QR data the symbol cannot hold") : rc;
        if (bm.width > s->p->dots_per_line) {
            fw_bitmap_free(&bm);
            return fail(s, "a QR code of %d dots on %d-dot paper", bm.width, s->p->dots_per_line);
        }
        rc = place(s, &bm, 1, 1);
        fw_bitmap_free(&bm);
        return rc;
    }
    default:
        return fail(s, "QR function %d is not used", d[6]);
    }
}

/* One command at d (n bytes left); *used is how many bytes it took. */
static int command(struct sim *s, const uint8_t *d, size_t n, size_t *used)
{
    *used = 1;
    if (d[0] == '\n')
        return flush_line(s);
    if (d[0] >= 0x20 && d[0] != 0x7f)
        return text_byte(s, d[0]);
    if (n < 2)
        return fail(s, "byte 0x%02x at the end of the stream", d[0]);
    *used = 2;
    if (d[0] == 0x1b && d[1] == '@') {
        reset(s);
        return FW_OK;
    }
    if (d[0] == 0x1c && d[1] == '.')
        return FW_OK;
    if (d[0] == 0x1d && d[1] == 'v')
        return n >= 3 && d[2] == '0' ? raster(s, d, n, used) : fail(s, "GS v other than GS v 0");
    if (d[0] == 0x1d && d[1] == '(')
        return n >= 3 && d[2] == 'k' ? qr(s, d, n, used) : fail(s, "GS ( other than GS ( k");
    if (n < 3)
        return fail(s, "command 0x%02x 0x%02x cut short", d[0], d[1]);
    *used = 3;
    uint8_t v = d[2];
    if (d[0] == 0x1b) {
        switch (d[1]) {
        case 't':
            return FW_OK; /* code page: text is ASCII here */
        case 'a':
            if (v > 2 && v != '0' && v != '1' && v != '2')
                return fail(s, "ESC a %d", v);
            s->align = v >= '0' ? v - '0' : v;
            return FW_OK;
        case 'E':
            return FW_OK; /* bold: not drawn */
        case 'J': {       /* print the line buffer if any, then feed v dots */
            int rc = s->line_len ? flush_line(s) : FW_OK;
            if (rc == FW_OK)
                rc = grow(s, v);
            s->y += v;
            return rc;
        }
        case 'd': {
            int rc = flush_line(s);
            for (int i = 1; rc == FW_OK && i < v; i++)
                rc = flush_line(s);
            return rc;
        }
        }
    } else if (d[0] == 0x1d) {
        switch (d[1]) {
        case '!':
            s->width_mul = (v >> 4 & 7) + 1;
            s->height_mul = (v & 7) + 1;
            return FW_OK;
        case 'V':
            if (v <= 1 || v == '0' || v == '1')
                return FW_OK;
            if (v == 65 || v == 66) { /* function B: feed to the cutter + n, then cut */
                if (n < 4)
                    return fail(s, "GS V %d cut short", v);
                *used = 4;
                return FW_OK;
            }
            return fail(s, "GS V %d", v);
        case 'a':
            return FW_OK; /* busy line: nothing to draw */
        }
    }
    return fail(s, "unknown command 0x%02x 0x%02x", d[0], d[1]);
}

int fw_sim_escpos(const uint8_t *data, size_t n, const struct fw_profile *p, struct fw_font *font,
                  struct fw_bitmap *out, char *err, size_t errlen)
{
    struct sim s = {.p = p, .font = font, .err = err, .errlen = errlen};
    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = '\0';
    if (p->language != FW_LANG_ESCPOS || p->dots_per_line < 8)
        return fail(&s, "profile %s does not speak ESC/POS", p->name);
    s.page.width = p->dots_per_line;
    s.page.stride = (p->dots_per_line + 7) / 8;
    reset(&s);
    int rc = FW_OK;
    size_t i = 0;
    while (rc == FW_OK && i < n) {
        size_t used;
        rc = command(&s, data + i, n - i, &used);
        if (rc == FW_EINVAL && err && errlen) {
            char where[48];
            snprintf(where, sizeof where, " (offset %zu)", i);
            strncat(err, where, errlen - strlen(err) - 1);
        }
        i += used;
    }
    if (rc == FW_OK && s.line_len) /* text without a final LF stays in the buffer */
        rc = fail(&s, "text left without LF at the end");
    free(s.qr_data);
    if (rc != FW_OK || s.y == 0) {
        free(s.page.bits);
        return rc != FW_OK ? rc : fail(&s, "nothing printed");
    }
    s.page.height = s.y; /* the paper used */
    *out = s.page;
    return FW_OK;
}
