/* The simulated wristband printer: a ZPL label in, the printed label out as a bitmap.
 * Strict like the ESC/POS side (proto/sim.c): what our encoder does not emit is an error. */
#include "fw_print.h"
#include "paper.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEIGHT 12000 /* 40 inches at 300 dpi: longer than any wristband */
#define FIELD_MAX  2048

struct zsim {
    const struct fw_profile *p;
    struct fw_font *font;
    struct fw_bitmap page;
    int used; /* lowest row drawn + 1 */
    int x, y, font_h, hex, qr_mag, in_label, ended;
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int fail(struct zsim *z, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (z->err && z->errlen)
        vsnprintf(z->err, z->errlen, fmt, ap);
    va_end(ap);
    return FW_EINVAL;
}

/* Draws bm with its top-left corner at x, y; the label grows downwards as needed. */
static int draw(struct zsim *z, const struct fw_bitmap *bm, int x, int y)
{
    if (x + bm->width > z->p->dots_per_line)
        return fail(z, "a field %d dots wide at x %d runs past the %d-dot label", bm->width, x,
                    z->p->dots_per_line);
    int need = y + bm->height;
    if (need > MAX_HEIGHT)
        return fail(z, "a field below %d rows", MAX_HEIGHT);
    int rc = fw_paper_reserve(&z->page, need, MAX_HEIGHT);
    if (rc != FW_OK)
        return rc;
    for (int yy = 0; yy < bm->height; yy++)
        for (int xx = 0; xx < bm->width; xx++)
            if (fw_bitmap_get(bm, xx, yy))
                fw_bitmap_set(&z->page, x + xx, y + yy);
    if (need > z->used)
        z->used = need;
    return FW_OK;
}

/* Reads up to 3 comma-separated integers; returns how many. */
static int ints(const char *s, int *v, int max)
{
    int n = 0;
    while (n < max) {
        char *end;
        long x = strtol(s, &end, 10);
        if (end == s || x < 0 || x > 100000)
            break;
        v[n++] = (int)x;
        if (*end != ',')
            break;
        s = end + 1;
    }
    return n;
}

static int hexval(char c)
{
    return isdigit((unsigned char)c) ? c - '0'
           : (c >= 'A' && c <= 'F')  ? c - 'A' + 10
           : (c >= 'a' && c <= 'f')  ? c - 'a' + 10
                                     : -1;
}

static int field(struct zsim *z, const char *d)
{
    char text[FIELD_MAX];
    size_t n = 0;
    for (const char *p = d; *p; p++) {
        if (z->hex && *p == '_') {
            int hi = hexval(p[1]), lo = hi >= 0 ? hexval(p[2]) : -1;
            if (lo < 0)
                return fail(z, "a bad ^FH escape");
            text[n++] = (char)(hi << 4 | lo);
            p += 2;
        } else {
            text[n++] = *p;
        }
        if (n == sizeof text - 1)
            return fail(z, "a field longer than %d bytes", FIELD_MAX);
    }
    text[n] = '\0';
    struct fw_bitmap bm;
    int rc;
    if (z->qr_mag) {
        /* ^FD<ecc>A,<data>: error correction, automatic input mode. */
        if (n < 4 || !strchr("LMQH", text[0]) || text[1] != 'A' || text[2] != ',')
            return fail(z, "a QR field not of the form <L|M|Q|H>A,<data>");
        /* ^BQ draws the bare symbol at ^FO: no quiet zone (the label supplies it). */
        struct fw_bitmap full;
        int qx, qy, qw, qh;
        rc = fw_qr_bitmap(text + 3, z->qr_mag, text[0], &full);
        if (rc == FW_OK) {
            fw_bitmap_ink(&full, &qx, &qy, &qw, &qh);
            rc = fw_bitmap_crop(&full, qx, qy, qw, qh, &bm);
            fw_bitmap_free(&full);
        }
    } else {
        if (!z->font_h)
            return fail(z, "a text field without ^A0");
        bool cut;
        rc = fw_font_render(z->font, text, z->font_h, z->p->dots_per_line, &bm, &cut);
        if (rc == FW_OK && cut) {
            fw_bitmap_free(&bm);
            return fail(z, "a text field wider than the label");
        }
    }
    if (rc != FW_OK)
        return rc == FW_EINVAL ? fail(z, "a field the printer cannot draw") : rc;
    rc = draw(z, &bm, z->x, z->y);
    fw_bitmap_free(&bm);
    z->hex = 0;
    z->qr_mag = 0;
    return rc;
}

static int graphic(struct zsim *z, const char *a)
{
    /* A,total,total,bytes_per_row,hex */
    int v[3];
    if (a[0] != 'A' || a[1] != ',' || ints(a + 2, v, 3) != 3)
        return fail(z, "^GF other than ^GFA,b,c,d,data");
    int total = v[0], row = v[2];
    if (total != v[1] || row < 1 || total % row != 0 || total > 1000000)
        return fail(z, "^GFA sizes do not agree");
    /* The data follows the third comma after "A,"; a label without it is malformed. */
    const char *hex = a + 2;
    for (int commas = 0; commas < 3; commas++) {
        hex = strchr(hex, ',');
        if (!hex)
            return fail(z, "^GFA without its data");
        hex++;
    }
    if ((long)strlen(hex) != 2L * total)
        return fail(z, "^GFA data is not %d hexadecimal bytes", total);
    struct fw_bitmap bm;
    int rc = fw_bitmap_new(&bm, row * 8, total / row);
    if (rc != FW_OK)
        return rc == FW_EINVAL ? fail(z, "^GFA of %d x %d dots is too large", row * 8, total / row)
                               : rc;
    for (int i = 0; i < total; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            fw_bitmap_free(&bm);
            return fail(z, "^GFA data that is not hexadecimal");
        }
        bm.bits[i] = (uint8_t)(hi << 4 | lo);
    }
    rc = draw(z, &bm, z->x, z->y);
    fw_bitmap_free(&bm);
    return rc;
}

