#include "layout.h"

#include <stdio.h>
#include <string.h>

#define NAME_PX  24 /* a name line: 29 dots, the height of a text line at most */
#define SMALL_PX 20

static bool ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

/* Sends only the ink of an image: its white rows above and below become ESC J feeds (3
 * bytes instead of a row of dots each) and white columns are not sent at all, which keeps the
 * same spacing on paper and saves most of the wire time on a 19200-baud printer. */
static int raster_ink(struct fw_buf *b, const struct fw_bitmap *bm)
{
    int x, y, w, h;
    fw_bitmap_ink(bm, &x, &y, &w, &h);
    if (w == 0) {
        fw_escpos_feed_dots(b, (uint8_t)(bm->height > 255 ? 255 : bm->height));
        return FW_OK;
    }
    struct fw_bitmap ink;
    int rc = fw_bitmap_crop(bm, x, y, w, h, &ink);
    if (rc != FW_OK)
        return rc;
    if (y > 0)
        fw_escpos_feed_dots(b, (uint8_t)y);
    rc = fw_escpos_raster(b, &ink);
    int below = bm->height - y - h;
    if (rc == FW_OK && below > 0)
        fw_escpos_feed_dots(b, (uint8_t)below);
    fw_bitmap_free(&ink);
    return rc;
}

/* One line rasterised in font, cut with "…" at the paper's width. */
static int raster_line(struct fw_buf *b, const struct fw_profile *p, struct fw_font *font,
                       const char *s, int px)
{
    struct fw_bitmap bm;
    bool cut;
    int rc = fw_font_render(font, s, px, p->dots_per_line, &bm, &cut);
    if (rc != FW_OK)
        return rc;
    rc = raster_ink(b, &bm);
    fw_bitmap_free(&bm);
    return rc;
}

/* One line: ASCII as text (cut to the columns there are), anything else rasterised. */
static int line(struct fw_buf *b, const struct fw_profile *p, struct fw_font *font, const char *s,
                int px)
{
    if (!s || !s[0])
        return FW_OK;
    if (ascii(s)) {
        size_t cols = (size_t)p->dots_per_line / 12; /* font A: 12 dots a character */
        size_t n = strlen(s);
        fw_escpos_text(b, s, n < cols ? n : cols);
        fw_escpos_text(b, "\n", 1);
        return FW_OK;
    }
    return raster_line(b, p, font, s, px);
}

static int qr(struct fw_buf *b, const struct fw_profile *p, const char *code, int module);
static void grouped_code(struct fw_buf *b, const char *code);

/* Where a name wraps: 0 when it fits on one line of width dots at px, else the byte offset of
 * the space ending the longest first line that fits; -1 when even the first word does not fit
 * (the caller cuts the name with "…"), or an error (negative fw_err below -1 never happens:
 * render errors are returned as FW_EINVAL / FW_ENOMEM through *rc). */
static long wrap_point(struct fw_font *font, const char *s, int px, int width, int *rc)
{
    struct fw_bitmap bm;
    bool cut;
    char first[256];
    long best = -1;
    *rc = fw_font_render(font, s, px, width, &bm, &cut);
    if (*rc != FW_OK)
        return -1;
    fw_bitmap_free(&bm);
    if (!cut)
        return 0;
    for (const char *sp = strchr(s, ' '); sp; sp = strchr(sp + 1, ' ')) {
        size_t n = (size_t)(sp - s);
        if (n >= sizeof first)
            break;
        memcpy(first, s, n);
        first[n] = '\0';
        *rc = fw_font_render(font, first, px, width, &bm, &cut);
        if (*rc != FW_OK)
            return -1;
        fw_bitmap_free(&bm);
        if (cut)
            break;
        best = (long)n;
    }
    return best;
}

/* A name on one line if it fits, else wrapped at a space onto a second line (the longest
 * first line that fits); only what two lines cannot hold ends in "…". */
