#include "layout.h"

#include "../common/err.h"

#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

#define NAME_PX     24  /* a name line */
#define SMALL_PX    20  /* campaign, date, code */
#define FONT_A_DOTS 12  /* a character of the printer's font A */
#define MAX_CHARS   120 /* longer text is cut before layout */
#define ZPL_QR_MAG  5

static bool ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

/* Text made printable, into out[cap]: control characters dropped, runs of white space made
 * one space, none at either end, invalid UTF-8 and characters the font lacks as "?", at most
 * MAX_CHARS characters. A whole ticket must not fail over a tab or a character DejaVu lacks. */
static void printable(struct fw_font *font, const char *s, char *out, size_t cap)
{
    size_t n = 0;
    int chars = 0, space = 0;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)(s ? s : "");
    while (*p && chars < MAX_CHARS && n + 5 < cap) {
        utf8proc_int32_t c;
        utf8proc_ssize_t len = utf8proc_iterate(p, -1, &c);
        if (len <= 0) { /* invalid byte: one "?" and on */
            c = '?';
            len = 1;
        }
        p += len;
        utf8proc_category_t cat = utf8proc_category(c);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || cat == UTF8PROC_CATEGORY_ZS) {
            space = n > 0;
            continue;
        }
        if (cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF)
            continue;
        if (space) {
            out[n++] = ' ';
            chars++;
            space = 0;
        }
        if (!fw_font_has(font, (uint32_t)c))
            c = '?';
        n += (size_t)utf8proc_encode_char(c, (utf8proc_uint8_t *)out + n);
        chars++;
    }
    out[n] = '\0';
}

/* ESC J feeds n dots at most 255 at a time. */
static void feed(struct fw_buf *b, int dots)
{
    for (; dots > 0; dots -= 255)
        fw_escpos_feed_dots(b, (uint8_t)(dots > 255 ? 255 : dots));
}

/* Sends only the ink of an image: its white rows above and below become ESC J feeds (3
 * bytes instead of a row of dots each) and white columns are not sent at all, which keeps
 * the spacing on paper and saves most of the wire time on a 19200-baud printer. */
static int raster_ink(struct fw_buf *b, const struct fw_profile *p, const struct fw_bitmap *bm)
{
    int x, y, w, h;
    fw_bitmap_ink(bm, &x, &y, &w, &h);
    if (w == 0) {
        feed(b, bm->height);
        return FW_OK;
    }
    if (w > p->dots_per_line)
        return FW_EINVAL;
    struct fw_bitmap ink;
    int rc = fw_bitmap_crop(bm, x, y, w, h, &ink);
    if (rc != FW_OK)
        return rc;
    feed(b, y);
    rc = fw_escpos_raster(b, &ink);
    feed(b, bm->height - y - h);
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
    rc = raster_ink(b, p, &bm);
    fw_bitmap_free(&bm);
    return rc;
}

/* ASCII in font A: a line longer than the paper's columns ends in "..." (a visible cut). */
static void text_line(struct fw_buf *b, const struct fw_profile *p, const char *s, size_t n)
{
    size_t cols = (size_t)p->dots_per_line / FONT_A_DOTS;
    if (n > cols) {
        fw_escpos_text(b, s, cols - 3);
        fw_escpos_text(b, "...", 3);
    } else {
        fw_escpos_text(b, s, n);
    }
    fw_escpos_text(b, "\n", 1);
}

/* One line of clean text: ASCII as text, anything else rasterised. */
static int clean_line(struct fw_buf *b, const struct fw_profile *p, struct fw_font *font,
                      const char *s, int px)
{
    if (!s[0])
        return FW_OK;
    if (ascii(s)) {
        text_line(b, p, s, strlen(s));
        return FW_OK;
    }
    return raster_line(b, p, font, s, px);
}

static int line(struct fw_buf *b, const struct fw_profile *p, struct fw_font *font, const char *s,
                int px)
{
    char clean[MAX_CHARS * 4 + 8];
    printable(font, s, clean, sizeof clean);
    return clean_line(b, p, font, clean, px);
}

/* Where a clean name wraps when drawn in font at px within width dots: 0 when it fits on one
 * line, else the offset of the space ending the longest first line that fits, or -1 when not
 * even the first word fits (the caller cuts it). *rc carries a render error. */