/* One command: cmd is its two letters, arg what follows up to the next ^ (or ^FS for ^FD). */
static int command(struct zsim *z, const char *cmd, const char *arg)
{
    int v[3];
    if (!strcmp(cmd, "XA")) {
        if (z->in_label || z->ended)
            return fail(z, "^XA inside a label, or a second label");
        z->in_label = 1;
        return FW_OK;
    }
    if (!z->in_label)
        return fail(z, "^%s outside ^XA ... ^XZ", cmd);
    if (!strcmp(cmd, "XZ")) {
        z->in_label = 0;
        z->ended = 1;
        return FW_OK;
    }
    if (!strcmp(cmd, "CI"))
        return !strcmp(arg, "28") ? FW_OK : fail(z, "^CI%s (only 28, UTF-8, is used)", arg);
    if (!strcmp(cmd, "PW")) {
        if (ints(arg, v, 1) != 1 || v[0] != z->p->dots_per_line)
            return fail(z, "^PW%s on a %d-dot printer", arg, z->p->dots_per_line);
        return FW_OK;
    }
    if (!strcmp(cmd, "FO")) {
        if (ints(arg, v, 2) != 2)
            return fail(z, "^FO without x,y");
        z->x = v[0];
        z->y = v[1];
        return FW_OK;
    }
    if (!strcmp(cmd, "A0")) {
        if (arg[0] != 'N' || arg[1] != ',' || ints(arg + 2, v, 2) != 2 || v[0] < 10)
            return fail(z, "^A0 other than ^A0N,h,w");
        z->font_h = v[0];
        return FW_OK;
    }
    if (!strcmp(cmd, "FH")) {
        if (strcmp(arg, "_") != 0)
            return fail(z, "^FH with an escape other than _");
        z->hex = 1;
        return FW_OK;
    }
    if (!strcmp(cmd, "BQ")) {
        if (strncmp(arg, "N,2,", 4) != 0 || ints(arg + 4, v, 1) != 1 || v[0] < 1 || v[0] > 10)
            return fail(z, "^BQ other than ^BQN,2,1-10");
        z->qr_mag = v[0];
        return FW_OK;
    }
    if (!strcmp(cmd, "FD"))
        return field(z, arg);
    if (!strcmp(cmd, "GF"))
        return graphic(z, arg);
    if (!strcmp(cmd, "FS"))
        return FW_OK;
    return fail(z, "unknown command ^%s", cmd);
}

int fw_sim_zpl(const uint8_t *data, size_t n, const struct fw_profile *p, struct fw_font *font,
               struct fw_bitmap *out, char *err, size_t errlen)
{
    struct zsim z = {.p = p, .font = font, .err = err, .errlen = errlen};
    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = '\0';
    if (p->language != FW_LANG_ZPL)
        return fail(&z, "profile %s does not speak ZPL", p->name);
    z.page.width = p->dots_per_line;
    z.page.stride = (p->dots_per_line + 7) / 8;
    char *s = malloc(n + 1);
    if (!s)
        return FW_ENOMEM;
    memcpy(s, data, n);
    s[n] = '\0';
    int rc = strlen(s) == n ? FW_OK : fail(&z, "a NUL byte in the label");
    size_t i = 0;
    while (rc == FW_OK && i < n) {
        if (s[i] == '\r' || s[i] == '\n') {
            i++;
            continue;
        }
        if (s[i] != '^' || i + 2 >= n || !isalnum((unsigned char)s[i + 1]) ||
            !isalnum((unsigned char)s[i + 2])) {
            rc = fail(&z, "text outside a command");
            break;
        }
        char cmd[3] = {s[i + 1], s[i + 2], 0};
        size_t start = i + 3;
        /* ^FD data runs to ^FS; other arguments to the next ^. */
        char *end = !strcmp(cmd, "FD") ? strstr(s + start, "^FS") : strchr(s + start, '^');
        size_t stop = end ? (size_t)(end - s) : n;
        if (!strcmp(cmd, "FD") && !end) {
            rc = fail(&z, "^FD without ^FS");
            break;
        }
        char saved = s[stop];
        s[stop] = '\0';
        rc = command(&z, cmd, s + start);
        s[stop] = saved;
        if (rc == FW_EINVAL && err && errlen) {
            char where[48];
            snprintf(where, sizeof where, " (offset %zu)", i);
            strncat(err, where, errlen - strlen(err) - 1);
        }
        i = stop;
    }
    free(s);
    if (rc == FW_OK && (!z.ended || z.used == 0))
        rc = fail(&z, z.ended ? "an empty label" : "a label without ^XZ");
    if (rc != FW_OK) {
        free(z.page.bits);
        return rc;
    }
    z.page.height = z.used;
    *out = z.page;
    return FW_OK;
}