static int name_lines(struct fw_buf *b, const struct fw_profile *p, struct fw_font *font,
                      const char *s)
{
    int rc;
    if (!s || !s[0])
        return FW_OK;
    long at = wrap_point(font, s, NAME_PX, p->dots_per_line, &rc);
    if (rc != FW_OK)
        return rc;
    if (at == 0 || (at < 0 && ascii(s)))
        return line(b, p, font, s, NAME_PX);
    if (at < 0) /* one long word: cut it */
        return raster_line(b, p, font, s, NAME_PX);
    char first[256];
    memcpy(first, s, (size_t)at);
    first[at] = '\0';
    /* Both halves rasterised in the same font, even an ASCII remainder ("Anh"). */
    rc = raster_line(b, p, font, first, NAME_PX);
    return rc == FW_OK ? raster_line(b, p, font, s + at + 1, NAME_PX) : rc;
}

int layout_ticket(const struct ticket *t, const struct fw_profile *p, struct fw_font *font,
                  struct fw_buf *out)
{
    char number[8];
    if (p->language != FW_LANG_ESCPOS || t->queue_number < 1 || t->queue_number > 9999 ||
        !t->code || !t->code[0])
        return FW_EINVAL;
    fw_escpos_init(out);
    if (p->busy_line)
        fw_escpos_busy_enable(out);
    fw_escpos_align(out, FW_ALIGN_CENTER);
    int rc = line(out, p, font, t->campaign, SMALL_PX);
    if (rc == FW_OK)
        rc = line(out, p, font, t->when, SMALL_PX);
    /* The queue number, as large as the paper allows: 4 x 4 is 48 x 96 dots a digit. */
    int n = snprintf(number, sizeof number, "%d\n", t->queue_number);
    if (rc == FW_OK)
        rc = fw_escpos_size(out, 4, 4);
    fw_escpos_text(out, number, (size_t)n);
    if (rc == FW_OK)
        rc = fw_escpos_size(out, 1, 1);
    if (rc == FW_OK)
        rc = name_lines(out, p, font, t->name);
    if (rc == FW_OK)
        rc = line(out, p, font, t->station, NAME_PX);
    /* 3 dots a module on a serial printer, where every byte costs wire time; else 4. */
    if (rc == FW_OK)
        rc = qr(out, p, t->code, p->native_qr ? 4 : p->baud ? 3 : 4);
    if (rc == FW_OK)
        grouped_code(out, t->code);
    fw_escpos_feed(out, 3);
    if (p->cutter)
        fw_escpos_cut(out, true);
    return rc != FW_OK ? rc : fw_buf_error(out);
}

/* The QR, native or raster, at module dots a module. */
static int qr(struct fw_buf *b, const struct fw_profile *p, const char *code, int module)
{
    if (p->native_qr)
        return fw_escpos_qr(b, code, strlen(code), module, 'M');
    struct fw_bitmap bm;
    int rc = fw_qr_bitmap(code, module, 'M', &bm);
    if (rc == FW_OK) /* the quiet zone goes as feeds: the paper is white */
        rc = raster_ink(b, &bm);
    fw_bitmap_free(&bm);
    return rc;
}

/* The code in 4-character groups under a QR, for people to read out and type. */
static void grouped_code(struct fw_buf *b, const char *code)
{
    char g[16];
    if (strlen(code) == 12)
        snprintf(g, sizeof g, "%.4s %.4s %.4s\n", code, code + 4, code + 8);
    else
        snprintf(g, sizeof g, "%.14s\n", code);
    fw_escpos_text(b, g, strlen(g));
}

/* One centred line of a ZPL label as a graphic field: the printer's own fonts are not trusted
 * with Vietnamese, and a graphic's width is known, so it can be centred. Advances *y. */