static long wrap_point(struct fw_font *font, const char *s, int px, int width, int *rc)
{
    struct fw_bitmap bm;
    bool cut;
    char first[MAX_CHARS * 4 + 8];
    long best = -1;
    *rc = fw_font_render(font, s, px, width, &bm, &cut);
    if (*rc != FW_OK)
        return -1;
    fw_bitmap_free(&bm);
    if (!cut)
        return 0;
    for (const char *sp = strchr(s, ' '); sp; sp = strchr(sp + 1, ' ')) {
        size_t n = (size_t)(sp - s);
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

/* The same for ASCII in font A columns. */
static long wrap_columns(const char *s, size_t cols)
{
    size_t n = strlen(s);
    if (n <= cols)
        return 0;
    for (long i = (long)cols; i > 0; i--)
        if (s[i] == ' ')
            return i;
    return -1;
}

/* A name on one line if it fits, else wrapped at a space onto a second line; only what two
 * lines cannot hold is cut, visibly. ASCII names wrap in font A columns, others as rasters
 * (both halves rasterised alike, even an ASCII remainder). */
static int name_lines(struct fw_buf *b, const struct fw_profile *p, struct fw_font *font,
                      const char *s)
{
    char clean[MAX_CHARS * 4 + 8];
    int rc = FW_OK;
    printable(font, s, clean, sizeof clean);
    if (!clean[0])
        return FW_OK;
    bool plain = ascii(clean);
    long at = plain ? wrap_columns(clean, (size_t)p->dots_per_line / FONT_A_DOTS)
                    : wrap_point(font, clean, NAME_PX, p->dots_per_line, &rc);
    if (rc != FW_OK)
        return rc;
    if (at <= 0) /* fits, or one long word: cut */
        return clean_line(b, p, font, clean, NAME_PX);
    clean[at] = '\0';
    if (plain) {
        text_line(b, p, clean, (size_t)at);
        text_line(b, p, clean + at + 1, strlen(clean + at + 1));
        return FW_OK;
    }
    rc = raster_line(b, p, font, clean, NAME_PX);
    return rc == FW_OK ? raster_line(b, p, font, clean + at + 1, NAME_PX) : rc;
}

/* The QR, native or raster, at module dots a module; FW_EINVAL when it is wider than the
 * paper (a code far longer than a patient code). */
static int qr(struct fw_buf *b, const struct fw_profile *p, const char *code, int module)
{
    struct fw_bitmap bm;
    int x, y, w, h;
    int rc = fw_qr_bitmap(code, module, 'M', &bm);
    if (rc != FW_OK)
        return rc;
    fw_bitmap_ink(&bm, &x, &y, &w, &h);
    if (w > p->dots_per_line)
        rc = FW_EINVAL;
    else if (p->native_qr)
        rc = fw_escpos_qr(b, code, strlen(code), module, 'M');
    else /* the quiet zone goes as feeds: the paper is white */
        rc = raster_ink(b, p, &bm);
    fw_bitmap_free(&bm);
    return rc;
}

/* The code under a QR, for people: 4-character groups are easy to read out and type. */
static void grouped_code(struct fw_buf *b, const struct fw_profile *p, const char *code)
{
    char g[16];
    if (strlen(code) == 12) {
        snprintf(g, sizeof g, "%.4s %.4s %.4s", code, code + 4, code + 8);
        text_line(b, p, g, strlen(g));
    } else {
        text_line(b, p, code, strlen(code));
    }
}

/* The end of a ticket or sticker: cut (feeding to the cutter) or feed past the tear bar. */
static void finish(struct fw_buf *b, const struct fw_profile *p)
{
    if (p->cutter)
        fw_escpos_cut(b, true);
    else
        fw_escpos_feed(b, 3);
}

int layout_ticket(const struct ticket *t, const struct fw_profile *p, struct fw_font *font,
                  struct fw_buf *out)
{
    char number[8];
    if (p->language != FW_LANG_ESCPOS || t->queue_number < 1 || t->queue_number > 9999 ||
        !t->code || !t->code[0] || !ascii(t->code))
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
        grouped_code(out, p, t->code);
    finish(out, p);
    return rc != FW_OK ? rc : fw_buf_error(out);
}

/* ---- wristbands ---- */

/* One centred line of a ZPL label as a graphic field: the printer's own fonts are not trusted
 * with Vietnamese, and a graphic's width is known, so it can be centred. ^GFA sends whole
 * bytes, so the field is 8 * bytes wide, and centred as such. Advances *y. */
static int zpl_line(struct fw_buf *b, const struct fw_profile *p, struct fw_font *font,
                    const char *s, int px, int *y)
{
    struct fw_bitmap bm, ink;
    bool cut;
    int x, iy, w, h;
    if (!s[0])
        return FW_OK;
    int rc = fw_font_render(font, s, px, p->dots_per_line, &bm, &cut);
    if (rc != FW_OK)
        return rc;
    fw_bitmap_ink(&bm, &x, &iy, &w, &h);
    if (w > 0) {
        rc = fw_bitmap_crop(&bm, 0, iy, bm.width, h, &ink);
        int field = ((bm.width + 7) / 8) * 8;
        if (rc == FW_OK)
            rc = fw_zpl_graphic(b, (p->dots_per_line - field) / 2, *y + iy, &ink);
        fw_bitmap_free(&ink);
    }
    *y += bm.height;
    fw_bitmap_free(&bm);
    return rc;
}

/* The wristband for a ZPL band printer: the bare QR symbol (^BQ draws no quiet zone) centred
 * below a quiet zone of white, then the lines. */
static int zpl_wristband(const struct wristband *w, const struct fw_profile *p,
                         struct fw_font *font, const char *who, struct fw_buf *out)
{
    char name[MAX_CHARS * 4 + 8], text[MAX_CHARS * 4 + 8];
    struct fw_bitmap sym;
    int x, sy, side, h, rc;
    rc = fw_qr_bitmap(w->code, ZPL_QR_MAG, 'M', &sym);
    if (rc != FW_OK)
        return rc;
    fw_bitmap_ink(&sym, &x, &sy, &side, &h);
    fw_bitmap_free(&sym);
    int quiet = 4 * ZPL_QR_MAG;
    if (side + 2 * quiet > p->dots_per_line)
        return FW_EINVAL;
    fw_zpl_begin(out);
    fw_zpl_width(out, p->dots_per_line);
    int y = quiet;
    rc = fw_zpl_qr(out, (p->dots_per_line - side) / 2, y, ZPL_QR_MAG, 'M', w->code);
    y += side + quiet;
    if (strlen(w->code) == 12)
        snprintf(text, sizeof text, "%.4s %.4s %.4s", w->code, w->code + 4, w->code + 8);
    else
        printable(font, w->code, text, sizeof text);
    if (rc == FW_OK)
        rc = zpl_line(out, p, font, text, SMALL_PX, &y);
    printable(font, w->name, name, sizeof name);
    long at = rc == FW_OK && name[0] ? wrap_point(font, name, NAME_PX, p->dots_per_line, &rc) : 0;
    if (rc == FW_OK && at > 0) {
        name[at] = '\0';
        rc = zpl_line(out, p, font, name, NAME_PX, &y);
        if (rc == FW_OK)
            rc = zpl_line(out, p, font, name + at + 1, NAME_PX, &y);
    } else if (rc == FW_OK) {
        rc = zpl_line(out, p, font, name, NAME_PX, &y);
    }
    if (rc == FW_OK)
        rc = zpl_line(out, p, font, who, SMALL_PX + 4, &y);
    printable(font, w->campaign, text, sizeof text);
    if (rc == FW_OK)
        rc = zpl_line(out, p, font, text, SMALL_PX, &y);
    fw_zpl_end(out);
    return rc != FW_OK ? rc : fw_buf_error(out);
}

int layout_wristband(const struct wristband *w, const struct fw_profile *p, struct fw_font *font,
                     struct fw_buf *out)
{
    if (!w->code || !w->code[0] || !ascii(w->code))
        return FW_EINVAL;
    char who[48];
    if (w->age >= 0 && w->age < 200)
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
        grouped_code(out, p, w->code);
        rc = name_lines(out, p, font, w->name);
    }
    if (rc == FW_OK)
        rc = line(out, p, font, who, SMALL_PX + 4);
    if (rc == FW_OK)
        rc = line(out, p, font, w->campaign, SMALL_PX);
    finish(out, p);
    return rc != FW_OK ? rc : fw_buf_error(out);
}

/* ---- test page ---- */

#define TEST_QR "MOKIT-TEST"

int layout_test_page(const struct test_page *t, const struct fw_profile *p, struct fw_font *font,
                     struct fw_buf *out)
{
    char text[MAX_CHARS * 4 + 8];
    static const char vn[] = "Tiếng Việt: Nguyễn Thị Hương";
    if (p->language == FW_LANG_ZPL) {
        struct fw_bitmap sym;
        int x, sy, side, h, y = 4 * ZPL_QR_MAG;
        int rc = fw_qr_bitmap(TEST_QR, ZPL_QR_MAG, 'M', &sym);
        if (rc != FW_OK)
            return rc;
        fw_bitmap_ink(&sym, &x, &sy, &side, &h);
        fw_bitmap_free(&sym);
        fw_zpl_begin(out);
        fw_zpl_width(out, p->dots_per_line);
        rc = zpl_line(out, p, font, "mokit test", NAME_PX, &y);
        printable(font, t->printer, text, sizeof text);
        if (rc == FW_OK)
            rc = zpl_line(out, p, font, text, SMALL_PX, &y);
        if (rc == FW_OK)
            rc = zpl_line(out, p, font, p->name, SMALL_PX, &y);
        if (rc == FW_OK)
            rc = zpl_line(out, p, font, vn, SMALL_PX, &y);
        y += 2 * ZPL_QR_MAG;
        if (rc == FW_OK && side <= p->dots_per_line)
            rc = fw_zpl_qr(out, (p->dots_per_line - side) / 2, y, ZPL_QR_MAG, 'M', TEST_QR);
        fw_zpl_end(out);
        return rc != FW_OK ? rc : fw_buf_error(out);
    }
    fw_escpos_init(out);
    if (p->busy_line)
        fw_escpos_busy_enable(out);
    fw_escpos_align(out, FW_ALIGN_CENTER);
    int rc = fw_escpos_size(out, 2, 2);
    text_line(out, p, "mokit test", 10);
    if (rc == FW_OK)
        rc = fw_escpos_size(out, 1, 1);
    if (rc == FW_OK)
        rc = line(out, p, font, t->printer, SMALL_PX);
    if (rc == FW_OK)
        rc = line(out, p, font, p->name, SMALL_PX);
    if (rc == FW_OK)
        rc = line(out, p, font, t->when, SMALL_PX);
    /* Vietnamese, rasterised: what the names will look like. */
    if (rc == FW_OK)
        rc = line(out, p, font, vn, NAME_PX);
    if (rc == FW_OK)
        rc = qr(out, p, TEST_QR, p->native_qr ? 4 : p->baud ? 3 : 4);
    if (rc == FW_OK)
        text_line(out, p, TEST_QR, strlen(TEST_QR));
    finish(out, p);
    return rc != FW_OK ? rc : fw_buf_error(out);
}

/* ---- referral slips ---- */

/* Text over up to max_lines lines, wrapped at spaces; the last line is cut, visibly. */
static int paragraph(struct fw_buf *b, const struct fw_profile *p, struct fw_font *font,
                     const char *s, int px, int max_lines)
{
    char clean[MAX_CHARS * 4 + 8];
    printable(font, s, clean, sizeof clean);
    char *rest = clean;
    int rc = FW_OK;
    for (int n = 1; *rest; n++) {
        bool plain = ascii(rest);
        long at = n == max_lines ? 0
                  : plain        ? wrap_columns(rest, (size_t)p->dots_per_line / FONT_A_DOTS)
                                 : wrap_point(font, rest, px, p->dots_per_line, &rc);
        if (rc != FW_OK)
            return rc;
        if (at <= 0) /* fits, the last line, or one word too long: cut */
            return clean_line(b, p, font, rest, px);
        rest[at] = '\0';
        rc = clean_line(b, p, font, rest, px);
        if (rc != FW_OK)
            return rc;
        rest += at + 1;
    }
    return rc;
}

/* "Label: value" as a paragraph; nothing when the value is empty. */
static int field(struct fw_buf *b, const struct fw_profile *p, struct fw_font *font,
                 const char *label, const char *value, int px, int max_lines)
{
    char text[MAX_CHARS * 4 + 64];
    if (!value || !value[0])
        return FW_OK;
    snprintf(text, sizeof text, "%s: %s", label, value);
    return paragraph(b, p, font, text, px, max_lines);
}

int layout_slip(const struct slip *s, const struct fw_profile *p, struct fw_font *font,
                struct fw_buf *out)
{
    char text[MAX_CHARS * 4 + 64];
    if (p->language != FW_LANG_ESCPOS || !s->code || !s->code[0] || !ascii(s->code) ||
        !s->destination || !s->destination[0] || !s->reason || !s->reason[0] || s->nfindings < 0 ||
        s->nfindings > SLIP_MAX_FINDINGS)
        return FW_EINVAL;
    fw_escpos_init(out);
    if (p->busy_line)
        fw_escpos_busy_enable(out);
    fw_escpos_align(out, FW_ALIGN_CENTER);
    int rc = paragraph(out, p, font, s->hospital, SMALL_PX, 2);
    if (rc == FW_OK)
        rc = paragraph(out, p, font, s->campaign, SMALL_PX, 2);
    if (rc == FW_OK) {
        feed(out, 12);
        rc = line(out, p, font, "GIẤY CHUYỂN KHÁM", 32);
    }
    if (rc == FW_OK && s->urgency == SLIP_URGENT)
        rc = line(out, p, font, "KHẨN", 56);
    else if (rc == FW_OK)
        rc = line(out, p, font,
                  s->urgency == SLIP_SOON ? "Mức độ: sớm (trong 7 ngày)" : "Mức độ: thường",
                  SMALL_PX + 4);
    feed(out, 12);
    fw_escpos_align(out, FW_ALIGN_LEFT);
    if (rc == FW_OK)
        rc = field(out, p, font, "Họ tên", s->name, NAME_PX, 2);
    if (rc == FW_OK) {
        if (s->birth_year > 0)
            snprintf(text, sizeof text, "Năm sinh: %d, %s", s->birth_year,
                     s->female ? "Nữ" : "Nam");
        else
            snprintf(text, sizeof text, "Giới: %s", s->female ? "Nữ" : "Nam");
        rc = line(out, p, font, text, SMALL_PX + 4);
    }
    if (rc == FW_OK && s->nfindings > 0)
        rc = line(out, p, font, "Kết quả khám:", SMALL_PX + 4);
    for (int i = 0; rc == FW_OK && i < s->nfindings; i++) {
        snprintf(text, sizeof text, "- %s", s->findings[i] ? s->findings[i] : "");
        rc = paragraph(out, p, font, text, SMALL_PX + 4, 2);
    }
    if (rc == FW_OK)
        rc = field(out, p, font, "Chuyển đến", s->destination, SMALL_PX + 4, 3);
    if (rc == FW_OK)
        rc = field(out, p, font, "Lý do", s->reason, SMALL_PX + 4, 4);
    if (rc == FW_OK)
        rc = field(out, p, font, "Ngày", s->when, SMALL_PX + 4, 1);
    if (rc == FW_OK)
        rc = field(out, p, font, "Bác sĩ", s->doctor, SMALL_PX + 4, 2);
    if (rc == FW_OK) {
        rc = line(out, p, font, "Ký tên:", SMALL_PX + 4);
        feed(out, 72); /* room to sign */
    }
    fw_escpos_align(out, FW_ALIGN_CENTER);
    if (rc == FW_OK)
        rc = qr(out, p, s->code, p->native_qr ? 4 : p->baud ? 3 : 4);
    if (rc == FW_OK)
        grouped_code(out, p, s->code);
    finish(out, p);
    return rc != FW_OK ? rc : fw_buf_error(out);
}

/* ---- the "ready" slip ---- */

/* ASCII in font A at width x height magnification, as many lines as it takes: an address or
 * a password must reach the paper whole, so it continues on the next line instead of being
 * cut. Anything but printable ASCII is shown as '?'. */
static int ascii_lines(struct fw_buf *b, const struct fw_profile *p, const char *s, int width,
                       int height)
{
    char chunk[MAX_CHARS + 1];
    size_t cols = (size_t)p->dots_per_line / (size_t)(FONT_A_DOTS * width), n = strlen(s);
    if (cols > MAX_CHARS)
        cols = MAX_CHARS;
    int rc = fw_escpos_size(b, width, height);
    for (size_t at = 0; rc == FW_OK && at < n; at += cols) {
        size_t k = n - at < cols ? n - at : cols;
        for (size_t i = 0; i < k; i++) {
            unsigned char c = (unsigned char)s[at + i];
            chunk[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
        }
        fw_escpos_text(b, chunk, k);
        fw_escpos_text(b, "\n", 1);
    }
    return rc == FW_OK ? fw_escpos_size(b, 1, 1) : rc;
}

/* An address in large letters: double width and height where it fits one line, else double
 * height over as many lines as it takes. */
static int address(struct fw_buf *b, const struct fw_profile *p, const char *url)
{
    size_t cols = (size_t)p->dots_per_line / FONT_A_DOTS;
    return ascii_lines(b, p, url, strlen(url) * 2 <= cols ? 2 : 1, 2);
}

/* The largest module (6 dots down to 3) whose symbol and a 4-module quiet zone on each side
 * fit the paper: 6 dots (0.75 mm at 203 dpi) is what a phone's camera reads easily from
 * paper held at arm's length. 0 when not even 3 fits. */
static int ready_module(const struct fw_profile *p, const char *text)
{
    for (int module = 6; module >= 3; module--) {
        struct fw_bitmap bm;
        int x, y, w, h;
        if (fw_qr_bitmap(text, module, 'M', &bm) != FW_OK)
            return 0;
        fw_bitmap_ink(&bm, &x, &y, &w, &h);
        fw_bitmap_free(&bm);
        if (w + 8 * module <= p->dots_per_line)
            return module;
    }
    return 0;
}

int layout_ready(const struct ready_slip *r, const struct fw_profile *p, struct fw_font *font,
                 struct fw_buf *out)
{
    char qr_text[WIFI_QR_MAX], ssid[MAX_CHARS * 4 + 8];
    const struct wifi_conf *w = r->wifi;
    if (p->language != FW_LANG_ESCPOS || !w || !w->ssid[0] ||
        wifi_qr_text(w, qr_text, sizeof qr_text) != MK_OK)
        return FW_EINVAL;
    int module = ready_module(p, qr_text);
    if (!module)
        return FW_EINVAL;
    fw_escpos_init(out);
    if (p->busy_line)
        fw_escpos_busy_enable(out);
    fw_escpos_align(out, FW_ALIGN_CENTER);
    int rc = ascii_lines(out, p, "mokit", 2, 2);
    if (rc == FW_OK)
        rc = line(out, p, font, "Bộ kit đã sẵn sàng", NAME_PX);
    if (rc == FW_OK)
        rc = line(out, p, font, "The kit is ready", SMALL_PX);
    if (rc == FW_OK)
        rc = line(out, p, font, r->when, SMALL_PX);
    feed(out, 16);
    if (rc == FW_OK)
        rc = line(out, p, font, "Mở trình duyệt, vào địa chỉ:", SMALL_PX + 4);
    if (rc == FW_OK)
        rc = line(out, p, font, "Open in a browser:", SMALL_PX);
    for (int i = 0; rc == FW_OK && i < w->nurls && i < WIFI_URLS_MAX; i++)
        rc = address(out, p, w->url[i]);
    feed(out, 16);
    if (rc == FW_OK)
        rc = qr(out, p, qr_text, module);
    if (rc == FW_OK)
        rc = line(out, p, font, "Quét mã để vào Wi-Fi", SMALL_PX + 4);
    if (rc == FW_OK)
        rc = line(out, p, font, "Scan to join the kit's Wi-Fi", SMALL_PX);
    feed(out, 12);
    /* The name and the password as text, for a laptop without a camera. */
    if (rc == FW_OK)
        rc = line(out, p, font, "Tên Wi-Fi (network):", SMALL_PX + 4);
    if (rc == FW_OK && ascii(w->ssid)) { /* exactly, spaces and all */
        rc = ascii_lines(out, p, w->ssid, 1, 2);
    } else if (rc == FW_OK) {
        printable(font, w->ssid, ssid, sizeof ssid);
        rc = paragraph(out, p, font, ssid, NAME_PX, 3);
    }
    feed(out, 8);
    if (rc == FW_OK && w->password[0]) {
        rc = line(out, p, font, "Mật khẩu (password):", SMALL_PX + 4);
        if (rc == FW_OK)
            rc = ascii_lines(out, p, w->password, 1, 2);
    } else if (rc == FW_OK) {
        rc = line(out, p, font, "Wi-Fi mở, không cần mật khẩu", SMALL_PX + 4);
        if (rc == FW_OK)
            rc = line(out, p, font, "Open network, no password", SMALL_PX);
    }
    finish(out, p);
    return rc != FW_OK ? rc : fw_buf_error(out);
}