static int zpl_line(struct fw_buf *b, const struct fw_profile *p, struct fw_font *font,
                    const char *s, int px, int *y)
{
    struct fw_bitmap bm, ink;
    bool cut;
    int x, iy, w, h;
    if (!s || !s[0])
        return FW_OK;
    int rc = fw_font_render(font, s, px, p->dots_per_line, &bm, &cut);
    if (rc != FW_OK)
        return rc;
    fw_bitmap_ink(&bm, &x, &iy, &w, &h);
    if (w > 0) {
        rc = fw_bitmap_crop(&bm, 0, iy, bm.width, h, &ink);
        if (rc == FW_OK)
            rc = fw_zpl_graphic(b, (p->dots_per_line - ink.width) / 2, *y + iy, &ink);
        fw_bitmap_free(&ink);
    }
    *y += bm.height;
    fw_bitmap_free(&bm);
    return rc;
}

/* The wristband for a ZPL band printer: native QR centred at the top, then the lines. */
static int zpl_wristband(const struct wristband *w, const struct fw_profile *p,
                         struct fw_font *font, const char *who, struct fw_buf *out)
{
    enum { MAG = 5, QUIET = 4 };
    int y = 10, rc;
    char grouped[16];
    fw_zpl_begin(out);
    /* The symbol of a 12-character code is version 1 (21 modules) at level M; centre it with
     * its quiet zone, which ^BQ leaves white. */
    int side = (21 + 2 * QUIET) * MAG;
    rc = fw_zpl_qr(out, (p->dots_per_line - side) / 2, y, MAG, 'M', w->code);
    y += side + 4;
    snprintf(grouped, sizeof grouped, "%.4s %.4s %.4s", w->code, w->code + 4, w->code + 8);
    if (rc == FW_OK)
        rc = zpl_line(out, p, font, strlen(w->code) == 12 ? grouped : w->code, SMALL_PX, &y);
    long at = rc == FW_OK ? wrap_point(font, w->name, NAME_PX, p->dots_per_line, &rc) : 0;
    if (rc == FW_OK && at > 0) {
        char first[256];
        memcpy(first, w->name, (size_t)at);
        first[at] = '\0';
        rc = zpl_line(out, p, font, first, NAME_PX, &y);
        if (rc == FW_OK)
            rc = zpl_line(out, p, font, w->name + at + 1, NAME_PX, &y);
    } else if (rc == FW_OK) {
        rc = zpl_line(out, p, font, w->name, NAME_PX, &y);
    }
    if (rc == FW_OK)
        rc = zpl_line(out, p, font, who, SMALL_PX + 4, &y);
    if (rc == FW_OK)
        rc = zpl_line(out, p, font, w->campaign, SMALL_PX, &y);
    fw_zpl_end(out);
    return rc != FW_OK ? rc : fw_buf_error(out);
}

int layout_wristband(const struct wristband *w, const struct fw_profile *p, struct fw_font *font,
                     struct fw_buf *out)
{
    if (!w->code || !w->code[0])
        return FW_EINVAL;
    char who[48];
    if (w->age >= 0)
        snprintf(who, sizeof who, "%s, %d tuổi", w->female ? "Nữ" : "Nam", w->age);
    else
        snprintf(who, sizeof who, "%s", w->female ? "Nữ" : "Nam");
    if (p->language == FW_LANG_ZPL)
        return zpl_wristband(w, p, font, who, out);
    fw_escpos_init(out);
    if (p->busy_line)
        fw_escpos_busy_enable(out);
    fw_escpos_align(out, FW_ALIGN_CENTER);
    /* 6 dots a module: a version-1 code is 21 x 6 = 126 dots, 16 mm, scannable on a curved
     * wrist from a hand scanner. */
    int rc = qr(out, p, w->code, 6);
    if (rc == FW_OK) {
        grouped_code(out, w->code);
        rc = name_lines(out, p, font, w->name);
    }
    if (rc == FW_OK)
        rc = line(out, p, font, who, SMALL_PX + 4);
    if (rc == FW_OK)
        rc = line(out, p, font, w->campaign, SMALL_PX);
    fw_escpos_feed(out, 2);
    if (p->cutter)
        fw_escpos_cut(out, true);
    return rc != FW_OK ? rc : fw_buf_error(out);
}
